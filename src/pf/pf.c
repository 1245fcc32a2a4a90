/* pf's life (create, start, stop), the dispatch of new requests that sipua hands over, and
 * the helpers the files of pf share. See pf.h and pf_int.h. */
#include "pf/pf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/domains.h"
#include "common/keyset.h"
#include "common/log.h"
#include "cpm/icsi.h"
#include "cpm/mime.h"
#include "cpm/msrp.h"
#include "cpm/deferred.h"
#include "cpm/random.h"
#include "cpm/sdp.h"
#include "pf/pf_int.h"
#include "sipua/sipua.h"

/* ------------------------------------------------------------ SDP bodies */

int pf_build_body(struct cpm_arena *a, const char *sdp, const struct mime_part *parts, size_t nparts,
		  struct sip_body *out)
{
	if (nparts == 0) {
		out->content_type = "application/sdp";
		out->data = cpm_arena_strdup(a, sdp);
		out->len = strlen(sdp);
		return out->data ? 0 : -1;
	}
	struct mime_part_out po[MIME_MAX_PARTS];
	size_t cap = strlen(sdp) + 1024;
	for (size_t i = 0; i < nparts; i++) {
		bool is_sdp = cpm_str_caseeq(mime_type_only(parts[i].content_type), "application/sdp");
		po[i].headers = parts[i].headers;
		po[i].body = is_sdp ? cpm_str_c(sdp) : parts[i].body;
		cap += po[i].headers.len + po[i].body.len + 128;
	}
	char boundary[40];
	char *body = cpm_arena_alloc_raw(a, cap);
	if (!body)
		return -1;
	int n = -1;
	/* A random 31-character boundary colliding with a part is unlikely,
	 * but the builder refuses it, so try again a few times. */
	for (int tries = 0; tries < 4 && n < 0; tries++) {
		mime_random_boundary(boundary, 32);
		n = mime_multipart_build(body, cap, boundary, po, nparts);
	}
	if (n < 0)
		return -1;
	out->data = body;
	out->len = (size_t)n;
	out->content_type = cpm_arena_printf(a, "multipart/mixed;boundary=\"%s\"", boundary);
	return out->content_type ? 0 : -1;
}

bool pf_path_msrps(const char *path)
{
	return path && strncasecmp(path, "msrps://", 8) == 0;
}

bool pf_devices_all_tls(const struct pf *pf, const struct loc_device *devs, size_t ndev)
{
	/* one path serves every fork, and a device on plain TCP could not use msrps */
	bool all_tls = ndev > 0 && msrp_hub_tls_port(pf->hub);
	for (size_t i = 0; i < ndev && all_tls; i++)
		all_tls = strcasestr(devs[i].flow, ";transport=tls") != NULL;
	return all_tls;
}

int pf_secure_legs(struct pf *pf, struct ft_relay *relay, const char *up_path, const struct loc_device *devs,
		   size_t ndev)
{
	if (pf_path_msrps(up_path) && ft_relay_leg_secure(relay, FT_LEG_UP))
		return -1;
	if (pf_devices_all_tls(pf, devs, ndev) && ft_relay_path(relay, FT_LEG_DOWN)[0])
		ft_relay_leg_secure(relay, FT_LEG_DOWN);
	return 0;
}

void pf_fill_common_sdp(struct pf *pf, struct sdp_ft *s, const char *path)
{
	const char *adv = pf->cfg.msrp_advertise;
	snprintf(s->origin_user, sizeof s->origin_user, "cpmd");
	char rnd[12];
	msrp_random_ident(rnd, 9); /* digits are not needed: any unique number */
	s->origin_sess_id = 0;
	for (size_t i = 0; i < 9; i++)
		s->origin_sess_id = s->origin_sess_id * 31 + (unsigned char)rnd[i];
	s->origin_sess_version = s->origin_sess_id;
	PF_COPY(s->origin_addr, adv);
	PF_COPY(s->conn_addr, adv);
	s->conn_ipv6 = strchr(adv, ':') != NULL;
	s->port = pf->cfg.msrp_port;
	snprintf(s->proto, sizeof s->proto, "TCP/MSRP");
	s->fingerprint[0] = '\0';
	if (pf_path_msrps(path)) {
		/* an msrps leg (ft_relay_leg_secure): the TLS port, and the certificate the peer
		 * must find there (RFC 4975 §14.1, RFC 4572) */
		s->port = msrp_hub_tls_port(pf->hub);
		snprintf(s->proto, sizeof s->proto, "TCP/TLS/MSRP");
		PF_COPY(s->fingerprint, msrp_hub_fingerprint(pf->hub));
	}
	PF_COPY(s->path, path);
	s->setup = SDP_SETUP_PASSIVE;
	s->cema = false;
	s->has_max_size = false;
}

