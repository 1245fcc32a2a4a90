/* The store's message records (issue 8), on real SQLite files and a real event loop:
 * message items with their body inline in the row (put, read, limits, group commit,
 * persistence), what the blob queue does with them (a memfd for delivery, the message-store
 * hand-off), reconcile leaving them alone, DISPLAYED notifications with their DateTime, the
 * routed-message table and its report rule (one report of each kind, atomically with its
 * notification), and the upgrade of a schema-2 database. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "net/loop.h"
#include "store/blob.h"
#include "store/store.h"
#include "store/store_blobq.h"
#include "store_env.h"
#include "unit.h"

/* Completions: how many ran, and each one's result by its token. */
#define MAX_DONE 2048
struct rec {
	unsigned n;
	int err[MAX_DONE];
};
struct tok {
	struct rec *r;
	unsigned seq;
};
static struct tok toks[MAX_DONE];

static void on_done(void *arg, int err)
{
	struct tok *t = arg;

	t->r->err[t->seq] = err;
	t->r->n++;
}

static struct tok *tok(struct rec *r, unsigned seq)
{
	toks[seq] = (struct tok){r, seq};
	return &toks[seq];
}

static const char cpim[] = "From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\n"
			   "NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: m-1\r\n"
			   "DateTime: 2026-12-03T10:00:00.000Z\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\n"
			   "Content-Length: 5\r\n\r\nhello";

static void fill_msg(struct store_item *it, const char *id, const char *rcpt, size_t size)
{
	memset(it, 0, sizeof *it);
	snprintf(it->id, sizeof it->id, "%s", id);
	snprintf(it->sender, sizeof it->sender, "sip:alice@example.com");
	snprintf(it->recipient, sizeof it->recipient, "%s", rcpt);
	snprintf(it->sel.name, sizeof it->sel.name, "message");
	snprintf(it->sel.type, sizeof it->sel.type, "message/cpim");
	it->sel.size = size;
	snprintf(it->imdn_msgid, sizeof it->imdn_msgid, "m-%s", id);
	it->imdn_disp = STORE_IMDN_POSITIVE | STORE_IMDN_DISPLAY;
	it->created_at_ms = 1000;
	it->expires_at_ms = 2000;
	it->state = STORE_ITEM_STORED;
	it->kind = STORE_KIND_MESSAGE;
}

static int drain(struct store *s)
{
	struct rec r = {0};

	if (store_sync(s, on_done, tok(&r, 0)))
		return -1;
	return wait_for(&r.n, 1) ? r.err[0] : -ETIMEDOUT;
}

/* ---------------------------------------------------------------- message items */

struct mss_seen {
	unsigned n;
	char ids[4][STORE_ID_MAX + 1];
};

static int mss_cb(void *arg, const struct store_item *it)
{
	struct mss_seen *m = arg;
	if (m->n < 4)
		snprintf(m->ids[m->n], sizeof m->ids[0], "%s", it->id);
	m->n++;
	return 0;
}

/* Items waiting for the message store (schema 4): put in TO_MSS or moved there by an update,
 * their fields kept, found by store_items_mss_due by due time only, and no longer pending
 * for their recipient (neither listed for delivery nor counted in the quota). */
