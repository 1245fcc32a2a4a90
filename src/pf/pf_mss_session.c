/* pf_mss_session — a chat session's history for the users' message stores (issue 11,
 * docs/internals/mss.md "How cpmd uses it"): while the session runs, every message and every
 * disposition notification the relay forwards is appended as one record (mss_record_append)
 * to the session's records file, the partial of an item the store opened (store_blob_open_partial);
 * when the session ends (either side hung up, went offline, or nobody took the invitation:
 * "missed") that file becomes the blob of an item in the message store's queue, as a live
 * transfer's tee does (pf_mss_live_ended), for the inviter and the invitee who keep histories.
 *
 * Messages are reassembled from the relay's chunks (session_relay_chunk_f) one per direction
 * at a time, bounded by the session's a=max-size (the relay refuses bigger ones), and parsed
 * as CPIM: a CPIM holding message/imdn+xml is a notification, anything else a message.
 * Writes are plain write() calls on the loop (the page cache, like the relay's tee); the
 * fsync comes with the commit at the end. A crash loses the history of a live session (its
 * partial expires), never anything that was acknowledged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "cpm/cpim.h"
#include "cpm/imdn.h"
#include "cpm/msrp.h"
#include "mss/mss_object.h"
#include "pf/pf_int.h"

/* One direction's message being reassembled. */
struct reasm {
	char msgid[MSRP_MSGID_MAX + 1];
	char *buf;
	size_t len, cap;
	bool broken; /* a chunk out of order: this message is not recorded */
};

struct pf_mss_sess {
	struct pf *pf;
	struct store_item it; /* the future item (kind message, mss_obj session-history) */
	int fd;               /* the records file (the item's partial) */
	uint64_t written;
	unsigned records;
	uint64_t max;         /* the session's a=max-size: no message is bigger */
	struct reasm dir[2];  /* per relay leg (A: the inviter's) */
};

struct pf_mss_sess *pf_mss_session_open(struct pf *pf, const char *inviter_uri, const char *invitee_key,
					const char *headers, uint64_t max_size)
{
	if (!pf->mss || !pf->blobq)
		return NULL;
	char ikey[STORE_AOR_MAX + 1];
	struct pf_user_policy a, b;
	bool a_ours = sip_uri_aor_key(inviter_uri, ikey, sizeof ikey) == 0 && pf_user_is_ours(pf, ikey);
	if (a_ours)
		pf_prefs_get(pf, ikey, &a);
	if (pf_user_is_ours(pf, invitee_key))
		pf_prefs_get(pf, invitee_key, &b);
	if (!(a_ours && a.history) && !(pf_user_is_ours(pf, invitee_key) && b.history))
		return NULL; /* nobody keeps it */
	struct pf_mss_sess *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->pf = pf;
	h->max = max_size;
	h->fd = -1;
	struct store_item *it = &h->it;
	pf_random_id(it->id);
	PF_COPY(it->sender, inviter_uri);
	PF_COPY(it->recipient, invitee_key);
	PF_COPY(it->sel.name, "session");
	PF_COPY(it->sel.type, "message/cpim");
	if (headers) {
		pf_carried_value(headers, "Conversation-ID", it->conv_id, sizeof it->conv_id);
		pf_carried_value(headers, "Contribution-ID", it->contrib_id, sizeof it->contrib_id);
	}
	it->created_at_ms = pf_now_ms();
	it->kind = STORE_KIND_MESSAGE;
	it->mss_obj = STORE_MSS_SESSION_HISTORY; /* what pf_mss_live_ended makes of it */
	uint64_t size;
	int rc = store_blob_open_partial(pf->blobq, it->id, true, &h->fd, &size);
	if (rc) {
		log_error("mss: no history for a session of %s: %s", inviter_uri, strerror(-rc));
		free(h);
		return NULL;
	}
	return h;
}

