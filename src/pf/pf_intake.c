/* Store-and-forward intake (design §3): when the recipient cannot take the
 * file now, cpmd takes it on their behalf.
 *
 * Durability rule: the sender gets the final MSRP 200 and the success REPORT
 * only after the blob is fsynced and renamed (blob thread) and the item is
 * committed STORED (store thread): ft_defer_received() → store_blobq_commit()
 * → committed() → ft_relay_ack_received(). Nothing here waits on the loop.
 *
 * Lifetime: every store/blob callback that points to an ft holds a reference
 * (ft->store_refs); the ft is not freed while one is outstanding. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "pf/pf_int.h"

static bool defer_wanted(struct ft *ft)
{
	struct pf_user_policy up;
	if (!ft->pf->st || !ft->offer)
		return false; /* no store: nothing can be deferred */
	/* A file to scan (policy_scan_wanted) is taken in whatever the deferral settings: it is
	 * scanned before anyone gets it, then delivered at once. */
	if (ft->scan)
		return ft->offer->sel.has_size;
	pf_prefs_get(ft->pf, ft->recipient, &up);
	return policy_may_defer(&ft->pf->cfg, &up, ft->offer->sel.has_size);
}

/* The recipient's quotas for this upload (v->status 0: room). An item already written (a
 * live transfer whose tee became the item) is counted in the usage already: it always fits. */
static void quota_check(struct ft *ft, struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (ft->item_written)
		return;
	uint64_t size = ft->is_msg ? 0 : ft->offer->sel.size; /* a large message's size comes later */
	pf_quota_check(ft->pf, ft->recipient, size, v);
}

bool ft_defer_allowed(struct ft *ft)
{
	if (!defer_wanted(ft))
		return false;
	struct pf_verdict v;
	quota_check(ft, &v);
	return v.status == 0;
}

void ft_fill_item(struct ft *ft, struct store_item *it)
{
	const struct sdp_ft *o = ft->offer;
	memset(it, 0, sizeof *it);
	PF_COPY(it->id, ft->item_id);
	PF_COPY(it->sender, ft->sender);
	PF_COPY(it->recipient, ft->recipient);
	PF_COPY(it->sel.name, o->sel.name);
	it->sel.size = o->sel.size;
	PF_COPY(it->sel.type, o->sel.type);
	it->sel.has_hash = o->sel.has_hash;
	if (o->sel.has_hash)
		memcpy(it->sel.sha1, o->sel.hash, 20);
	PF_COPY(it->ft_id, o->file_transfer_id);
	if (ft->fork_headers) {
		pf_carried_value(ft->fork_headers, "Conversation-ID", it->conv_id, sizeof it->conv_id);
		pf_carried_value(ft->fork_headers, "Contribution-ID", it->contrib_id, sizeof it->contrib_id);
		pf_carried_value(ft->fork_headers, "InReplyTo-Contribution-ID", it->irt_contrib_id,
			      sizeof it->irt_contrib_id);
	}
	PF_COPY(it->disposition, o->file_disposition);
	PF_COPY(it->file_date, o->file_date);
	it->created_at_ms = ft->created_ms;
	it->expires_at_ms = ft->expires_ms;
	it->state = STORE_ITEM_RECEIVING;
	PF_COPY(it->imdn_msgid, ft->imdn_id);
	/* a file's delivery is always reported; a message's as its CPIM asked */
	it->imdn_disp = ft->is_msg ? ft->imdn_disp : STORE_IMDN_POSITIVE | STORE_IMDN_NEGATIVE;
	/* a large message is stored like a file, as a blob (messaging.md §3) */
	it->kind = ft->is_msg ? STORE_KIND_MESSAGE : STORE_KIND_FILE;
}

static void ref_put(struct ft *ft)
{
	if (ft->store_refs)
		ft->store_refs--;
	ft_maybe_free(ft);
}

static void item_put_done(void *arg, int err)
{
	struct ft *ft = arg;
	if (err)
		log_error("ft %s: item %s not recorded in the store: %s", ft->id, ft->item_id, strerror(-err));
	ref_put(ft);
}

