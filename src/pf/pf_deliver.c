/* Delivery of stored items (design §3-§4; docs/internals/store-and-forward.md §3-§5).
 *
 * PUSH: when a device of the recipient registers, or an item is stored while
 * the recipient has devices, pf_deliver_kick() starts deliveries: an INVITE
 * from the original sender (Referred-By), with the original selector, file-
 * date, Conversation-/Contribution-IDs and thumbnail, forked to every device
 * (sipua's fork engine: first 2xx wins, the rest are CANCELled), and a source-mode relay that
 * sends the blob. At most --delivery-per-device deliveries per user run at
 * once (each forks to every device, so that is also the bound per device).
 * A device that acknowledged part of the file before its leg broke gets a
 * resume INVITE (a=file-range) to that device alone; a 488 to it means it
 * kept nothing and the next attempt sends the whole file to every device.
 * Failed attempts are retried with back-off (--delivery-retry), and at once
 * when a device of the user registers again.
 *
 * PULL (pf_pull.c): a device sends an RFC 5547 pull INVITE (recvonly) naming
 * the item (Cpm-Item-Id, or its selector); cpmd answers sendonly and sends it.
 *
 * A pager message (an item of kind message whose body is inline) is pushed as a
 * MESSAGE instead (messaging.md §3): its attempt is recorded first (a delivery
 * row per device, committed), then a MESSAGE fork from the original sender
 * (Referred-By) with the body unchanged goes to every device; the first 2xx
 * makes it delivered. A crash between a device's 2xx and the item's delete
 * sends it again after the restart: the device drops the repeat by its
 * imdn.Message-ID.
 *
 * Either way, when the device has every byte (200 + success REPORT; a 2xx to
 * a MESSAGE), the item is finished: the sender's `delivered` notification is
 * queued durably (for a file; a message's device reports itself), then the
 * item and its blob are removed (pf_item_finish). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/str_hash.h"
#include "cpm/icsi.h"
#include "cpm/mime.h"
#include "cpm/msrp.h"
#include "pf/pf_dlv.h"

#define THUMB_CID "thumbnail@cpmd"
/* Buckets of the delivery indexes (2 x 512 KiB of pointers once a delivery exists). Every kick
 * used to walk all deliveries: with thousands of users that have waiting items, each REGISTER
 * cost a walk of tens of thousands of entries, and the start-up sweep (a kick per saved
 * binding, each adding deliveries) was quadratic. */
#define PF_DLV_BUCKETS (1u << 16)




/* The chains of key's bucket in index (NULL: no index yet, so nothing in it). */
static struct dlv **dlv_bucket(struct dlv **index, const char *key)
{
	return index ? &index[str_hash(key) & (PF_DLV_BUCKETS - 1)] : NULL;
}

/* The first delivery of the item's chain (walk it with item_next, compare it.id). */
static struct dlv *dlv_first_of_item(struct pf *pf, const char *item_id)
{
	struct dlv **b = dlv_bucket(pf->dlv_by_item, item_id);
	return b ? *b : NULL;
}

static struct dlv *dlv_first_of_aor(struct pf *pf, const char *aor)
{
	struct dlv **b = dlv_bucket(pf->dlv_by_aor, aor);
	return b ? *b : NULL;
}

bool pf_item_busy(struct pf *pf, const char *item_id)
{
	if (pf_item_leaving(pf, item_id))
		return true;
	for (struct dlv *d = dlv_first_of_item(pf, item_id); d; d = d->item_next)
		if (!strcmp(d->it.id, item_id) && !d->relay_done && !d->aborted)
			return true;
	return false;
}

/* --------------------------------------------------------- lifecycle */

static void dlv_unlink(struct dlv *d)
{
	struct pf *pf = d->pf;
	if (d->prev)
		d->prev->next = d->next;
	else if (pf->dlvs == d)
		pf->dlvs = d->next;
	if (d->next)
		d->next->prev = d->prev;
	if (d->aor_prev)
		d->aor_prev->aor_next = d->aor_next;
	else
		*dlv_bucket(pf->dlv_by_aor, d->aor) = d->aor_next;
	if (d->aor_next)
		d->aor_next->aor_prev = d->aor_prev;
	if (d->item_prev)
		d->item_prev->item_next = d->item_next;
	else
		*dlv_bucket(pf->dlv_by_item, d->it.id) = d->item_next;
	if (d->item_next)
		d->item_next->item_prev = d->item_prev;
	pf->ndlv--;
}

