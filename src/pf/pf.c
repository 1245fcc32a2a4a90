/* The file-transfer Participating Function: INVITE in, fork out, relay
 * media, end both legs together. See pf.h and docs/ARCHITECTURE.md §3. */
#include "pf/pf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include "cpm/mime.h"
#include "cpm/msrp.h"
#include "cpm/sdp.h"
#include "common/log.h"
#include "pf/ft.h"
#include "pf/pf_int.h"
#include "pf/policy.h"
#include "sipua/sip_glue.h"

/* After the device has the whole file the sender normally hangs up at once;
 * if it does not, we do. */
#define FT_COMPLETE_BYE_MS 10000

static void ft_finish_forking(struct ft *ft);

/* ---------------------------------------------------------------- helpers */

static int ft_status_class(int s)
{
	return s / 100;
}

/* nua_respond() is queued: the phrase must outlive this call, so it is
 * copied into the handle's memory (freed with the handle). */
const char *pf_keep(nua_handle_t *nh, const char *s)
{
	return s ? su_strdup(nua_handle_home(nh), s) : NULL;
}

void ft_respond_up(struct ft *ft, int status, const char *phrase, const char *warning)
{
	if (ft->up.answered || ft->up.terminated || !ft->up.nh)
		return;
	ft->up.answered = true;
	nua_respond(ft->up.nh, status, pf_keep(ft->up.nh, phrase),
		    TAG_IF(warning && *warning, SIPTAG_WARNING_STR(warning)), TAG_END());
}

void ft_leg_bye(struct ft_leg *leg)
{
	if (!leg->nh || leg->terminated || leg->bye_sent)
		return;
	leg->bye_sent = true;
	nua_bye(leg->nh, TAG_END());
}

/* CANCEL a ringing branch (only after a 1xx: RFC 3261 §9.1). */
bool pf_leg_cancel(struct ft_leg *b, const char *reason)
{
	if (!b->nh || b->terminated || b->final_status || b->answered)
		return false;
	if (!b->got_provisional) {
		b->cancel_wanted = true;
		return false;
	}
	b->cancel_wanted = false;
	nua_cancel(b->nh, SIPTAG_REASON_STR(reason), TAG_END());
	return true;
}

void pf_leg_release(struct ft_leg *leg)
{
	if (!leg->nh)
		return;
	nua_handle_bind(leg->nh, NULL);
	nua_handle_destroy(leg->nh);
	leg->nh = NULL;
}

static void branch_cancel(struct ft *ft, struct ft_leg *b, const char *reason)
{
	if (pf_leg_cancel(b, reason))
		log_info("ft %s: branch %d (%s) cancelled: %s", ft->id, b->branch, b->device, reason);
}

void ft_cancel_branches(struct ft *ft, int except, const char *reason)
{
	ft->cancel_reason = reason;
	for (size_t i = 0; i < ft->nbranches; i++)
		if ((int)i != except)
			branch_cancel(ft, &ft->branches[i], reason);
}

void ft_stop_timer(struct ft *ft)
{
	if (ft->timer) {
		su_timer_destroy(ft->timer);
		ft->timer = NULL;
	}
}

/* End the transfer from any state: answer/cancel/BYE what is still up. */
void ft_end(struct ft *ft, int status, const char *phrase)
{
	if (ft->state == FT_FORKING) {
		ft_respond_up(ft, status, phrase, NULL);
		ft_cancel_branches(ft, -1, REASON_CALLER_CANCEL);
	}
	ft->state = FT_ENDING;
	ft_stop_timer(ft);
	ft_leg_bye(&ft->up);
	if (ft->winner >= 0)
		ft_leg_bye(&ft->branches[ft->winner]);
}

/* ----------------------------------------------------------- relay events */

static void complete_bye_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct ft *ft = arg;
	log_info("ft %s: sender did not hang up after completion; ending the session", ft->id);
	ft_leg_bye(&ft->up);
}

static void start_complete_bye_timer(struct ft *ft)
{
	ft->state = FT_ENDING;
	ft_stop_timer(ft);
	ft->timer = su_timer_create(su_root_task(ft->pf->root), FT_COMPLETE_BYE_MS);
	if (ft->timer)
		su_timer_set(ft->timer, complete_bye_cb, ft);
}