/* Record the item (RECEIVING) so that the partial blob survives a restart. A large message
 * is recorded only once it is whole (ft_defer_received): its size is known then (the row's
 * selector is fixed at put), and a message is never resumed, so an early row would keep
 * nothing of use. */
static void write_item(struct ft *ft)
{
	struct store_item it;
	if (ft->item_written || (ft->is_msg && !ft->committing_msg))
		return;
	ft_fill_item(ft, &it);
	struct store_thumb th = {.len = ft->thumb_len, .data = ft->thumb};
	PF_COPY(th.type, ft->thumb_type);
	int rc = store_item_put(ft->pf->st, &it, ft->thumb ? &th : NULL, item_put_done, ft);
	if (rc) {
		log_error("ft %s: cannot queue item %s: %s", ft->id, ft->item_id, strerror(-rc));
		return;
	}
	ft->store_refs++;
	ft->item_written = true;
	ft->keep_blob = true;
	/* The partial row goes with it (byte count 0: the blob's size is what
	 * counts, see ft_resume_upload), so that an upload cut by a crash of
	 * cpmd can be resumed too, not only one whose sender left. */
	if (it.sel.has_hash) {
		struct store_partial p;
		memset(&p, 0, sizeof p);
		PF_COPY(p.item_id, ft->item_id);
		PF_COPY(p.sender, ft->sender_key);
		p.sel = it.sel;
		p.expires_at_ms = ft->expires_ms;
		/* Without it, only a cut-off sender's resume is lost, never the file. */
		pf_store_queued(store_partial_put(ft->pf->st, &p, pf_store_logged, "partial upload record"),
				"partial upload record");
	}
}

/* fd: the item's partial that a resume opened, or -1 for a new upload (a
 * fresh partial is opened here). Taken in every case: handed to the relay,
 * or closed. */
static int create_store_relay(struct ft *ft, uint64_t resume_offset, int fd)
{
	struct ft_relay_params rp;
	ft_relay_params_of(ft, &rp);
	rp.has_blob = true;
	rp.store_only = true;
	rp.resume_offset = resume_offset;
	if (ft->relay) {
		ft_relay_destroy(ft->relay); /* closes the live tee's descriptor */
		ft->relay = NULL;
	}
	uint64_t size;
	int rc = fd >= 0 ? 0 : store_blob_open_partial(ft->pf->blobq, ft->item_id, true, &fd, &size);
	if (rc) {
		log_error("ft %s: cannot open the partial of item %s: %s", ft->id, ft->item_id, strerror(-rc));
		return -1;
	}
	ft->has_partial = true;
	rp.blob_fd = fd;
	if (ft_relay_create(&ft->relay, ft->pf->hub, &rp, ft_relay_done_cb, ft)) {
		close(fd); /* not taken by the relay */
		log_warn("ft %s: cannot set up the MSRP session for the store", ft->id);
		return -1;
	}
	if (pf_secure_legs(ft->pf, ft->relay, ft->offer->path, NULL, 0) ||
	    ft_relay_set_peer_path(ft->relay, FT_LEG_UP, ft->offer->path)) {
		log_warn("ft %s: cannot set up the MSRP session for the store", ft->id);
		return -1;
	}
	return 0;
}

bool ft_defer_now(struct ft *ft, const char *why)
{
	if (ft->up_answered || ft->up_terminated || !defer_wanted(ft))
		return false;
	/* The quotas, before any byte moves: the sender hears the limit, nothing is created. */
	struct pf_verdict qv;
	quota_check(ft, &qv);
	if (qv.status) {
		log_info("ft %s: not deferred for %s: %s", ft->id, ft->recipient, qv.phrase);
		ft_respond_up(ft, qv.status, qv.phrase, qv.warning);
		ft_set_state(ft, FT_ENDING);
		return true;
	}
	if (create_store_relay(ft, 0, -1)) {
		ft_respond_up(ft, 500, "Cannot Store The File", NULL);
		ft_set_state(ft, FT_ENDING);
		return true;
	}
	ft->deferred = true;
	ft->no_answer = !strcmp(why, "no-answer");
	write_item(ft);
	char hdr[64];
	snprintf(hdr, sizeof hdr, "Cpm-Deferred: %s", why);
	if (ft_answer_up(ft, hdr)) {
		ft_end(ft, 500, "Cannot Build SDP Answer");
		return true;
	}
	ft_set_state(ft, FT_RELAYING);
	log_info("ft %s: deferred (%s): cpmd takes the file for %s as item %s", ft->id, why, ft->recipient,
		 ft->item_id);
	return true;
}

