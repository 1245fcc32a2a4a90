/* The file-transfer Participating Function: INVITE in, fork out, relay
 * media, end both legs together. See pf.h and docs/ARCHITECTURE.md §3. */
#include "pf/pf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
#include "pf/policy.h"
#include "sipua/sip_glue.h"

#define REASON_ELSEWHERE "SIP;cause=200;text=\"Call completed elsewhere\""
#define REASON_NO_ANSWER "SIP;cause=480;text=\"No answer\""
#define REASON_DECLINED "SIP;cause=603;text=\"Declined\""
#define REASON_CALLER_CANCEL "SIP;cause=487;text=\"Originator cancelled\""
/* After the device has the whole file the sender normally hangs up at once;
 * if it does not, we do. */
#define FT_COMPLETE_BYE_MS 10000

struct pf {
	su_root_t *root;
	nua_t *nua;
	const struct cpmd_options *opts;
	struct location *loc;
	struct msrp_hub *hub;
	struct ft *list;
	size_t nft;
	/* Our Contact, per transport, with the CPM FT feature tag (nua's own
	 * dialog Contact drops NUTAG_M_FEATURES). */
	char contact_udp[400];
	char contact_tcp[400];
};

static void ft_maybe_free(struct ft *ft);
static void ft_finish_forking(struct ft *ft);

/* ---------------------------------------------------------------- helpers */

static int ft_status_class(int s)
{
	return s / 100;
}

/* nua_respond() is queued: the phrase must outlive this call, so it is
 * copied into the handle's memory (freed with the handle). */
static const char *keep(nua_handle_t *nh, const char *s)
{
	return s ? su_strdup(nua_handle_home(nh), s) : NULL;
}

static void respond_up(struct ft *ft, int status, const char *phrase, const char *warning)
{
	if (ft->up.answered || ft->up.terminated || !ft->up.nh)
		return;
	ft->up.answered = true;
	nua_respond(ft->up.nh, status, keep(ft->up.nh, phrase),
		    TAG_IF(warning && *warning, SIPTAG_WARNING_STR(warning)), TAG_END());
}

static void leg_bye(struct ft_leg *leg)
{
	if (!leg->nh || leg->terminated || leg->bye_sent)
		return;
	leg->bye_sent = true;
	nua_bye(leg->nh, TAG_END());
}

/* CANCEL a ringing branch (only after a 1xx: RFC 3261 §9.1). */
static void branch_cancel(struct ft *ft, struct ft_leg *b, const char *reason)
{
	if (!b->nh || b->terminated || b->final_status || b->answered)
		return;
	if (!b->got_provisional) {
		b->cancel_wanted = true;
		return;
	}
	b->cancel_wanted = false;
	nua_cancel(b->nh, SIPTAG_REASON_STR(reason), TAG_END());
	log_info("ft %s: branch %d (%s) cancelled: %s", ft->id, b->branch, b->device, reason);
}

static void cancel_branches(struct ft *ft, int except, const char *reason)
{
	ft->cancel_reason = reason;
	for (size_t i = 0; i < ft->nbranches; i++)
		if ((int)i != except)
			branch_cancel(ft, &ft->branches[i], reason);
}

static void ft_stop_timer(struct ft *ft)
{
	if (ft->timer) {
		su_timer_destroy(ft->timer);
		ft->timer = NULL;
	}
}

/* End the transfer from any state: answer/cancel/BYE what is still up. */
static void ft_end(struct ft *ft, int status, const char *phrase)
{
	if (ft->state == FT_FORKING) {
		respond_up(ft, status, phrase, NULL);
		cancel_branches(ft, -1, REASON_CALLER_CANCEL);
	}
	ft->state = FT_ENDING;
	ft_stop_timer(ft);
	leg_bye(&ft->up);
	if (ft->winner >= 0)
		leg_bye(&ft->branches[ft->winner]);
}

/* ----------------------------------------------------------- relay events */

static void complete_bye_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct ft *ft = arg;
	log_info("ft %s: sender did not hang up after completion; ending the session", ft->id);
	leg_bye(&ft->up);
}