void ft_relay_done_cb(void *arg, enum ft_relay_result res, const char *detail)
{
	struct ft *ft = arg;

	ft->relay_finished = true;
	if (res == FT_RELAY_COMPLETE) {
		log_info("ft %s: delivered %" PRIu64 " bytes from %s to %s (device %s)", ft->id,
			 ft_relay_bytes(ft->relay), ft->sender, ft->recipient,
			 ft->winner >= 0 ? ft->branches[ft->winner].device : "?");
		/* The device has every byte and said so: close its leg now, and
		 * give the sender time to read the REPORT and hang up itself. */
		if (ft->winner >= 0)
			ft_leg_bye(&ft->branches[ft->winner]);
		start_complete_bye_timer(ft);
		return;
	}
	if (res == FT_RELAY_RECEIVED) {
		/* Store mode: durable, committed and acknowledged (pf_defer.c). */
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

/* ------------------------------------------------------------ SDP bodies */

/* An INVITE body: our SDP in place of the sender's, every other part (the
 * thumbnail) passed through unchanged. */
int pf_build_body(su_home_t *home, const char *sdp, const struct mime_part *parts, size_t nparts, char **ct,
		  char **body, size_t *len)
{
	if (nparts == 0) {
		*ct = su_strdup(home, "application/sdp");
		*body = su_strdup(home, sdp);
		*len = strlen(sdp);
		return *ct && *body ? 0 : -1;
	}
	struct mime_part_out out[MIME_MAX_PARTS];
	size_t cap = strlen(sdp) + 1024;
	for (size_t i = 0; i < nparts; i++) {
		bool is_sdp = cpm_str_caseeq(mime_type_only(parts[i].content_type), "application/sdp");
		out[i].headers = parts[i].headers;
		out[i].body = is_sdp ? cpm_str_c(sdp) : parts[i].body;
		cap += out[i].headers.len + out[i].body.len + 128;
	}
	char boundary[40];
	*body = su_alloc(home, cap);
	if (!*body)
		return -1;
	int n = -1;
	/* A random 31-character boundary colliding with a part is unlikely,
	 * but the builder refuses it, so try again a few times. */
	for (int tries = 0; tries < 4 && n < 0; tries++) {
		mime_random_boundary(boundary, 32);
		n = mime_multipart_build(*body, cap, boundary, out, nparts);
	}
	if (n < 0)
		return -1;
	*len = (size_t)n;
	*ct = su_sprintf(home, "multipart/mixed;boundary=\"%s\"", boundary);
	return *ct ? 0 : -1;
}

static int build_fork_body(struct ft *ft, const char *sdp, const struct mime_part *parts, size_t nparts)
{
	return pf_build_body(ft->home, sdp, parts, nparts, &ft->fork_ct, &ft->fork_body, &ft->fork_body_len);
}

void pf_fill_common_sdp(struct pf *pf, struct sdp_ft *s, const char *path)
{
	const char *adv = pf->opts->msrp_advertise[0] ? pf->opts->msrp_advertise : pf->opts->msrp_host;
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
	s->port = pf->opts->msrp_port;
	snprintf(s->proto, sizeof s->proto, "TCP/MSRP");
	PF_COPY(s->path, path);
	s->setup = SDP_SETUP_PASSIVE;
	s->cema = false;
	s->has_max_size = false;
}

/* ------------------------------------------------------------- forking */

static void fork_one(struct ft *ft, struct ft_leg *b, const struct loc_device *dev)
{
	struct pf *pf = ft->pf;
	char to[LOC_MAX_AOR + 8];

	snprintf(to, sizeof to, "<sip:%s>", ft->recipient);
	PF_COPY(b->device, dev->instance);
	b->nh = nua_handle(pf->nua, b, SIPTAG_TO_STR(to), SIPTAG_FROM_STR(ft->fork_from), TAG_END());
	if (!b->nh) {
		b->final_status = 500;
		b->terminated = true;
		return;
	}
	sip_payload_t *pl = sip_payload_create(ft->home, ft->fork_body, (isize_t)ft->fork_body_len);
	/* Request-URI = the registered Contact; sent through the flow the
	 * device registered on (sofia finds the open TCP connection by
	 * address). NUTAG_PROXY must go here, not to nua_handle(). */
	nua_invite(b->nh, NUTAG_URL(dev->contact), NUTAG_PROXY(dev->flow),
		   SIPTAG_CONTACT_STR(dev->tcp ? pf->contact_tcp : pf->contact_udp),
		   SIPTAG_CONTENT_TYPE_STR(ft->fork_ct), SIPTAG_PAYLOAD(pl),
		   TAG_IF(ft->fork_headers && *ft->fork_headers, SIPTAG_HEADER_STR(ft->fork_headers)), TAG_END());
	log_info("ft %s: branch %d -> %s via %s", ft->id, b->branch, dev->contact, dev->flow);
}

static void invite_timer_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct ft *ft = arg;
	struct pf_verdict v;

	if (ft->state != FT_FORKING)
		return;
	log_info("ft %s: no device answered within %u s", ft->id, ft->pf->opts->invite_timeout);
	ft_cancel_branches(ft, -1, REASON_NO_ANSWER);
	if (ft_defer_now(ft, "no-answer"))
		return;
	policy_unreachable(ft->pf->opts, PF_NO_ANSWER, &v);
	ft_respond_up(ft, v.status, v.phrase, NULL);
	ft_cancel_branches(ft, -1, REASON_NO_ANSWER);
	ft->state = FT_ENDING;
}

/* ---------------------------------------------------------- new INVITE */

static void reject_new(nua_t *nua, nua_handle_t *nh, int status, const char *phrase, const char *warning)
{
	nua_respond(nh, status, pf_keep(nh, phrase), TAG_IF(warning && *warning, SIPTAG_WARNING_STR(warning)),
		    TAG_END());
	/* The handle is destroyed when its call state reaches terminated. */
}

static void pf_on_invite(struct pf *pf, nua_t *nua, nua_handle_t *nh, sip_t const *sip)
{
	su_home_t tmp[1] = {SU_HOME_INIT(tmp)};
	struct mime_part parts[MIME_MAX_PARTS];
	size_t nparts = 0;
	struct cpm_str sdp;
	struct pf_verdict v;
	struct ft *ft = NULL;

	const url_t *ru = sip->sip_request ? sip->sip_request->rq_url : NULL;
	if (!ru || !ru->url_user || !ru->url_host || !sip->sip_from) {
		reject_new(nua, nh, 400, "Bad Request-URI", NULL);
		goto out;
	}
	if (!cpmd_is_our_domain(pf->opts, ru->url_host, strlen(ru->url_host))) {
		reject_new(nua, nh, 404, "Not A Domain Of This Server", NULL);
		goto out;
	}
	if (pf->nft >= pf->opts->max_transfers) {
		nua_respond(nh, 503, "Too Many Transfers", SIPTAG_RETRY_AFTER_STR("5"), TAG_END());
		goto out;
	}
	int st = sipglue_body_sdp(tmp, sip, &sdp, parts, &nparts);
	if (st) {
		reject_new(nua, nh, st,
			   st == 415   ? "Unsupported Body (application/sdp or multipart/mixed)"
			   : st == 413 ? "Body Too Large"
			   : st == 400 ? "Malformed Multipart Body"
				       : "Not A File Transfer (no SDP)",
			   NULL);
		goto out;
	}

	ft = calloc(1, sizeof *ft);
	if (!ft) {
		reject_new(nua, nh, SIP_500_INTERNAL_SERVER_ERROR, NULL);
		goto out;
	}
	su_home_init(ft->home);
	ft->pf = pf;
	ft->winner = -1;
	ft->offer = su_zalloc(ft->home, sizeof *ft->offer);
	enum sdp_error se = ft->offer ? sdp_parse_ft(sdp.p, sdp.len, ft->offer) : SDP_E_TOO_BIG;
	if (se != SDP_OK) {
		char phrase[128];
		snprintf(phrase, sizeof phrase, "Bad SDP: %s", sdp_strerror(se));
		reject_new(nua, nh, se == SDP_E_NO_MSRP_MEDIA ? 415 : 488, phrase, NULL);
		goto fail;
	}
	if (ft->offer->dir == SDP_DIR_RECVONLY && pf->st) {
		/* RFC 5547 pull: a device fetches a stored item (pf_deliver.c). */
		pf_pull_invite(pf, nh, sip, ft->offer);
		goto fail;
	}
	policy_check_offer(pf->opts, ft->offer, &v);
	if (v.status) {
		log_info("INVITE from %s rejected: %d %s", url_as_string(tmp, sip->sip_from->a_url), v.status,
			 v.phrase);
		reject_new(nua, nh, v.status, v.phrase, v.warning);
		goto fail;
	}

	msrp_random_ident(ft->id, 16);
	const char *from_uri = url_as_string(tmp, sip->sip_from->a_url);
	if (location_aor_key(ft->recipient, sizeof ft->recipient, ru->url_user, ru->url_host) ||
	    !from_uri || strlen(from_uri) > STORE_AOR_MAX) {
		reject_new(nua, nh, 400, "Request-URI Or From Too Long", NULL);
		goto fail;
	}
	strcpy(ft->sender, from_uri);
	if (location_aor_key(ft->sender_key, sizeof ft->sender_key, sip->sip_from->a_url->url_user,
			     sip->sip_from->a_url->url_host)) {
		reject_new(nua, nh, 400, "Bad From", NULL);
		goto fail;
	}
	if (sip->sip_from->a_display)
		PF_COPY(ft->sender_display, sip->sip_from->a_display);
	char xv[32];
	int xr = sipglue_header_value(sip, "Cpm-Expires", xv, sizeof xv);
	if (xr == 0 && !cpm_str_to_u64_max(cpm_str_trim(cpm_str_c(xv)), 100ULL * 366 * 86400, &ft->req_expires))
		xr = -1;
	if (xr == -1) {
		reject_new(nua, nh, 400, "Bad Cpm-Expires (seconds expected)", NULL);
		goto fail;
	}
	pf_random_id(ft->item_id);
	ft->created_ms = pf_now_ms();
	ft->expires_ms = pf_expiry_for(pf, ft->created_ms, ft->req_expires);
	ft->fork_headers = sipglue_carried_headers(ft->home, sip);
	/* The IMDN id of this file: the sender's file-transfer-id (ours when it
	 * gave none, or one too long to be an IMDN Message-ID). */
	const char *ftid = ft->offer->file_transfer_id;
	PF_COPY(ft->imdn_id, ftid[0] && strlen(ftid) < sizeof ft->imdn_id ? ftid : ft->item_id);
	for (size_t i = 0; i < nparts; i++) {
		struct cpm_str t = mime_type_only(parts[i].content_type);
		if (cpm_str_caseeq(t, "application/sdp") || parts[i].body.len > STORE_THUMB_MAX || t.len >= sizeof ft->thumb_type)
			continue;
		/* Kept decoded (the store holds the image's bytes); bounded by the
		 * body we already hold, never by a length the peer claims. */
		ft->thumb = su_alloc(ft->home, parts[i].body.len ? parts[i].body.len : 1);
		if (!ft->thumb)
			break;
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
		break;
	}
	ft->up.kind = PF_H_FT;
	ft->up.ft = ft;
	ft->up.branch = -1;
	ft->up.nh = nh;
	ft->up_tcp = sip->sip_via && sip->sip_via->v_protocol && su_casenmatch(sip->sip_via->v_protocol + 8, "TCP", 3);
	nua_handle_bind(nh, &ft->up);
	ft->next = pf->list;
	if (pf->list)
		pf->list->prev = ft;
	pf->list = ft;
	pf->nft++;

	log_info("ft %s: %s -> %s name=\"%.80s\" size=%" PRIu64 " type=%s%s", ft->id, ft->sender, ft->recipient,
		 ft->offer->sel.name, ft->offer->sel.size, ft->offer->sel.type, nparts > 1 ? " +thumbnail" : "");

	if (ft->offer->has_file_range && ft->offer->range_start > 1 && ft_resume_upload(ft))
		goto out; /* an upload resume: continued into the store (pf_defer.c) */

	struct loc_device *devs = su_zalloc(tmp, pf->opts->max_devices * sizeof *devs);
	size_t ndev = devs ? location_lookup(pf->loc, ft->recipient, devs, pf->opts->max_devices) : 0;
	if (ndev == 0) {
		if (ft_defer_now(ft, "no-device"))
			goto out;
		policy_unreachable(pf->opts, PF_NO_DEVICE, &v);
		log_info("ft %s: %s has no registered device: %d %s", ft->id, ft->recipient, v.status, v.phrase);
		ft_respond_up(ft, v.status, v.phrase, NULL);
		ft->state = FT_ENDING;
		goto out;
	}

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
	struct ft_relay_params rp = {
		.size = ft->offer->sel.size,
		.has_sha1 = ft->offer->sel.has_hash,
		.max_size = pf->opts->max_file_size,
		.has_blob = bfd >= 0,
		.blob_fd = bfd, /* the relay's once created (it closes it) */
		/* the device's leg failing switches to store mode (pf_defer.c) */
		.keep_on_recipient_loss = ft_defer_allowed(ft),
		.event = ft_relay_event_cb,
	};
	if (rp.has_sha1)
		memcpy(rp.sha1, ft->offer->sel.hash, 20);
	bool relay_ok = !(pf->blobq && bfd < 0) &&
			ft_relay_create(&ft->relay, pf->hub, &rp, ft_relay_done_cb, ft) == 0;
	if (!relay_ok && bfd >= 0)
		close(bfd); /* not taken by the relay: still ours */
	if (!relay_ok || ft_relay_set_peer_path(ft->relay, FT_LEG_UP, ft->offer->path)) {
		log_warn("ft %s: cannot set up the MSRP relay", ft->id);
		ft_respond_up(ft, 500, "Cannot Anchor MSRP Session", NULL);
		ft->state = FT_ENDING;
		goto out;
	}

	struct sdp_ft *down = su_alloc(ft->home, sizeof *down);
	char *sdpbuf = su_alloc(tmp, SDP_MAX_BYTES);
	if (!down || !sdpbuf)
		goto oom;
	*down = *ft->offer;
	pf_fill_common_sdp(pf, down, ft_relay_path(ft->relay, FT_LEG_DOWN));
	down->dir = SDP_DIR_SENDONLY;
	if (sdp_build_ft(sdpbuf, SDP_MAX_BYTES, down) < 0 || build_fork_body(ft, sdpbuf, parts, nparts))
		goto oom;
	if (sip->sip_from->a_display)
		ft->fork_from = su_sprintf(ft->home, "%s <%s>", sip->sip_from->a_display, ft->sender);
	else
		ft->fork_from = su_sprintf(ft->home, "<%s>", ft->sender);
	ft->branches = su_zalloc(ft->home, ndev * sizeof *ft->branches);
	if (!ft->fork_headers || !ft->fork_from || !ft->branches)
		goto oom;
	ft->nbranches = ndev;
	ft->state = FT_FORKING;
	ft->timer = su_timer_create(su_root_task(pf->root), pf->opts->invite_timeout * 1000);
	if (ft->timer)
		su_timer_set(ft->timer, invite_timer_cb, ft);
	log_info("ft %s: forking to %zu device(s)", ft->id, ndev);
	for (size_t i = 0; i < ndev; i++) {
		ft->branches[i].kind = PF_H_FT;
		ft->branches[i].ft = ft;
		ft->branches[i].branch = (int)i;
		fork_one(ft, &ft->branches[i], &devs[i]);
	}
	ft_finish_forking(ft); /* every branch may have failed locally */
	goto out;
oom:
	log_error("ft %s: out of memory", ft->id);
	ft_respond_up(ft, SIP_500_INTERNAL_SERVER_ERROR, NULL);
	ft->state = FT_ENDING;
	goto out;
fail:
	if (ft) {
		su_home_deinit(ft->home);
		free(ft);
	}
out:
	su_home_deinit(tmp);
}

/* --------------------------------------------------- branch responses */

static void on_winner(struct ft *ft, struct ft_leg *b, sip_t const *sip)
{
	su_home_t tmp[1] = {SU_HOME_INIT(tmp)};
	struct mime_part parts[MIME_MAX_PARTS];
	size_t nparts;
	struct cpm_str sdp;
	struct sdp_ft *ans = su_zalloc(tmp, sizeof *ans);

	if (!ans || sipglue_body_sdp(tmp, sip, &sdp, parts, &nparts) ||
	    sdp_parse_ft(sdp.p, sdp.len, ans) != SDP_OK || ans->port == 0 ||
	    ft_relay_set_peer_path(ft->relay, FT_LEG_DOWN, ans->path)) {
		log_info("ft %s: branch %d accepted with an unusable SDP answer; hanging it up", ft->id, b->branch);
		b->final_status = 488;
		ft_leg_bye(b);
		ft_finish_forking(ft);
		goto out;
	}
	ft->winner = b->branch;
	ft->state = FT_RELAYING;
	ft_stop_timer(ft);
	log_info("ft %s: branch %d (%s) accepted", ft->id, b->branch, b->device);
	ft_cancel_branches(ft, b->branch, REASON_ELSEWHERE);

	if (ft_answer_up(ft, NULL))
		ft_end(ft, 500, "Cannot Build SDP Answer");
out:
	su_home_deinit(tmp);
}

int ft_answer_up(struct ft *ft, const char *extra_header)
{
	char *buf = malloc(SDP_MAX_BYTES);
	struct sdp_ft *up = malloc(sizeof *up);
	int rc = -1;

	if (!buf || !up)
		goto out;
	/* Our answer to the sender: our UP path, recvonly, the same selector. */
	*up = *ft->offer;
	pf_fill_common_sdp(ft->pf, up, ft_relay_path(ft->relay, FT_LEG_UP));
	up->dir = SDP_DIR_RECVONLY;
	snprintf(up->accept_types, sizeof up->accept_types, "*");
	up->accept_wrapped_types[0] = '\0';
	up->file_icon[0] = '\0';
	if (sdp_build_ft(buf, SDP_MAX_BYTES, up) < 0)
		goto out;
	ft->up.answered = true;
	nua_respond(ft->up.nh, SIP_200_OK, SIPTAG_CONTACT_STR(ft->up_tcp ? ft->pf->contact_tcp : ft->pf->contact_udp),
		    SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(pf_keep(ft->up.nh, buf)),
		    TAG_IF(extra_header, SIPTAG_HEADER_STR(pf_keep(ft->up.nh, extra_header))), TAG_END());
	rc = 0;
out:
	free(buf);
	free(up);
	return rc;
}

/* Decide once every branch has ended without a winner (RFC 3261 §16.7). */
static void ft_finish_forking(struct ft *ft)
{
	struct pf_verdict v;

	if (ft->state != FT_FORKING)
		return;
	for (size_t i = 0; i < ft->nbranches; i++)
		if (!ft->branches[i].final_status)
			return;
	ft_stop_timer(ft);
	if (ft->any_real_answer) {
		ft_respond_up(ft, ft->best_status, ft->best_phrase, NULL);
	} else if (ft_defer_now(ft, "no-answer")) {
		log_info("ft %s: every device is unavailable: deferred", ft->id);
		return;
	} else {
		policy_unreachable(ft->pf->opts, PF_ALL_UNAVAILABLE, &v);
		ft_respond_up(ft, v.status, v.phrase, NULL);
	}
	log_info("ft %s: no device took the file", ft->id);
	ft->state = FT_ENDING;
}

static void on_branch_response(struct ft *ft, struct ft_leg *b, int status, const char *phrase, sip_t const *sip)
{
	if (status < 200) {
		if (status > 100)
			b->got_provisional = true;
		if (b->cancel_wanted)
			branch_cancel(ft, b, ft->cancel_reason ? ft->cancel_reason : REASON_ELSEWHERE);
		if (status == 180 && ft->state == FT_FORKING && !ft->up.answered)
			nua_respond(ft->up.nh, SIP_180_RINGING, TAG_END());
		return;
	}
	if (status < 300) {
		b->answered = true;
		b->final_status = status;
		if (ft->state == FT_FORKING && !ft->up.terminated) {
			on_winner(ft, b, sip);
		} else {
			/* Lost the race with another branch (or the sender is gone):
			 * nua has ACKed it; hang it up (RFC 3261 §13.2.2.4). */
			log_info("ft %s: branch %d answered late; hanging it up", ft->id, b->branch);
			ft_leg_bye(b);
		}
		return;
	}
	b->final_status = status;
	if (ft->state != FT_FORKING)
		return;
	log_info("ft %s: branch %d (%s) answered %d %s", ft->id, b->branch, b->device, status, phrase);
	if (ft_status_class(status) == 6) {
		/* The user said no on one device: that is the answer (no S&F). */
		ft_cancel_branches(ft, b->branch, status == 603 ? REASON_DECLINED : REASON_ELSEWHERE);
		ft_respond_up(ft, status, phrase, NULL);
		ft->state = FT_ENDING;
		ft_stop_timer(ft);
		return;
	}
	if (!policy_is_unavailable_status(status)) {
		if (!ft->any_real_answer || ft_status_class(status) < ft_status_class(ft->best_status)) {
			ft->best_status = status;
			PF_COPY(ft->best_phrase, phrase ? phrase : "");
		}
		ft->any_real_answer = true;
	}
	ft_finish_forking(ft);
}

/* ----------------------------------------------------------- lifecycle */

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
}

