/* pf_mss — the users' Message Storage Server (issue 11, docs/internals/mss.md "How cpmd uses it").
 *
 * The queue is the store: an item in STORE_ITEM_TO_MSS waits to be written to the mailbox of
 * its mss_owner (its row and its blob or inline body stay until the MSS has it). Items enter it
 * when their life with cpmd ends and someone wants them there (pf_mss_item_ends: a history for
 * the recipient and/or the sender, a file kept besides the device, an expired item kept), or
 * at once for a user who keeps files instead of receiving them (pf_mss_keep_instead).
 *
 * Once a second the due items (store_items_mss_due, soonest first) that are not in flight are
 * opened on the loop (a descriptor of their bytes: store_item_open_read; the thumbnail) and
 * handed to a worker (net/workq.h) that builds the object (mss_object_open, streamed) and
 * stores it (mss_imap_store: UID SEARCH by Message-ID first, so a retry never stores twice).
 * Back on the loop:
 *   stored / already there → the item and its blob go (pf_item_remove);
 *   transient failure      → retried after policy_mss_retry_delay (attempts and next time in
 *                            the row: a restart goes on where it was);
 *   permanent failure      → logged as an error and retried at the longest delay: never
 *                            dropped (an operator can fix the MSS, e.g. its size limit).
 * One job per item at a time (the in-flight list): two stores of one Message-ID never run at
 * once, as mss_imap_store requires. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "cpm/hex.h"
#include "mss/mss_imap.h"
#include "mss/mss_object.h"
#include "net/workq.h"
#include "pf/pf_int.h"

#define MSS_TICK_MS 1000
#define MSS_QUEUE_MAX 64 /* jobs waiting for a worker: the store is the real queue */

struct mss_job {
	struct mss_job *next;
	struct pf *pf;
	struct store_item it;
	int fd;           /* the item's bytes (blob, or a memfd of an inline body) */
	uint64_t size;
	uint8_t *thumb;   /* the thumbnail's bytes (malloc), or NULL */
	size_t thumb_len;
	char thumb_type[STORE_TYPE_MAX + 1];
	bool inbound;     /* the owner is the item's recipient */
	/* written by the worker */
	enum mss_result res;
	char folder[MSS_FOLDER_MAX];
	char why[256];
};

struct pf_mss {
	struct workq *wq;
	struct loop_timer *timer;
	struct loop_timer *soon; /* a scan at the next turn of the loop (pf_mss_kick), or NULL */
	struct mss_imap_cfg imap;
	struct mss_job *inflight;
	unsigned ninflight, max_inflight;
};

/* ------------------------------------------------------------------ the worker's side */

static enum mss_kind kind_of(const struct store_item *it)
{
	switch (it->mss_obj) {
	case STORE_MSS_MESSAGE_HISTORY: return MSS_MESSAGE_HISTORY;
	case STORE_MSS_SESSION_HISTORY: return MSS_SESSION_HISTORY;
	case STORE_MSS_EXPIRED: return it->kind == STORE_KIND_FILE ? MSS_EXPIRED_FILE : MSS_MESSAGE_HISTORY;
	case STORE_MSS_KEPT: return MSS_KEPT_FILE;
	case STORE_MSS_FT_HISTORY:
	default: return it->kind == STORE_KIND_FILE ? MSS_FT_HISTORY : MSS_MESSAGE_HISTORY;
	}
}

/* "sha-1:AB:CD:..." as in the file-selector (RFC 5547). */
static void hash_text(const struct store_selector *sel, char *out, size_t cap)
{
	size_t o = (size_t)snprintf(out, cap, "sha-1:");
	if (o >= cap || cpm_hex_encode(out + o, cap - o, sel->sha1, 20, CPM_HEX_UPPER, ':') < 0)
		out[0] = '\0';
}