void ft_defer_recipient_lost(struct ft *ft, const char *detail, bool detach)
{
	if (ft->deferred || !ft->relay)
		return;
	ft->deferred = true;
	write_item(ft); /* before detach: it may report RECEIVED at once */
	log_info("ft %s: the recipient's leg is lost (%s): cpmd keeps taking the file as item %s", ft->id,
		 detail ? detail : "?", ft->item_id);
	/* What the device already holds: its delivery of the stored file
	 * resumes from there (a=file-range) when it comes back. */
	uint64_t acked = ft_relay_bytes_acked(ft->relay);
	if (ft->down && !ft->is_msg && acked > 0 && acked < ft->offer->sel.size) { /* a message goes whole */
		struct store_delivery d;
		memset(&d, 0, sizeof d);
		PF_COPY(d.item_id, ft->item_id);
		PF_COPY(d.instance, ft->down_device);
		d.bytes_acked = acked;
		d.state = STORE_DLV_PENDING;
		/* Without it the device gets the whole file again: no loss. */
		if (pf_store_queued(store_delivery_put(ft->pf->st, &d, pf_store_logged, "delivery resume point"),
				    "delivery resume point") == 0)
			log_info("ft %s: device %s had acknowledged %" PRIu64 " bytes: its delivery will resume there",
				 ft->id, d.instance, acked);
	}
	if (ft->down)
		sip_leg_bye(ft->down);
	if (detach && ft_relay_detach_down(ft->relay))
		ft_end(ft, 500, "Recipient Left");
}

static void committed(void *arg, int err)
{
	struct ft *ft = arg;

	ft->committing = false;
	if (err) {
		log_error("ft %s: item %s could NOT be made durable (%s): the sender is told it failed", ft->id,
			  ft->item_id, strerror(err < 0 ? -err : err));
		if (ft->relay && !ft->relay_finished)
			ft_relay_ack_received(ft->relay, err);
		/* Nothing was acknowledged: leave no blob behind (either name;
		 * queued after the commit, so they run after it). */
		pf_blob_remove(ft->pf, ft->item_id, false);
		pf_blob_remove(ft->pf, ft->item_id, true);
		ft->keep_blob = false;
		ft->has_partial = false; /* asked for already: not again at ft_free */
		ref_put(ft);
		return;
	}
	log_info("ft %s: item %s stored for %s (%" PRIu64 " bytes, durable)", ft->id, ft->item_id, ft->recipient,
		 ft->offer->sel.size);
	if (ft->relay && !ft->relay_finished) {
		ft_relay_set_ack_header(ft->relay, "Cpm-Stored", ft->item_id);
		ft_relay_ack_received(ft->relay, 0);
	}
	/* -ENOENT when there was none; a leftover row is removed by the next reconcile. */
	pf_store_queued(store_partial_del(ft->pf->st, ft->item_id, NULL, NULL), "delete of a partial record");
	struct store_item it;
	ft_fill_item(ft, &it);
	it.state = STORE_ITEM_STORED;
	it.bytes_received = it.sel.size;
	if (ft->no_answer)
		pf_deliver_later(ft->pf, ft->recipient); /* its devices just did not answer */
	else
		pf_deliver_kick(ft->pf, ft->recipient, false);
	struct pf_user_policy up;
	pf_prefs_get(ft->pf, ft->recipient, &up);
	if (up.method == STORE_METHOD_PULL)
		pf_notify_deferred_list(ft->pf, ft->recipient, NULL, &it);
	ref_put(ft);
}

/* The scan of a received file is over (pf_screen.c): commit it, or refuse it and keep
 * nothing (the relay ends with RECIPIENT_REFUSED: ft_defer_drop removes the item, its partial
 * row and blob). */