bool pf_take_sdp_answer(struct ft_relay *relay, const struct sip_msg *m, bool active)
{
	struct cpm_arena tmp = CPM_ARENA_INIT;
	struct mime_part parts[MIME_MAX_PARTS];
	size_t nparts;
	struct cpm_str sdp;
	struct sdp_ft *ans = cpm_arena_alloc(&tmp, sizeof *ans);
	bool ok = ans && sip_msg_body_sdp(m, &tmp, &sdp, parts, &nparts) == 0 &&
		  sdp_parse_ft(sdp.p, sdp.len, ans) == SDP_OK && ans->port != 0 &&
		  ft_relay_set_peer_path(relay, FT_LEG_DOWN, ans->path) == 0 &&
		  (!active || ft_relay_connect(relay, FT_LEG_DOWN, ans->fingerprint) == 0);
	cpm_arena_free(&tmp);
	return ok;
}

/* ------------------------------------------------------------ small helpers */

struct blob_rm {
	char id[STORE_ID_MAX + 1];
	bool partial;
};

static void blob_removed(void *arg, int err)
{
	struct blob_rm *c = arg;
	if (err == -ENOENT)
		log_debug("item %s: %s already gone", c->id, c->partial ? "partial" : "blob");
	else if (err)
		log_error("item %s: cannot remove its %s: %s (the start-up reconcile will)", c->id,
			  c->partial ? "partial" : "blob", strerror(-err));
	free(c);
}

void pf_blob_remove(struct pf *pf, const char *item_id, bool partial)
{
	struct blob_rm *c = calloc(1, sizeof *c);
	int rc = !c ? -ENOMEM : !pf->blobq ? -ESHUTDOWN : 0;
	if (!rc) {
		PF_COPY(c->id, item_id);
		c->partial = partial;
		rc = store_blob_remove(pf->blobq, item_id, partial, blob_removed, c);
	}
	if (rc) {
		log_warn("item %s: %s not removed now (%s): left for the start-up reconcile", item_id,
			 partial ? "partial" : "blob", strerror(-rc));
		free(c);
	}
}

int64_t pf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pf_random_id(char out[STORE_ID_MAX + 1])
{
	cpm_random_hex(out, 16); /* 128 bits: ids are capabilities (cpm/random.h) */
}

void pf_store_logged(void *what, int err)
{
	if (err)
		log_error("store: %s failed: %s", (const char *)what, strerror(err < 0 ? -err : err));
}

int pf_store_queued(int rc, const char *what)
{
	if (rc < 0) {
		/* counted for /metrics by the store where it refused the write (store.c submit) */
		log_error("store: %s could not be queued: %s", what, strerror(-rc));
	}
	return rc;
}

int pf_request_parties(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m, struct sip_addr *ru,
		       struct sip_addr *from)
{
	int ur = sip_msg_request_uri(m, ru), fr = pf_identity(m, from);
	const char *phrase = NULL;
	int status = 400;

	if (ur == -ENOENT || fr == -ENOENT)
		phrase = "Bad Request-URI";
	else if (ur || fr)
		phrase = "Request-URI Or From Too Long";
	else
		status = pf_check_parties(pf, m, ru, from, &phrase);
	if (!phrase)
		return 0;
	sip_leg_respond(leg, status, phrase, NULL); /* unbound: sipua releases it when the call ends */
	return -1;
}

char *pf_fork_from(struct cpm_arena *a, const struct sip_addr *from, const char *uri)
{
	return from->display_raw[0] ? cpm_arena_printf(a, "%s <%s>", from->display_raw, uri)
				    : cpm_arena_printf(a, "<%s>", uri);
}

void pf_carried_value(const char *lines, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	out[0] = '\0';
	for (const char *p = lines; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > nl + 2 && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t vl = len - (size_t)(v - p);
			if (vl < cap) {
				memcpy(out, v, vl);
				out[vl] = '\0';
			}
			return;
		}
		p = eol ? eol + 2 : NULL;
	}
}