/* Worker thread: builds the object and stores it. Touches only the job. */
static void job_work(void *arg)
{
	struct mss_job *j = arg;
	const struct store_item *it = &j->it;
	struct mss_meta m;
	char hash[6 + 60 + 1], rcpt_uri[STORE_AOR_MAX + 8];
	const char *rcpts[1] = {rcpt_uri};

	memset(&m, 0, sizeof m);
	m.kind = kind_of(it);
	m.item_id = it->id;
	m.sender = it->sender;
	/* the recipient is kept as an AOR key ("user@host"); the object names URIs */
	snprintf(rcpt_uri, sizeof rcpt_uri, "%s%s", strncmp(it->recipient, "sip:", 4) ? "sip:" : "", it->recipient);
	m.recipients = rcpts;
	m.nrecipients = 1;
	m.time = it->created_at_ms / 1000;
	m.conversation_id = it->conv_id[0] ? it->conv_id : NULL;
	m.contribution_id = it->contrib_id[0] ? it->contrib_id : NULL;
	m.disposition = it->mss_obj == STORE_MSS_EXPIRED ? "expired" : it->mss_outcome[0] ? it->mss_outcome : NULL;
	m.direction = j->inbound ? MSS_DIR_IN : MSS_DIR_OUT;
	m.records_fd = -1;
	switch (m.kind) {
	case MSS_MESSAGE_HISTORY:
		m.body_type = it->sel.type[0] ? it->sel.type : "message/cpim";
		m.body = (struct mss_src){.fd = j->fd, .len = j->size};
		break;
	case MSS_SESSION_HISTORY:
		m.records_fd = j->fd;
		break;
	default:
		m.file_name = it->sel.name;
		m.file_type = it->sel.type[0] ? it->sel.type : NULL;
		if (it->sel.has_hash) {
			hash_text(&it->sel, hash, sizeof hash);
			m.file_hash = hash;
		}
		m.file = (struct mss_src){.fd = j->fd, .len = j->size};
		if (j->thumb) {
			m.thumb_type = j->thumb_type;
			m.thumb = (struct mss_src){.buf = j->thumb, .fd = -1, .len = j->thumb_len};
		}
		break;
	}
	struct mss_reader *r = NULL;
	if (mss_folder(j->folder, sizeof j->folder, m.kind, m.conversation_id) || mss_object_open(&m, &r)) {
		j->res = MSS_PERMANENT;
		snprintf(j->why, sizeof j->why, "cannot build the object: %s", strerror(errno));
		return;
	}
	j->res = mss_imap_store(&j->pf->mss->imap, it->mss_owner, j->folder, r, j->why, sizeof j->why);
	mss_reader_free(r);
}

/* ------------------------------------------------------------------ the loop's side */

static void kick(struct pf *pf);

static void job_free(struct mss_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->thumb);
	free(j);
}

static void retry_saved(void *arg, int err)
{
	(void)arg;
	if (err)
		log_error("mss: the retry time of an item was not saved: %s", strerror(-err));
}

static void job_done(void *arg, int err)
{
	struct mss_job *j = arg;
	struct pf *pf = j->pf;
	struct pf_mss *ms = pf->mss;

	for (struct mss_job **pp = &ms->inflight; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			ms->ninflight--;
			break;
		}
	if (err) { /* -ECANCELED: shutting down before it ran; the row is still there */
		job_free(j);
		return;
	}
	struct store_item *it = &j->it;
	if (j->res == MSS_STORED || j->res == MSS_ALREADY) {
		char why[STORE_AOR_MAX + MSS_FOLDER_MAX + 64];
		snprintf(why, sizeof why, "%s %s in %s's message store (%s)", store_mss_obj_name(it->mss_obj),
			 j->res == MSS_STORED ? "stored" : "was already", it->mss_owner, j->folder);
		pf_item_remove(pf, it, why);
	} else {
		it->mss_attempts++;
		unsigned delay = j->res == MSS_PERMANENT ? pf->cfg.mss_retry_max
							 : policy_mss_retry_delay(&pf->cfg, it->mss_attempts - 1);
		it->mss_next_at_ms = pf_now_ms() + (int64_t)delay * 1000;
		if (j->res == MSS_PERMANENT)
			log_error("mss: item %s (%s for %s) refused by the message store: %s; retried in %u s", it->id,
				  store_mss_obj_name(it->mss_obj), it->mss_owner, j->why, delay);
		else
			log_warn("mss: item %s (%s for %s) not stored (attempt %u): %s; retried in %u s", it->id,
				 store_mss_obj_name(it->mss_obj), it->mss_owner, it->mss_attempts, j->why, delay);
		pf_store_queued(store_item_update(pf->st, it, retry_saved, NULL), "the retry time of an MSS item");
	}
	job_free(j);
	kick(pf); /* a writer is free */
}

