/* pf: the CPM Participating Function for file transfer. Takes a file-transfer INVITE,
 * applies policy, forks it to every registered device of the recipient (sipua's fork
 * engine), anchors the MSRP media through an ft_relay, ends both legs together, and — when
 * the recipient cannot take the file — stores it and delivers it later.
 * pf knows SIP through sipua (sip_leg.h, fork.h), devices through the location service,
 * MSRP through relay/ft_relay.h, durable state through store.h, time through net/loop.h.
 * It includes nothing of sofia-sip and nothing of cpmd (layer rules, docs/ARCHITECTURE.md).
 *
 * OWNERSHIP: cpmd creates pf after its dependencies and destroys it before them.
 * THREADING: loop thread only. */
#ifndef CPMD_PF_PF_H
#define CPMD_PF_PF_H

#include <stdbool.h>
#include <stddef.h>

#include "pf/pf_config.h"

struct pf;
struct loop;
struct sipua;
struct location;
struct msrp_hub;
struct store;

/* What pf works with; all outlive pf. st NULL runs the live path only (no
 * store-and-forward). */
struct pf_deps {
	struct loop *loop;
	struct sipua *sipua;
	struct location *loc;
	struct msrp_hub *hub;
	struct store *st;
};

/* With a store, pf reconciles it with the blob directory first (blocking: start-up only)
 * and applies the --user-pref preferences. cfg is copied. Installs pf's handlers in sipua
 * (INVITE, MESSAGE, registrations). */
int pf_create(struct pf **pp, const struct pf_deps *deps, const struct pf_config *cfg);
/* Once SIP and MSRP are up, before the loop runs: deliver what waits for the users whose
 * registrations the store kept (and for users of other domains; then wake the devices asleep).
 * Returns at once: the sweep runs a page of registrations per loop turn (pf_start.c), so SIP
 * is served while it runs, and logs "start-up sweep: N registrations in X ms" at its end. */
void pf_start(struct pf *pf);
/* End every transfer and delivery (both legs get BYE/CANCEL); used at shutdown. */
void pf_terminate_all(struct pf *pf);
size_t pf_active_transfers(const struct pf *pf);
/* SIGHUP: the operator's policy and limits of cfg replace the ones in service (the fields
 * pf reads at each decision: sizes, expiry, defer, delivery method and back-off, quotas,
 * transfer and session limits, screening switches and lists). A transfer or session already
 * accepted keeps what it was accepted under; the next offer sees the new values. Wiring
 * (addresses, domains, routes, MSS, XDMS, clamd) and --user-pref are not touched: cpmd
 * logs those as needing a restart (src/cpmd/reload.c); --user-pref is pf_prefs_reload. */
void pf_set_policy(struct pf *pf, const struct pf_config *cfg);
/* SIGHUP: cfg's --user-pref lines in service: each named user's stored preferences updated
 * (one store write per user), the block lists replaced. A line that does not apply changes
 * nothing at all (logged). A line removed does not undo what it stored, as at a restart.
 * 0 or -1. */
int pf_prefs_reload(struct pf *pf, const struct pf_config *cfg);
void pf_destroy(struct pf *pf);

#endif
