/* Delivery of stored items (design §3-§4; docs/internals/store-and-forward.md §3-§5).
 *
 * PUSH: when a device of the recipient registers, or an item is stored while
 * the recipient has devices, pf_deliver_kick() starts deliveries: an INVITE
 * from the original sender (Referred-By), with the original selector, file-
 * date, Conversation-/Contribution-IDs and thumbnail, forked to every device
 * (first 2xx wins, the rest are CANCELled), and a source-mode relay that
 * sends the blob. At most --delivery-per-device deliveries per user run at
 * once (each forks to every device, so that is also the bound per device).
 * A device that acknowledged part of the file before its leg broke gets a
 * resume INVITE (a=file-range) to that device alone; a 488 to it means it
 * kept nothing and the next attempt sends the whole file to every device.
 * Failed attempts are retried with back-off (--delivery-retry), and at once
 * when a device of the user registers again.
 *
 * PULL: a device sends an RFC 5547 pull INVITE (recvonly) naming the item
 * (Cpm-Item-Id, or its selector); cpmd answers sendonly and sends it.
 *
 * Either way, when the device has every byte (200 + success REPORT), the
 * item is finished: the sender's `delivered` notification is queued durably,
 * then the item and its blob are removed (pf_item_finish). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include "common/log.h"
#include "cpm/mime.h"
#include "cpm/msrp.h"
#include "pf/pf_int.h"
#include "sipua/sip_glue.h"

#define THUMB_CID "thumbnail@cpmd"

enum dlv_state { DLV_FORKING, DLV_RELAYING, DLV_ENDING };

struct dlv {
	struct dlv *next, *prev;
	struct pf *pf;
	su_home_t home[1];
	char id[20]; /* for logs */
	bool pull;
	struct store_item it;
	char aor[LOC_MAX_AOR]; /* recipient key */
	struct ft_relay *relay;
	enum dlv_state state;
	struct ft_leg up; /* pull: the device's INVITE */
	size_t nbranches;
	struct ft_leg *branches;
	int winner;
	su_timer_t *timer;
	uint64_t offset;
	bool relay_done;
	bool aborted;     /* expiry or shutdown: no retry, no bookkeeping */
	bool declined;
	bool range_refused;
	char device[LOC_MAX_INSTANCE];
	/* push: the INVITE, kept to fork to a device that registers meanwhile */
	size_t maxbranches;
	char *ct, *body, *from, *to, *hdrs;
	size_t blen;
};

struct pf_retry {
	struct pf_retry *next;
	struct pf *pf;
	char aor[LOC_MAX_AOR];
	unsigned attempts;
	int64_t next_at_ms;
	su_timer_t *timer;
};

static void dlv_maybe_free(struct dlv *d);
static void dlv_end(struct dlv *d);

static bool item_finishing(const char *id);

bool pf_item_busy(struct pf *pf, const char *item_id)
{
	if (item_finishing(item_id))
		return true;
	for (struct dlv *d = pf->dlvs; d; d = d->next)
		if (!strcmp(d->it.id, item_id) && !d->relay_done && !d->aborted)
			return true;
	return false;
}

/* ------------------------------------------------------------ retries */

static struct pf_retry *retry_find(struct pf *pf, const char *aor)
{
	for (struct pf_retry *r = pf->retries; r; r = r->next)
		if (!strcmp(r->aor, aor))
			return r;
	return NULL;
}

static void retry_clear(struct pf *pf, const char *aor)
{
	for (struct pf_retry **pp = &pf->retries; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->aor, aor)) {
			struct pf_retry *r = *pp;
			*pp = r->next;
			if (r->timer)
				su_timer_destroy(r->timer);
			free(r);
			return;
		}
}

static void retry_fire(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct pf_retry *r = arg;
	r->next_at_ms = 0;
	log_info("retrying deliveries to %s (attempt %u)", r->aor, r->attempts + 1);
	pf_deliver_kick(r->pf, r->aor, false);
}