static bool in_flight(const struct pf_mss *ms, const char *id)
{
	for (const struct mss_job *j = ms->inflight; j; j = j->next)
		if (!strcmp(j->it.id, id))
			return true;
	return false;
}

static int start_one(void *arg, const struct store_item *it)
{
	struct pf *pf = arg;
	struct pf_mss *ms = pf->mss;

	if (ms->ninflight >= ms->max_inflight)
		return 1;
	if (in_flight(ms, it->id) || pf_item_leaving(pf, it->id))
		return 0; /* being written, or written and its delete not committed yet */
	struct mss_job *j = calloc(1, sizeof *j);
	if (!j)
		return 1;
	j->pf = pf;
	j->it = *it;
	j->fd = -1;
	int rc = store_item_open_read(pf->blobq, it, 0, &j->fd, &j->size);
	if (rc) {
		/* its bytes are gone (reconcile said so): nothing can ever be stored */
		log_error("mss: item %s (%s for %s): its bytes cannot be read (%s): dropped", it->id,
			  store_mss_obj_name(it->mss_obj), it->mss_owner, strerror(-rc));
		pf_item_remove(pf, it, "dropped from the message store's queue");
		job_free(j);
		return 0;
	}
	struct store_thumb th;
	uint8_t *buf = it->kind == STORE_KIND_FILE ? malloc(STORE_THUMB_MAX) : NULL;
	if (buf && store_item_thumb_get(pf->st, it->id, &th, buf, STORE_THUMB_MAX) == 0 && th.len) {
		j->thumb = buf;
		j->thumb_len = th.len;
		PF_COPY(j->thumb_type, th.type);
	} else {
		free(buf);
	}
	char rkey[STORE_AOR_MAX + 1];
	j->inbound = sip_uri_aor_key(it->recipient, rkey, sizeof rkey) == 0 ? !strcmp(rkey, it->mss_owner)
									       : !strcmp(it->recipient, it->mss_owner);
	rc = workq_submit(ms->wq, job_work, job_done, j);
	if (rc) {
		job_free(j);
		return 1; /* full: the next tick */
	}
	j->next = ms->inflight;
	ms->inflight = j;
	ms->ninflight++;
	return 0;
}

static void tick(void *arg)
{
	struct pf *pf = arg;
	struct pf_mss *ms = pf->mss;
	if (ms->soon) {
		loop_timer_stop(ms->soon);
		ms->soon = NULL;
	}
	if (pf->stopping || ms->ninflight >= ms->max_inflight)
		return;
	/* in-flight items come back in the scan and are skipped: ask past them */
	store_items_mss_due(pf->st, pf_now_ms(), ms->max_inflight + ms->ninflight, start_one, pf);
}

/* A writer is free or an item became due: scan at the next turn of the loop rather than at the
 * next second (one scan for a burst of kicks). */
static void kick(struct pf *pf)
{
	struct pf_mss *ms = pf->mss;
	if (ms && !ms->soon && !pf->stopping)
		ms->soon = loop_timer_once(pf->loop, 0, tick, pf);
}