int pf_cpm_expires(const struct sip_msg *m, uint64_t *out)
{
	char v[32];
	*out = 0;
	int rc = sip_msg_header(m, "Cpm-Expires", v, sizeof v);
	if (rc == -ENOENT)
		return 0;
	/* bounded at 100 years: policy_expiry caps it anyway, this keeps the arithmetic small */
	return rc == 0 && cpm_str_to_u64_max(cpm_str_trim(cpm_str_c(v)), 100ULL * 366 * 86400, out) ? 0 : -1;
}

void pf_leg_no_event(void *owner, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m)
{
}

void pf_uri_of_key(const char *key, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s", strncmp(key, "sip:", 4) ? "sip:" : "", key);
}

/* ------------------------------------------------------- requests from sipua */

/* Which service a new INVITE asks for: THE classifier of INVITEs (messaging.md, the ICSI
 * table). The service the sender names (Accept-Contact, P-Preferred-/P-Asserted-Service)
 * decides: the session ICSI is a chat session; the file-transfer and largemsg ICSIs go to
 * pf_ft.c (which tells a large message from a file, pf_largemsg.c). An INVITE that names no
 * service is a chat session when its SDP looks like one (an MSRP offer without a
 * file-selector, sendrecv, accepting message/cpim: a large message is sendonly), else
 * pf_ft.c's, as before. */
enum pf_invite_kind { PF_INVITE_FILE, PF_INVITE_SESSION };

static enum pf_invite_kind pf_invite_kind(const struct sip_msg *m)
{
	struct cpm_arena tmp = CPM_ARENA_INIT;
	struct mime_part parts[MIME_MAX_PARTS];
	size_t nparts;
	struct cpm_str sdp;
	enum pf_invite_kind kind = PF_INVITE_FILE;
	/* "" as the default tag: only what the sender wrote is looked at */
	const char *named = sip_msg_carried_headers(m, &tmp, "");
	struct sdp_ft *o = cpm_arena_alloc(&tmp, sizeof *o);

	if (named && pf_headers_name_icsi(named, "session"))
		kind = PF_INVITE_SESSION;
	else if (named && (pf_headers_name_icsi(named, "filetransfer") || pf_headers_name_icsi(named, "largemsg")))
		kind = PF_INVITE_FILE;
	else if (o && sip_msg_body_sdp(m, &tmp, &sdp, parts, &nparts) == 0 && sdp_parse_ft(sdp.p, sdp.len, o) == SDP_OK &&
		 !o->has_selector && (o->dir == SDP_DIR_SENDRECV || o->dir == SDP_DIR_NONE) &&
		 sdp_accepts_type(o, "message/cpim"))
		kind = PF_INVITE_SESSION;
	cpm_arena_free(&tmp);
	return kind;
}

static void on_invite(void *arg, struct sip_leg *leg, const struct sip_msg *m)
{
	switch (pf_invite_kind(m)) {
	case PF_INVITE_SESSION:
		pf_session_invite(arg, leg, m);
		return;
	case PF_INVITE_FILE:
		pf_ft_invite(arg, leg, m);
		return;
	}
}

/* A MESSAGE out of dialog: the `cpm list` query, or a standalone message / report
 * (message/cpim). Standalone messages need the store (their deferral, the report rules). */
static void on_message(void *arg, struct sip_leg *leg, const struct sip_msg *m)
{
	struct pf *pf = arg;
	struct cpm_str ct = sip_msg_content_type(m);

	if (!pf->st) {
		sip_leg_respond(leg, 501, "Standalone Messages Not Supported", NULL);
	} else if (cpm_str_caseeq(ct, CPM_DEFERRED_QUERY_CTYPE)) {
		pf_notify_list_query(pf, leg, m);
	} else if (cpm_str_caseeq(ct, "message/cpim")) {
		pf_msg_cpim(pf, leg, m);
	} else {
		struct sip_respond_opts o = {.headers = "Accept: message/cpim, " CPM_DEFERRED_QUERY_CTYPE "\r\n"};
		sip_leg_respond(leg, 415, "Unsupported Media Type (message/cpim expected)", &o);
	}
}