static void retry_schedule(struct pf *pf, const char *aor)
{
	struct pf_retry *r = retry_find(pf, aor);
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return;
		r->pf = pf;
		PF_COPY(r->aor, aor);
		r->next = pf->retries;
		pf->retries = r;
	}
	if (r->next_at_ms > pf_now_ms())
		return; /* already scheduled */
	unsigned delay = pf->opts->delivery_retry_min;
	for (unsigned i = 0; i < r->attempts && delay < pf->opts->delivery_retry_max; i++)
		delay *= 2;
	if (delay > pf->opts->delivery_retry_max)
		delay = pf->opts->delivery_retry_max;
	r->attempts++;
	r->next_at_ms = pf_now_ms() + (int64_t)delay * 1000;
	if (!r->timer)
		r->timer = su_timer_create(su_root_task(pf->root), 1000);
	if (r->timer)
		su_timer_set_interval(r->timer, retry_fire, r, delay * 1000);
	log_info("deliveries to %s: next attempt in %u s (or when a device registers)", aor, delay);
}

void pf_deliver_later(struct pf *pf, const char *aor_key)
{
	retry_schedule(pf, aor_key);
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
	pf->ndlv--;
}

static void dlv_free(struct dlv *d)
{
	dlv_unlink(d);
	if (d->timer)
		su_timer_destroy(d->timer);
	if (d->relay)
		ft_relay_destroy(d->relay);
	pf_leg_release(&d->up);
	for (size_t i = 0; i < d->nbranches; i++)
		pf_leg_release(&d->branches[i]);
	su_home_deinit(d->home);
	free(d);
}

static void dlv_maybe_free(struct dlv *d)
{
	if (d->state != DLV_ENDING)
		return;
	if (d->up.nh && !d->up.terminated)
		return;
	for (size_t i = 0; i < d->nbranches; i++)
		if (d->branches[i].nh && !d->branches[i].terminated)
			return;
	dlv_free(d);
}

static struct dlv *dlv_new(struct pf *pf, const struct store_item *it, bool pull)
{
	struct dlv *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	su_home_init(d->home);
	d->pf = pf;
	d->it = *it;
	d->pull = pull;
	d->winner = -1;
	msrp_random_ident(d->id, 12);
	PF_COPY(d->aor, it->recipient);
	d->next = pf->dlvs;
	if (pf->dlvs)
		pf->dlvs->prev = d;
	pf->dlvs = d;
	pf->ndlv++;
	return d;
}

static void cancel_others(struct dlv *d, int except, const char *reason)
{
	for (size_t i = 0; i < d->nbranches; i++)
		if ((int)i != except)
			pf_leg_cancel(&d->branches[i], reason);
}

static void stop_timer(struct dlv *d)
{
	if (d->timer) {
		su_timer_destroy(d->timer);
		d->timer = NULL;
	}
}

/* End every leg; the dlv is freed when they have all terminated. */
static void dlv_end(struct dlv *d)
{
	if (d->state == DLV_FORKING)
		cancel_others(d, -1, REASON_CALLER_CANCEL);
	d->state = DLV_ENDING;
	stop_timer(d);
	if (d->up.nh && !d->up.answered && !d->up.terminated) {
		d->up.answered = true;
		nua_respond(d->up.nh, 500, "Delivery Failed", TAG_END());
	}
	ft_leg_bye(&d->up);
	if (d->winner >= 0)
		ft_leg_bye(&d->branches[d->winner]);
	dlv_maybe_free(d);
}

/* ------------------------------------------------------- finishing */

/* Items whose delete is not committed yet: not to be delivered again. */
struct finish_ctx {
	struct finish_ctx *next;
	struct pf *pf;
	char id[STORE_ID_MAX + 1];
	char aor[LOC_MAX_AOR]; /* the recipient: its next item may go now */
};
static struct finish_ctx *finishing; /* loop thread only */

static bool item_finishing(const char *id)
{
	for (struct finish_ctx *c = finishing; c; c = c->next)
		if (!strcmp(c->id, id))
			return true;
	return false;
}