int pf_mss_start(struct pf *pf)
{
	if (!pf->cfg.mss || !pf->st)
		return 0;
	struct pf_mss *ms = calloc(1, sizeof *ms);
	if (!ms)
		return -1;
	pf->mss = ms;
	ms->imap = (struct mss_imap_cfg){.url = pf->cfg.mss_url,
					 .master_user = pf->cfg.mss_master_user,
					 .master_password = pf->cfg.mss_master_password,
					 .ca_file = pf->cfg.mss_ca[0] ? pf->cfg.mss_ca : NULL};
	unsigned workers = pf->cfg.mss_workers ? pf->cfg.mss_workers : 2;
	ms->max_inflight = 2 * workers;
	if (workq_create(&ms->wq, pf->loop, "mss", workers, MSS_QUEUE_MAX) ||
	    !(ms->timer = loop_timer_every(pf->loop, MSS_TICK_MS, tick, pf))) {
		log_error("cannot start the message store's writers");
		pf_mss_stop(pf);
		return -1;
	}
	log_info("message store: %s (master user %s), %u writers", pf->cfg.mss_url, pf->cfg.mss_master_user, workers);
	return 0;
}

void pf_mss_stop(struct pf *pf)
{
	struct pf_mss *ms = pf->mss;
	if (!ms)
		return;
	loop_timer_stop(ms->timer);
	loop_timer_stop(ms->soon);
	/* a store under way finishes (its done runs here); the rest stays queued in the store */
	workq_destroy(ms->wq);
	free(ms);
	pf->mss = NULL;
}

/* ------------------------------------------------------------------ entering the queue */

static void queued(void *arg, int err)
{
	char *what = arg;
	if (err)
		log_error("mss: %s was not queued for the message store: %s", what, strerror(-err));
	free(what);
}

static void mark(struct store_item *it, enum store_mss_obj obj, const char *owner, const char *outcome,
		 int64_t now)
{
	it->state = STORE_ITEM_TO_MSS;
	it->mss_obj = obj;
	PF_COPY(it->mss_owner, owner);
	PF_COPY(it->mss_outcome, outcome);
	it->mss_attempts = 0;
	it->mss_next_at_ms = now;
}

/* The item itself goes to the queue for owner. */
static void take(struct pf *pf, const struct store_item *src, enum store_mss_obj obj, const char *owner,
		 const char *outcome)
{
	struct store_item it = *src;
	mark(&it, obj, owner, outcome, pf_now_ms());
	if (pf_item_leave(pf, src, &it, "an item for the message store") == 0)
		log_info("item %s: queued as %s for %s's message store", it.id, store_mss_obj_name(obj), owner);
}

/* A copy of the item (its own id; the same bytes) goes to the queue for owner. */
static void copy_for(struct pf *pf, const struct store_item *src, enum store_mss_obj obj, const char *owner,
		     const char *outcome)
{
	struct store_item it = *src;
	pf_random_id(it.id);
	mark(&it, obj, owner, outcome, pf_now_ms());
	it.body_inline = false;
	char *what = strdup(it.id);
	int rc;
	if (src->body_inline) {
		uint8_t *body = malloc(STORE_MSG_INLINE_MAX);
		size_t len = 0;
		rc = !body ? -ENOMEM : store_item_body_get(pf->st, src->id, body, STORE_MSG_INLINE_MAX, &len);
		if (!rc)
			rc = store_item_put_body(pf->st, &it, body, len, queued, what);
		free(body);
	} else {
		struct store_thumb th;
		uint8_t *buf = malloc(STORE_THUMB_MAX);
		bool has_thumb = buf && store_item_thumb_get(pf->st, src->id, &th, buf, STORE_THUMB_MAX) == 0;
		rc = store_item_put_linked(pf->blobq, src->id, &it, has_thumb ? &th : NULL, queued, what);
		free(buf);
	}
	if (rc) {
		log_error("mss: item %s: no %s for %s: %s", src->id, store_mss_obj_name(obj), owner, strerror(-rc));
		free(what);
		return;
	}
	log_info("item %s: copy %s queued as %s for %s's message store", src->id, it.id, store_mss_obj_name(obj),
		 owner);
}