/* A whole message from one side: one record. */
static void record(struct pf_mss_sess *h, const char *buf, size_t len)
{
	struct cpim_msg c;
	if (cpim_parse(buf, len, &c) != CPIM_OK)
		return; /* not CPIM: the peers' business, not a history's */
	char from[STORE_AOR_MAX + 1] = "", to[STORE_AOR_MAX + 1] = "", id[STORE_MSGID_MAX + 1] = "",
	     ctype[STORE_TYPE_MAX + 1] = "";
	struct cpm_str f = cpim_addr_uri(c.from), t = cpim_addr_uri(c.to);
	cpm_str_copy(from, sizeof from, f);
	cpm_str_copy(to, sizeof to, t);
	cpm_str_copy(id, sizeof id, c.imdn_message_id);
	cpm_str_copy(ctype, sizeof ctype, c.content_type);
	struct mss_record r = {.kind = MSS_REC_MESSAGE, .time = pf_now_ms() / 1000, .from = from, .to = to,
			       .imdn_id = id, .content_type = "message/cpim", .body = buf, .body_len = len};
	struct imdn_note n;
	if (!strncasecmp(ctype, "message/imdn+xml", 16) && imdn_parse_cpim(buf, len, &n) == IMDN_OK) {
		r.kind = MSS_REC_NOTIFICATION;
		r.imdn_id = n.message_id; /* the message it is about */
		r.disposition = imdn_status_name(n.status);
	}
	if (mss_record_append(h->fd, &r)) {
		log_warn("mss: a record of session history %s was not written: %s", h->it.id, strerror(errno));
		return;
	}
	h->records++;
}

void pf_mss_session_chunk(void *arg, enum session_relay_leg from, const struct msrp_msg *head, const void *body,
			  size_t len, char flag)
{
	struct pf_mss_sess *h = arg;
	struct reasm *d = &h->dir[from == SR_LEG_A ? 0 : 1];
	uint64_t start = head->has_byte_range && head->range.start ? head->range.start - 1 : d->len;
	if (!cpm_str_eq(head->message_id, d->msgid)) { /* a new message */
		d->len = 0;
		d->broken = false;
		cpm_str_copy(d->msgid, sizeof d->msgid, head->message_id);
	}
	if (start != d->len || d->len + len > h->max)
		d->broken = true; /* chunks we cannot put together (a resend, a gap): not recorded */
	if (!d->broken && len) {
		if (d->len + len > d->cap) {
			size_t cap = d->len + len;
			char *n = realloc(d->buf, cap);
			if (!n) {
				d->broken = true;
				return;
			}
			d->buf = n;
			d->cap = cap;
		}
		memcpy(d->buf + d->len, body, len);
		d->len += len;
	}
	if (flag != '+') {
		if (flag == '$' && !d->broken && d->len)
			record(h, d->buf, d->len);
		d->msgid[0] = '\0';
		d->len = 0;
		/* a chat message is small; give a big one's memory back */
		if (d->cap > 16 * 1024) {
			free(d->buf);
			d->buf = NULL;
			d->cap = 0;
		}
	}
}

void pf_mss_session_close(struct pf_mss_sess *h, const char *outcome)
{
	if (!h)
		return;
	struct pf *pf = h->pf;
	off_t size = h->fd >= 0 ? lseek(h->fd, 0, SEEK_END) : -1;
	if (h->fd >= 0)
		close(h->fd); /* the commit reopens it */
	h->it.sel.size = size > 0 ? (uint64_t)size : 0;
	h->it.bytes_received = h->it.sel.size;
	if (size < 0 || pf->stopping || !pf_mss_live_ended(pf, &h->it, outcome))
		pf_blob_remove(pf, h->it.id, true);
	else
		log_info("mss: session history %s: %u records (%s)", h->it.id, h->records, outcome);
	for (int i = 0; i < 2; i++)
		free(h->dir[i].buf);
	free(h);
}