static void scanned(void *arg, const struct pf_verdict *v)
{
	struct ft *ft = arg;
	if (ft->relay && !ft->relay_finished) {
		if (v->status == 0) {
			ft->scanned = true;
			ft_defer_received(ft);
		} else {
			log_info("ft %s: refused for %s: %s", ft->id, ft->recipient, v->phrase);
			ft_relay_refuse_received(ft->relay, policy_screen_msrp_status(v), v->phrase);
		}
	}
	ref_put(ft);
}

void ft_defer_received(struct ft *ft)
{
	struct store_item it;
	if (!ft->pf->blobq || ft->pf->stopping) {
		ft_relay_ack_received(ft->relay, ESHUTDOWN); /* not acknowledged: the sender resumes later */
		return;
	}
	if (ft->scan && !ft->scanned) {
		/* Scanned before the sender's last acknowledgement (its '$' chunk waits: well
		 * within its 30 s, --clamd-timeout). A large message's size is what came. */
		uint64_t len = ft->is_msg ? ft_relay_bytes(ft->relay) : ft->offer->sel.size;
		char what[48];
		snprintf(what, sizeof what, "ft %s", ft->id);
		int sfd = ft_relay_blob_dup(ft->relay);
		if (sfd < 0 || pf_screen_fd(ft->pf, sfd, len, what, scanned, ft)) {
			struct pf_verdict v;
			policy_scan_result(&ft->pf->cfg, CLAMD_ERROR, NULL, "cannot queue the scan", &v);
			if (v.status) {
				ft_relay_refuse_received(ft->relay, policy_screen_msrp_status(&v), v.phrase);
				return;
			}
			ft->scanned = true; /* --screen-fail open */
		} else {
			ft->store_refs++;
			return;
		}
	}
	int fd = ft_relay_blob_dup(ft->relay);

	if (ft->is_msg) { /* a message's size is what came: its Byte-Range total, checked */
		ft->offer->sel.size = ft_relay_bytes(ft->relay);
		ft->committing_msg = true;
	}
	if (!ft->item_written)
		write_item(ft);
	ft_fill_item(ft, &it);
	it.state = STORE_ITEM_STORED;
	it.bytes_received = it.sel.size;
	if (fd < 0 || store_blobq_commit(ft->pf->blobq, fd, &it, committed, ft) < 0) {
		if (fd >= 0)
			close(fd);
		log_error("ft %s: cannot queue the commit of item %s", ft->id, ft->item_id);
		ft_relay_ack_received(ft->relay, EIO);
		return;
	}
	ft->store_refs++;
	ft->committing = true;
}

void ft_relay_event_cb(void *arg, enum ft_relay_result ev, const char *detail)
{
	struct ft *ft = arg;
	if (ev == FT_RELAY_RECIPIENT_LOST)
		ft_defer_recipient_lost(ft, detail, false);
	else if (ev == FT_RELAY_RECEIVED)
		ft_defer_received(ft);
}

struct ckpt {
	int fd;
	char id[STORE_ID_MAX + 1];
	uint64_t bytes;
};

static void checkpoint_done(void *arg, int err)
{
	struct ckpt *c = arg;
	if (err)
		log_error("item %s: partial upload (%" PRIu64 " bytes) not recorded: %s", c->id, c->bytes,
			  strerror(-err));
	close(c->fd);
	free(c);
}

void ft_defer_keep_partial(struct ft *ft)
{
	if (!ft->pf->st || !ft->pf->blobq || !ft->relay || ft->partial_kept)
		return;
	ft->partial_kept = true;
	uint64_t bytes = ft_relay_bytes(ft->relay);
	if (!policy_keep_partial(&ft->pf->cfg, ft->offer->sel.has_hash, bytes, ft->offer->sel.size)) {
		/* Nothing a sender could resume (resume needs the hash). */
		if (ft->item_written) {
			/* A leftover RECEIVING row is expired like any partial. */
			pf_store_queued(store_item_del(ft->pf->st, ft->item_id, pf_store_logged, "delete of an unusable upload"),
					"delete of an unusable upload");
			ft->keep_blob = false;
		}
		return;
	}
	write_item(ft);
	struct ckpt *c = calloc(1, sizeof *c);
	int fd = ft_relay_blob_dup(ft->relay);
	if (!c || fd < 0) {
		free(c);
		if (fd >= 0)
			close(fd);
		return;
	}
	c->fd = fd;
	c->bytes = bytes;
	PF_COPY(c->id, ft->item_id);
	struct store_partial p;
	memset(&p, 0, sizeof p);
	PF_COPY(p.item_id, ft->item_id);
	PF_COPY(p.sender, ft->sender_key);
	struct store_item it;
	ft_fill_item(ft, &it);
	p.sel = it.sel;
	p.bytes = bytes;
	p.expires_at_ms = ft->expires_ms;
	if (store_blobq_checkpoint(ft->pf->blobq, fd, &p, checkpoint_done, c) < 0) {
		close(fd);
		free(c);
		return;
	}
	ft->keep_blob = true;
	log_info("ft %s: upload interrupted after %" PRIu64 " of %" PRIu64 " bytes: kept as resumable item %s",
		 ft->id, bytes, ft->offer->sel.size, ft->item_id);
}