static void dlv_free(struct dlv *d)
{
	dlv_unlink(d);
	sip_fork_destroy(d->fork); /* a ringing one CANCELs its branches; they end on their own */
	if (d->relay)
		ft_relay_destroy(d->relay);
	sip_leg_release(d->leg);
	cpm_arena_free(&d->arena);
	free(d);
}

void dlv_maybe_free(struct dlv *d)
{
	if (d->state != DLV_ENDING || d->store_refs)
		return;
	if (d->leg && !d->leg_terminated)
		return;
	dlv_free(d);
}

struct dlv *dlv_new(struct pf *pf, const struct store_item *it, bool pull)
{
	if (!pf->dlv_by_aor && !(pf->dlv_by_aor = calloc(PF_DLV_BUCKETS, sizeof *pf->dlv_by_aor)))
		return NULL;
	if (!pf->dlv_by_item && !(pf->dlv_by_item = calloc(PF_DLV_BUCKETS, sizeof *pf->dlv_by_item)))
		return NULL;
	struct dlv *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->pf = pf;
	d->it = *it;
	d->pull = pull;
	msrp_random_ident(d->id, 12);
	PF_COPY(d->aor, it->recipient);
	d->next = pf->dlvs;
	if (pf->dlvs)
		pf->dlvs->prev = d;
	pf->dlvs = d;
	struct dlv **b = dlv_bucket(pf->dlv_by_aor, d->aor);
	d->aor_next = *b;
	if (*b)
		(*b)->aor_prev = d;
	*b = d;
	b = dlv_bucket(pf->dlv_by_item, d->it.id);
	d->item_next = *b;
	if (*b)
		(*b)->item_prev = d;
	*b = d;
	pf->ndlv++;
	return d;
}

/* End every leg; the dlv is freed when its device leg has terminated. */
void dlv_end(struct dlv *d)
{
	if (d->state == DLV_FORKING && d->fork)
		sip_fork_cancel(d->fork, SIP_REASON_CALLER_CANCEL);
	d->state = DLV_ENDING;
	if (d->pull && d->leg && !d->leg_answered && !d->leg_terminated) {
		d->leg_answered = true;
		sip_leg_respond(d->leg, 500, "Delivery Failed", NULL);
	}
	if (d->leg)
		sip_leg_bye(d->leg);
	dlv_maybe_free(d);
}

static void relay_done(void *arg, enum ft_relay_result res, const char *detail)
{
	struct dlv *d = arg;
	struct pf *pf = d->pf;

	if (d->relay_done)
		return; /* already ended (the device hung up first) */
	d->relay_done = true;
	if (d->aborted) {
		dlv_end(d);
		return;
	}
	metrics_delivery(d->pull ? MD_PULL : MD_PUSH, res == FT_RELAY_COMPLETE ? MR_DELIVERED : MR_FAILED);
	if (res == FT_RELAY_COMPLETE) {
		char why[LOC_MAX_INSTANCE + 64];
		if (d->handed_over) {
			/* the other domain's PF has it, durably, and notifies the sender itself */
			char key[LOC_MAX_AOR];
			snprintf(why, sizeof why, "handed over to %s, which stores it", d->device);
			if (sip_uri_aor_key(d->it.sender, key, sizeof key) == 0)
				pf_record_handover(pf, key, d->it.imdn_msgid[0] ? d->it.imdn_msgid : d->it.id,
						   d->it.recipient);
			pf_item_remove(pf, &d->it, why);
		} else {
			snprintf(why, sizeof why, "delivered (%s) to device %s", d->pull ? "pull" : "push", d->device);
			pf_item_finish(pf, &d->it, STORE_NOTIF_DELIVERED, why);
		}
		pf_retry_clear(pf, d->aor);
		dlv_end(d);
		pf_deliver_kick(pf, d->aor, false); /* the next item, if any */
		return;
	}
	uint64_t acked = ft_relay_bytes_acked(d->relay);
	log_info("dlv %s: item %s to %s failed: %s%s%s (device acknowledged %" PRIu64 " bytes)", d->id, d->it.id,
		 d->aor, ft_relay_result_str(res), detail ? ": " : "", detail ? detail : "", acked);
	if (!d->pull && d->device[0] && d->it.kind == STORE_KIND_FILE && acked > d->offset && acked < d->it.sel.size) {
		struct store_delivery rec;
		memset(&rec, 0, sizeof rec);
		PF_COPY(rec.item_id, d->it.id);
		PF_COPY(rec.instance, d->device);
		rec.bytes_acked = acked;
		rec.state = STORE_DLV_PENDING;
		/* Only an optimisation: without it the next delivery sends the whole file. */
		pf_store_queued(store_delivery_put(pf->st, &rec, pf_store_logged, "delivery resume point"),
				"delivery resume point");
	}
	if (!d->pull)
		pf_deliver_later(pf, d->aor);
	dlv_end(d);
}