static void registered(struct pf *pf, const char *aor, const char *instance, bool fresh)
{
	if (!pf->st || pf->stopping)
		return;
	pf_notify_flush(pf, aor);
	if (fresh)
		pf_deliver_new_device(pf, aor, instance);
	pf_deliver_kick(pf, aor, fresh);
	if (fresh) {
		struct pf_user_policy up;
		pf_prefs_get(pf, aor, &up);
		if (up.method == STORE_METHOD_PULL)
			pf_notify_deferred_list(pf, aor, instance, NULL);
	}
}

static void on_register(void *arg, const char *aor, const char *instance, bool fresh)
{
	struct pf *pf = arg;
	if (!pf->st || pf->stopping)
		return;
	/* A device woken by a push that registers again is back, even when its REGISTER only
	 * refreshes the binding it kept while asleep (RFC 8599 §4): it kicks like a new one. */
	if (pf_push_registered(pf, aor, instance))
		fresh = true;
	/* The user's XDM document first when it is missing or stale (pf_xdm.c): what a device's
	 * arrival starts (pushes, the pull list) follows the user's method. */
	if (!pf_xdm_prefetch(pf, aor, instance, fresh, registered))
		registered(pf, aor, instance, fresh);
}

/* -------------------------------------------------------------- pf API */

int pf_create(struct pf **pp, const struct pf_deps *deps, const struct pf_config *cfg)
{
	struct pf *pf = calloc(1, sizeof *pf);
	if (!pf)
		return -1;
	pf->loop = deps->loop;
	pf->sipua = deps->sipua;
	pf->loc = deps->loc;
	pf->hub = deps->hub;
	pf->st = deps->st;
	pf->cfg = *cfg;
	if (!(pf->notifs_in_flight = keyset_new()) || !(pf->ft_senders = keyset_new()) ||
	    !(pf->sess_senders = keyset_new()))
		goto fail;
	if (pf_xdm_create(pf) || pf_push_create(pf))
		goto fail;
	if (pf->st) {
		struct blob_dir *bd = store_blob_dir(pf->st);
		if (!bd) {
			log_error("the store has no blob directory (store_open_dir)");
			goto fail;
		}
		struct store_reconcile_report rep;
		int rc = store_reconcile(pf->st, bd, pf_now_ms(), &rep, pf_on_reconcile_failed, NULL, pf);
		if (rc == -EINTR) {
			log_info("start-up interrupted (a signal) during the store's reconcile");
			goto fail;
		}
		if (rc < 0) {
			log_error("start-up reconcile of the store failed: %s", strerror(-rc));
			goto fail;
		}
		if (store_blobq_create(&pf->blobq, pf->st, bd)) {
			log_error("cannot start the blob commit thread");
			goto fail;
		}
		if (pf_prefs_apply_options(pf) || pf_expiry_start(pf) || pf_mss_start(pf))
			goto fail;
	}
	if (pf_screen_start(pf))
		goto fail;
	sipua_set_handlers(pf->sipua, on_invite, on_message, pf);
	sipua_set_register_hook(pf->sipua, on_register, pf);
	*pp = pf;
	return 0;
fail:
	pf_expiry_stop(pf);
	pf_push_destroy(pf);
	pf_xdm_destroy(pf);
	if (pf->blobq)
		store_blobq_destroy(pf->blobq);
	keyset_free(pf->notifs_in_flight);
	keyset_free(pf->ft_senders);
	keyset_free(pf->sess_senders);
	free(pf);
	return -1;
}

void pf_set_policy(struct pf *pf, const struct pf_config *c)
{
	struct pf_config *p = &pf->cfg;
	p->max_transfers = c->max_transfers;
	p->max_transfers_per_user = c->max_transfers_per_user;
	p->invite_timeout = c->invite_timeout;
	p->message_timeout = c->message_timeout;
	p->max_file_size = c->max_file_size;
	p->max_pager_size = c->max_pager_size;
	p->max_message_size = c->max_message_size;
	p->defer = c->defer;
	p->store_default_expiry = c->store_default_expiry;
	p->store_max_expiry = c->store_max_expiry;
	p->delivery_per_device = c->delivery_per_device;
	p->delivery_retry_min = c->delivery_retry_min;
	p->delivery_retry_max = c->delivery_retry_max;
	p->default_method = c->default_method;
	p->default_on_expiry = c->default_on_expiry;
	p->quota_bytes = c->quota_bytes;
	p->quota_items = c->quota_items;
	p->push_asserted_identity = c->push_asserted_identity;
	p->history = c->history;
	p->keep = c->keep;
	p->screening = c->screening;
	p->screen_fail_open = c->screen_fail_open;
	memcpy(p->screen_allow_types, c->screen_allow_types, sizeof p->screen_allow_types);
	memcpy(p->screen_deny_types, c->screen_deny_types, sizeof p->screen_deny_types);
	p->max_chat_size = c->max_chat_size;
	p->max_sessions_per_user = c->max_sessions_per_user;
	p->max_sessions = c->max_sessions;
}

