/* sipua internals shared by sipua.c, sip_leg.c, sip_msg.c, fork.c and registrar.c. Not for
 * the layers above (pf, cpmd): this is where sofia types live.
 * THREADING: loop thread only. */
#ifndef CPMD_SIPUA_SIPUA_INT_H
#define CPMD_SIPUA_SIPUA_INT_H

#include <stdbool.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/sip.h>

#include "sipua/sipua.h"

/* "<sip:HOST:PORT;transport=tcp>;PARAMS": the host (255 + brackets), the parameters. */
#define SIPUA_CONTACT_MAX 1024

struct sip_fork;

struct sipua {
	struct loop *loop;
	su_root_t *root;
	nua_t *nua;
	struct sipua_config cfg; /* copied; its strings are the caller's */
	struct location *loc;
	struct store *st;
	sipua_invite_fn *on_invite;
	sipua_message_fn *on_message;
	void *handler_arg;
	registrar_hook_f *reg_hook;
	void *reg_hook_arg;
	struct loop_timer *sweep;
	struct loop_timer *shutdown_guard;
	int shutting_down;
	int shutdown_done;
	/* Our Contact per transport, with cfg.contact_params (nua's own dialog Contact drops
	 * NUTAG_M_FEATURES, so we always give ours). */
	char contact_udp[SIPUA_CONTACT_MAX];
	char contact_tcp[SIPUA_CONTACT_MAX];
	struct sip_leg *legs;   /* every leg alive (freed at sipua_destroy) */
	struct sip_fork *forks; /* every fork alive, destroyed ones waiting for their legs too */
};

/* A message as the layers above see it: a view of one nua event, valid during it. */
struct sip_msg {
	nua_t *nua;
	sip_t const *sip;   /* NULL for a locally generated failure */
	int status;         /* responses; 0 for requests */
	const char *phrase; /* responses; may be NULL */
};

/* ---- sip_leg.c */
/* An event of the handle bound to leg (hmagic). */
void sipua_leg_event(struct sipua *s, struct sip_leg *leg, nua_event_t event, int status, const char *phrase,
		     sip_t const *sip, tagi_t tags[]);
/* nua_i_invite / nua_i_message out of any dialog (no hmagic): to the installed handler. */
void sipua_new_invite(struct sipua *s, nua_handle_t *nh, sip_t const *sip);
void sipua_new_message(struct sipua *s, nua_handle_t *nh, sip_t const *sip);
/* At sipua_destroy: every leg left is unbound, its handle destroyed, and freed. */
void sipua_legs_free_all(struct sipua *s);

/* ---- fork.c */
/* At sipua_destroy: every fork left (destroyed or not) is freed without callbacks. */
void sipua_forks_free_all(struct sipua *s);

/* ---- registrar.c */
/* Answers one REGISTER (nua_i_register) on handle nh (and destroys the handle). Bindings go
 * to the location service and, so that they survive a restart, to the store (asynchronously;
 * st NULL = memory only). */
void registrar_handle(nua_t *nua, nua_handle_t *nh, sip_t const *sip, const struct sipua_config *cfg,
		      struct location *loc, struct store *st, registrar_hook_f *hook, void *hook_arg);

#endif
