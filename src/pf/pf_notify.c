/* Notifications cpmd sends (docs/internals/store-and-forward.md §4, §7; messaging.md §4):
 *   - delivery and read notifications (IMDN `delivered`/`failed`/`displayed`, RFC 5438,
 *     CPIM-wrapped, in a SIP MESSAGE, built here by imdn_build_cpim) to the sender of a
 *     stored item or of a message a device reported on (pf_report.c): first made durable
 *     (store_notif), then sent to the sender's devices ONE AT A TIME until one
 *     answers 2xx (so the user gets exactly one), kept for the sender's next
 *     REGISTER when none does;
 *   - the deferred-item list (lib/deferred, our own format) to a pull user's
 *     devices, and as the answer to the list query MESSAGE (`cpm list`). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "common/keyset.h"
#include "common/log.h"
#include "cpm/deferred.h"
#include "cpm/imdn.h"
#include "cpm/mime.h"
#include "common/domains.h"
#include "pf/pf_int.h"

#define IMDN_CTYPE_CPIM "message/cpim"
#define DEFERRED_LIST_MAX 64 /* items in one list MESSAGE (bounded size) */

enum msg_purpose { MSG_IMDN, MSG_LIST };

struct pf_msg {
	struct pf_msg *next, *prev;
	struct pf *pf;
	struct sip_leg *leg;
	enum msg_purpose purpose;
	struct store_notif n; /* MSG_IMDN */
	unsigned dev_index;   /* MSG_IMDN: which of the target's devices */
	struct keyset_key *in_flight; /* MSG_IMDN: its id in pf->notifs_in_flight, while in pf->msgs */
};

static void rfc3339(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40];
	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(buf, sizeof buf, "1970-01-01T00:00:00");
	snprintf(out, cap, "%.20s.%03dZ", buf, (int)(ms % 1000 + 1000) % 1000);
}

const char *pf_notif_kind_name(enum store_notif_kind k)
{
	return k == STORE_NOTIF_DELIVERED ? "delivered"
	       : k == STORE_NOTIF_DISPLAYED ? "displayed"
	       : k == STORE_NOTIF_STORED ? "stored"
					 : "failed";
}

enum store_notif_kind pf_notif_kind_of_report(unsigned bit)
{
	return bit == STORE_REPORT_DELIVERED	? STORE_NOTIF_DELIVERED
	       : bit == STORE_REPORT_DISPLAYED ? STORE_NOTIF_DISPLAYED
					       : STORE_NOTIF_FAILED;
}

unsigned pf_report_of_notif_kind(enum store_notif_kind k)
{
	return k == STORE_NOTIF_DELIVERED    ? STORE_REPORT_DELIVERED
	       : k == STORE_NOTIF_DISPLAYED ? STORE_REPORT_DISPLAYED
					    : STORE_REPORT_FAILED;
}

static void msg_unlink(struct pf *pf, struct pf_msg *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else if (pf->msgs == m)
		pf->msgs = m->next;
	if (m->next)
		m->next->prev = m->prev;
	keyset_drop(pf->notifs_in_flight, m->in_flight); /* the index follows the list */
	m->in_flight = NULL;
}

static void msg_free(struct pf_msg *m)
{
	msg_unlink(m->pf, m);
	sip_leg_release(m->leg);
	free(m);
}

static struct pf_msg *msg_new(struct pf *pf, enum msg_purpose purpose)
{
	struct pf_msg *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->pf = pf;
	m->purpose = purpose;
	m->next = pf->msgs;
	if (pf->msgs)
		pf->msgs->prev = m;
	pf->msgs = m;
	return m;
}

static void msg_event(void *owner, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *sm);