/* The device's leg (pull: its INVITE; push: the fork's winner). */
void dlv_leg_event(void *owner, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m)
{
	struct dlv *d = owner;

	switch (ev) {
	case SIP_LEG_REINVITE:
		sip_leg_respond(leg, 488, "Re-INVITE Not Supported During File Transfer", NULL);
		break;
	case SIP_LEG_TERMINATED:
		if (d->leg_terminated)
			break;
		/* The device's BYE follows its REPORT of the last byte at once: a relay on a worker
		 * loop may have posted done(COMPLETE) that we have not run yet. Run it first, or a
		 * delivered item would count as lost and be pushed again. (The leg still stands, so
		 * the callback cannot free d: dlv_maybe_free.) */
		if (d->state == DLV_RELAYING && !d->relay_done && d->relay)
			ft_relay_deliver_pending(d->relay);
		d->leg_terminated = true;
		if (d->state == DLV_RELAYING && !d->relay_done) {
			/* The device hung up before the end: the relay tells how far
			 * it got when its connection closes; end now. */
			log_info("dlv %s: device hung up before the end of item %s", d->id, d->it.id);
			relay_done(d, FT_RELAY_RECIPIENT_LOST, "the device hung up");
			return;
		}
		dlv_maybe_free(d);
		break;
	default:
		break;
	}
}

/* ---------------------------------------------------------- SDP */

void dlv_item_sdp(struct dlv *d, struct sdp_ft *s, enum sdp_dir dir, const char *ft_id)
{
	const struct store_item *it = &d->it;
	memset(s, 0, sizeof *s);
	pf_fill_common_sdp(d->pf, s, ft_relay_path(d->relay, FT_LEG_DOWN));
	if (pf_msrp_active(d->pf, d->aor))
		s->setup = SDP_SETUP_ACTIVE;
	s->dir = dir;
	if (it->kind == STORE_KIND_MESSAGE && !d->pull) {
		/* a large message pushed as it came (messaging.md §2-3): no selector, the whole
		 * CPIM; a pull answer names it with a selector (message, message/cpim, its size) */
		snprintf(s->accept_types, sizeof s->accept_types, "message/cpim");
		return;
	}
	snprintf(s->accept_types, sizeof s->accept_types, "*");
	s->has_selector = true;
	s->sel.has_name = true;
	PF_COPY(s->sel.name, it->sel.name);
	s->sel.name_len = strlen(s->sel.name);
	s->sel.has_size = true;
	s->sel.size = it->sel.size;
	s->sel.has_type = true;
	PF_COPY(s->sel.type, it->sel.type);
	if (it->sel.has_hash) {
		s->sel.has_hash = true;
		snprintf(s->sel.hash_alg, sizeof s->sel.hash_alg, "sha-1");
		memcpy(s->sel.hash, it->sel.sha1, 20);
		s->sel.hash_len = 20;
	}
	if (ft_id)
		PF_COPY(s->file_transfer_id, ft_id);
	else
		msrp_random_ident(s->file_transfer_id, 24);
	PF_COPY(s->file_disposition, it->disposition);
	PF_COPY(s->file_date, it->file_date);
	if (d->offset) {
		s->has_file_range = true;
		s->range_start = d->offset + 1;
		s->range_stop = it->sel.size;
	}
}

