/* Built-in registrar (RFC 3261 §10) for the configured domains. */
#ifndef CPMD_SIPUA_REGISTRAR_H
#define CPMD_SIPUA_REGISTRAR_H

#include <stdbool.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/sip.h>

#include "cpmd/options.h"
#include "sipua/location.h"

struct store;

/* Answers one REGISTER (nua_i_register) on handle nh. Bindings go to the
 * location service and, so that they survive a restart, to the store
 * (asynchronously; NULL = memory only). */
/* Called after a binding was added or refreshed (not removed), once per
 * Contact: `fresh` says the device had no live binding before, or one with
 * another contact or flow (it comes back, or is new). pf uses it to deliver what waits for the user. */
typedef void registrar_hook_f(void *arg, const char *aor, const char *instance, bool fresh);
void registrar_handle(nua_t *nua, nua_handle_t *nh, sip_t const *sip, const struct cpmd_options *opts,
		      struct location *loc, struct store *st, registrar_hook_f *hook, void *hook_arg);
/* Put the bindings saved in the store back into the location service at
 * start-up (expired ones are deleted). Returns how many were restored. */
int registrar_restore(struct store *st, struct location *loc);

#endif
