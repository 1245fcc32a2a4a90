/* Live file transfers: INVITE in, fork out (sipua's fork engine), relay media, end both
 * legs together. See docs/ARCHITECTURE.md §3. What happens when the recipient cannot take
 * the file is pf_intake.c's job; this file calls it at each trigger. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/domains.h"
#include "common/keyset.h"
#include "common/log.h"
#include "common/metrics.h"
#include "cpm/mime.h"
#include "cpm/msrp.h"
#include "cpm/sdp.h"
#include "pf/pf_int.h"

/* After the device has the whole file the sender normally hangs up at once;
 * if it does not, we do. */
#define FT_COMPLETE_BYE_MS 10000

/* ------------------------------------------------------------- legs */

void ft_respond_up(struct ft *ft, int status, const char *phrase, const char *warning)
{
	if (ft->up_answered || ft->up_terminated || !ft->up)
		return;
	ft->up_answered = true;
	struct sip_respond_opts o = {.warning = warning};
	sip_leg_respond(ft->up, status, phrase, &o);
}

static void ft_stop_timer(struct ft *ft)
{
	loop_timer_stop(ft->timer);
	ft->timer = NULL;
}

/* End the transfer from any state: answer/cancel/BYE what is still up. */
void ft_end(struct ft *ft, int status, const char *phrase)
{
	if (ft->state == FT_FORKING) {
		ft_respond_up(ft, status, phrase, NULL);
		if (ft->fork)
			sip_fork_cancel(ft->fork, SIP_REASON_CALLER_CANCEL);
	}
	ft_set_state(ft, FT_ENDING);
	ft_stop_timer(ft);
	if (ft->up)
		sip_leg_bye(ft->up);
	if (ft->down)
		sip_leg_bye(ft->down);
}

/* ----------------------------------------------------------- relay events */

static void complete_bye_cb(void *arg)
{
	struct ft *ft = arg;
	log_info("ft %s: sender did not hang up after completion; ending the session", ft->id);
	if (ft->up)
		sip_leg_bye(ft->up);
}

static void start_complete_bye_timer(struct ft *ft)
{
	ft_set_state(ft, FT_ENDING);
	ft_stop_timer(ft);
	ft->timer = loop_timer_once(ft->pf->loop, FT_COMPLETE_BYE_MS, complete_bye_cb, ft);
}

/* The metrics of a transfer's end (a large message is a message, not a file). */
static void ft_count_outcome(const struct ft *ft, enum ft_relay_result res)
{
	uint64_t n = ft->relay ? ft_relay_bytes(ft->relay) : 0;
	int64_t ms = pf_now_ms() - ft->created_ms;
	if (res == FT_RELAY_COMPLETE) {
		if (ft->is_msg)
			metrics_message(MM_DELIVERED);
		else
			metrics_transfer(MT_DELIVERED);
		metrics_relayed_bytes(n);
		metrics_relay_throughput(n, ms > 0 ? (uint64_t)ms : 0);
	} else if (res == FT_RELAY_RECEIVED) {
		if (ft->is_msg)
			metrics_message(MM_STORED);
		else
			metrics_transfer(MT_STORED);
		metrics_stored_bytes(n);
		metrics_relay_throughput(n, ms > 0 ? (uint64_t)ms : 0);
	} else {
		if (ft->is_msg)
			metrics_message(MM_FAILED);
		else
			metrics_transfer(MT_FAILED);
		metrics_error(ME_RELAY);
	}
}