static void ft_free(struct ft *ft)
{
	ft_unlink(ft);
	ft_stop_timer(ft);
	if (ft->relay)
		ft_relay_destroy(ft->relay);
	/* The tee of a live transfer is not kept once it is over, unless the
	 * store took it (a stored item or a resumable partial). The relay
	 * closed its descriptor above; the store unlinks off the loop. */
	if (ft->has_partial && !ft->keep_blob)
		pf_blob_remove(ft->pf, ft->item_id, true);
	pf_leg_release(&ft->up);
	for (size_t i = 0; i < ft->nbranches; i++)
		pf_leg_release(&ft->branches[i]);
	log_debug("ft %s: freed", ft->id);
	su_home_deinit(ft->home);
	free(ft);
}

void ft_maybe_free(struct ft *ft)
{
	if (!ft->up.terminated || ft->store_refs)
		return;
	for (size_t i = 0; i < ft->nbranches; i++)
		if (!ft->branches[i].terminated)
			return;
	ft_free(ft);
}

static void on_leg_terminated(struct ft *ft, struct ft_leg *leg)
{
	if (leg->terminated)
		return;
	leg->terminated = true;
	pf_leg_release(leg);
	if (leg->branch < 0) {
		/* Sender gone: whatever state, the other side goes too. A file
		 * being made durable stays until its commit answers (pf_defer.c). */
		if (ft->relay && !ft->relay_finished && !ft->committing)
			ft_defer_keep_partial(ft);
		if (ft->relay && !ft->committing) {
			ft_relay_destroy(ft->relay);
			ft->relay = NULL;
		}
		if (ft->state == FT_FORKING) {
			log_info("ft %s: sender cancelled", ft->id);
			ft_cancel_branches(ft, -1, REASON_CALLER_CANCEL);
		}
		ft->state = FT_ENDING;
		ft_stop_timer(ft);
		if (ft->winner >= 0)
			ft_leg_bye(&ft->branches[ft->winner]);
	} else {
		if (!leg->final_status)
			leg->final_status = 500;
		if (leg->branch == ft->winner && ft->state == FT_RELAYING && !ft->deferred) {
			log_info("ft %s: recipient device hung up before the end", ft->id);
			if (ft_defer_allowed(ft) && ft->relay && !ft->relay_finished)
				ft_defer_recipient_lost(ft, "the device hung up", true);
			else
				ft_end(ft, 500, "Recipient Left");
		} else {
			ft_finish_forking(ft);
		}
	}
	ft_maybe_free(ft);
}