int dlv_create_source(struct dlv *d)
{
	int fd;
	uint64_t have;
	/* the blob, or (an inline message) a descriptor the store fills with its body */
	int rc = store_item_open_read(d->pf->blobq, &d->it, 0, &fd, &have);
	if (rc) {
		log_error("dlv %s: cannot open item %s for delivery: %s", d->id, d->it.id, strerror(-rc));
		return rc;
	}
	struct ft_relay_source_params sp = {
		.blob_fd = fd, /* the relay's once created (it closes it) */
		.size = d->it.sel.size,
		.has_sha1 = d->it.sel.has_hash,
		.content_type = d->it.sel.type[0] ? d->it.sel.type : NULL,
		/* the same Message-ID for every attempt: a device can tell a
		 * re-delivery of a file it already has */
		.message_id = d->it.id,
		.offset = d->offset,
	};
	memcpy(sp.sha1, d->it.sel.sha1, 20);
	rc = ft_relay_create_source(&d->relay, d->pf->hub, &sp, relay_done, d);
	if (rc) {
		close(fd); /* not taken by the relay */
		log_error("dlv %s: cannot open item %s for delivery: %s", d->id, d->it.id, strerror(rc < 0 ? -rc : rc));
	}
	return rc;
}

/* ------------------------------------------------------------ PUSH */

/* base64 in lines of 76 characters (RFC 2045 §6.8), CRLF-separated. */
static char *base64_lines(struct cpm_arena *a, const uint8_t *data, size_t len)
{
	size_t enc = (len + 2) / 3 * 4;
	char *one = cpm_arena_alloc_raw(a, enc + 1);
	char *out = cpm_arena_alloc_raw(a, enc + enc / 76 * 2 + 3);
	if (!one || !out || mime_base64_encode(one, enc + 1, data, len) < 0)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < enc; i += 76) {
		size_t n = enc - i < 76 ? enc - i : 76;
		memcpy(out + o, one + i, n);
		o += n;
		if (i + n < enc) {
			out[o++] = '\r';
			out[o++] = '\n';
		}
	}
	out[o] = '\0';
	return out;
}

/* ------------------------------------------------------- the push fork */

static bool push_accept(void *owner, struct sip_fork *f, unsigned branch, struct sip_leg *leg, const struct sip_msg *m)
{
	struct dlv *d = owner;
	char why[32];
	if (pf_take_sdp_answer(d->relay, m, pf_msrp_active(d->pf, d->aor))) {
		d->handed_over = pf_network_deferred(m, why, sizeof why);
		return true;
	}
	log_info("dlv %s: branch %u accepted with an unusable SDP answer; hanging it up", d->id, branch);
	return false;
}

struct rr_ctx {
	struct pf *pf;
	char aor[LOC_MAX_AOR];
};

static void resume_forgotten(void *arg, int err)
{
	struct rr_ctx *c = arg;
	pf_store_logged("forgetting a delivery resume point", err);
	pf_deliver_kick(c->pf, c->aor, false);
	free(c);
}

/* RFC 8599 §4: a device whose app sleeps keeps its binding but answers nothing. The user's
 * devices this fork rang that did not answer are woken now (pf_push.c decides whether and
 * how), not once their bindings expire. */
static void wake_silent(struct dlv *d, struct sip_fork *f)
{
	struct loc_device devs[64];
	size_t n = pf_devices(d->pf, d->aor, devs, 64);
	for (size_t i = 0; i < n; i++)
		if (sip_fork_device_silent(f, devs[i].instance))
			pf_push_unanswered(d->pf, d->aor, devs[i].instance);
}

