/* pf: the CPM Participating Function for file transfer. Takes a file-transfer
 * INVITE, applies policy, forks it to every registered device of the
 * recipient, anchors the MSRP media through an ft_relay, and ends both legs
 * together. Knows SIP through nua handles, devices through the location
 * service, MSRP through net/msrp_relay.h. */
#ifndef CPMD_PF_PF_H
#define CPMD_PF_PF_H

#include <stdbool.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/su_wait.h>

#include "cpmd/options.h"
#include "net/msrp_relay.h"
#include "sipua/location.h"
#include "sipua/sipua.h"

struct pf;

struct store;
/* st: the durable store (store-and-forward); NULL runs the live path only.
 * With a store, pf reconciles it with the blob directory first (blocking:
 * start-up only) and applies the --user-pref options. */
int pf_create(struct pf **pp, su_root_t *root, nua_t *nua, const struct cpmd_options *opts,
	      struct location *loc, struct msrp_hub *hub, struct store *st);
/* Once SIP and MSRP are up: deliver what waits for devices restored from
 * the store. */
void pf_start(struct pf *pf);
/* registrar_hook_f: install with sipua_set_register_hook(sipua, pf_on_register, pf). */
void pf_on_register(void *arg, const char *aor, const char *instance, bool fresh);
/* sipua_event_f: install with sipua_set_handler(sipua, pf_nua_event, pf). */
void pf_nua_event(void *arg, nua_event_t event, int status, char const *phrase, nua_t *nua, nua_handle_t *nh,
		  nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[]);
/* End every transfer (both legs get BYE/CANCEL); used at shutdown. */
void pf_terminate_all(struct pf *pf);
size_t pf_active_transfers(const struct pf *pf);
void pf_destroy(struct pf *pf);

#endif