void pf_nua_event(void *arg, nua_event_t event, int status, char const *phrase, nua_t *nua, nua_handle_t *nh,
		  nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[])
{
	struct pf *pf = arg;
	struct ft_leg *leg = hmagic;
	int cs = -1;

	if (!leg) {
		if (event == nua_i_invite && sip) {
			pf_on_invite(pf, nua, nh, sip);
			return;
		}
		if (event == nua_i_message) {
			pf_on_message(pf, nh, sip);
			return;
		}
		if (event == nua_i_state) {
			tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
			if (cs == nua_callstate_terminated)
				nua_handle_destroy(nh); /* a rejected INVITE's handle */
			return;
		}
		if (event == nua_i_options || event == nua_i_subscribe || event == nua_i_refer ||
		    event == nua_i_notify || event == nua_i_publish || event == nua_i_info ||
		    event == nua_i_update)
			log_debug("unhandled %s", nua_event_name(event));
		return;
	}
	if (*(enum pf_hkind *)hmagic == PF_H_MSG) {
		pf_msg_nua_event(pf, (struct pf_msg *)hmagic, event, status, nh);
		return;
	}
	if (leg->kind == PF_H_DLV) {
		pf_dlv_nua_event(pf, leg, event, status, phrase, nh, sip, tags);
		return;
	}
	struct ft *ft = leg->ft;
	switch (event) {
	case nua_r_invite:
		if (leg->branch >= 0)
			on_branch_response(ft, leg, status, phrase, sip);
		break;
	case nua_i_invite:
		/* re-INVITE inside an anchored transfer: nothing to change. */
		nua_respond(nh, 488, "Re-INVITE Not Supported During File Transfer", TAG_END());
		break;
	case nua_i_bye:
		log_info("ft %s: BYE from %s", ft->id, leg->branch < 0 ? "sender" : "recipient");
		break;
	case nua_i_state:
		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
		if (cs == nua_callstate_terminated)
			on_leg_terminated(ft, leg); /* may free ft */
		break;
	default:
		break;
	}
}