void dlv_push_done(void *owner, struct sip_fork *f, const struct sip_fork_result *r)
{
	struct dlv *d = owner;
	if (d->state != DLV_FORKING)
		return;
	switch (r->outcome) {
	case SIP_FORK_ANSWERED:
		if (d->msg) {
			/* the winning MESSAGE leg ends by itself (unbound: sipua releases it); the
			 * other devices get it too (a MESSAGE is not cancelled) */
			char why[LOC_MAX_INSTANCE + 64];
			snprintf(why, sizeof why, "delivered (push) to device %s", r->device ? r->device : "?");
			/* counted here: a pager message has no relay, so relay_done never sees it */
			metrics_delivery(MD_PUSH, MR_DELIVERED);
			d->state = DLV_ENDING;
			pf_item_finish(d->pf, &d->it, STORE_NOTIF_DELIVERED, why);
			pf_retry_clear(d->pf, d->aor);
			dlv_maybe_free(d);
			return;
		}
		d->leg = r->winner;
		sip_leg_bind(d->leg, dlv_leg_event, d);
		d->state = DLV_RELAYING;
		PF_COPY(d->device, r->device ? r->device : "");
		log_info("dlv %s: device %s accepted item %s", d->id, d->device, d->it.id);
		return;
	case SIP_FORK_ENDED:
		/* The user said no: the item ends, and the sender is told. */
		log_info("dlv %s: device %s answered %d %s", d->id, r->device ? r->device : "?", r->status, r->phrase);
		d->state = DLV_ENDING;
		d->aborted = true;
		/* a push fork only (a pull is the device's own request): the one place a stored
		 * file or message is declined, whatever its kind */
		metrics_delivery(MD_PUSH, MR_DECLINED);
		pf_item_finish(d->pf, &d->it, STORE_NOTIF_FAILED, "declined by the recipient");
		dlv_maybe_free(d);
		return;
	case SIP_FORK_TIMEOUT:
		log_info("dlv %s: no device answered within %u s", d->id, d->pf->cfg.invite_timeout);
		d->state = DLV_ENDING;
		pf_deliver_later(d->pf, d->aor);
		wake_silent(d, f);
		dlv_maybe_free(d);
		return;
	case SIP_FORK_FAILED:
		d->state = DLV_ENDING;
		if (d->offset && !r->all_unavailable && r->status == 488) {
			/* The device kept no partial: forget the resume point, then send
			 * the whole file to every device (once the delete is visible). */
			log_info("dlv %s: device %s cannot resume; the whole file goes next", d->id, d->device);
			d->aborted = true;
			struct rr_ctx *c = calloc(1, sizeof *c);
			if (c) {
				c->pf = d->pf;
				PF_COPY(c->aor, d->aor);
				if (pf_store_queued(store_delivery_del(d->pf->st, d->it.id, d->device, resume_forgotten, c),
						    "forgetting a delivery resume point"))
					free(c);
			}
			dlv_maybe_free(d);
			return;
		}
		log_info("dlv %s: no device took item %s", d->id, d->it.id);
		pf_deliver_later(d->pf, d->aor);
		wake_silent(d, f);
		dlv_maybe_free(d);
		return;
	}
}

enum sip_fork_class dlv_push_classify(void *owner, int status)
{
	return policy_fork_class(status);
}

static const struct sip_fork_ops push_fork_ops = {
	.accept = push_accept,
	.done = dlv_push_done,
	.classify = dlv_push_classify,
};

/* The push INVITE's body: our SDP, and the thumbnail when the item has one, as in the
 * original INVITE. */