void ft_relay_done_cb(void *arg, enum ft_relay_result res, const char *detail)
{
	struct ft *ft = arg;

	ft->relay_finished = true;
	ft_count_outcome(ft, res);
	if (res == FT_RELAY_COMPLETE) {
		log_info("ft %s: delivered %" PRIu64 " bytes from %s to %s (device %s)", ft->id,
			 ft_relay_bytes(ft->relay), ft->sender, ft->recipient, ft->down ? ft->down_device : "?");
		/* its history, if the sender or the recipient keeps histories: the tee goes on */
		if (ft->has_partial) {
			struct store_item it;
			ft_fill_item(ft, &it);
			ft->keep_blob |= pf_mss_live_ended(ft->pf, &it, "delivered");
		}
		/* The device has every byte and said so: close its leg now, and
		 * give the sender time to read the REPORT and hang up itself. */
		if (ft->down)
			sip_leg_bye(ft->down);
		start_complete_bye_timer(ft);
		return;
	}
	if (res == FT_RELAY_RECEIVED) {
		/* Store mode: durable, committed and acknowledged (pf_intake.c). */
		start_complete_bye_timer(ft);
		return;
	}
	log_info("ft %s: transfer ended: %s%s%s", ft->id, ft_relay_result_str(res), detail ? ": " : "",
		 detail ? detail : "");
	if (res == FT_RELAY_SENDER_ABORTED || res == FT_RELAY_TIMEOUT || res == FT_RELAY_PROTOCOL_ERROR)
		ft_defer_keep_partial(ft); /* an interrupted upload: resumable */
	else
		ft_defer_drop(ft); /* refused (too big, hash mismatch...): nothing to keep */
	ft_end(ft, 500, "Transfer Failed");
}

/* ----------------------------------------------------------- lifecycle */

/* ft is in its sender's count (transfers_of) exactly while it holds its sender's entry (from
 * the moment its sender is known while it is in pf->list to ft_unlink) and is not ENDING. */
static void ft_count_sender(struct ft *ft)
{
	bool live = ft->sender_entry && ft->state != FT_ENDING;
	if (live == ft->sender_counted)
		return;
	if (live)
		ft->sender_entry->n++;
	else
		ft->sender_entry->n--;
	ft->sender_counted = live;
}

void ft_set_state(struct ft *ft, enum ft_state state)
{
	ft->state = state;
	ft_count_sender(ft);
}

static void ft_unlink(struct ft *ft)
{
	struct pf *pf = ft->pf;
	if (ft->prev)
		ft->prev->next = ft->next;
	else if (pf->list == ft)
		pf->list = ft->next;
	if (ft->next)
		ft->next->prev = ft->prev;
	pf->nft--;
	if (ft->sender_counted)
		ft->sender_entry->n--;
	ft->sender_counted = false;
	keyset_drop(pf->ft_senders, ft->sender_entry);
	ft->sender_entry = NULL;
}

void ft_free(struct ft *ft)
{
	ft_unlink(ft);
	ft_stop_timer(ft);
	sip_fork_destroy(ft->fork); /* a ringing one CANCELs its branches; they end on their own */
	if (ft->relay)
		ft_relay_destroy(ft->relay);
	/* The tee of a live transfer is not kept once it is over, unless the
	 * store took it (a stored item or a resumable partial). The relay
	 * closed its descriptor above; the store unlinks off the loop. */
	if (ft->has_partial && !ft->keep_blob)
		pf_blob_remove(ft->pf, ft->item_id, true);
	sip_leg_release(ft->up);
	sip_leg_release(ft->down);
	log_debug("ft %s: freed", ft->id);
	cpm_arena_free(&ft->arena);
	free(ft);
}

void ft_maybe_free(struct ft *ft)
{
	if (!ft->up_terminated || ft->store_refs)
		return;
	if (ft->down && !ft->down_terminated)
		return;
	ft_free(ft);
}

/* The sender's leg ended (BYE, CANCEL, or our own final answer's call end). */
static void on_up_terminated(struct ft *ft)
{
	ft->up_terminated = true;
	sip_leg_release(ft->up);
	ft->up = NULL;
	/* Whatever the state, the other side goes too. A file being made
	 * durable stays until its commit answers (pf_intake.c). */
	if (ft->relay && !ft->relay_finished && !ft->committing)
		ft_defer_keep_partial(ft);
	if (ft->relay && !ft->committing) {
		ft_relay_destroy(ft->relay);
		ft->relay = NULL;
	}
	if (ft->state == FT_FORKING) {
		log_info("ft %s: sender cancelled", ft->id);
		if (ft->fork)
			sip_fork_cancel(ft->fork, SIP_REASON_CALLER_CANCEL);
	}
	ft_set_state(ft, FT_ENDING);
	ft_stop_timer(ft);
	if (ft->down)
		sip_leg_bye(ft->down);
}