static enum store_mss_obj history_obj(const struct store_item *it)
{
	if (it->mss_obj == STORE_MSS_SESSION_HISTORY) /* a session's records (pf_mss_session.c) */
		return STORE_MSS_SESSION_HISTORY;
	return it->kind == STORE_KIND_FILE ? STORE_MSS_FT_HISTORY : STORE_MSS_MESSAGE_HISTORY;
}

/* The two parties of an item and what each wants in their message store: only users of ours
 * (another domain's PF keeps its own users' histories). */
struct parties {
	char rkey[STORE_AOR_MAX + 1], skey[STORE_AOR_MAX + 1]; /* "user@host" ("" = not ours) */
	enum store_mss_obj robj; /* the recipient's object (STORE_MSS_NONE: nothing) */
	bool sender_history;     /* the sender keeps a history of it */
};

static void parties_of(struct pf *pf, const struct store_item *it, const char *outcome, struct parties *p)
{
	struct pf_user_policy up;
	memset(p, 0, sizeof *p);
	if (sip_uri_aor_key(it->recipient, p->rkey, sizeof p->rkey))
		PF_COPY(p->rkey, it->recipient); /* items keep the recipient as a key already */
	if (pf_user_is_ours(pf, p->rkey)) {
		pf_prefs_get(pf, p->rkey, &up);
		p->robj = policy_mss_recipient_obj(&up, it->kind == STORE_KIND_FILE, outcome);
		if (p->robj == STORE_MSS_MESSAGE_HISTORY)
			p->robj = history_obj(it); /* a session's history is one of its own kind */
	} else {
		p->rkey[0] = '\0';
	}
	if (sip_uri_aor_key(it->sender, p->skey, sizeof p->skey) == 0 && pf_user_is_ours(pf, p->skey)) {
		pf_prefs_get(pf, p->skey, &up);
		p->sender_history = up.history;
	} else {
		p->skey[0] = '\0';
	}
}

bool pf_mss_item_ends(struct pf *pf, const struct store_item *it, const char *outcome)
{
	if (!pf->mss || it->state == STORE_ITEM_TO_MSS)
		return false;
	struct parties p;
	parties_of(pf, it, outcome, &p);
	if (p.sender_history)
		copy_for(pf, it, history_obj(it), p.skey, outcome);
	if (p.robj == STORE_MSS_NONE)
		return false;
	take(pf, it, p.robj, p.rkey, outcome);
	return true;
}

bool pf_mss_keep_instead(struct pf *pf, const struct store_item *it)
{
	if (!pf->mss || it->kind != STORE_KIND_FILE || it->state != STORE_ITEM_STORED)
		return false;
	struct pf_user_policy rp;
	pf_prefs_get(pf, it->recipient, &rp);
	if (rp.keep != STORE_KEEP_INSTEAD)
		return false;
	take(pf, it, STORE_MSS_KEPT, it->recipient, "kept");
	return true;
}

bool pf_mss_wants_instead(struct pf *pf, const char *aor_key, bool is_file)
{
	if (!pf->mss || !is_file)
		return false;
	struct pf_user_policy rp;
	pf_prefs_get(pf, aor_key, &rp);
	return rp.keep == STORE_KEEP_INSTEAD;
}

/* ------------------------------------------------------------------ live transfers */

/* A live transfer's history: its tee (the partial the relay wrote) becomes the item's blob. */
struct live_ctx {
	struct pf *pf;
	struct store_item it;     /* as committed (the first owner's) */
	bool copy_for_sender;     /* the recipient took the item: the sender gets a copy */
	char sender_key[STORE_AOR_MAX + 1];
};