static int push_body(struct dlv *d, struct cpm_arena *tmp, struct sip_body *body)
{
	struct pf *pf = d->pf;
	struct sdp_ft *s = cpm_arena_alloc(tmp, sizeof *s);
	char *sdp = cpm_arena_alloc_raw(tmp, SDP_MAX_BYTES);
	if (!s || !sdp)
		return -1;
	/* To another domain's PF: the file keeps its file-transfer-id, which is its IMDN id there
	 * too, so that PF's notification names what the sender sent (pf_record_handover). */
	dlv_item_sdp(d, s, SDP_DIR_SENDONLY,
		     !pf_user_is_ours(pf, d->it.recipient) && d->it.imdn_msgid[0] ? d->it.imdn_msgid : NULL);
	struct mime_part parts[2];
	size_t nparts = 0;
	uint8_t *tb = cpm_arena_alloc_raw(tmp, STORE_THUMB_MAX);
	struct store_thumb th;
	if (tb && store_item_thumb_get(pf->st, d->it.id, &th, tb, STORE_THUMB_MAX) == 0 && th.len) {
		snprintf(s->file_icon, sizeof s->file_icon, "cid:%s", THUMB_CID);
		memset(parts, 0, sizeof parts);
		parts[0].headers = cpm_str_c("Content-Type: application/sdp\r\n");
		parts[0].content_type = cpm_str_c("application/sdp");
		char *h = cpm_arena_printf(tmp,
					   "Content-Type: %s\r\nContent-ID: <%s>\r\nContent-Disposition: icon\r\n"
					   "Content-Transfer-Encoding: base64\r\n",
					   th.type, THUMB_CID);
		char *b64 = base64_lines(tmp, th.data, th.len);
		if (h && b64) {
			parts[1].headers = cpm_str_c(h);
			parts[1].content_type = cpm_str_c(th.type);
			parts[1].body = cpm_str_c(b64);
			nparts = 2;
		}
	}
	if (sdp_build_ft(sdp, SDP_MAX_BYTES, s) < 0)
		return -1;
	return pf_build_body(tmp, sdp, parts, nparts, body);
}

/* The original sender's headers, and who delivers on their behalf; icsi_tag: the service. */
char *dlv_push_headers(struct pf *pf, const struct store_item *it, struct cpm_arena *tmp, const char *icsi_tag)
{
	char *hdrs = cpm_arena_printf(tmp, "Referred-By: <%s>\r\nAccept-Contact: *;%s\r\n", it->sender, icsi_tag);
	if (hdrs && policy_push_asserted_identity(&pf->cfg))
		hdrs = cpm_arena_printf(tmp, "%sP-Asserted-Identity: <%s>\r\n", hdrs, it->sender);
	if (hdrs && it->conv_id[0])
		hdrs = cpm_arena_printf(tmp, "%sConversation-ID: %s\r\n", hdrs, it->conv_id);
	if (hdrs && it->contrib_id[0])
		hdrs = cpm_arena_printf(tmp, "%sContribution-ID: %s\r\n", hdrs, it->contrib_id);
	if (hdrs && it->irt_contrib_id[0])
		hdrs = cpm_arena_printf(tmp, "%sInReplyTo-Contribution-ID: %s\r\n", hdrs, it->irt_contrib_id);
	return hdrs;
}

