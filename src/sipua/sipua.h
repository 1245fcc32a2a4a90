/* sipua: the SIP side of cpmd over sofia-sip nua: one nua instance listening
 * on UDP and TCP, the built-in registrar (REGISTER answered by us, bindings
 * in the location service), and dispatch of every other nua event to the
 * handler that main() installs (the pf layer). No CPM logic here. */
#ifndef CPMD_SIPUA_SIPUA_H
#define CPMD_SIPUA_SIPUA_H

#include <sofia-sip/nua.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/su_wait.h>

#include "cpmd/options.h"
#include "sipua/location.h"
#include "sipua/registrar.h"

struct sipua;
struct store;

/* Every nua event that is not REGISTER/shutdown goes here (MESSAGE too: the
 * handler must answer it and destroy its handle). */
typedef void sipua_event_f(void *arg, nua_event_t event, int status, char const *phrase, nua_t *nua,
			   nua_handle_t *nh, nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[]);

/* st: where registrations are saved (may be NULL: memory only). */
int sipua_create(struct sipua **sp, su_root_t *root, const struct cpmd_options *opts, struct location *loc,
		 struct store *st);
void sipua_set_handler(struct sipua *s, sipua_event_f *cb, void *arg);
/* Called for every device that registers or refreshes (see registrar.h). */
void sipua_set_register_hook(struct sipua *s, registrar_hook_f *cb, void *arg);
nua_t *sipua_nua(struct sipua *s);
/* Start nua_shutdown; su_root_break() is called when it completes (or after
 * a grace period). */
void sipua_shutdown(struct sipua *s);
void sipua_destroy(struct sipua *s);

#endif