/* -------------------------------------------------------------- pf API */

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
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";
	if (RAND_bytes(b, sizeof b) != 1) {
		/* OpenSSL's generator cannot fail once seeded; fall back anyway. */
		char r[17];
		msrp_random_ident(r, 16);
		memcpy(b, r, 16);
	}
	for (size_t i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
}

int pf_aor_key_of_uri(const char *uri, char *out, size_t cap)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	url_t *u = url_make(home, uri);
	int rc = (u && u->url_user && u->url_host) ? location_aor_key(out, cap, u->url_user, u->url_host) : -1;
	su_home_deinit(home);
	return rc;
}

int pf_create(struct pf **pp, su_root_t *root, nua_t *nua, const struct cpmd_options *opts,
	      struct location *loc, struct msrp_hub *hub, struct store *st)
{
	struct pf *pf = calloc(1, sizeof *pf);
	if (!pf)
		return -1;
	pf->root = root;
	pf->nua = nua;
	pf->opts = opts;
	pf->loc = loc;
	pf->hub = hub;
	pf->st = st;
	const char *h = opts->sip_host;
	const char *lb = strchr(h, ':') ? "[" : "", *rb = strchr(h, ':') ? "]" : "";
	snprintf(pf->contact_udp, sizeof pf->contact_udp, "<sip:%s%s%s:%u>;%s", lb, h, rb, opts->sip_port,
		 CPM_FT_ICSI_TAG);
	snprintf(pf->contact_tcp, sizeof pf->contact_tcp, "<sip:%s%s%s:%u;transport=tcp>;%s", lb, h, rb,
		 opts->sip_port, CPM_FT_ICSI_TAG);
	if (st) {
		struct blob_dir *bd = store_blob_dir(st);
		if (!bd) {
			log_error("the store has no blob directory (store_open_dir)");
			goto fail;
		}
		struct store_reconcile_report rep;
		int rc = store_reconcile(st, bd, pf_now_ms(), &rep, pf_on_reconcile_failed, NULL, pf);
		if (rc < 0) {
			log_error("start-up reconcile of the store failed: %s", strerror(-rc));
			goto fail;
		}
		if (store_blobq_create(&pf->blobq, st, bd)) {
			log_error("cannot start the blob commit thread");
			goto fail;
		}
		if (pf_prefs_apply_options(pf) || pf_expiry_start(pf))
			goto fail;
	}
	*pp = pf;
	return 0;
fail:
	if (pf->blobq)
		store_blobq_destroy(pf->blobq);
	free(pf);
	return -1;
}