/* Send a MESSAGE to one device. 0 or -1 (m freed). */
static int msg_send(struct pf_msg *m, const struct loc_device *dev, const char *from, const char *to,
		    const char *ctype, const char *body, size_t len)
{
	struct sip_body b = {.content_type = ctype, .data = body, .len = len};
	struct sip_request rq = {.to = to, .from = from, .body = &b};
	struct sip_target t;
	pf_target_of(dev, &t);
	if (sip_leg_message(m->pf->sipua, &rq, &t, msg_event, m, &m->leg)) {
		msg_free(m);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ IMDN */

/* Audit: was O(n) per event (a walk of every MESSAGE in flight per notification tried: per
 * notification made durable, per REGISTER's flush, quadratic in the start-up sweep); now a look-up
 * in the index of the ids of the notifications in pf->msgs. */
static bool notif_in_flight(struct pf *pf, const char *id)
{
	return keyset_find(pf->notifs_in_flight, id) != NULL;
}

static void notif_send_to(struct pf *pf, const struct store_notif *n, unsigned dev_index);

static void notif_try(struct pf *pf, const struct store_notif *n)
{
	if (!notif_in_flight(pf, n->id))
		notif_send_to(pf, n, 0);
}

static void notif_send_to(struct pf *pf, const struct store_notif *n, unsigned dev_index)
{
	struct loc_device devs[16];
	size_t nd = pf_devices(pf, n->target, devs, 16);
	if (dev_index >= nd) {
		if (nd == 0)
			log_info("notification %s (%s for %s) kept until %s registers", n->id,
				 pf_notif_kind_name(n->kind), n->imdn_msgid, n->target);
		else
			log_info("notification %s: no device of %s took it; kept for its next registration", n->id,
				 n->target);
		return;
	}
	char from[STORE_AOR_MAX + 8], to[STORE_AOR_MAX + 8], fromh[STORE_AOR_MAX + 16], toh[STORE_AOR_MAX + 16];
	char now[40], wrapper[STORE_ID_MAX + 1];
	struct imdn_note note;
	memset(&note, 0, sizeof note);
	pf_uri_of_key(n->notifier[0] ? n->notifier : "anonymous@anonymous.invalid", from, sizeof from);
	pf_uri_of_key(n->target, to, sizeof to);
	PF_COPY(note.message_id, n->imdn_msgid);
	/* RFC 5438 §7.2: the datetime of the message the notification is about */
	if (n->datetime[0])
		PF_COPY(note.datetime, n->datetime);
	else
		rfc3339(n->created_at_ms, note.datetime, sizeof note.datetime);
	PF_COPY(note.recipient, from);
	PF_COPY(note.original_recipient, from);
	note.kind = n->kind == STORE_NOTIF_DISPLAYED ? IMDN_KIND_DISPLAY : IMDN_KIND_DELIVERY;
	note.status = n->kind == STORE_NOTIF_DELIVERED	  ? IMDN_STATUS_DELIVERED
		      : n->kind == STORE_NOTIF_DISPLAYED ? IMDN_STATUS_DISPLAYED
							 : IMDN_STATUS_FAILED;
	rfc3339(pf_now_ms(), now, sizeof now);
	pf_random_id(wrapper);
	char body[4096];
	int len = imdn_build_cpim(body, sizeof body, from, to, wrapper, now, &note);
	if (len < 0) {
		log_error("notification %s: cannot build the IMDN (bad id or address?): dropped", n->id);
		/* Dropping it cannot be undone anyway; a failure leaves it for the next try. */
		pf_store_queued(store_notif_del(pf->st, n->id, pf_store_logged, "delete of an unbuildable notification"),
				"delete of an unbuildable notification");
		return;
	}
	struct pf_msg *m = msg_new(pf, MSG_IMDN);
	if (!m)
		return;
	m->n = *n;
	m->dev_index = dev_index;
	if (!(m->in_flight = keyset_hold(pf->notifs_in_flight, n->id))) {
		log_error("notification %s: out of memory: kept for the next try", n->id);
		msg_free(m);
		return;
	}
	snprintf(fromh, sizeof fromh, "<%s>", from);
	snprintf(toh, sizeof toh, "<%s>", to);
	if (msg_send(m, &devs[dev_index], fromh, toh, IMDN_CTYPE_CPIM, body, (size_t)len) == 0)
		log_info("notification %s: %s for %s sent to %s (device %s)", n->id, pf_notif_kind_name(n->kind),
			 n->imdn_msgid, n->target, devs[dev_index].instance);
}

struct notif_put_ctx {
	struct pf *pf;
	struct store_notif n;
};

static void notif_saved(void *arg, int err)
{
	struct notif_put_ctx *c = arg;
	if (err == -EALREADY)
		log_info("notification for %s: %s about %s went already", c->n.target, pf_notif_kind_name(c->n.kind),
			 c->n.imdn_msgid);
	else if (err == -ENOENT)
		log_info("notification for %s about %s: no record of that message: none sent", c->n.target,
			 c->n.imdn_msgid);
	else if (err)
		log_error("notification for %s about %s NOT saved: %s", c->n.target, c->n.imdn_msgid, strerror(-err));
	else if (!c->pf->stopping)
		notif_try(c->pf, &c->n);
	free(c);
}

void pf_notify_send(struct pf *pf, const struct store_notif *n)
{
	if (!pf->stopping)
		notif_try(pf, n);
}

void pf_notify_item(struct pf *pf, const struct store_item *it, enum store_notif_kind kind)
{
	if (!policy_item_notifies(it, kind))
		return;
	struct notif_put_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->pf = pf;
	pf_random_id(c->n.id);
	if (sip_uri_aor_key(it->sender, c->n.target, sizeof c->n.target)) {
		log_warn("item %s: sender %s has no usable address: no notification", it->id, it->sender);
		free(c);
		return;
	}
	const char *at = strrchr(c->n.target, '@');
	if (!at || !pf_domain_reachable(pf, at + 1)) {
		/* Neither ours nor a domain we have a route to: we could never reach them, so do
		 * not keep one for ever. A sender elsewhere with a route gets it through its own
		 * domain's PF (pf_devices), kept here while that domain cannot be reached. */
		log_info("item %s: sender %s is not in our domains and has no route: no notification kept", it->id,
			 it->sender);
		free(c);
		return;
	}
	c->n.kind = kind;
	PF_COPY(c->n.item_id, it->id);
	PF_COPY(c->n.imdn_msgid, it->imdn_msgid[0] ? it->imdn_msgid : it->id);
	c->n.created_at_ms = it->created_at_ms;
	PF_COPY(c->n.notifier, it->recipient);
	int rc;
	if (it->kind == STORE_KIND_MESSAGE) {
		/* One of each kind per message, whoever sends it (a device's report, or us): the
		 * routed record decides, in the same write (messaging.md §4). */
		struct store_routed r;
		if (store_routed_get(pf->st, c->n.target, it->imdn_msgid, it->recipient, &r) == 0)
			PF_COPY(c->n.datetime, r.datetime);
		rc = store_routed_report(pf->st, c->n.target, it->imdn_msgid, it->recipient,
					 pf_report_of_notif_kind(kind), &c->n, notif_saved, c);
	} else {
		rc = store_notif_put(pf->st, &c->n, notif_saved, c);
	}
	if (rc) {
		log_error("notification for %s about %s NOT queued", c->n.target, c->n.imdn_msgid);
		free(c);
	}
}

/* Once a minute (pf_expiry.c): a notification whose sender never comes back
 * is dropped after twice the longest item lifetime; the others are tried
 * again when their target has a device (a device that failed once). */
#define NOTIF_HOUSEKEEPING_MAX 256

struct hk {
	struct pf *pf;
	int64_t drop_before;
};

static int housekeep_one(void *arg, const struct store_notif *n)
{
	struct hk *h = arg;
	if (n->created_at_ms < h->drop_before) {
		log_warn("notification %s (%s for %s) dropped: %s has not been reachable for too long", n->id,
			 pf_notif_kind_name(n->kind), n->imdn_msgid, n->target);
		/* A failed delete is tried again at the next housekeeping. */
		pf_store_queued(store_notif_del(h->pf->st, n->id, pf_store_logged, "delete of an old notification"),
				"delete of an old notification");
		return 0;
	}
	struct loc_device dev;
	if (pf_devices(h->pf, n->target, &dev, 1))
		notif_try(h->pf, n); /* quiet when nobody is there: REGISTER flushes */
	return 0;
}

void pf_notify_housekeeping(struct pf *pf)
{
	struct hk h = {pf, policy_notif_drop_before(&pf->cfg, pf_now_ms())};
	/* Oldest first and bounded: the ones past their time, and a retry of
	 * the oldest waiting ones (notif_try skips those without a device). */
	store_notifs_created_before(pf->st, INT64_MAX, NOTIF_HOUSEKEEPING_MAX, housekeep_one, &h);
}

static int flush_one(void *arg, const struct store_notif *n)
{
	notif_try(arg, n);
	return 0;
}

void pf_notify_flush(struct pf *pf, const char *aor_key)
{
	store_notifs_for(pf->st, aor_key, 64, flush_one, pf);
}

/* ------------------------------------------------------ deferred list */

struct list_ctx {
	struct pf *pf;
	size_t n;
	struct store_item *items;
	uint8_t *thumbs; /* DEFERRED_LIST_MAX x DEFERRED_MAX_THUMB, lazily */
};

static int list_collect(void *arg, const struct store_item *it)
{
	struct list_ctx *c = arg;
	if (it->state != STORE_ITEM_STORED && it->state != STORE_ITEM_DELIVERING)
		return 0;
	c->items[c->n++] = *it;
	return c->n == DEFERRED_LIST_MAX;
}

char *pf_deferred_list_body(struct pf *pf, struct cpm_arena *a, const char *aor_key, const struct store_item *only,
			    size_t *len)
{
	struct list_ctx c = {.pf = pf};
	struct deferred_item *d = NULL;
	char *out = NULL;

	c.items = calloc(DEFERRED_LIST_MAX, sizeof *c.items);
	d = calloc(DEFERRED_LIST_MAX, sizeof *d);
	c.thumbs = malloc((size_t)DEFERRED_LIST_MAX * DEFERRED_MAX_THUMB);
	if (!c.items || !d || !c.thumbs)
		goto out;
	if (only)
		c.items[c.n++] = *only;
	else if (store_items_for_recipient(pf->st, aor_key, DEFERRED_LIST_MAX, list_collect, &c) < 0)
		goto out;
	size_t cap = 256;
	for (size_t i = 0; i < c.n; i++) {
		const struct store_item *it = &c.items[i];
		struct deferred_item *x = &d[i];
		PF_COPY(x->id, it->id);
		x->kind = it->kind == STORE_KIND_MESSAGE ? DEFERRED_KIND_MESSAGE : DEFERRED_KIND_FILE;
		PF_COPY(x->sender, it->sender);
		char t[40];
		rfc3339(it->created_at_ms, t, sizeof t);
		PF_COPY(x->time, t);
		rfc3339(it->expires_at_ms, t, sizeof t);
		PF_COPY(x->expires, t);
		PF_COPY(x->name, it->sel.name);
		PF_COPY(x->type, it->sel.type);
		x->size = it->sel.size;
		x->has_hash = it->sel.has_hash;
		memcpy(x->sha1, it->sel.sha1, 20);
		struct store_thumb th;
		uint8_t *tb = c.thumbs + i * (size_t)DEFERRED_MAX_THUMB;
		if (store_item_thumb_get(pf->st, it->id, &th, tb, DEFERRED_MAX_THUMB) == 0 && th.len &&
		    strlen(th.type) < sizeof x->thumb_type) {
			PF_COPY(x->thumb_type, th.type);
			x->thumb = tb;
			x->thumb_len = th.len;
		}
		cap += 3 * sizeof x->name + 1024 + x->thumb_len * 4 / 3 + 8;
	}
	out = cpm_arena_alloc_raw(a, cap);
	if (!out)
		goto out;
	int n = deferred_build(out, cap, d, c.n);
	if (n < 0) {
		log_error("deferred list for %s: cannot build it", aor_key);
		out = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	free(c.items);
	free(d);
	free(c.thumbs);
	return out;
}

void pf_notify_deferred_list(struct pf *pf, const char *aor_key, const char *instance, const struct store_item *only)
{
	struct cpm_arena a = CPM_ARENA_INIT;
	struct loc_device devs[16];
	size_t nd = pf_devices(pf, aor_key, devs, 16);
	size_t len = 0;
	char *body = NULL;

	for (size_t i = 0; i < nd; i++) {
		/* one device: the one that registered (AS mode: the core's one target, all devices) */
		if (instance && strcmp(devs[i].instance, instance) && !pf->cfg.as_mode)
			continue;
		if (!body) {
			body = pf_deferred_list_body(pf, &a, aor_key, only, &len);
			if (!body || len <= strlen(CPM_DEFERRED_MAGIC) + 2)
				break; /* nothing waiting (the list has no item) */
		}
		char uri[LOC_MAX_AOR + 8];
		snprintf(uri, sizeof uri, "<sip:%s>", aor_key);
		struct pf_msg *m = msg_new(pf, MSG_LIST);
		if (m && msg_send(m, &devs[i], uri, uri, CPM_DEFERRED_CTYPE, body, len) == 0)
			log_info("deferred list for %s sent to device %s", aor_key, devs[i].instance);
	}
	cpm_arena_free(&a);
}

/* ------------------------------------------------------- MESSAGE in */

void pf_notify_list_query(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m)
{
	struct cpm_arena a = CPM_ARENA_INIT;
	char key[LOC_MAX_AOR];
	struct sip_addr from, to;

	/* The list of a user's own items: From must be that user (and the
	 * MESSAGE is addressed to them). With SIP authentication in front,
	 * From is the authenticated identity. */
	if (pf_identity(m, &from) || sip_msg_to(m, &to) || location_aor_key(key, sizeof key, from.user, from.host)) {
		sip_leg_respond(leg, 400, "Bad From", NULL);
		goto out;
	}
	char tkey[LOC_MAX_AOR];
	if (location_aor_key(tkey, sizeof tkey, to.user, to.host) || strcmp(key, tkey)) {
		sip_leg_respond(leg, 403, "Only Your Own Deferred Items", NULL);
		goto out;
	}
	size_t len = 0;
	char *body = pf_deferred_list_body(pf, &a, key, NULL, &len);
	if (!body) {
		sip_leg_respond(leg, 500, "Cannot List Deferred Items", NULL);
		goto out;
	}
	log_info("deferred list for %s requested", key);
	struct sip_body b = {.content_type = CPM_DEFERRED_CTYPE, .data = body, .len = len};
	struct sip_respond_opts o = {.body = &b};
	sip_leg_respond(leg, 200, NULL, &o);
out:
	cpm_arena_free(&a);
}

/* A notification a device took stays "in flight" until its delete commits: a flush in between
 * (the user's next REGISTER, or the start-up sweep reaching a user who registered during it)
 * reads the row still there and would send it again. */
struct notif_sent {
	struct pf *pf;
	struct keyset_key *held; /* its id in pf->notifs_in_flight */
};

static void notif_deleted(void *arg, int err)
{
	struct notif_sent *c = arg;
	/* A failed delete sends the notification again later: at-least-once. */
	pf_store_logged("delete of a sent notification", err);
	keyset_drop(c->pf->notifs_in_flight, c->held);
	free(c);
}

static void notif_delete_sent(struct pf *pf, struct pf_msg *m)
{
	struct notif_sent *c = calloc(1, sizeof *c);
	if (c) {
		c->pf = pf;
		c->held = m->in_flight; /* the message's hold goes to the delete */
		m->in_flight = NULL;
		int rc = store_notif_del(pf->st, m->n.id, notif_deleted, c);
		if (rc == 0)
			return;
		m->in_flight = c->held; /* dropped with the message */
		free(c);
		pf_store_queued(rc, "delete of a sent notification");
		return;
	}
	pf_store_queued(store_notif_del(pf->st, m->n.id, pf_store_logged, "delete of a sent notification"),
			"delete of a sent notification");
}

static void msg_event(void *owner, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *sm)
{
	struct pf_msg *m = owner;
	struct pf *pf = m->pf;
	if (ev == SIP_LEG_PROGRESS)
		return;
	int status = ev == SIP_LEG_ANSWERED || ev == SIP_LEG_FAILED ? (sm ? sip_msg_status(sm) : 500) : 500;
	if (m->purpose == MSG_IMDN) {
		if (status < 300) {
			log_info("notification %s: accepted by %s (%d)", m->n.id, m->n.target, status);
			notif_delete_sent(pf, m);
		} else {
			struct store_notif n = m->n;
			unsigned next = m->dev_index + 1;
			log_info("notification %s: device answered %d; trying the next one", m->n.id, status);
			msg_free(m);
			if (!pf->stopping)
				notif_send_to(pf, &n, next);
			return;
		}
	} else if (status >= 300) {
		log_info("deferred list: device answered %d", status);
	}
	msg_free(m);
}

void pf_msg_destroy_all(struct pf *pf)
{
	while (pf->msgs)
		msg_free(pf->msgs);
}

int pf_on_reconcile_failed(void *arg, const struct store_item *it)
{
	/* The store had the item but its file is gone (disk trouble): the sender
	 * must not believe it will be delivered. */
	log_error("item %s (%s -> %s): its stored file is missing: the sender gets `failed`", it->id, it->sender,
		  it->recipient);
	pf_notify_item(arg, it, STORE_NOTIF_FAILED);
	return 0;
}