void ft_defer_drop(struct ft *ft)
{
	if (!ft->pf->st || ft->partial_kept || ft->committing)
		return;
	ft->partial_kept = true; /* decided: nothing is kept */
	if (ft->item_written) {
		/* with its partial row; a leftover RECEIVING row is expired like any partial */
		pf_store_queued(store_item_del(ft->pf->st, ft->item_id, pf_store_logged, "delete of a refused upload"),
				"delete of a refused upload");
		ft->item_written = false;
	}
	ft->keep_blob = false; /* ft_free has the store remove the item's partial */
}

static bool resume_reject(struct ft *ft, int status, const char *phrase)
{
	log_info("ft %s: resume refused: %d %s", ft->id, status, phrase);
	ft_respond_up(ft, status, phrase, NULL);
	ft_set_state(ft, FT_ENDING);
	return true;
}

bool ft_resume_upload(struct ft *ft)
{
	struct pf *pf = ft->pf;
	const struct sdp_ft *o = ft->offer;

	if (!pf->st)
		return resume_reject(ft, 488, "File Range Not Available");
	if (!o->sel.has_hash)
		return resume_reject(ft, 488, "Resume Needs The sha-1 Of The File");
	struct store_item it;
	ft_fill_item(ft, &it);
	struct store_partial p;
	if (store_partial_find(pf->st, ft->sender_key, &it.sel, &p))
		return resume_reject(ft, 488, "No Matching Partial Upload");
	for (struct ft *x = pf->list; x; x = x->next)
		if (x != ft && !strcmp(x->item_id, p.item_id) && x->relay && !x->relay_finished)
			return resume_reject(ft, 488, "Partial Upload In Use");
	uint64_t from = o->range_start - 1, kept = 0;
	int pfd = -1;
	/* The partial's size, not the row's count: a kill -9 keeps every byte
	 * written (page cache); the whole file's sha-1 is checked at the end. */
	if (store_blob_open_partial(pf->blobq, p.item_id, false, &pfd, &kept) || kept < from) {
		if (pfd >= 0)
			close(pfd);
		return resume_reject(ft, 488, "No Matching Partial Upload (fewer bytes kept)");
	}
	struct store_item old;
	PF_COPY(ft->item_id, p.item_id);
	if (store_item_get(pf->st, p.item_id, &old) == 0) {
		ft->item_written = true;
		ft->keep_blob = true;
		ft->created_ms = old.created_at_ms;
		ft->expires_ms = old.expires_at_ms;
		PF_COPY(ft->imdn_id, old.imdn_msgid);
	}
	ft->resumed = true;
	ft->resume_from = from;
	if (create_store_relay(ft, from, pfd)) {
		ft->keep_blob = true;
		return resume_reject(ft, 500, "Cannot Resume The Upload");
	}
	ft->deferred = true;
	ft->keep_blob = true;
	write_item(ft);
	if (ft_answer_up(ft, "Cpm-Deferred: resume")) {
		ft_end(ft, 500, "Cannot Build SDP Answer");
		return true;
	}
	ft_set_state(ft, FT_RELAYING);
	log_info("ft %s: resuming upload of item %s from byte %" PRIu64 " of %" PRIu64, ft->id, ft->item_id, from,
		 o->sel.size);
	return true;
}