static int startup_kick(void *arg, const struct store_reg *r)
{
	struct pf *pf = arg;
	pf_notify_flush(pf, r->aor);
	pf_deliver_kick(pf, r->aor, true);
	return 0;
}

void pf_start(struct pf *pf)
{
	/* Devices restored from the store may have items and notifications
	 * waiting since before the restart. */
	if (pf->st)
		store_regs_all(pf->st, startup_kick, pf);
}

void pf_on_register(void *arg, const char *aor, const char *instance, bool fresh)
{
	struct pf *pf = arg;
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

void pf_terminate_all(struct pf *pf)
{
	pf->stopping = true;
	for (struct ft *ft = pf->list; ft; ft = ft->next)
		ft_end(ft, 503, "Server Shutting Down");
	pf_deliver_terminate_all(pf);
}

size_t pf_active_transfers(const struct pf *pf)
{
	return pf->nft + pf->ndlv;
}

static void drained(void *arg, int err)
{
	*(int *)arg = 1;
}

void pf_destroy(struct pf *pf)
{
	if (!pf)
		return;
	pf->stopping = true;
	pf_expiry_stop(pf);
	/* Store and blob callbacks point to transfers, notifications and pf
	 * itself: let every one of them run while all of that is still alive.
	 * The blob queue answers everything queued (commits submit their item
	 * updates), then a barrier on the store is waited for on the loop. The
	 * queue itself stays until the transfers are freed: they ask it to
	 * remove their partials. */
	store_blobq_drain(pf->blobq);
	if (pf->st) {
		int done = 0;
		if (store_sync(pf->st, drained, &done) == 0)
			for (int i = 0; i < 100 && !done; i++)
				su_root_step(pf->root, 100);
	}
	while (pf->list) {
		pf->list->store_refs = 0;
		ft_free(pf->list);
	}
	pf_deliver_destroy_all(pf);
	pf_msg_destroy_all(pf);
	/* Runs the removals just asked for; their answers point to nothing of pf. */
	store_blobq_destroy(pf->blobq);
	pf->blobq = NULL;
	free(pf);
}