UNIT_TEST(t_mss_queue)
{
	struct store *s;
	struct store_item a, b, got;
	struct store_usage u;
	struct mss_seen seen = {0};
	struct rec r = {0};

	env_up("cpm_store_msg", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	fill_msg(&a, "hist1", "bob@x", 5);
	a.state = STORE_ITEM_TO_MSS;
	a.mss_obj = STORE_MSS_MESSAGE_HISTORY;
	snprintf(a.mss_owner, sizeof a.mss_owner, "alice@x");
	snprintf(a.mss_outcome, sizeof a.mss_outcome, "delivered");
	a.mss_next_at_ms = 500;
	fill_msg(&b, "kept1", "bob@x", 7);
	CHECK_EQ_INT(store_item_put_body(s, &a, "hello", 5, on_done, tok(&r, 0)), 0);
	CHECK_EQ_INT(store_item_put_body(s, &b, "goodbye", 7, on_done, tok(&r, 1)), 0);
	CHECK(wait_for(&r.n, 2));
	CHECK_EQ_INT(store_items_mss_due(s, 1000, 10, mss_cb, &seen), 1);
	CHECK_STR(seen.ids[0], "hist1");
	CHECK_EQ_INT(store_item_get(s, "hist1", &got), 0);
	CHECK_EQ_INT(got.mss_obj, STORE_MSS_MESSAGE_HISTORY);
	CHECK_STR(got.mss_owner, "alice@x");
	CHECK_STR(got.mss_outcome, "delivered");
	CHECK_EQ_INT(got.mss_next_at_ms, 500);
	CHECK_STR(store_item_state_name(got.state), "TO_MSS");
	/* the stored one moves to the queue, due later */
	b.state = STORE_ITEM_TO_MSS;
	b.mss_obj = STORE_MSS_KEPT;
	snprintf(b.mss_owner, sizeof b.mss_owner, "bob@x");
	b.mss_attempts = 2;
	b.mss_next_at_ms = 3000;
	CHECK_EQ_INT(store_item_update(s, &b, on_done, tok(&r, 2)), 0);
	CHECK(wait_for(&r.n, 3));
	CHECK_EQ_INT(r.err[2], 0);
	memset(&seen, 0, sizeof seen);
	CHECK_EQ_INT(store_items_mss_due(s, 1000, 10, mss_cb, &seen), 1);
	memset(&seen, 0, sizeof seen);
	CHECK_EQ_INT(store_items_mss_due(s, INT64_MAX, 10, mss_cb, &seen), 2);
	CHECK_STR(seen.ids[0], "hist1"); /* soonest first */
	CHECK_STR(seen.ids[1], "kept1");
	CHECK_EQ_INT(store_item_get(s, "kept1", &got), 0);
	CHECK_EQ_INT(got.mss_attempts, 2);
	CHECK_EQ_INT(got.mss_obj, STORE_MSS_KEPT);
	CHECK_EQ_INT(store_recipient_usage(s, "bob@x", &u), 0);
	CHECK_EQ_INT(u.items, 0);
	store_close(s);
	env_down();
}

UNIT_TEST(t_msg_item_roundtrip)
{
	struct store *s;
	struct store_item it, got;
	struct rec r = {0};
	static char big[STORE_MSG_INLINE_MAX + 1];
	char buf[STORE_MSG_INLINE_MAX];
	size_t len = 0;

	env_up("cpm_store_msg", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	fill_msg(&it, "msg1", "bob@example.com", sizeof cpim - 1);
	CHECK_EQ_INT(store_item_put_body(s, &it, cpim, sizeof cpim - 1, on_done, tok(&r, 0)), 0);
	CHECK_EQ_INT(store_item_put_body(s, &it, cpim, 3, on_done, tok(&r, 1)), 0); /* same id */
	/* a file item next to it, and a large-mode message (body in the blob) */
	struct store_item f = it, l = it;
	snprintf(f.id, sizeof f.id, "file1");
	f.kind = STORE_KIND_FILE;
	f.body_inline = true; /* ignored by a write: only store_item_put_body keeps a body */
	snprintf(l.id, sizeof l.id, "large1");
	CHECK_EQ_INT(store_item_put(s, &f, NULL, on_done, tok(&r, 2)), 0);
	CHECK_EQ_INT(store_item_put(s, &l, NULL, on_done, tok(&r, 3)), 0);
	CHECK(wait_for(&r.n, 4));
	CHECK_EQ_INT(r.err[0], 0);
	CHECK_EQ_INT(r.err[1], -EEXIST);
	CHECK_EQ_INT(r.err[2], 0);
	CHECK_EQ_INT(r.err[3], 0);

	CHECK_EQ_INT(store_item_get(s, "msg1", &got), 0);
	CHECK_EQ_INT(got.kind, STORE_KIND_MESSAGE);
	CHECK(got.body_inline);
	CHECK_STR(got.sel.type, "message/cpim");
	CHECK_EQ_INT(got.sel.size, sizeof cpim - 1);
	CHECK_EQ_INT(got.imdn_disp, STORE_IMDN_POSITIVE | STORE_IMDN_DISPLAY);
	CHECK_EQ_INT(store_item_body_get(s, "msg1", buf, sizeof buf, &len), 0);
	CHECK_EQ_INT(len, sizeof cpim - 1);
	CHECK(memcmp(buf, cpim, len) == 0);
	CHECK_EQ_INT(store_item_body_get(s, "msg1", buf, 10, &len), -ENOSPC);
	CHECK_EQ_INT(store_item_get(s, "file1", &got), 0);
	CHECK_EQ_INT(got.kind, STORE_KIND_FILE);
	CHECK(!got.body_inline);
	CHECK_EQ_INT(store_item_body_get(s, "file1", buf, sizeof buf, &len), -ENOENT);
	CHECK_EQ_INT(store_item_get(s, "large1", &got), 0);
	CHECK_EQ_INT(got.kind, STORE_KIND_MESSAGE);
	CHECK(!got.body_inline);
	CHECK_EQ_INT(store_item_body_get(s, "nosuch", buf, sizeof buf, &len), -ENOENT);
	CHECK_EQ_INT(store_item_body_get(s, "../x", buf, sizeof buf, &len), -EINVAL);

	/* the scans see the kind and the inline flag too */
	CHECK_EQ_INT(store_item_update(s, &got, NULL, NULL), 0); /* an update keeps the body */
	CHECK_EQ_INT(drain(s), 0);
	CHECK_EQ_INT(store_item_body_get(s, "msg1", buf, sizeof buf, &len), 0);

	/* limits: no body, an empty one, one over the inline bound, an unknown kind */
	fill_msg(&it, "msg2", "bob@example.com", 1);
	CHECK_EQ_INT(store_item_put_body(s, &it, NULL, 5, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(store_item_put_body(s, &it, cpim, 0, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(store_item_put_body(s, &it, big, sizeof big, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(store_item_put_body(s, &it, big, STORE_MSG_INLINE_MAX, on_done, tok(&r, 4)), 0);
	it.kind = (enum store_item_kind)7;
	CHECK_EQ_INT(store_item_put_body(s, &it, cpim, 5, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(store_item_put(s, &it, NULL, NULL, NULL), -EINVAL);
	CHECK(wait_for(&r.n, 5));
	CHECK_EQ_INT(r.err[4], 0);
	CHECK_EQ_INT(store_item_body_get(s, "msg2", buf, sizeof buf, &len), 0);
	CHECK_EQ_INT(len, STORE_MSG_INLINE_MAX);

	/* delete takes the body along; after a restart everything else is there */
	CHECK_EQ_INT(store_item_del(s, "msg2", on_done, tok(&r, 5)), 0);
	CHECK(wait_for(&r.n, 6));
	CHECK_EQ_INT(store_item_body_get(s, "msg2", buf, sizeof buf, &len), -ENOENT);
	store_close(s);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK_EQ_INT(store_item_get(s, "msg1", &got), 0);
	CHECK(got.body_inline);
	CHECK_EQ_INT(store_item_body_get(s, "msg1", buf, sizeof buf, &len), 0);
	CHECK(len == sizeof cpim - 1 && memcmp(buf, cpim, len) == 0);
	store_close(s);
	env_down();
}

/* Many messages stored at once share a transaction (one fsync): the reason the body is in
 * the row and not a file of its own. */
UNIT_TEST(t_msg_group_commit)
{
	struct store *s;
	struct store_item it;
	static struct rec r;
	struct store_stats st;

	memset(&r, 0, sizeof r);
	env_up("cpm_store_msg", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	/* hold the write lock from another connection so that every put queues up */
	sqlite3 *db;
	CHECK_EQ_INT(sqlite3_open(dbpath, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	for (unsigned i = 0; i < 1000; i++) {
		char id[16];
		snprintf(id, sizeof id, "m%u", i);
		fill_msg(&it, id, "bob@example.com", sizeof cpim - 1);
		CHECK_EQ_INT(store_item_put_body(s, &it, cpim, sizeof cpim - 1, on_done, tok(&r, i)), 0);
	}
	loop_step(loop, 50);
	CHECK_EQ_INT(r.n, 0); /* nothing is acknowledged before it is committed */
	CHECK_EQ_INT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK(wait_for(&r.n, 1000));
	for (unsigned i = 0; i < 1000; i++)
		CHECK_EQ_INT(r.err[i], 0);
	store_stats_get(s, &st);
	CHECK(st.transactions <= 3);
	store_close(s);
	env_down();
}

/* ---------------------------------------------------------------- notifications, routed */

UNIT_TEST(t_notif_displayed)
{
	struct store *s;
	struct rec r = {0};
	struct store_notif n = {.id = "n1", .target = "alice@x", .kind = STORE_NOTIF_DISPLAYED, .item_id = "",
				.imdn_msgid = "m-1", .created_at_ms = 10, .notifier = "sip:bob@x",
				.datetime = "2026-12-03T10:00:00.000Z"}, got;

	env_up("cpm_store_msg", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK_EQ_INT(store_notif_put(s, &n, on_done, tok(&r, 0)), 0);
	CHECK(wait_for(&r.n, 1));
	CHECK_EQ_INT(r.err[0], 0);
	CHECK_EQ_INT(store_notif_get(s, "n1", &got), 0);
	CHECK_EQ_INT(got.kind, STORE_NOTIF_DISPLAYED);
	CHECK_STR(got.datetime, "2026-12-03T10:00:00.000Z");
	CHECK_STR(got.notifier, "sip:bob@x");
	n.kind = (enum store_notif_kind)(STORE_NOTIF_DISPLAYED + 1);
	CHECK_EQ_INT(store_notif_put(s, &n, NULL, NULL), -EINVAL);
	n.kind = STORE_NOTIF_DISPLAYED;
	memset(n.datetime, 'x', sizeof n.datetime); /* no NUL inside */
	CHECK_EQ_INT(store_notif_put(s, &n, NULL, NULL), -EINVAL);
	store_close(s);
	env_down();
}

static int count_cb(void *arg, const struct store_notif *n)
{
	(*(unsigned *)arg)++;
	return 0;
}

static unsigned notifs_of(struct store *s, const char *target)
{
	unsigned n = 0;
	store_notifs_for(s, target, 100, count_cb, &n);
	return n;
}

struct seen {
	unsigned n;
	char msgid[8][STORE_MSGID_MAX + 1];
};

static int routed_cb(void *arg, const struct store_routed *r)
{
	struct seen *s = arg;
	if (s->n < 8)
		snprintf(s->msgid[s->n], sizeof s->msgid[0], "%s", r->msgid);
	s->n++;
	return 0;
}

UNIT_TEST(t_routed_report_rule)
{
	struct store *s;
	struct rec r = {0};
	unsigned k = 0;
	struct store_routed ro = {.sender = "alice@x", .msgid = "m-1", .recipient = "bob@x",
				  .asked = STORE_IMDN_POSITIVE, .sent = 7, .datetime = "2026-12-03T10:00:00.000Z",
				  .expires_at_ms = 5000}, got;
	struct store_notif n = {.id = "n1", .target = "alice@x", .kind = STORE_NOTIF_DELIVERED, .imdn_msgid = "m-1",
				.created_at_ms = 10, .notifier = "sip:bob@x"};

	env_up("cpm_store_msg", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK_EQ_INT(store_routed_put(s, &ro, on_done, tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));
	CHECK_EQ_INT(store_routed_get(s, "alice@x", "m-1", "bob@x", &got), 0);
	CHECK_EQ_INT(got.asked, STORE_IMDN_POSITIVE);
	CHECK_EQ_INT(got.sent, 0); /* the caller's sent bits are not taken */
	CHECK_STR(got.datetime, "2026-12-03T10:00:00.000Z");
	CHECK_EQ_INT(got.expires_at_ms, 5000);
	CHECK_EQ_INT(store_routed_get(s, "alice@x", "m-1", "carol@x", &got), -ENOENT);
	CHECK_EQ_INT(store_routed_get(s, "mallory@x", "m-1", "bob@x", &got), -ENOENT);

	/* two devices report delivered at once: the first one wins, the second writes nothing */
	CHECK_EQ_INT(store_routed_report(s, "alice@x", "m-1", "bob@x", STORE_REPORT_DELIVERED, &n, on_done,
					 tok(&r, k++)), 0);
	snprintf(n.id, sizeof n.id, "n2");
	CHECK_EQ_INT(store_routed_report(s, "alice@x", "m-1", "bob@x", STORE_REPORT_DELIVERED, &n, on_done,
					 tok(&r, k++)), 0);
	/* displayed is another report; an unknown message is none */
	snprintf(n.id, sizeof n.id, "n3");
	n.kind = STORE_NOTIF_DISPLAYED;
	CHECK_EQ_INT(store_routed_report(s, "alice@x", "m-1", "bob@x", STORE_REPORT_DISPLAYED, &n, on_done,
					 tok(&r, k++)), 0);
	snprintf(n.id, sizeof n.id, "n4");
	CHECK_EQ_INT(store_routed_report(s, "alice@x", "m-2", "bob@x", STORE_REPORT_DISPLAYED, &n, on_done,
					 tok(&r, k++)), 0);
	CHECK_EQ_INT(store_routed_report(s, "alice@x", "m-1", "mallory@x", STORE_REPORT_DELIVERED, &n, on_done,
					 tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));
	CHECK_EQ_INT(r.err[1], 0);
	CHECK_EQ_INT(r.err[2], -EALREADY);
	CHECK_EQ_INT(r.err[3], 0);
	CHECK_EQ_INT(r.err[4], -ENOENT);
	CHECK_EQ_INT(r.err[5], -ENOENT);
	struct store_notif gn;
	CHECK_EQ_INT(store_notif_get(s, "n1", &gn), 0);
	CHECK_EQ_INT(store_notif_get(s, "n2", &gn), -ENOENT);
	CHECK_EQ_INT(store_notif_get(s, "n3", &gn), 0);
	CHECK_EQ_INT(store_notif_get(s, "n4", &gn), -ENOENT);
	CHECK_EQ_INT(notifs_of(s, "alice@x"), 2);
	CHECK_EQ_INT(store_routed_get(s, "alice@x", "m-1", "bob@x", &got), 0);
	CHECK_EQ_INT(got.sent, STORE_REPORT_DELIVERED | STORE_REPORT_DISPLAYED);

	/* the same message routed again: asked bits merge, sent bits stay, the later expiry wins */
	ro.asked = STORE_IMDN_DISPLAY;
	ro.expires_at_ms = 4000;
	snprintf(ro.datetime, sizeof ro.datetime, "2030-01-01T00:00:00Z");
	CHECK_EQ_INT(store_routed_put(s, &ro, on_done, tok(&r, k++)), 0);
	/* a report without a notification only marks */
	CHECK_EQ_INT(store_routed_report(s, "alice@x", "m-1", "bob@x", STORE_REPORT_FAILED, NULL, on_done,
					 tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));
	CHECK_EQ_INT(r.err[k - 2], 0);
	CHECK_EQ_INT(r.err[k - 1], 0);
	CHECK_EQ_INT(store_routed_get(s, "alice@x", "m-1", "bob@x", &got), 0);
	CHECK_EQ_INT(got.asked, STORE_IMDN_POSITIVE | STORE_IMDN_DISPLAY);
	CHECK_EQ_INT(got.sent, STORE_REPORT_DELIVERED | STORE_REPORT_DISPLAYED | STORE_REPORT_FAILED);
	CHECK_EQ_INT(got.expires_at_ms, 5000);
	CHECK_STR(got.datetime, "2026-12-03T10:00:00.000Z");
	CHECK_EQ_INT(notifs_of(s, "alice@x"), 2);

	/* bad arguments queue nothing */
	CHECK_EQ_INT(store_routed_report(s, "alice@x", "m-1", "bob@x", 3, NULL, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(store_routed_report(s, "alice@x", "m-1", "bob@x", 0, NULL, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(store_routed_report(s, "", "m-1", "bob@x", STORE_REPORT_FAILED, NULL, NULL, NULL), -EINVAL);
	static char longid[STORE_MSGID_MAX + 2];
	memset(longid, 'a', STORE_MSGID_MAX + 1);
	CHECK_EQ_INT(store_routed_get(s, "alice@x", longid, "bob@x", &got), -EINVAL);
	ro.asked = 8;
	CHECK_EQ_INT(store_routed_put(s, &ro, NULL, NULL), -EINVAL);
	n.kind = (enum store_notif_kind)9;
	CHECK_EQ_INT(store_routed_report(s, "alice@x", "m-1", "bob@x", STORE_REPORT_FAILED, &n, NULL, NULL), -EINVAL);

	/* expiry scan: soonest first, bounded; delete */
	ro.asked = STORE_IMDN_POSITIVE;
	for (int i = 0; i < 5; i++) {
		snprintf(ro.msgid, sizeof ro.msgid, "e-%d", i);
		ro.expires_at_ms = 100 + (4 - i) * 10;
		CHECK_EQ_INT(store_routed_put(s, &ro, on_done, tok(&r, k++)), 0);
	}
	CHECK(wait_for(&r.n, k));
	struct seen sn = {0};
	CHECK_EQ_INT(store_routed_expiring_before(s, 135, 3, routed_cb, &sn), 3);
	CHECK_EQ_INT(sn.n, 3);
	CHECK_STR(sn.msgid[0], "e-4");
	CHECK_STR(sn.msgid[1], "e-3");
	CHECK_STR(sn.msgid[2], "e-2");
	CHECK_EQ_INT(store_routed_del(s, "alice@x", "e-4", "bob@x", on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_routed_del(s, "alice@x", "e-4", "bob@x", on_done, tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));
	CHECK_EQ_INT(r.err[k - 2], 0);
	CHECK_EQ_INT(r.err[k - 1], -ENOENT);
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_routed_expiring_before(s, 135, 0, routed_cb, &sn), 3);
	CHECK_STR(sn.msgid[0], "e-3");

	/* the faulty wrapper forwards the reads and fails the writes as asked */
	struct store *f;
	CHECK_EQ_INT(store_faulty_wrap(&f, s, 1, STORE_FAULT_ONLY_NTH), 0);
	CHECK_EQ_INT(store_routed_get(f, "alice@x", "m-1", "bob@x", &got), 0);
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_routed_expiring_before(f, 135, 0, routed_cb, &sn), 3);
	snprintf(n.id, sizeof n.id, "n5");
	n.kind = STORE_NOTIF_FAILED;
	CHECK_EQ_INT(store_routed_report(f, "alice@x", "e-3", "bob@x", STORE_REPORT_FAILED, &n, on_done,
					 tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));
	CHECK_EQ_INT(r.err[k - 1], -EIO);
	CHECK_EQ_INT(store_routed_get(f, "alice@x", "e-3", "bob@x", &got), 0);
	CHECK_EQ_INT(got.sent, 0);
	CHECK_EQ_INT(store_notif_get(f, "n5", &gn), -ENOENT);
	store_close(f); /* closes s */
	env_down();
}

/* ---------------------------------------------------------------- files of message items */

static int on_failed(void *arg, const struct store_item *it)
{
	(*(unsigned *)arg)++;
	return 0;
}

UNIT_TEST(t_msg_blob_side)
{
	struct store *s;
	struct store_blobq *q;
	struct rec r = {0};
	unsigned k = 0, failed = 0;
	char data[300];
	struct store_item m, l, got;

	env_up("cpm_store_msg", LOG_ERROR);
	CHECK_EQ_INT(store_open_dir(&s, loop, dir), 0);
	struct blob_dir *bd = store_blob_dir(s);
	fill_msg(&m, "inline1", "bob@example.com", sizeof cpim - 1);
	fill_msg(&l, "large1", "bob@example.com", 100);
	CHECK_EQ_INT(store_item_put_body(s, &m, cpim, sizeof cpim - 1, on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_item_put(s, &l, NULL, on_done, tok(&r, k++)), 0); /* its blob is missing */
	CHECK(wait_for(&r.n, k));

	/* reconcile: the inline message needs no blob; a large one without its blob has failed */
	struct store_reconcile_report rep;
	CHECK_EQ_INT(store_reconcile(s, bd, 0, &rep, on_failed, NULL, &failed), 0);
	CHECK_EQ_INT(drain(s), 0);
	CHECK_EQ_INT(rep.items_failed, 1);
	CHECK_EQ_INT(failed, 1);
	CHECK_EQ_INT(store_item_get(s, "inline1", &got), 0);
	CHECK_EQ_INT(got.state, STORE_ITEM_STORED);
	CHECK_EQ_INT(store_item_get(s, "large1", &got), 0);
	CHECK_EQ_INT(got.state, STORE_ITEM_FAILED);

	/* delivery: a descriptor on the inline body, at an offset */
	CHECK_EQ_INT(store_blobq_create(&q, s, bd), 0);
	int fd = -1;
	uint64_t size = 0;
	CHECK_EQ_INT(store_item_get(s, "inline1", &got), 0);
	CHECK_EQ_INT(store_item_open_read(q, &got, 6, &fd, &size), 0);
	CHECK_EQ_INT(size, sizeof cpim - 1);
	ssize_t n = read(fd, data, sizeof data);
	CHECK_EQ_INT(n, (ssize_t)(sizeof cpim - 1 - 6));
	CHECK(memcmp(data, cpim + 6, (size_t)n) == 0);
	CHECK_EQ_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
	CHECK_EQ_INT(store_item_open_read(q, &got, sizeof cpim, &fd, &size), -EINVAL);
	CHECK_EQ_INT(store_item_get(s, "large1", &got), 0);
	CHECK_EQ_INT(store_item_open_read(q, &got, 0, &fd, &size), -ENOENT); /* the blob, absent */

	/* the message-store hand-off writes the inline body as mss/<id> */
	CHECK_EQ_INT(store_item_get(s, "inline1", &got), 0);
	CHECK_EQ_INT(store_item_to_mss(q, &got, on_done, tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));
	CHECK_EQ_INT(r.err[k - 1], 0);
	char path[400];
	snprintf(path, sizeof path, "%s/mss/inline1", dir);
	int mf = open(path, O_RDONLY);
	CHECK(mf >= 0);
	n = read(mf, data, sizeof data);
	close(mf);
	CHECK_EQ_INT(n, (ssize_t)(sizeof cpim - 1));
	CHECK(memcmp(data, cpim, (size_t)n) == 0);
	CHECK_EQ_INT(blob_exists(bd, "inline1", true), -ENOENT); /* nothing left in tmp/ */
	/* the large one goes by moving its blob (absent here) */
	CHECK_EQ_INT(store_item_get(s, "large1", &got), 0);
	CHECK_EQ_INT(store_item_to_mss(q, &got, on_done, tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));
	CHECK_EQ_INT(r.err[k - 1], -ENOENT);
	got.body_inline = true; /* an item without a row body */
	snprintf(got.id, sizeof got.id, "nosuch");
	CHECK_EQ_INT(store_item_to_mss(q, &got, NULL, NULL), -ENOENT);
	CHECK_EQ_INT(store_item_open_read(q, &got, 0, &fd, &size), -ENOENT);
	snprintf(got.id, sizeof got.id, "../x");
	CHECK_EQ_INT(store_item_to_mss(q, &got, NULL, NULL), -EINVAL);
	store_blobq_destroy(q);
	store_close(s);
	env_down();
}

/* ---------------------------------------------------------------- schema upgrade */

/* The schema cpmd 2 wrote (store_sqlite.c before issue 8), with a file item and a
 * notification in it. */
static const char schema_v2[] =
	"CREATE TABLE schema_version(version INTEGER NOT NULL);"
	"CREATE TABLE item(id TEXT PRIMARY KEY, sender TEXT NOT NULL, recipient TEXT NOT NULL,"
	" fname TEXT NOT NULL, fsize INTEGER NOT NULL, ftype TEXT NOT NULL, hash BLOB NOT NULL,"
	" ft_id TEXT NOT NULL, conv_id TEXT NOT NULL, contrib_id TEXT NOT NULL, irt_contrib_id TEXT NOT NULL,"
	" disposition TEXT NOT NULL, file_date TEXT NOT NULL, created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL, state INTEGER NOT NULL, bytes_received INTEGER NOT NULL,"
	" imdn_msgid TEXT NOT NULL, imdn_disp INTEGER NOT NULL, delivered_device TEXT NOT NULL,"
	" thumb_type TEXT NOT NULL, thumb BLOB);"
	"CREATE INDEX item_pending ON item(recipient, created_at) WHERE state IN (1,2);"
	"CREATE INDEX item_expiry ON item(expires_at) WHERE state IN (0,1,2);"
	"CREATE TABLE delivery(item_id TEXT NOT NULL, instance TEXT NOT NULL, attempts INTEGER NOT NULL,"
	" next_attempt_at INTEGER NOT NULL, bytes_acked INTEGER NOT NULL, state INTEGER NOT NULL,"
	" PRIMARY KEY(item_id, instance));"
	"CREATE TABLE partial(item_id TEXT PRIMARY KEY, sender TEXT NOT NULL, fname TEXT NOT NULL,"
	" fsize INTEGER NOT NULL, ftype TEXT NOT NULL, hash BLOB NOT NULL, bytes INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL);"
	"CREATE INDEX partial_match ON partial(sender, fname, fsize, ftype, hash, expires_at);"
	"CREATE TABLE notif(id TEXT PRIMARY KEY, target TEXT NOT NULL, kind INTEGER NOT NULL,"
	" item_id TEXT NOT NULL, imdn_msgid TEXT NOT NULL, created_at INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, notifier TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX notif_target ON notif(target, created_at);"
	"CREATE TABLE reg(aor TEXT NOT NULL, instance TEXT NOT NULL, contact TEXT NOT NULL,"
	" flow TEXT NOT NULL, tcp INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY(aor, instance));"
	"CREATE TABLE prefs(aor TEXT PRIMARY KEY, defer INTEGER NOT NULL, method INTEGER NOT NULL,"
	" on_expiry INTEGER NOT NULL);"
	"INSERT INTO schema_version VALUES(2);"
	"INSERT INTO item VALUES('old1','sip:alice@x','bob@x','a.txt',5,'text/plain',x'','','','','','',''"
	" ,1,99999,1,5,'ft-1',3,'','',NULL);"
	"INSERT INTO notif VALUES('n-old','alice@x',0,'old1','ft-1',1,0,0,'bob@x');";

UNIT_TEST(t_schema_upgrade_2_5)
{
	struct store *s;
	sqlite3 *db;
	struct store_item got, m;
	struct store_notif n;
	struct store_routed ro = {.sender = "alice@x", .msgid = "m-1", .recipient = "bob@x",
				  .asked = STORE_IMDN_POSITIVE, .expires_at_ms = 5};
	struct rec r = {0};
	char buf[100];
	size_t len;

	env_up("cpm_store_msg", LOG_ERROR);
	CHECK_EQ_INT(sqlite3_open(dbpath, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, schema_v2, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK_EQ_INT(version_of(dbpath), 5);
	/* what was there is a file, without a body; its notification has no DateTime */
	CHECK_EQ_INT(store_item_get(s, "old1", &got), 0);
	CHECK_EQ_INT(got.kind, STORE_KIND_FILE);
	CHECK_EQ_INT(got.mss_obj, STORE_MSS_NONE); /* 3 → 4: nothing waits for the message store */
	CHECK_STR(got.mss_owner, "");
	CHECK(!got.body_inline);
	CHECK_STR(got.imdn_msgid, "ft-1");
	CHECK_EQ_INT(store_notif_get(s, "n-old", &n), 0);
	CHECK_STR(n.datetime, "");
	CHECK_STR(n.notifier, "bob@x");
	/* and the new records work */
	fill_msg(&m, "msg1", "bob@x", 5);
	CHECK_EQ_INT(store_item_put_body(s, &m, "hello", 5, on_done, tok(&r, 0)), 0);
	CHECK_EQ_INT(store_routed_put(s, &ro, on_done, tok(&r, 1)), 0);
	CHECK(wait_for(&r.n, 2));
	CHECK_EQ_INT(r.err[0], 0);
	CHECK_EQ_INT(r.err[1], 0);
	CHECK_EQ_INT(store_item_body_get(s, "msg1", buf, sizeof buf, &len), 0);
	CHECK_EQ_INT(len, 5);
	CHECK_EQ_INT(store_routed_get(s, "alice@x", "m-1", "bob@x", &ro), 0);
	store_close(s);
	/* opened again: nothing to upgrade */
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK_EQ_INT(version_of(dbpath), 5);
	CHECK_EQ_INT(store_item_get(s, "msg1", &got), 0);
	CHECK(got.body_inline);
	store_close(s);
	/* a newer schema than ours is refused */
	CHECK_EQ_INT(sqlite3_open(dbpath, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "UPDATE schema_version SET version=6", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), -EPROTO);
	env_down();
}

UNIT_MAIN(T(t_msg_item_roundtrip), T(t_msg_group_commit), T(t_notif_displayed), T(t_routed_report_rule),
	  T(t_msg_blob_side), T(t_schema_upgrade_2_5), T(t_mss_queue))