static void live_committed(void *arg, int err)
{
	struct live_ctx *c = arg;
	if (err)
		log_error("mss: the history of transfer item %s was not kept: %s", c->it.id, strerror(-err));
	else if (c->copy_for_sender && !c->pf->stopping)
		copy_for(c->pf, &c->it, history_obj(&c->it), c->sender_key, c->it.mss_outcome);
	if (!err)
		kick(c->pf);
	free(c);
}

static void live_put(void *arg, int err)
{
	struct live_ctx *c = arg;
	int fd = -1;
	uint64_t size = 0;
	if (err == -EEXIST) { /* the id has a row already (cannot happen for a live transfer): its */
		log_error("mss: transfer item %s has a row already: no history kept", c->it.id);
		free(c);      /* partial is that row's, and stays */
		return;
	}
	int rc = err ? err : store_blob_open_partial(c->pf->blobq, c->it.id, false, &fd, &size);
	if (!rc && size != c->it.sel.size)
		rc = -EIO; /* not the whole file: no history of it */
	if (!rc) {
		rc = store_blobq_commit(c->pf->blobq, fd, &c->it, live_committed, c); /* takes fd */
		if (!rc)
			return;
	}
	if (fd >= 0)
		close(fd);
	log_error("mss: the history of transfer item %s was not kept: %s", c->it.id, strerror(-rc));
	pf_blob_remove(c->pf, c->it.id, true);
	pf_store_queued(store_item_del(c->pf->st, c->it.id, NULL, NULL), "delete of an unkept history");
	free(c);
}

bool pf_mss_live_ended(struct pf *pf, const struct store_item *src, const char *outcome)
{
	if (!pf->mss || !pf->blobq)
		return false;
	struct parties p;
	parties_of(pf, src, outcome, &p);
	enum store_mss_obj robj = p.robj;
	bool sender_wants = p.sender_history;
	const char *rkey = p.rkey, *skey = p.skey;
	if (robj == STORE_MSS_NONE && !sender_wants)
		return false;
	struct live_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return false;
	c->pf = pf;
	c->it = *src;
	/* 1. the row, RECEIVING with its partial (a crash now: the partial expires with it);
	 * 2. the partial committed as its blob, the row moved to the queue in the same step */
	c->it.state = STORE_ITEM_RECEIVING;
	c->it.expires_at_ms = pf_now_ms() + 3600 * 1000;
	if (robj != STORE_MSS_NONE) {
		c->copy_for_sender = sender_wants;
		PF_COPY(c->sender_key, skey);
	}
	struct store_item first = c->it;
	int rc = store_item_put(pf->st, &first, NULL, live_put, c);
	if (rc) {
		log_error("mss: the history of transfer item %s was not kept: %s", src->id, strerror(-rc));
		free(c);
		return false;
	}
	mark(&c->it, robj != STORE_MSS_NONE ? robj : history_obj(src), robj != STORE_MSS_NONE ? rkey : skey,
	     outcome, pf_now_ms());
	c->it.bytes_received = src->sel.size;
	return true;
}

/* ------------------------------------------------------------------ routed messages */

void pf_mss_message_routed(struct pf *pf, const struct store_item *src, const void *body, size_t len,
			   const char *outcome)
{
	if (!pf->mss || !pf->st)
		return;
	struct parties p;
	parties_of(pf, src, outcome, &p);
	const char *keys[2] = {p.robj == STORE_MSS_MESSAGE_HISTORY ? p.rkey : "", p.sender_history ? p.skey : ""};
	for (int i = 0; i < 2; i++) {
		if (!keys[i][0])
			continue;
		/* one item per mailbox, each with its own copy of the (pager-sized) body */
		struct store_item it = *src;
		pf_random_id(it.id);
		mark(&it, STORE_MSS_MESSAGE_HISTORY, keys[i], outcome, pf_now_ms());
		char *what = strdup(it.id);
		if (pf_store_queued(store_item_put_body(pf->st, &it, body, len, queued, what),
				    "a message history for the message store"))
			free(what);
	}
}