static int dlv_start_push(struct pf *pf, const struct store_item *it, const struct loc_device *devs, size_t nd,
			  uint64_t offset)
{
	if (it->kind == STORE_KIND_MESSAGE && it->body_inline)
		return dlv_start_push_msg(pf, it, devs, nd);
	struct cpm_arena tmp = CPM_ARENA_INIT;
	struct dlv *d = dlv_new(pf, it, false);
	struct sip_body body;
	int rc = -1;
	if (!d)
		return -1;
	d->offset = offset;
	if (offset)
		PF_COPY(d->device, devs[0].instance); /* a resume goes to the device that has the start */
	/* msrps toward devices that all registered over TLS (pf_secure_legs), before the
	 * path goes in the offer */
	if (dlv_create_source(d) || pf_secure_legs(pf, d->relay, NULL, devs, nd) || push_body(d, &tmp, &body))
		goto fail;
	char *from = cpm_arena_printf(&tmp, "<%s>", it->sender);
	char *to = cpm_arena_printf(&tmp, "<sip:%s>", it->recipient);
	/* a stored large message is a deferred delivery (messaging.md §3: ICSI deferred) */
	bool msg = it->kind == STORE_KIND_MESSAGE;
	char *hdrs = dlv_push_headers(pf, it, &tmp, msg ? CPM_DEFERRED_ICSI_TAG : CPM_FT_ICSI_TAG);
	if (hdrs && msg)
		hdrs = cpm_arena_printf(&tmp, "%sP-Asserted-Service: " CPM_ICSI_DEFERRED "\r\n", hdrs);
	if (!from || !to || !hdrs)
		goto fail;
	struct sip_request rq = {.to = to, .from = from, .body = &body, .headers = hdrs};
	struct sip_fork_params fp = {
		.method = SIP_FORK_INVITE,
		.request = &rq,
		.timeout_ms = pf->cfg.invite_timeout * 1000,
		/* room for every device the user may register while it rings */
		.max_branches = (unsigned)(nd > pf->cfg.max_devices ? nd : pf->cfg.max_devices),
		.log_id = d->id,
	};
	if (sip_fork_create(&d->fork, pf->sipua, pf->loop, &fp, &push_fork_ops, d))
		goto fail;
	d->state = DLV_FORKING;
	log_info("dlv %s: pushing item %s (%s, %" PRIu64 " bytes%s) from %s to %s: %zu device(s)", d->id, it->id,
		 it->sel.name, it->sel.size, offset ? ", resumed" : "", it->sender, it->recipient, nd);
	for (size_t i = 0; i < nd; i++) {
		struct sip_target t;
		pf_target_of(&devs[i], &t);
		sip_fork_add(d->fork, &t, devs[i].instance);
	}
	sip_fork_start(d->fork);
	rc = 0;
	goto out;
fail:
	d->state = DLV_ENDING;
	d->aborted = true;
	dlv_free(d);
out:
	cpm_arena_free(&tmp);
	return rc;
}

/* The kick's scratch: owned by pf (pf->kick), allocated at its first use, freed with pf. */
struct pf_kick {
	struct pf *pf;
	unsigned room;
	size_t n;
	struct store_item items[64];
};

static int kick_collect(void *arg, const struct store_item *it)
{
	struct pf_kick *k = arg;
	if (it->state != STORE_ITEM_STORED && it->state != STORE_ITEM_DELIVERING)
		return 0;
	if (pf_item_busy(k->pf, it->id))
		return 0;
	k->items[k->n++] = *it;
	return k->n >= k->room || k->n == 64;
}

struct resume_ctx {
	const struct loc_device *devs;
	size_t nd;
	int dev;
	uint64_t acked;
};

static int find_resume(void *arg, const struct store_delivery *r)
{
	struct resume_ctx *c = arg;
	if (r->bytes_acked == 0)
		return 0;
	for (size_t i = 0; i < c->nd; i++)
		if (!strcmp(c->devs[i].instance, r->instance)) {
			c->dev = (int)i;
			c->acked = r->bytes_acked;
			return 1;
		}
	return 0;
}

void pf_deliver_new_device(struct pf *pf, const char *aor, const char *instance)
{
	struct loc_device devs[64];
	size_t nd = pf_devices(pf, aor, devs, 64);
	const struct loc_device *dev = NULL;
	for (size_t i = 0; i < nd; i++)
		if (!strcmp(devs[i].instance, instance))
			dev = &devs[i];
	if (!dev)
		return;
	/* Deliveries still ringing the user's other devices: ring this one too
	 * (the first 2xx wins as in any fork). */
	for (struct dlv *d = dlv_first_of_aor(pf, aor); d; d = d->aor_next) {
		if (d->pull || d->state != DLV_FORKING || d->aborted || strcmp(d->aor, aor) || d->offset || !d->fork)
			continue;
		if (sip_fork_has_device(d->fork, instance))
			continue;
		log_info("dlv %s: device %s registered while item %s rings: forked to it too", d->id, instance,
			 d->it.id);
		struct sip_target t;
		pf_target_of(dev, &t);
		sip_fork_add(d->fork, &t, instance);
	}
}

static int keep_instead_cb(void *arg, const struct store_item *it)
{
	struct pf *pf = arg;
	bool busy = false;
	for (struct dlv *d = dlv_first_of_item(pf, it->id); d && !busy; d = d->item_next)
		busy = !strcmp(d->it.id, it->id);
	if (!busy)
		pf_mss_keep_instead(pf, it);
	return 0;
}