void pf_terminate_all(struct pf *pf)
{
	pf->stopping = true;
	pf_start_stop(pf);
	for (struct ft *ft = pf->list; ft; ft = ft->next)
		ft_end(ft, 503, "Server Shutting Down");
	pf_msgin_terminate_all(pf);
	pf_deliver_terminate_all(pf);
	pf_session_terminate_all(pf);
}

size_t pf_active_transfers(const struct pf *pf)
{
	return pf->nft + pf->ndlv + pf->nsess;
}

/* The shutdown barrier's flag lives on the heap: if the wait below gives up, the callback still
 * comes later (store_close runs every queued answer) and must not write into a dead stack frame
 * (it once did: a 1 written into store_close's saved registers crashed cpmd at exit). */
struct drain_flag {
	bool done, abandoned;
};

static void drained(void *arg, int err)
{
	struct drain_flag *f = arg;
	(void)err;
	if (f->abandoned)
		free(f);
	else
		f->done = true;
}

void pf_destroy(struct pf *pf)
{
	if (!pf)
		return;
	pf->stopping = true;
	pf_start_stop(pf); /* before the loop turns below: its timer points to pf */
	sipua_set_handlers(pf->sipua, NULL, NULL, NULL);
	sipua_set_register_hook(pf->sipua, NULL, NULL);
	pf_expiry_stop(pf);
	pf_push_destroy(pf); /* before the store: its POSTs' completions may scan it */
	pf_xdm_destroy(pf); /* its waiters (registrations) go first: they would start deliveries */
	/* Scans in flight finish and answer their transfers and messages (queued ones as
	 * failed) while everything they point to is alive. */
	pf_screen_stop(pf);
	pf_mss_stop(pf); /* a write under way ends first; its item update is queued below */
	/* Store and blob callbacks point to transfers, notifications and pf
	 * itself: let every one of them run while all of that is still alive.
	 * The blob queue answers everything queued (commits submit their item
	 * updates), then a barrier on the store is waited for on the loop. The
	 * queue itself stays until the transfers are freed: they ask it to
	 * remove their partials. */
	store_blobq_drain(pf->blobq);
	struct drain_flag *f = pf->st ? calloc(1, sizeof *f) : NULL;
	if (f && store_sync(pf->st, drained, f) == 0) {
		/* bounded by time, not by turns: a turn may return at once (a readable fd, a timer) */
		int64_t until = pf_now_ms() + 10000;
		while (!f->done && pf_now_ms() < until)
			loop_step(pf->loop, 100);
		if (f->done)
			free(f);
		else {
			log_warn("shutdown: the store did not answer its barrier within 10 s");
			f->abandoned = true; /* drained() frees it when the answer comes */
		}
	} else {
		free(f);
	}
	while (pf->list) {
		pf->list->store_refs = 0;
		ft_free(pf->list);
	}
	pf_deliver_destroy_all(pf);
	pf_session_destroy_all(pf);
	pf_msgin_destroy_all(pf);
	pf_msg_destroy_all(pf);
	ft_relay_wait_hashers(5000); /* the destroyed relays' resume hashers, before exit */
	/* Runs the removals just asked for; their answers point to nothing of pf. */
	store_blobq_destroy(pf->blobq);
	pf->blobq = NULL;
	/* empty: pf_msg_destroy_all dropped every id, the store's barrier above the ids of the sent
	 * ones (their deletes' answers) */
	keyset_free(pf->notifs_in_flight);
	keyset_free(pf->ft_senders);       /* empty: every ft was freed above */
	keyset_free(pf->sess_senders);     /* empty: every session was freed above */
	free(pf);
}