static void on_relay_done(void *arg, enum ft_relay_result res, const char *detail)
{
	struct ft *ft = arg;

	if (res == FT_RELAY_COMPLETE) {
		log_info("ft %s: delivered %" PRIu64 " bytes from %s to %s (device %s)", ft->id,
			 ft_relay_bytes(ft->relay), ft->sender, ft->recipient,
			 ft->winner >= 0 ? ft->branches[ft->winner].device : "?");
		/* The device has every byte and said so: close its leg now, and
		 * give the sender time to read the REPORT and hang up itself. */
		if (ft->winner >= 0)
			leg_bye(&ft->branches[ft->winner]);
		ft->state = FT_ENDING;
		ft_stop_timer(ft);
		ft->timer = su_timer_create(su_root_task(ft->pf->root), FT_COMPLETE_BYE_MS);
		if (ft->timer)
			su_timer_set(ft->timer, complete_bye_cb, ft);
		return;
	}
	log_info("ft %s: transfer ended: %s%s%s", ft->id, ft_relay_result_str(res), detail ? ": " : "",
		 detail ? detail : "");
	ft_end(ft, 500, "Transfer Failed");
}

/* ------------------------------------------------------------ SDP bodies */

/* Rebuild the INVITE body for the forks: our SDP offer in place of the
 * sender's, every other part (the thumbnail) passed through unchanged. */