static void item_deleted(void *arg, int err)
{
	struct finish_ctx *c = arg;
	for (struct finish_ctx **pp = &finishing; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (err)
		log_error("item %s: could not be removed from the store: %s", c->id, strerror(-err));
	else
		pf_blob_remove(c->pf, c->id, false); /* after the row: a crash between leaves an orphan reconcile removes */
	/* The recipient's next stored item, now that this one no longer
	 * shows up in its scan. */
	pf_deliver_kick(c->pf, c->aor, false);
	free(c);
}

void pf_item_finish(struct pf *pf, const struct store_item *it, enum store_notif_kind notify, const char *why)
{
	log_info("item %s (%s -> %s, \"%.60s\"): %s", it->id, it->sender, it->recipient, it->sel.name, why);
	/* The notification is queued before the delete: writes commit in order. */
	pf_notify_item(pf, it, notify);
	struct finish_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->pf = pf;
	PF_COPY(c->id, it->id);
	PF_COPY(c->aor, it->recipient);
	if (store_item_del(pf->st, it->id, item_deleted, c)) {
		free(c);
		return;
	}
	c->next = finishing;
	finishing = c;
}

static void dlv_saved(void *arg, int err)
{
	if (err)
		log_warn("a delivery record was not saved: %s", strerror(-err));
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
	if (res == FT_RELAY_COMPLETE) {
		char why[LOC_MAX_INSTANCE + 64];
		snprintf(why, sizeof why, "delivered (%s) to device %s", d->pull ? "pull" : "push", d->device);
		pf_item_finish(pf, &d->it, STORE_NOTIF_DELIVERED, why);
		retry_clear(pf, d->aor);
		dlv_end(d);
		pf_deliver_kick(pf, d->aor, false); /* the next item, if any */
		return;
	}
	uint64_t acked = ft_relay_bytes_acked(d->relay);
	log_info("dlv %s: item %s to %s failed: %s%s%s (device acknowledged %" PRIu64 " bytes)", d->id, d->it.id,
		 d->aor, ft_relay_result_str(res), detail ? ": " : "", detail ? detail : "", acked);
	if (!d->pull && d->device[0] && acked > d->offset && acked < d->it.sel.size) {
		struct store_delivery rec;
		memset(&rec, 0, sizeof rec);
		PF_COPY(rec.item_id, d->it.id);
		PF_COPY(rec.instance, d->device);
		rec.bytes_acked = acked;
		rec.state = STORE_DLV_PENDING;
		store_delivery_put(pf->st, &rec, dlv_saved, NULL);
	}
	if (!d->pull)
		retry_schedule(pf, d->aor);
	dlv_end(d);
}

/* ---------------------------------------------------------- SDP */

static void item_sdp(struct dlv *d, struct sdp_ft *s, enum sdp_dir dir, const char *ft_id)
{
	const struct store_item *it = &d->it;
	memset(s, 0, sizeof *s);
	pf_fill_common_sdp(d->pf, s, ft_relay_path(d->relay, FT_LEG_DOWN));
	s->dir = dir;
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

static int create_source(struct dlv *d)
{
	int fd;
	uint64_t have;
	int rc = store_blob_open_read(d->pf->blobq, d->it.id, 0, &fd, &have);
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
static char *base64_lines(su_home_t *home, const uint8_t *data, size_t len)
{
	size_t enc = (len + 2) / 3 * 4;
	char *one = su_alloc(home, enc + 1);
	char *out = su_alloc(home, enc + enc / 76 * 2 + 3);
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

static void invite_timeout(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct dlv *d = arg;
	if (d->state != DLV_FORKING)
		return;
	log_info("dlv %s: no device answered within %u s", d->id, d->pf->opts->invite_timeout);
	cancel_others(d, -1, REASON_NO_ANSWER);
	d->state = DLV_ENDING;
	retry_schedule(d->pf, d->aor);
	dlv_maybe_free(d);
}

static void dlv_fork_one(struct dlv *d, const struct loc_device *dev)
{
	struct pf *pf = d->pf;
	if (d->nbranches == d->maxbranches)
		return;
	struct ft_leg *b = &d->branches[d->nbranches];
	b->kind = PF_H_DLV;
	b->dlv = d;
	b->branch = (int)d->nbranches++;
	PF_COPY(b->device, dev->instance);
	b->nh = nua_handle(pf->nua, b, SIPTAG_TO_STR(d->to), SIPTAG_FROM_STR(d->from), TAG_END());
	if (!b->nh) {
		b->final_status = 500;
		b->terminated = true;
		return;
	}
	sip_payload_t *pl = sip_payload_create(d->home, d->body, (isize_t)d->blen);
	nua_invite(b->nh, NUTAG_URL(dev->contact), NUTAG_PROXY(dev->flow),
		   SIPTAG_CONTACT_STR(dev->tcp ? pf->contact_tcp : pf->contact_udp), SIPTAG_CONTENT_TYPE_STR(d->ct),
		   SIPTAG_PAYLOAD(pl), SIPTAG_HEADER_STR(d->hdrs), TAG_END());
}

static int dlv_start_push(struct pf *pf, const struct store_item *it, const struct loc_device *devs, size_t nd,
			  uint64_t offset)
{
	su_home_t tmp[1] = {SU_HOME_INIT(tmp)};
	struct dlv *d = dlv_new(pf, it, false);
	int rc = -1;
	if (!d)
		return -1;
	d->offset = offset;
	if (create_source(d))
		goto fail;

	struct sdp_ft *s = su_alloc(tmp, sizeof *s);
	char *sdp = su_alloc(tmp, SDP_MAX_BYTES);
	if (!s || !sdp)
		goto fail;
	item_sdp(d, s, SDP_DIR_SENDONLY, NULL);

	/* The thumbnail, when the item has one, as in the original INVITE. */
	struct mime_part parts[2];
	size_t nparts = 0;
	uint8_t *tb = su_alloc(tmp, STORE_THUMB_MAX);
	struct store_thumb th;
	if (tb && store_item_thumb_get(pf->st, it->id, &th, tb, STORE_THUMB_MAX) == 0 && th.len) {
		snprintf(s->file_icon, sizeof s->file_icon, "cid:%s", THUMB_CID);
		memset(parts, 0, sizeof parts);
		parts[0].headers = cpm_str_c("Content-Type: application/sdp\r\n");
		parts[0].content_type = cpm_str_c("application/sdp");
		char *h = su_sprintf(tmp,
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
		goto fail;
	if (pf_build_body(d->home, sdp, parts, nparts, &d->ct, &d->body, &d->blen))
		goto fail;

	/* The original sender, and who delivers on their behalf. */
	char *from = su_sprintf(tmp, "<%s>", it->sender);
	char *hdrs = su_sprintf(tmp, "Referred-By: <%s>\r\nAccept-Contact: *;%s\r\n", it->sender, CPM_FT_ICSI_TAG);
	if (hdrs && pf->opts->push_asserted_identity)
		hdrs = su_sprintf(tmp, "%sP-Asserted-Identity: <%s>\r\n", hdrs, it->sender);
	if (it->conv_id[0])
		hdrs = su_sprintf(tmp, "%sConversation-ID: %s\r\n", hdrs, it->conv_id);
	if (it->contrib_id[0])
		hdrs = su_sprintf(tmp, "%sContribution-ID: %s\r\n", hdrs, it->contrib_id);
	if (it->irt_contrib_id[0])
		hdrs = su_sprintf(tmp, "%sInReplyTo-Contribution-ID: %s\r\n", hdrs, it->irt_contrib_id);
	d->to = su_sprintf(d->home, "<sip:%s>", it->recipient);
	d->from = su_strdup(d->home, from);
	d->hdrs = su_strdup(d->home, hdrs);
	/* Room for every device the user may have: branch structs are nua
	 * handle magic, so the array never moves. */
	d->maxbranches = nd > pf->opts->max_devices ? nd : pf->opts->max_devices;
	d->branches = su_zalloc(d->home, d->maxbranches * sizeof *d->branches);
	if (!d->from || !d->hdrs || !d->to || !d->branches)
		goto fail;
	d->state = DLV_FORKING;
	d->timer = su_timer_create(su_root_task(pf->root), pf->opts->invite_timeout * 1000);
	if (d->timer)
		su_timer_set(d->timer, invite_timeout, d);
	log_info("dlv %s: pushing item %s (%s, %" PRIu64 " bytes%s) from %s to %s: %zu device(s)", d->id, it->id,
		 it->sel.name, it->sel.size, offset ? ", resumed" : "", it->sender, it->recipient, nd);
	for (size_t i = 0; i < nd; i++)
		dlv_fork_one(d, &devs[i]);
	rc = 0;
	goto out;
fail:
	d->state = DLV_ENDING;
	d->aborted = true;
	dlv_free(d);
out:
	su_home_deinit(tmp);
	return rc;
}

struct kick_ctx {
	struct pf *pf;
	unsigned room;
	size_t n;
	struct store_item items[64];
};

static int kick_collect(void *arg, const struct store_item *it)
{
	struct kick_ctx *k = arg;
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
	size_t nd = location_lookup(pf->loc, aor, devs, 64);
	const struct loc_device *dev = NULL;
	for (size_t i = 0; i < nd; i++)
		if (!strcmp(devs[i].instance, instance))
			dev = &devs[i];
	if (!dev)
		return;
	/* Deliveries still ringing the user's other devices: ring this one too
	 * (the first 2xx wins as in any fork). */
	for (struct dlv *d = pf->dlvs; d; d = d->next) {
		if (d->pull || d->state != DLV_FORKING || d->aborted || strcmp(d->aor, aor) || d->offset)
			continue;
		bool has = false;
		for (size_t i = 0; i < d->nbranches; i++)
			if (!strcmp(d->branches[i].device, instance) && !d->branches[i].final_status)
				has = true;
		if (!has) {
			log_info("dlv %s: device %s registered while item %s rings: forked to it too", d->id, instance,
				 d->it.id);
			dlv_fork_one(d, dev);
		}
	}
}

void pf_deliver_kick(struct pf *pf, const char *aor, bool fresh_device)
{
	if (!pf->st || pf->stopping)
		return;
	struct pf_user_policy up;
	pf_prefs_get(pf, aor, &up);
	if (up.method != STORE_METHOD_PUSH)
		return;
	struct pf_retry *r = retry_find(pf, aor);
	if (r && fresh_device) {
		retry_clear(pf, aor); /* a device came back: try now */
		r = NULL;
	}
	if (r && r->next_at_ms > pf_now_ms())
		return;
	struct loc_device devs[64];
	size_t nd = location_lookup(pf->loc, aor, devs, pf->opts->max_devices < 64 ? pf->opts->max_devices : 64);
	if (nd == 0)
		return;
	unsigned active = 0;
	for (struct dlv *d = pf->dlvs; d; d = d->next)
		if (!d->pull && !d->relay_done && !d->aborted && d->state != DLV_ENDING && !strcmp(d->aor, aor))
			active++;
	if (active >= pf->opts->delivery_per_device)
		return;
	static struct kick_ctx k; /* loop thread only */
	k.pf = pf;
	k.room = pf->opts->delivery_per_device - active;
	k.n = 0;
	/* Busy items (being delivered, or finished but not yet deleted) come
	 * back in the scan and are skipped: ask for enough rows to see past
	 * them (bounded: at most this many items are busy for one user). */
	if (store_items_for_recipient(pf->st, aor, 2 * pf->opts->delivery_per_device + k.room, kick_collect, &k) < 0)
		return;
	for (size_t i = 0; i < k.n; i++) {
		struct store_item it = k.items[i];
		struct resume_ctx rc = {.devs = devs, .nd = nd, .dev = -1};
		store_deliveries_for_item(pf->st, it.id, find_resume, &rc);
		if (rc.dev >= 0 && rc.acked < it.sel.size)
			dlv_start_push(pf, &it, &devs[rc.dev], 1, rc.acked);
		else
			dlv_start_push(pf, &it, devs, nd, 0);
	}
}

/* ------------------------------------------------- branch responses */

static void on_winner(struct dlv *d, struct ft_leg *b, sip_t const *sip)
{
	su_home_t tmp[1] = {SU_HOME_INIT(tmp)};
	struct mime_part parts[MIME_MAX_PARTS];
	size_t nparts;
	struct cpm_str sdp;
	struct sdp_ft *ans = su_zalloc(tmp, sizeof *ans);

	if (!ans || sipglue_body_sdp(tmp, sip, &sdp, parts, &nparts) || sdp_parse_ft(sdp.p, sdp.len, ans) != SDP_OK ||
	    ans->port == 0 || ft_relay_set_peer_path(d->relay, FT_LEG_DOWN, ans->path)) {
		log_info("dlv %s: device %s accepted with an unusable SDP answer; hanging it up", d->id, b->device);
		b->final_status = 488;
		ft_leg_bye(b);
		goto out;
	}
	d->winner = b->branch;
	d->state = DLV_RELAYING;
	PF_COPY(d->device, b->device);
	stop_timer(d);
	log_info("dlv %s: device %s accepted item %s", d->id, b->device, d->it.id);
	cancel_others(d, b->branch, REASON_ELSEWHERE);
out:
	su_home_deinit(tmp);
}

struct rr_ctx {
	struct pf *pf;
	char aor[LOC_MAX_AOR];
};

static void resume_forgotten(void *arg, int err)
{
	struct rr_ctx *c = arg;
	pf_deliver_kick(c->pf, c->aor, false);
	free(c);
}

static void check_all_failed(struct dlv *d)
{
	if (d->state != DLV_FORKING)
		return;
	for (size_t i = 0; i < d->nbranches; i++)
		if (!d->branches[i].final_status)
			return;
	stop_timer(d);
	d->state = DLV_ENDING;
	if (d->range_refused) {
		/* The device kept no partial: forget the resume point, then send
		 * the whole file to every device (once the delete is visible). */
		log_info("dlv %s: device %s cannot resume; the whole file goes next", d->id, d->branches[0].device);
		d->aborted = true;
		struct rr_ctx *c = calloc(1, sizeof *c);
		if (c) {
			c->pf = d->pf;
			PF_COPY(c->aor, d->aor);
			if (store_delivery_del(d->pf->st, d->it.id, d->branches[0].device, resume_forgotten, c))
				free(c);
		}
		dlv_maybe_free(d);
		return;
	}
	log_info("dlv %s: no device took item %s", d->id, d->it.id);
	retry_schedule(d->pf, d->aor);
	dlv_maybe_free(d);
}

static void on_branch_response(struct dlv *d, struct ft_leg *b, int status, const char *phrase, sip_t const *sip)
{
	if (status < 200) {
		if (status > 100)
			b->got_provisional = true;
		if (b->cancel_wanted)
			pf_leg_cancel(b, REASON_ELSEWHERE);
		return;
	}
	if (status < 300) {
		b->answered = true;
		b->final_status = status;
		if (d->state == DLV_FORKING)
			on_winner(d, b, sip);
		else
			ft_leg_bye(b); /* lost the race (RFC 3261 §13.2.2.4) */
		if (b->final_status >= 300)
			check_all_failed(d);
		return;
	}
	b->final_status = status;
	if (d->state != DLV_FORKING)
		return;
	log_info("dlv %s: device %s answered %d %s", d->id, b->device, status, phrase ? phrase : "");
	if (status / 100 == 6) {
		/* The user said no: the item ends, and the sender is told. */
		cancel_others(d, b->branch, status == 603 ? REASON_DECLINED : REASON_ELSEWHERE);
		d->declined = true;
		stop_timer(d);
		d->state = DLV_ENDING;
		d->aborted = true;
		pf_item_finish(d->pf, &d->it, STORE_NOTIF_FAILED, "declined by the recipient");
		dlv_maybe_free(d);
		return;
	}
	if (status == 488 && d->offset)
		d->range_refused = true;
	check_all_failed(d);
}

/* ------------------------------------------------------------ PULL */

struct pull_match {
	const struct sdp_file_selector *sel;
	struct store_item it;
	bool found;
};

static bool sel_matches(const struct sdp_file_selector *s, const struct store_item *it)
{
	if (s->has_name && strcmp(s->name, it->sel.name))
		return false;
	if (s->has_size && s->size != it->sel.size)
		return false;
	if (s->has_type && strcasecmp(s->type, it->sel.type))
		return false;
	if (s->has_hash && (!it->sel.has_hash || s->hash_len != 20 || memcmp(s->hash, it->sel.sha1, 20)))
		return false;
	return true;
}

static int pull_collect(void *arg, const struct store_item *it)
{
	struct pull_match *m = arg;
	if (!sel_matches(m->sel, it))
		return 0;
	m->it = *it;
	m->found = true;
	return 1;
}

static void pull_reject(nua_handle_t *nh, int status, const char *phrase)
{
	nua_respond(nh, status, pf_keep(nh, phrase), TAG_END());
}

void pf_pull_invite(struct pf *pf, nua_handle_t *nh, sip_t const *sip, const struct sdp_ft *o)
{
	char key[LOC_MAX_AOR], rkey[LOC_MAX_AOR], id[STORE_ID_MAX + 8];
	const url_t *ru = sip->sip_request->rq_url;
	struct store_item it;

	if (location_aor_key(key, sizeof key, sip->sip_from->a_url->url_user, sip->sip_from->a_url->url_host) ||
	    location_aor_key(rkey, sizeof rkey, ru->url_user, ru->url_host)) {
		pull_reject(nh, 400, "Bad From Or Request-URI");
		return;
	}
	if (strcmp(key, rkey)) {
		/* A pull fetches one's own stored items, addressed to oneself. */
		pull_reject(nh, 403, "A Pull Must Be Addressed To Your Own Address");
		return;
	}
	if (o->port == 0 || o->setup == SDP_SETUP_PASSIVE || o->setup == SDP_SETUP_HOLDCONN) {
		pull_reject(nh, 488, "MSRP Offerer Must Be Active (a=setup)");
		return;
	}
	int hr = sipglue_header_value(sip, "Cpm-Item-Id", id, sizeof id);
	if (hr == -1 || (hr == 0 && !store_id_valid(id))) {
		pull_reject(nh, 404, "No Such Item");
		return;
	}
	if (hr == 0) {
		/* Same answer for "not yours" as for "does not exist": no leak. */
		if (store_item_get(pf->st, id, &it) || strcmp(it.recipient, key) ||
		    (it.state != STORE_ITEM_STORED && it.state != STORE_ITEM_DELIVERING)) {
			log_info("pull from %s for item %s: no such item of theirs", key, id);
			pull_reject(nh, 404, "No Such Item");
			return;
		}
		if (!sel_matches(&o->sel, &it)) {
			pull_reject(nh, 488, "File Selector Does Not Match The Item");
			return;
		}
	} else {
		struct pull_match m = {.sel = &o->sel};
		if (!o->sel.has_hash) {
			pull_reject(nh, 488, "Pull Needs Cpm-Item-Id Or A sha-1 File Selector");
			return;
		}
		store_items_for_recipient(pf->st, key, 0, pull_collect, &m);
		if (!m.found) {
			pull_reject(nh, 404, "No Such Item");
			return;
		}
		it = m.it;
	}
	uint64_t offset = 0;
	if (o->has_file_range) {
		if (o->range_start < 1 || o->range_start > it.sel.size + (it.sel.size == 0) ||
		    (o->range_stop && o->range_stop != it.sel.size)) {
			pull_reject(nh, 488, "File Range Outside The File");
			return;
		}
		offset = o->range_start - 1;
	}
	if (pf_item_busy(pf, it.id)) {
		pull_reject(nh, 486, "Item Is Being Delivered");
		return;
	}
	struct dlv *d = dlv_new(pf, &it, true);
	if (!d) {
		pull_reject(nh, 500, "Out Of Memory");
		return;
	}
	d->offset = offset;
	d->up.kind = PF_H_DLV;
	d->up.dlv = d;
	d->up.branch = -1;
	d->up.nh = nh;
	nua_handle_bind(nh, &d->up);
	PF_COPY(d->device, key);
	if (create_source(d) || ft_relay_set_peer_path(d->relay, FT_LEG_DOWN, o->path)) {
		d->up.answered = true;
		nua_respond(nh, 500, "Cannot Open The Item", TAG_END());
		d->aborted = true;
		d->state = DLV_ENDING;
		return; /* freed when the handle terminates */
	}
	char *sdp = su_alloc(d->home, SDP_MAX_BYTES);
	struct sdp_ft *s = su_alloc(d->home, sizeof *s);
	if (!sdp || !s) {
		dlv_end(d);
		return;
	}
	item_sdp(d, s, SDP_DIR_SENDONLY, o->file_transfer_id[0] ? o->file_transfer_id : NULL);
	if (sdp_build_ft(sdp, SDP_MAX_BYTES, s) < 0) {
		dlv_end(d);
		return;
	}
	bool tcp = sip->sip_via && sip->sip_via->v_protocol && !strncasecmp(sip->sip_via->v_protocol + 8, "TCP", 3);
	d->up.answered = true;
	d->state = DLV_RELAYING;
	nua_respond(nh, SIP_200_OK, SIPTAG_CONTACT_STR(tcp ? pf->contact_tcp : pf->contact_udp),
		    SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	log_info("dlv %s: %s pulls item %s (%s, %" PRIu64 " bytes, from byte %" PRIu64 ")", d->id, key, it.id,
		 it.sel.name, it.sel.size, offset);
}

/* ------------------------------------------------------- nua events */

void pf_dlv_nua_event(struct pf *pf, struct ft_leg *leg, nua_event_t event, int status, const char *phrase,
		      nua_handle_t *nh, sip_t const *sip, tagi_t tags[])
{
	struct dlv *d = leg->dlv;
	int cs = -1;

	switch (event) {
	case nua_r_invite:
		if (leg->branch >= 0)
			on_branch_response(d, leg, status, phrase, sip);
		break;
	case nua_i_invite:
		nua_respond(nh, 488, "Re-INVITE Not Supported During File Transfer", TAG_END());
		break;
	case nua_i_state:
		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
		if (cs != nua_callstate_terminated)
			break;
		if (leg->terminated)
			break;
		leg->terminated = true;
		pf_leg_release(leg);
		if (!leg->final_status)
			leg->final_status = 500;
		if (d->state == DLV_RELAYING && (leg->branch < 0 || leg->branch == d->winner) && !d->relay_done) {
			/* The device hung up before the end: the relay tells how far
			 * it got when its connection closes; end now. */
			log_info("dlv %s: device hung up before the end of item %s", d->id, d->it.id);
			relay_done(d, FT_RELAY_RECIPIENT_LOST, "the device hung up");
			return;
		}
		if (d->state == DLV_FORKING)
			check_all_failed(d);
		else
			dlv_maybe_free(d);
		break;
	default:
		break;
	}
}

void pf_deliver_abort_item(struct pf *pf, const char *item_id)
{
	for (struct dlv *d = pf->dlvs; d; d = d->next)
		if (!strcmp(d->it.id, item_id) && !d->aborted && !d->relay_done) {
			log_info("dlv %s: item %s expired during delivery: stopped", d->id, item_id);
			d->aborted = true;
			dlv_end(d);
			return; /* d may be freed; the list changed */
		}
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
	while (pf->retries)
		retry_clear(pf, pf->retries->aor);
}