void pf_deliver_kick(struct pf *pf, const char *aor, bool fresh_device)
{
	if (!pf->st || pf->stopping)
		return;
	struct pf_user_policy up;
	pf_prefs_get(pf, aor, &up);
	if (up.keep == STORE_KEEP_INSTEAD && pf->mss) {
		/* files for this user go to their message store instead of a device */
		if (store_items_for_recipient(pf->st, aor, 64, keep_instead_cb, pf) < 0)
			log_error("mss: cannot list the stored items of %s", aor);
		return; /* nothing of theirs goes to a device */
	}
	/* a user elsewhere: their own PF applies their preferences; we hand the item over */
	if (up.method != STORE_METHOD_PUSH && pf_user_is_ours(pf, aor))
		return;
	if (pf_retry_waits(pf, aor, fresh_device))
		return;
	struct loc_device devs[64];
	size_t nd = pf_devices(pf, aor, devs, 64);
	if (nd == 0) {
		pf_push_wake(pf, aor); /* a device that registered push parameters may be asleep */
		return;
	}
	unsigned active = 0;
	for (struct dlv *d = dlv_first_of_aor(pf, aor); d; d = d->aor_next)
		if (!d->pull && !d->relay_done && !d->aborted && d->state != DLV_ENDING && !strcmp(d->aor, aor))
			active++;
	unsigned room = policy_delivery_room(&pf->cfg, active);
	if (room == 0)
		return;
	/* 64 items are too big for the stack: pf keeps one scratch (kicks do not nest: a scan
	 * callback starts no scan, and dlv_start_push does not kick). */
	if (!pf->kick && !(pf->kick = malloc(sizeof *pf->kick)))
		return;
	struct pf_kick *k = pf->kick;
	k->pf = pf;
	k->room = room;
	k->n = 0;
	/* Busy items (being delivered, or finished but not yet deleted) come
	 * back in the scan and are skipped: ask for enough rows to see past
	 * them (bounded: at most this many items are busy for one user). */
	if (store_items_for_recipient(pf->st, aor, 2 * policy_delivery_room(&pf->cfg, 0) + k->room, kick_collect, k) >= 0)
		for (size_t i = 0; i < k->n; i++) {
			struct store_item it = k->items[i];
			struct resume_ctx rc = {.devs = devs, .nd = nd, .dev = -1};
			store_deliveries_for_item(pf->st, it.id, find_resume, &rc);
			if (rc.dev >= 0 && rc.acked < it.sel.size && it.kind == STORE_KIND_FILE)
				dlv_start_push(pf, &it, &devs[rc.dev], 1, rc.acked);
			else
				dlv_start_push(pf, &it, devs, nd, 0);
		}
}

bool pf_deliver_abort_item(struct pf *pf, const char *item_id)
{
	for (struct dlv *d = dlv_first_of_item(pf, item_id); d; d = d->item_next)
		if (!strcmp(d->it.id, item_id) && !d->aborted && !d->relay_done) {
			/* debug only: each caller logs why in its own line (expiry, purge, terminate),
			 * which an info line here would repeat */
			log_debug("dlv %s: delivery of item %s stopped", d->id, item_id);
			d->aborted = true;
			dlv_end(d);
			return true; /* d may be freed; the list changed */
		}
	return false;
}

void pf_deliver_terminate_all(struct pf *pf)
{
	for (struct dlv *d = pf->dlvs, *next; d; d = next) {
		next = d->next;
		d->aborted = true;
		dlv_end(d);
	}
}

void pf_deliver_destroy_all(struct pf *pf)
{
	while (pf->dlvs)
		dlv_free(pf->dlvs);
	pf_retry_destroy_all(pf);
	free(pf->dlv_by_aor);
	free(pf->dlv_by_item);
	pf->dlv_by_aor = pf->dlv_by_item = NULL;
	while (pf->finishing) {
		struct pf_finishing *c = pf->finishing;
		pf->finishing = c->next;
		free(c);
	}
	free(pf->kick);
	pf->kick = NULL;
}
