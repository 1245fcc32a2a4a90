/* Built-in registrar (RFC 3261 §10) for the configured domains: the part cpmd and pf see.
 * The REGISTER handling itself (registrar_handle) is internal to sipua (sipua_int.h). */
#ifndef CPMD_SIPUA_REGISTRAR_H
#define CPMD_SIPUA_REGISTRAR_H

#include <stdbool.h>

#include "sipua/location.h"

struct store;

/* Called after a binding was added or refreshed (not removed), once per
 * Contact: `fresh` says the device had no live binding before, or one with
 * another contact or flow (it comes back, or is new). pf uses it to deliver what waits for the user. */
typedef void registrar_hook_f(void *arg, const char *aor, const char *instance, bool fresh);
/* Put the bindings saved in the store back into the location service at
 * start-up (expired ones are deleted). Returns how many were restored. */
int registrar_restore(struct store *st, struct location *loc);

#endif