static int build_fork_body(struct ft *ft, const char *sdp, const struct mime_part *parts, size_t nparts)
{
	if (nparts == 0) {
		ft->fork_ct = su_strdup(ft->home, "application/sdp");
		ft->fork_body = su_strdup(ft->home, sdp);
		ft->fork_body_len = strlen(sdp);
		return ft->fork_body ? 0 : -1;
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
	ft->fork_body = su_alloc(ft->home, cap);
	if (!ft->fork_body)
		return -1;
	int n = -1;
	/* A random 31-character boundary colliding with a part is unlikely,
	 * but the builder refuses it, so try again a few times. */
	for (int tries = 0; tries < 4 && n < 0; tries++) {
		mime_random_boundary(boundary, 32);
		n = mime_multipart_build(ft->fork_body, cap, boundary, out, nparts);
	}
	if (n < 0)
		return -1;
	ft->fork_body_len = (size_t)n;
	ft->fork_ct = su_sprintf(ft->home, "multipart/mixed;boundary=\"%s\"", boundary);
	return ft->fork_ct ? 0 : -1;
}

static void fill_common_sdp(struct pf *pf, struct sdp_ft *s, const char *path)
{
	const char *adv = pf->opts->msrp_advertise[0] ? pf->opts->msrp_advertise : pf->opts->msrp_host;
	snprintf(s->origin_user, sizeof s->origin_user, "cpmd");
	char rnd[12];
	msrp_random_ident(rnd, 9); /* digits are not needed: any unique number */
	s->origin_sess_id = 0;
	for (size_t i = 0; i < 9; i++)
		s->origin_sess_id = s->origin_sess_id * 31 + (unsigned char)rnd[i];
	s->origin_sess_version = s->origin_sess_id;
	snprintf(s->origin_addr, sizeof s->origin_addr, "%s", adv);
	snprintf(s->conn_addr, sizeof s->conn_addr, "%s", adv);
	s->conn_ipv6 = strchr(adv, ':') != NULL;
	s->port = pf->opts->msrp_port;
	snprintf(s->proto, sizeof s->proto, "TCP/MSRP");
	snprintf(s->path, sizeof s->path, "%s", path);
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
	snprintf(b->device, sizeof b->device, "%s", dev->instance);
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
	policy_unreachable(ft->pf->opts, PF_NO_ANSWER, &v);
	respond_up(ft, v.status, v.phrase, NULL);
	cancel_branches(ft, -1, REASON_NO_ANSWER);
	ft->state = FT_ENDING;
}

/* ---------------------------------------------------------- new INVITE */

static void reject_new(nua_t *nua, nua_handle_t *nh, int status, const char *phrase, const char *warning)
{
	nua_respond(nh, status, keep(nh, phrase), TAG_IF(warning && *warning, SIPTAG_WARNING_STR(warning)),
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
	    !from_uri || strlen(from_uri) >= sizeof ft->sender) {
		reject_new(nua, nh, 400, "Request-URI Or From Too Long", NULL);
		goto fail;
	}
	strcpy(ft->sender, from_uri);
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

	struct loc_device *devs = su_zalloc(tmp, pf->opts->max_devices * sizeof *devs);
	size_t ndev = devs ? location_lookup(pf->loc, ft->recipient, devs, pf->opts->max_devices) : 0;
	if (ndev == 0) {
		policy_unreachable(pf->opts, PF_NO_DEVICE, &v);
		log_info("ft %s: %s has no registered device: %d %s", ft->id, ft->recipient, v.status, v.phrase);
		respond_up(ft, v.status, v.phrase, NULL);
		ft->state = FT_ENDING;
		goto out;
	}

	/* The relay exists before we fork: its DOWN path goes in the offers. */
	snprintf(ft->blob_path, sizeof ft->blob_path, "%s/blobs/tmp/%s", pf->opts->data_dir, ft->id);
	struct ft_relay_params rp = {
		.size = ft->offer->sel.size,
		.has_sha1 = ft->offer->sel.has_hash,
		.max_size = pf->opts->max_file_size,
		.blob_path = ft->blob_path,
	};
	if (rp.has_sha1)
		memcpy(rp.sha1, ft->offer->sel.hash, 20);
	if (ft_relay_create(&ft->relay, pf->hub, &rp, on_relay_done, ft) ||
	    ft_relay_set_peer_path(ft->relay, FT_LEG_UP, ft->offer->path)) {
		log_warn("ft %s: cannot set up the MSRP relay", ft->id);
		respond_up(ft, 500, "Cannot Anchor MSRP Session", NULL);
		ft->state = FT_ENDING;
		goto out;
	}

	struct sdp_ft *down = su_alloc(ft->home, sizeof *down);
	char *sdpbuf = su_alloc(tmp, SDP_MAX_BYTES);
	if (!down || !sdpbuf)
		goto oom;
	*down = *ft->offer;
	fill_common_sdp(pf, down, ft_relay_path(ft->relay, FT_LEG_DOWN));
	down->dir = SDP_DIR_SENDONLY;
	if (sdp_build_ft(sdpbuf, SDP_MAX_BYTES, down) < 0 || build_fork_body(ft, sdpbuf, parts, nparts))
		goto oom;
	ft->fork_headers = sipglue_carried_headers(ft->home, sip);
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
		ft->branches[i].ft = ft;
		ft->branches[i].branch = (int)i;
		fork_one(ft, &ft->branches[i], &devs[i]);
	}
	ft_finish_forking(ft); /* every branch may have failed locally */
	goto out;
oom:
	log_error("ft %s: out of memory", ft->id);
	respond_up(ft, SIP_500_INTERNAL_SERVER_ERROR, NULL);
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
	char *buf = su_alloc(tmp, SDP_MAX_BYTES);

	if (!ans || !buf || sipglue_body_sdp(tmp, sip, &sdp, parts, &nparts) ||
	    sdp_parse_ft(sdp.p, sdp.len, ans) != SDP_OK || ans->port == 0 ||
	    ft_relay_set_peer_path(ft->relay, FT_LEG_DOWN, ans->path)) {
		log_info("ft %s: branch %d accepted with an unusable SDP answer; hanging it up", ft->id, b->branch);
		b->final_status = 488;
		leg_bye(b);
		ft_finish_forking(ft);
		goto out;
	}
	ft->winner = b->branch;
	ft->state = FT_RELAYING;
	ft_stop_timer(ft);
	log_info("ft %s: branch %d (%s) accepted", ft->id, b->branch, b->device);
	cancel_branches(ft, b->branch, REASON_ELSEWHERE);

	/* Our answer to the sender: our UP path, recvonly, the same selector. */
	struct sdp_ft *up = ans; /* reuse the struct: start from the sender's offer */
	*up = *ft->offer;
	fill_common_sdp(ft->pf, up, ft_relay_path(ft->relay, FT_LEG_UP));
	up->dir = SDP_DIR_RECVONLY;
	snprintf(up->accept_types, sizeof up->accept_types, "*");
	up->accept_wrapped_types[0] = '\0';
	up->file_icon[0] = '\0';
	if (sdp_build_ft(buf, SDP_MAX_BYTES, up) < 0) {
		ft_end(ft, 500, "Cannot Build SDP Answer");
		goto out;
	}
	ft->up.answered = true;
	nua_respond(ft->up.nh, SIP_200_OK, SIPTAG_CONTACT_STR(ft->up_tcp ? ft->pf->contact_tcp : ft->pf->contact_udp),
		    SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(buf),
		    TAG_END());
out:
	su_home_deinit(tmp);
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
		respond_up(ft, ft->best_status, ft->best_phrase, NULL);
	} else {
		policy_unreachable(ft->pf->opts, PF_ALL_UNAVAILABLE, &v);
		respond_up(ft, v.status, v.phrase, NULL);
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
			leg_bye(b);
		}
		return;
	}
	b->final_status = status;
	if (ft->state != FT_FORKING)
		return;
	log_info("ft %s: branch %d (%s) answered %d %s", ft->id, b->branch, b->device, status, phrase);
	if (ft_status_class(status) == 6) {
		/* The user said no on one device: that is the answer (no S&F). */
		cancel_branches(ft, b->branch, status == 603 ? REASON_DECLINED : REASON_ELSEWHERE);
		respond_up(ft, status, phrase, NULL);
		ft->state = FT_ENDING;
		ft_stop_timer(ft);
		return;
	}
	if (!policy_is_unavailable_status(status)) {
		if (!ft->any_real_answer || ft_status_class(status) < ft_status_class(ft->best_status)) {
			ft->best_status = status;
			snprintf(ft->best_phrase, sizeof ft->best_phrase, "%s", phrase ? phrase : "");
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
	/* No store yet: the tee blob is not kept once the transfer is over
	 * (store-and-forward will commit it instead). */
	if (ft->blob_path[0])
		unlink(ft->blob_path);
	if (ft->up.nh) {
		nua_handle_bind(ft->up.nh, NULL);
		nua_handle_destroy(ft->up.nh);
	}
	for (size_t i = 0; i < ft->nbranches; i++)
		if (ft->branches[i].nh) {
			nua_handle_bind(ft->branches[i].nh, NULL);
			nua_handle_destroy(ft->branches[i].nh);
		}
	log_debug("ft %s: freed", ft->id);
	su_home_deinit(ft->home);
	free(ft);
}

static void ft_maybe_free(struct ft *ft)
{
	if (!ft->up.terminated)
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
	nua_handle_bind(leg->nh, NULL);
	nua_handle_destroy(leg->nh);
	leg->nh = NULL;
	if (leg->branch < 0) {
		/* Sender gone: whatever state, the other side goes too. */
		if (ft->relay) {
			ft_relay_destroy(ft->relay);
			ft->relay = NULL;
		}
		if (ft->state == FT_FORKING) {
			log_info("ft %s: sender cancelled", ft->id);
			cancel_branches(ft, -1, REASON_CALLER_CANCEL);
		}
		ft->state = FT_ENDING;
		ft_stop_timer(ft);
		if (ft->winner >= 0)
			leg_bye(&ft->branches[ft->winner]);
	} else {
		if (!leg->final_status)
			leg->final_status = 500;
		if (leg->branch == ft->winner && ft->state == FT_RELAYING) {
			log_info("ft %s: recipient device hung up before the end", ft->id);
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

int pf_create(struct pf **pp, su_root_t *root, nua_t *nua, const struct cpmd_options *opts,
	      struct location *loc, struct msrp_hub *hub)
{
	struct pf *pf = calloc(1, sizeof *pf);
	if (!pf)
		return -1;
	pf->root = root;
	pf->nua = nua;
	pf->opts = opts;
	pf->loc = loc;
	pf->hub = hub;
	const char *h = opts->sip_host;
	const char *lb = strchr(h, ':') ? "[" : "", *rb = strchr(h, ':') ? "]" : "";
	snprintf(pf->contact_udp, sizeof pf->contact_udp, "<sip:%s%s%s:%u>;%s", lb, h, rb, opts->sip_port,
		 CPM_FT_ICSI_TAG);
	snprintf(pf->contact_tcp, sizeof pf->contact_tcp, "<sip:%s%s%s:%u;transport=tcp>;%s", lb, h, rb,
		 opts->sip_port, CPM_FT_ICSI_TAG);
	*pp = pf;
	return 0;
}

void pf_terminate_all(struct pf *pf)
{
	for (struct ft *ft = pf->list; ft; ft = ft->next)
		ft_end(ft, 503, "Server Shutting Down");
}

size_t pf_active_transfers(const struct pf *pf)
{
	return pf->nft;
}

void pf_destroy(struct pf *pf)
{
	if (!pf)
		return;
	while (pf->list)
		ft_free(pf->list);
	free(pf);
}