/* The accepting device's leg ended. */
static void on_down_terminated(struct ft *ft)
{
	ft->down_terminated = true;
	if (ft->state == FT_RELAYING && !ft->deferred) {
		log_info("ft %s: recipient device hung up before the end", ft->id);
		if (ft_defer_allowed(ft) && ft->relay && !ft->relay_finished)
			ft_defer_recipient_lost(ft, "the device hung up", true);
		else
			ft_end(ft, 500, "Recipient Left");
	}
}

/* Events of the UP and DOWN legs (the fork's branches report to the fork). */
static void ft_leg_event(void *owner, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m)
{
	struct ft *ft = owner;
	bool up = leg == ft->up;

	/* The sender's BYE follows the last chunk's REPORT at once: the relay may not have told
	 * us yet that it is complete (a worker loop posts its done(COMPLETE) after forwarding the
	 * REPORT). Have it told first, so that the BYE finds the transfer complete (ft_relay.h).
	 * The sender's leg still stands, so the callback cannot free ft (ft_maybe_free needs
	 * up_terminated). */
	if (up && (ev == SIP_LEG_BYE || ev == SIP_LEG_TERMINATED) && ft->relay && !ft->relay_finished)
		ft_relay_deliver_pending(ft->relay);

	switch (ev) {
	case SIP_LEG_REINVITE: {
		/* re-INVITE inside an anchored transfer: nothing to change. */
		sip_leg_respond(leg, 488, "Re-INVITE Not Supported During File Transfer", NULL);
		break;
	}
	case SIP_LEG_BYE:
		log_info("ft %s: BYE from %s", ft->id, up ? "sender" : "recipient");
		break;
	case SIP_LEG_TERMINATED:
		if (up)
			on_up_terminated(ft);
		else
			on_down_terminated(ft);
		ft_maybe_free(ft); /* may free ft */
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------- the fork */

static void fork_progress(void *owner, struct sip_fork *f, unsigned branch, int status)
{
	struct ft *ft = owner;
	if (status == 180 && ft->state == FT_FORKING && !ft->up_answered && ft->up)
		sip_leg_respond(ft->up, 180, NULL, NULL);
}

/* A device answered 2xx: usable when its SDP answer gives the relay a path. */
static bool fork_accept(void *owner, struct sip_fork *f, unsigned branch, struct sip_leg *leg,
			const struct sip_msg *m)
{
	struct ft *ft = owner;
	if (ft->up_terminated)
		return false; /* the sender is gone: the fork BYEs it */
	if (pf_take_sdp_answer(ft->relay, m, pf_msrp_active(ft->pf, ft->recipient))) {
		if (!pf_network_deferred(m, ft->network_deferred, sizeof ft->network_deferred))
			ft->network_deferred[0] = '\0';
		return true;
	}
	log_info("ft %s: branch %u accepted with an unusable SDP answer; hanging it up", ft->id, branch);
	return false;
}

static void fork_done(void *owner, struct sip_fork *f, const struct sip_fork_result *r)
{
	struct ft *ft = owner;
	struct pf_verdict v;

	if (ft->state != FT_FORKING)
		return;
	switch (r->outcome) {
	case SIP_FORK_ANSWERED:
		ft->down = r->winner;
		ft->down_branch = r->branch;
		PF_COPY(ft->down_device, r->device ? r->device : "?");
		sip_leg_bind(ft->down, ft_leg_event, ft);
		ft_set_state(ft, FT_RELAYING);
		log_info("ft %s: branch %u (%s) accepted", ft->id, r->branch, ft->down_device);
		if (ft->network_deferred[0]) {
			/* another domain's PF keeps it for its user: the sender hears so, and that
			 * PF's later notification is let through (pf_route.c) */
			log_info("ft %s: %s stores it for %s (%s)", ft->id, ft->down_device, ft->recipient,
				 ft->network_deferred);
			if (!ft->is_msg)
				pf_record_handover(ft->pf, ft->sender_key, ft->imdn_id, ft->recipient);
		}
		if (ft->is_msg && pf_largemsg_answer_held(ft))
			return; /* answered once the message's record is durable (pf_largemsg.c) */
		char hdr[64];
		snprintf(hdr, sizeof hdr, "Cpm-Deferred: %s", ft->network_deferred);
		if (ft_answer_up(ft, ft->network_deferred[0] ? hdr : NULL))
			ft_end(ft, 500, "Cannot Build SDP Answer");
		return;
	case SIP_FORK_ENDED:
		/* The user said no on one device: that is the answer (no S&F). */
		log_info("ft %s: branch %u (%s) answered %d %s", ft->id, r->branch, r->device ? r->device : "?",
			 r->status, r->phrase);
		ft_respond_up(ft, r->status, r->phrase, NULL);
		ft_set_state(ft, FT_ENDING);
		return;
	case SIP_FORK_TIMEOUT:
		log_info("ft %s: no device answered within %u s", ft->id, ft->pf->cfg.invite_timeout);
		if (ft_defer_now(ft, "no-answer"))
			return;
		policy_unreachable(&ft->pf->cfg, PF_NO_ANSWER, &v);
		ft_respond_up(ft, v.status, v.phrase, NULL);
		ft_set_state(ft, FT_ENDING);
		return;
	case SIP_FORK_FAILED:
		if (!r->all_unavailable) {
			ft_respond_up(ft, r->status, r->phrase, NULL);
		} else if (ft_defer_now(ft, "no-answer")) {
			log_info("ft %s: every device is unavailable: deferred", ft->id);
			return;
		} else {
			policy_unreachable(&ft->pf->cfg, PF_ALL_UNAVAILABLE, &v);
			ft_respond_up(ft, v.status, v.phrase, NULL);
		}
		log_info("ft %s: no device took the file", ft->id);
		ft_set_state(ft, FT_ENDING);
		return;
	}
}

static enum sip_fork_class fork_classify(void *owner, int status)
{
	return policy_fork_class(status);
}

static const struct sip_fork_ops ft_fork_ops = {
	.progress = fork_progress,
	.accept = fork_accept,
	.done = fork_done,
	.classify = fork_classify,
};

int ft_answer_up(struct ft *ft, const char *extra_header)
{
	char *buf = malloc(SDP_MAX_BYTES);
	struct sdp_ft *up = malloc(sizeof *up);
	int rc = -1;

	if (!buf || !up || !ft->up)
		goto out;
	/* Our answer to the sender: our UP path, recvonly, the same selector. */
	*up = *ft->offer;
	pf_fill_common_sdp(ft->pf, up, ft_relay_path(ft->relay, FT_LEG_UP));
	up->dir = SDP_DIR_RECVONLY;
	snprintf(up->accept_types, sizeof up->accept_types, "%s", ft->is_msg ? "message/cpim" : "*");
	up->accept_wrapped_types[0] = '\0';
	up->file_icon[0] = '\0';
	int n = sdp_build_ft(buf, SDP_MAX_BYTES, up);
	if (n < 0)
		goto out;
	char hdr[256] = "";
	if (extra_header)
		snprintf(hdr, sizeof hdr, "%s\r\n", extra_header);
	struct sip_body body = {.content_type = "application/sdp", .data = buf, .len = (size_t)n};
	struct sip_respond_opts o = {.body = &body, .headers = extra_header ? hdr : NULL, .contact = true};
	ft->up_answered = true;
	rc = sip_leg_respond(ft->up, 200, NULL, &o) ? -1 : 0;
out:
	free(buf);
	free(up);
	return rc;
}

/* ---------------------------------------------------------- new INVITE */

/* The thumbnail part of the offer, kept decoded (the store holds the image's bytes);
 * bounded by the body we already hold, never by a length the peer claims. */
static void keep_thumbnail(struct ft *ft, const struct mime_part *parts, size_t nparts)
{
	for (size_t i = 0; i < nparts; i++) {
		struct cpm_str t = mime_type_only(parts[i].content_type);
		if (cpm_str_caseeq(t, "application/sdp") || parts[i].body.len > STORE_THUMB_MAX ||
		    t.len >= sizeof ft->thumb_type)
			continue;
		ft->thumb = cpm_arena_alloc(&ft->arena, parts[i].body.len ? parts[i].body.len : 1);
		if (!ft->thumb)
			return;
		if (cpm_str_caseeq(parts[i].content_transfer_encoding, "base64")) {
			int n = mime_base64_decode(ft->thumb, parts[i].body.len, parts[i].body);
			ft->thumb_len = n > 0 ? (size_t)n : 0;
		} else {
			memcpy(ft->thumb, parts[i].body.p, parts[i].body.len);
			ft->thumb_len = parts[i].body.len;
		}
		if (ft->thumb_len)
			cpm_str_copy(ft->thumb_type, sizeof ft->thumb_type, t);
		else
			ft->thumb = NULL;
		return;
	}
}

/* Fills ft from the request; answers the sender itself on an error (returns -1). */
static int ft_take_request(struct ft *ft, const struct sip_msg *m, const struct sip_addr *ru)
{
	struct pf *pf = ft->pf;
	struct sip_addr from;

	msrp_random_ident(ft->id, 16);
	if (pf_identity(m, &from) || location_aor_key(ft->recipient, sizeof ft->recipient, ru->user, ru->host) ||
	    strlen(from.uri) > STORE_AOR_MAX) {
		ft_respond_up(ft, 400, "Request-URI Or From Too Long", NULL);
		return -1;
	}
	strcpy(ft->sender, from.uri);
	if (location_aor_key(ft->sender_key, sizeof ft->sender_key, from.user, from.host)) {
		ft_respond_up(ft, 400, "Bad From", NULL);
		return -1;
	}
	PF_COPY(ft->sender_display, from.display_raw);
	if (pf_cpm_expires(m, &ft->req_expires)) {
		ft_respond_up(ft, 400, "Bad Cpm-Expires (seconds expected)", NULL);
		return -1;
	}
	pf_random_id(ft->item_id);
	ft->created_ms = pf_now_ms();
	ft->expires_ms = policy_expiry(&pf->cfg, ft->created_ms, ft->req_expires);
	ft->fork_headers = sip_msg_carried_headers(m, &ft->arena, CPM_FT_ICSI_TAG);
	ft->onward_route = pf_onward_route(ft->pf, m, &ft->arena);
	/* The IMDN id of this file: the sender's file-transfer-id (ours when it
	 * gave none, or one too long to be an IMDN Message-ID). */
	const char *ftid = ft->offer->file_transfer_id;
	PF_COPY(ft->imdn_id, ftid[0] && strlen(ftid) < sizeof ft->imdn_id ? ftid : ft->item_id);
	ft->up_tcp = sip_msg_over_tcp(m);
	return 0;
}

void ft_relay_params_of(const struct ft *ft, struct ft_relay_params *rp)
{
	const struct pf_config *c = &ft->pf->cfg;

	memset(rp, 0, sizeof *rp);
	rp->event = ft_relay_event_cb;
	if (ft->is_msg) {
		/* no selector: the size is the first chunk's Byte-Range total (pf_largemsg.c) */
		rp->size_from_range = true;
		rp->content_type = "message/cpim";
		rp->max_size = policy_max_message_size(c);
		return;
	}
	rp->size = ft->offer->sel.size;
	rp->has_sha1 = ft->offer->sel.has_hash;
	if (rp->has_sha1)
		memcpy(rp->sha1, ft->offer->sel.hash, 20);
	rp->max_size = policy_max_file_size(c);
}

/* Sets up the relay and forks the offer to the recipient's devices. */
static void ft_fork(struct ft *ft, const struct sip_msg *m, const struct mime_part *parts, size_t nparts,
		    const struct loc_device *devs, size_t ndev)
{
	struct pf *pf = ft->pf;
	struct cpm_arena tmp = CPM_ARENA_INIT;

	/* The relay exists before we fork: its DOWN path goes in the offers.
	 * Its tee is the item's partial, opened by the store (a transfer that
	 * turns into a deferred one goes on in it). */
	int bfd = -1;
	uint64_t bsize;
	if (pf->blobq) {
		int brc = store_blob_open_partial(pf->blobq, ft->item_id, true, &bfd, &bsize);
		if (brc)
			log_error("ft %s: cannot open the partial of item %s: %s", ft->id, ft->item_id, strerror(-brc));
		ft->has_partial = brc == 0;
	}
	struct ft_relay_params rp;
	ft_relay_params_of(ft, &rp);
	rp.has_blob = bfd >= 0;
	rp.blob_fd = bfd; /* the relay's once created (it closes it) */
	/* the device's leg failing switches to store mode (pf_intake.c) */
	rp.keep_on_recipient_loss = ft_defer_allowed(ft);
	bool relay_ok = !(pf->blobq && bfd < 0) && ft_relay_create(&ft->relay, pf->hub, &rp, ft_relay_done_cb, ft) == 0;
	if (!relay_ok && bfd >= 0)
		close(bfd); /* not taken by the relay: still ours */
	if (relay_ok && pf_secure_legs(pf, ft->relay, ft->offer->path, devs, ndev)) {
		ft_respond_up(ft, 488, "msrps (TLS) offered but cpmd has no --msrp-tls", NULL);
		ft_set_state(ft, FT_ENDING);
		goto out;
	}
	if (!relay_ok || ft_relay_set_peer_path(ft->relay, FT_LEG_UP, ft->offer->path)) {
		log_warn("ft %s: cannot set up the MSRP relay", ft->id);
		ft_respond_up(ft, 500, "Cannot Anchor MSRP Session", NULL);
		ft_set_state(ft, FT_ENDING);
		goto out;
	}

	struct sdp_ft *down = cpm_arena_alloc(&tmp, sizeof *down);
	char *sdpbuf = cpm_arena_alloc_raw(&tmp, SDP_MAX_BYTES);
	struct sip_body body;
	struct sip_addr from;
	if (!down || !sdpbuf || pf_identity(m, &from))
		goto oom;
	*down = *ft->offer;
	pf_fill_common_sdp(pf, down, ft_relay_path(ft->relay, FT_LEG_DOWN));
	down->dir = SDP_DIR_SENDONLY;
	if (pf_msrp_active(pf, ft->recipient))
		down->setup = SDP_SETUP_ACTIVE;
	if (sdp_build_ft(sdpbuf, SDP_MAX_BYTES, down) < 0 || pf_build_body(&tmp, sdpbuf, parts, nparts, &body))
		goto oom;
	char to[LOC_MAX_AOR + 8];
	snprintf(to, sizeof to, "<sip:%s>", ft->recipient);
	char *fork_from = pf_fork_from(&tmp, &from, ft->sender);
	if (!ft->fork_headers || !fork_from)
		goto oom;
	struct sip_request rq = {.to = to, .from = fork_from, .body = &body, .headers = ft->fork_headers,
				 .route = ft->onward_route};
	struct sip_fork_params fp = {
		.method = SIP_FORK_INVITE,
		.request = &rq,
		.timeout_ms = pf->cfg.invite_timeout * 1000,
		.max_branches = (unsigned)ndev,
		.log_id = ft->id,
	};
	if (sip_fork_create(&ft->fork, pf->sipua, pf->loop, &fp, &ft_fork_ops, ft))
		goto oom;
	ft_set_state(ft, FT_FORKING);
	log_info("ft %s: forking to %zu device(s)", ft->id, ndev);
	for (size_t i = 0; i < ndev; i++) {
		struct sip_target t;
		pf_target_of(&devs[i], &t);
		sip_fork_add(ft->fork, &t, devs[i].instance);
	}
	sip_fork_start(ft->fork); /* every branch may have failed locally */
	goto out;
oom:
	log_error("ft %s: out of memory", ft->id);
	ft_respond_up(ft, 500, NULL, NULL);
	ft_set_state(ft, FT_ENDING);
out:
	cpm_arena_free(&tmp);
}

static void reject(struct sip_leg *leg, int status, const char *phrase, const char *warning)
{
	struct sip_respond_opts o = {.warning = warning};
	sip_leg_respond(leg, status, phrase, &o);
	/* sipua releases an unbound leg when its call ends. */
}

static const char *body_error_phrase(int st)
{
	return st == 415   ? "Unsupported Body (application/sdp or multipart/mixed)"
	       : st == 413 ? "Body Too Large"
	       : st == 400 ? "Malformed Multipart Body"
			   : "Not A File Transfer (no SDP)";
}

/* Live (not ENDING) transfers of one sender, only when a per-user bound is set. Audit: was O(n)
 * per event (a walk of every transfer in pf->list, up to --max-transfers, per transfer INVITE);
 * now the sender's count in pf->ft_senders, kept by ft_set_state and ft_unlink. */
static unsigned transfers_of(const struct pf *pf, const char *sender_key)
{
	if (!pf->cfg.max_transfers_per_user || !sender_key[0])
		return 0;
	const struct keyset_key *k = keyset_find(pf->ft_senders, sender_key);
	return k ? (unsigned)k->n : 0;
}

void pf_ft_invite(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m)
{
	struct cpm_arena tmp = CPM_ARENA_INIT;
	struct mime_part parts[MIME_MAX_PARTS];
	size_t nparts = 0;
	struct cpm_str sdp;
	struct pf_verdict v;
	struct sip_addr ru, from;
	struct ft *ft = NULL;

	if (pf_request_parties(pf, leg, m, &ru, &from))
		goto out;
	char skey[LOC_MAX_AOR];
	if (location_aor_key(skey, sizeof skey, from.user, from.host))
		skey[0] = '\0'; /* refused further on (ft_take_request) */
	policy_transfer_room(&pf->cfg, transfers_of(pf, skey), (unsigned)pf->nft, &v);
	if (v.status) {
		struct sip_respond_opts o = {.retry_after = "5"};
		log_info("INVITE from %s rejected: %d %s", from.uri, v.status, v.phrase);
		metrics_transfer(MT_REJECTED);
		sip_leg_respond(leg, v.status, v.phrase, &o);
		goto out;
	}
	int st = sip_msg_body_sdp(m, &tmp, &sdp, parts, &nparts);
	if (st) {
		reject(leg, st, body_error_phrase(st), NULL);
		goto out;
	}

	ft = calloc(1, sizeof *ft);
	if (!ft) {
		reject(leg, 500, NULL, NULL);
		goto out;
	}
	ft->pf = pf;
	ft->offer = cpm_arena_alloc(&ft->arena, sizeof *ft->offer);
	enum sdp_error se = ft->offer ? sdp_parse_ft(sdp.p, sdp.len, ft->offer) : SDP_E_TOO_BIG;
	if (se != SDP_OK) {
		char phrase[128];
		snprintf(phrase, sizeof phrase, "Bad SDP: %s", sdp_strerror(se));
		reject(leg, se == SDP_E_NO_MSRP_MEDIA ? 415 : 488, phrase, NULL);
		goto fail;
	}
	if (ft->offer->dir == SDP_DIR_RECVONLY && pf->st) {
		/* RFC 5547 pull: a device fetches a stored item (pf_pull.c). */
		pf_pull_invite(pf, leg, m, ft->offer);
		goto fail;
	}
	/* A large message (messaging.md §2) is anchored like a file: the same code below, with
	 * the differences in pf_largemsg.c. */
	char *carried = sip_msg_carried_headers(m, &tmp, NULL);
	bool large = carried && pf_largemsg_detect(carried, ft->offer);
	if (large)
		policy_check_message_offer(&pf->cfg, ft->offer, &v);
	else
		policy_check_offer(&pf->cfg, ft->offer, &v);
	if (v.status) {
		log_info("INVITE from %s rejected: %d %s", from.uri, v.status, v.phrase);
		metrics_transfer(MT_REJECTED);
		reject(leg, v.status, v.phrase, v.warning);
		goto fail;
	}
	/* From here on the sender's leg is ft's. */
	ft->up = leg;
	sip_leg_bind(leg, ft_leg_event, ft);
	ft->next = pf->list;
	if (pf->list)
		pf->list->prev = ft;
	pf->list = ft;
	pf->nft++;
	if (ft_take_request(ft, m, &ru)) {
		ft_set_state(ft, FT_ENDING);
		goto out;
	}
	if (!(ft->sender_entry = keyset_hold(pf->ft_senders, ft->sender_key))) {
		log_error("ft %s: out of memory", ft->id);
		ft_respond_up(ft, 500, NULL, NULL);
		ft_set_state(ft, FT_ENDING);
		goto out;
	}
	ft_count_sender(ft); /* from now on in its sender's count, until ENDING */
	if (large) {
		int lst = pf_largemsg_prepare(ft, parts, nparts);
		if (lst) {
			ft_respond_up(ft, lst, lst == 400 ? "Malformed CPIM Part" : NULL, NULL);
			ft_set_state(ft, FT_ENDING);
			goto out;
		}
		log_info("ft %s: %s -> %s large message, IMDN id %s", ft->id, ft->sender, ft->recipient, ft->imdn_id);
	} else {
		keep_thumbnail(ft, parts, nparts);
		log_info("ft %s: %s -> %s name=\"%.80s\" size=%" PRIu64 " type=%s%s", ft->id, ft->sender,
			 ft->recipient, ft->offer->sel.name, ft->offer->sel.size, ft->offer->sel.type,
			 nparts > 1 ? " +thumbnail" : "");
	}

	/* Content screening (pf_screen.c): the recipient's blocked senders, max-size and, when
	 * screened, the MIME-type lists, before any byte moves; a large message is message/cpim
	 * of the size it announces. */
	pf_screen_check(pf, ft->recipient, ft->sender_key, ft->is_msg ? "message/cpim" : ft->offer->sel.type,
			ft->is_msg ? ft->offer->max_size : ft->offer->sel.size,
			ft->is_msg ? ft->offer->has_max_size : ft->offer->sel.has_size, &v);
	if (v.status) {
		log_info("ft %s: refused for %s: %d %s", ft->id, ft->recipient, v.status, v.phrase);
		if (ft->is_msg)
			metrics_message(MM_REJECTED);
		else
			metrics_transfer(MT_REJECTED);
		ft_respond_up(ft, v.status, v.phrase, v.warning[0] ? v.warning : NULL);
		ft_set_state(ft, FT_ENDING);
		goto out;
	}
	ft->scan = pf_screen_wanted(pf, ft->recipient);

	if (!ft->is_msg && ft->offer->has_file_range && ft->offer->range_start > 1 && ft_resume_upload(ft))
		goto out; /* an upload resume: continued into the store (pf_intake.c) */

	struct loc_device *devs = cpm_arena_alloc(&tmp, pf->cfg.max_devices * sizeof *devs);
	size_t ndev = devs ? pf_devices(pf, ft->recipient, devs, pf->cfg.max_devices) : 0;
	if (ndev > 0 && !ft->scan && pf_mss_wants_instead(pf, ft->recipient, !ft->is_msg)) {
		/* the recipient keeps files in their message store: the store takes it, not a device */
		if (ft_defer_now(ft, "kept-in-mss"))
			goto out;
	}
	/* A file scanned for its recipient never goes cut-through: it is taken in whole, scanned,
	 * and only then acknowledged, stored and delivered (pf_intake.c). */
	if (ndev == 0 || ft->scan) {
		if (ft_defer_now(ft, ndev == 0 ? "no-device" : "screening"))
			goto out;
		if (ft->scan) {
			log_info("ft %s: cannot take the file in to scan it for %s", ft->id, ft->recipient);
			ft_respond_up(ft, 503, "Content Screening Unavailable (cannot store the file)", NULL);
			ft_set_state(ft, FT_ENDING);
			goto out;
		}
		policy_unreachable(&pf->cfg, PF_NO_DEVICE, &v);
		log_info("ft %s: %s has no registered device: %d %s", ft->id, ft->recipient, v.status, v.phrase);
		ft_respond_up(ft, v.status, v.phrase, NULL);
		ft_set_state(ft, FT_ENDING);
		goto out;
	}
	ft_fork(ft, m, parts, nparts, devs, ndev);
	goto out;
fail:
	cpm_arena_free(&ft->arena);
	free(ft);
out:
	cpm_arena_free(&tmp);
}
