/* The durable store (src/store) on real SQLite files in a fresh temporary directory, with a
 * real event loop (net/loop.h) delivering the completions: CRUD for every record, scans, group commit,
 * callbacks in the loop thread, persistence across a restart, fault injection, hostile ids,
 * and a kill -9 crash-consistency loop. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "net/loop.h"
#include "store/store.h"
#include "store_env.h"
#include "unit.h"

/* ---------------------------------------------------------------- helpers */

/* Records every completion: count, results in order, and whether it ran in the loop thread. */
#define MAX_DONE 4096
struct rec {
	unsigned n;
	int err[MAX_DONE];
	unsigned seq[MAX_DONE];
	unsigned wrong_thread;
};

struct tok {
	struct rec *r;
	unsigned seq;
};

static void on_done(void *arg, int err)
{
	struct tok *t = arg;
	struct rec *r = t->r;

	if (!pthread_equal(pthread_self(), loop_thread))
		r->wrong_thread++;
	if (r->n < MAX_DONE) {
		r->err[r->n] = err;
		r->seq[r->n] = t->seq;
	}
	r->n++;
}

static struct tok toks[MAX_DONE];

static struct tok *tok(struct rec *r, unsigned seq)
{
	toks[seq].r = r;
	toks[seq].seq = seq;
	return &toks[seq];
}

static void fill_item(struct store_item *it, const char *id, const char *rcpt, enum store_item_state st,
		      int64_t created, int64_t expires)
{
	memset(it, 0, sizeof *it);
	snprintf(it->id, sizeof it->id, "%s", id);
	snprintf(it->sender, sizeof it->sender, "sip:alice@example.com");
	snprintf(it->recipient, sizeof it->recipient, "%s", rcpt);
	snprintf(it->sel.name, sizeof it->sel.name, "holiday photo \"1\".jpg");
	it->sel.size = 123456789012ULL;
	snprintf(it->sel.type, sizeof it->sel.type, "image/jpeg");
	it->sel.has_hash = true;
	for (int i = 0; i < 20; i++)
		it->sel.sha1[i] = (uint8_t)(i * 13 + 1);
	snprintf(it->ft_id, sizeof it->ft_id, "ftid-%s", id);
	snprintf(it->conv_id, sizeof it->conv_id, "conv-1");
	snprintf(it->contrib_id, sizeof it->contrib_id, "contrib-%s", id);
	snprintf(it->irt_contrib_id, sizeof it->irt_contrib_id, "irt-0");
	snprintf(it->disposition, sizeof it->disposition, "attachment");
	snprintf(it->file_date, sizeof it->file_date, "creation:\"Mon, 1 Jan 2024 10:00:00 +0000\"");
	it->created_at_ms = created;
	it->expires_at_ms = expires;
	it->state = st;
	it->bytes_received = 4096;
	snprintf(it->imdn_msgid, sizeof it->imdn_msgid, "imdn-%s", id);
	it->imdn_disp = STORE_IMDN_POSITIVE | STORE_IMDN_NEGATIVE;
}

static bool item_eq(const struct store_item *a, const struct store_item *b)
{
	return !strcmp(a->id, b->id) && !strcmp(a->sender, b->sender) && !strcmp(a->recipient, b->recipient) &&
	       !strcmp(a->sel.name, b->sel.name) && a->sel.size == b->sel.size && !strcmp(a->sel.type, b->sel.type) &&
	       a->sel.has_hash == b->sel.has_hash && !memcmp(a->sel.sha1, b->sel.sha1, 20) &&
	       !strcmp(a->ft_id, b->ft_id) && !strcmp(a->conv_id, b->conv_id) &&
	       !strcmp(a->contrib_id, b->contrib_id) && !strcmp(a->irt_contrib_id, b->irt_contrib_id) &&
	       !strcmp(a->disposition, b->disposition) && !strcmp(a->file_date, b->file_date) &&
	       a->created_at_ms == b->created_at_ms && a->expires_at_ms == b->expires_at_ms && a->state == b->state &&
	       a->bytes_received == b->bytes_received && !strcmp(a->imdn_msgid, b->imdn_msgid) &&
	       a->imdn_disp == b->imdn_disp && !strcmp(a->delivered_device, b->delivered_device);
}

/* ---------------------------------------------------------------- tests */

UNIT_TEST(t_item_roundtrip)
{
	struct store *s;
	struct store_item it, got;
	struct store_thumb th = {.type = "image/png"}, tgot;
	static uint8_t thumb[STORE_THUMB_MAX], buf[STORE_THUMB_MAX];
	struct rec r = {0};

	env_up("cpm_store_test", LOG_WARN);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	for (size_t i = 0; i < sizeof thumb; i++)
		thumb[i] = (uint8_t)(i * 7);
	th.data = thumb;
	th.len = sizeof thumb;
	fill_item(&it, "item0001", "sip:bob@example.com", STORE_ITEM_RECEIVING, 1000, 999999);
	CHECK_EQ_INT(store_item_put(s, &it, &th, on_done, tok(&r, 0)), 0);
	CHECK_EQ_INT(store_item_put(s, &it, NULL, on_done, tok(&r, 1)), 0); /* same id again */
	CHECK(wait_for(&r.n, 2));
	CHECK_EQ_INT(r.err[0], 0);
	CHECK_EQ_INT(r.err[1], -EEXIST);
	CHECK_EQ_INT(store_item_get(s, "item0001", &got), 0);
	CHECK(item_eq(&it, &got));
	CHECK_EQ_INT(store_item_thumb_get(s, "item0001", &tgot, buf, sizeof buf), 0);
	CHECK_STR(tgot.type, "image/png");
	CHECK_EQ_INT(tgot.len, sizeof thumb);
	CHECK(memcmp(buf, thumb, sizeof thumb) == 0);
	CHECK_EQ_INT(store_item_thumb_get(s, "item0001", &tgot, buf, 10), -ENOSPC);
	th.len = STORE_THUMB_MAX + 1;
	CHECK_EQ_INT(store_item_put(s, &it, &th, on_done, tok(&r, 2)), -EINVAL);

	/* update: only the mutable fields change */
	got.state = STORE_ITEM_DELIVERED;
	got.bytes_received = 123456789012ULL;
	got.expires_at_ms = 5;
	snprintf(got.delivered_device, sizeof got.delivered_device, "<urn:uuid:dev-1>");
	snprintf(got.sender, sizeof got.sender, "sip:mallory@example.com"); /* not mutable */
	CHECK_EQ_INT(store_item_update(s, &got, on_done, tok(&r, 2)), 0);
	fill_item(&it, "item0002", "sip:bob@example.com", STORE_ITEM_STORED, 1, 2);
	it.sel.has_hash = false;
	memset(it.sel.sha1, 0, 20);
	CHECK_EQ_INT(store_item_update(s, &it, on_done, tok(&r, 3)), 0); /* does not exist */
	CHECK_EQ_INT(store_item_put(s, &it, NULL, on_done, tok(&r, 4)), 0);
	CHECK(wait_for(&r.n, 5));
	CHECK_EQ_INT(r.err[2], 0);
	CHECK_EQ_INT(r.err[3], -ENOENT);
	CHECK_EQ_INT(r.err[4], 0);
	CHECK_EQ_INT(store_item_get(s, "item0001", &got), 0);
	CHECK_EQ_INT(got.state, STORE_ITEM_DELIVERED);
	CHECK_EQ_INT(got.bytes_received, 123456789012ULL);
	CHECK_EQ_INT(got.expires_at_ms, 5);
	CHECK_STR(got.delivered_device, "<urn:uuid:dev-1>");
	CHECK_STR(got.sender, "sip:alice@example.com");
	CHECK_EQ_INT(store_item_get(s, "item0002", &got), 0);
	CHECK(item_eq(&it, &got));
	CHECK(!got.sel.has_hash);
	CHECK_EQ_INT(store_item_thumb_get(s, "item0002", &tgot, buf, sizeof buf), -ENOENT);

	/* delete takes the deliveries and the partial row along */
	struct store_delivery d = {.item_id = "item0001", .instance = "<urn:uuid:dev-1>", .state = STORE_DLV_DONE};
	struct store_partial p = {.item_id = "item0001", .sender = "sip:alice@example.com"};
	CHECK_EQ_INT(store_delivery_put(s, &d, on_done, tok(&r, 5)), 0);
	CHECK_EQ_INT(store_partial_put(s, &p, on_done, tok(&r, 6)), 0);
	CHECK_EQ_INT(store_item_del(s, "item0001", on_done, tok(&r, 7)), 0);
	CHECK_EQ_INT(store_item_del(s, "item0001", on_done, tok(&r, 8)), 0);
	CHECK(wait_for(&r.n, 9));
	CHECK_EQ_INT(r.err[7], 0);
	CHECK_EQ_INT(r.err[8], -ENOENT);
	CHECK_EQ_INT(store_item_get(s, "item0001", &got), -ENOENT);
	CHECK_EQ_INT(store_delivery_get(s, "item0001", "<urn:uuid:dev-1>", &d), -ENOENT);
	CHECK_EQ_INT(store_partial_get(s, "item0001", &p), -ENOENT);
	CHECK_EQ_INT(store_item_get(s, "item0002", &got), 0);
	CHECK_EQ_INT(r.wrong_thread, 0);
	store_close(s);
	env_down();
}

UNIT_TEST(t_other_records_roundtrip)
{
	struct store *s;
	struct rec r = {0};
	unsigned k = 0;

	env_up("cpm_store_test", LOG_WARN);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);

	struct store_delivery d = {.item_id = "it1", .instance = "<urn:uuid:a>", .attempts = 3,
				   .next_attempt_at_ms = 77, .bytes_acked = 1ULL << 40, .state = STORE_DLV_ACTIVE};
	struct store_partial p = {.item_id = "it1", .sender = "sip:alice@x", .bytes = 999, .expires_at_ms = 500};
	snprintf(p.sel.name, sizeof p.sel.name, "a.bin");
	p.sel.size = 5000;
	snprintf(p.sel.type, sizeof p.sel.type, "application/octet-stream");
	p.sel.has_hash = true;
	memset(p.sel.sha1, 0xab, 20);
	struct store_notif n = {.id = "n1", .target = "sip:alice@x", .kind = STORE_NOTIF_FAILED, .item_id = "it1",
				.imdn_msgid = "m1", .created_at_ms = 10, .attempts = 1, .next_attempt_at_ms = 20};
	struct store_reg g = {.aor = "sip:bob@x", .instance = "<urn:uuid:b>", .contact = "sip:bob@10.0.0.1:5060",
			      .flow = "sip:10.0.0.1:5060;transport=tcp", .tcp = true, .expires_at_ms = 3600000};
	struct store_prefs pr = {.aor = "sip:bob@x", .defer = true, .method = STORE_METHOD_PULL,
				 .on_expiry = STORE_EXPIRY_KEEP};

	CHECK_EQ_INT(store_delivery_put(s, &d, on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_partial_put(s, &p, on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_notif_put(s, &n, on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_reg_put(s, &g, on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_prefs_put(s, &pr, on_done, tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));
	for (unsigned i = 0; i < k; i++)
		CHECK_EQ_INT(r.err[i], 0);

	struct store_delivery d2;
	struct store_partial p2;
	struct store_notif n2;
	struct store_reg g2;
	struct store_prefs pr2;
	CHECK_EQ_INT(store_delivery_get(s, "it1", "<urn:uuid:a>", &d2), 0);
	CHECK_EQ_INT(d2.attempts, 3);
	CHECK_EQ_INT(d2.next_attempt_at_ms, 77);
	CHECK(d2.bytes_acked == 1ULL << 40);
	CHECK_EQ_INT(d2.state, STORE_DLV_ACTIVE);
	CHECK_EQ_INT(store_partial_get(s, "it1", &p2), 0);
	CHECK(!memcmp(&p2.sel, &p.sel, sizeof p.sel) || (!strcmp(p2.sel.name, "a.bin") && p2.sel.size == 5000));
	CHECK_EQ_INT(p2.bytes, 999);
	CHECK_EQ_INT(p2.expires_at_ms, 500);
	CHECK(p2.sel.has_hash && !memcmp(p2.sel.sha1, p.sel.sha1, 20));
	/* partial_find: the same selector matches; a different hash or size does not */
	CHECK_EQ_INT(store_partial_find(s, "sip:alice@x", &p.sel, &p2), 0);
	CHECK_STR(p2.item_id, "it1");
	struct store_selector other = p.sel;
	other.sha1[19] ^= 1;
	CHECK_EQ_INT(store_partial_find(s, "sip:alice@x", &other, &p2), -ENOENT);
	other = p.sel;
	other.size++;
	CHECK_EQ_INT(store_partial_find(s, "sip:alice@x", &other, &p2), -ENOENT);
	other = p.sel;
	other.has_hash = false;
	CHECK_EQ_INT(store_partial_find(s, "sip:alice@x", &other, &p2), -ENOENT);
	CHECK_EQ_INT(store_partial_find(s, "sip:eve@x", &p.sel, &p2), -ENOENT);
	CHECK_EQ_INT(store_notif_get(s, "n1", &n2), 0);
	CHECK_STR(n2.target, "sip:alice@x");
	CHECK_EQ_INT(n2.kind, STORE_NOTIF_FAILED);
	CHECK_STR(n2.item_id, "it1");
	CHECK_STR(n2.imdn_msgid, "m1");
	CHECK_EQ_INT(n2.created_at_ms, 10);
	CHECK_EQ_INT(n2.attempts, 1);
	CHECK_EQ_INT(n2.next_attempt_at_ms, 20);
	CHECK_EQ_INT(store_reg_get(s, "sip:bob@x", "<urn:uuid:b>", &g2), 0);
	CHECK_STR(g2.contact, g.contact);
	CHECK_STR(g2.flow, g.flow);
	CHECK(g2.tcp);
	CHECK_EQ_INT(g2.expires_at_ms, 3600000);
	CHECK_EQ_INT(store_prefs_get(s, "sip:bob@x", &pr2), 0);
	CHECK(pr2.defer);
	CHECK_EQ_INT(pr2.method, STORE_METHOD_PULL);
	CHECK_EQ_INT(pr2.on_expiry, STORE_EXPIRY_KEEP);

	/* put is an upsert */
	d.attempts = 4;
	pr.defer = false;
	CHECK_EQ_INT(store_delivery_put(s, &d, on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_prefs_put(s, &pr, on_done, tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));
	CHECK_EQ_INT(store_delivery_get(s, "it1", "<urn:uuid:a>", &d2), 0);
	CHECK_EQ_INT(d2.attempts, 4);
	CHECK_EQ_INT(store_prefs_get(s, "sip:bob@x", &pr2), 0);
	CHECK(!pr2.defer);

	/* deletes, then deletes of what is gone */
	unsigned first = k;
	CHECK_EQ_INT(store_delivery_del(s, "it1", "<urn:uuid:a>", on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_partial_del(s, "it1", on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_notif_del(s, "n1", on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_reg_del(s, "sip:bob@x", "<urn:uuid:b>", on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_prefs_del(s, "sip:bob@x", on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_delivery_del(s, "it1", "<urn:uuid:a>", on_done, tok(&r, k++)), 0);
	CHECK_EQ_INT(store_prefs_del(s, "sip:bob@x", on_done, tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));
	for (unsigned i = first; i < first + 5; i++)
		CHECK_EQ_INT(r.err[i], 0);
	CHECK_EQ_INT(r.err[first + 5], -ENOENT);
	CHECK_EQ_INT(r.err[first + 6], -ENOENT);
	CHECK_EQ_INT(store_delivery_get(s, "it1", "<urn:uuid:a>", &d2), -ENOENT);
	CHECK_EQ_INT(store_partial_get(s, "it1", &p2), -ENOENT);
	CHECK_EQ_INT(store_notif_get(s, "n1", &n2), -ENOENT);
	CHECK_EQ_INT(store_reg_get(s, "sip:bob@x", "<urn:uuid:b>", &g2), -ENOENT);
	CHECK_EQ_INT(store_prefs_get(s, "sip:bob@x", &pr2), -ENOENT);
	for (unsigned i = 0; i < r.n; i++) /* done callbacks ran in submission order */
		CHECK_EQ_INT(r.seq[i], i);
	CHECK_EQ_INT(r.wrong_thread, 0);
	store_close(s);
	env_down();
}

/* ---- scans ---- */
struct ids {
	unsigned n;
	char id[64][STORE_ID_MAX + 1];
	unsigned stop_after;
};

static int collect_item(void *arg, const struct store_item *it)
{
	struct ids *x = arg;

	if (x->n < 64)
		snprintf(x->id[x->n], sizeof x->id[0], "%s", it->id);
	x->n++;
	return x->stop_after && x->n >= x->stop_after;
}

static int collect_notif(void *arg, const struct store_notif *n)
{
	struct ids *x = arg;

	if (x->n < 64)
		snprintf(x->id[x->n], sizeof x->id[0], "%s", n->id);
	x->n++;
	return 0;
}

static int collect_reg(void *arg, const struct store_reg *g)
{
	struct ids *x = arg;

	if (x->n < 64)
		snprintf(x->id[x->n], sizeof x->id[0], "%.32s", g->instance);
	x->n++;
	return 0;
}

static int collect_dlv(void *arg, const struct store_delivery *d)
{
	struct ids *x = arg;

	if (x->n < 64)
		snprintf(x->id[x->n], sizeof x->id[0], "%.32s", d->instance);
	x->n++;
	return 0;
}

UNIT_TEST(t_scans)
{
	struct store *s;
	struct store_item it;
	struct rec r = {0};
	struct ids x;
	unsigned k = 0;
	/* id, recipient, state, created, expires */
	static const struct {
		const char *id, *rcpt;
		enum store_item_state st;
		int64_t created, expires;
	} rows[] = {
		{"b3", "sip:bob@x", STORE_ITEM_STORED, 300, 1000},
		{"b1", "sip:bob@x", STORE_ITEM_DELIVERING, 100, 3000},
		{"b2", "sip:bob@x", STORE_ITEM_STORED, 200, 2000},
		{"b4", "sip:bob@x", STORE_ITEM_DELIVERED, 50, 500},  /* not pending, not live */
		{"b5", "sip:bob@x", STORE_ITEM_RECEIVING, 60, 600},  /* not pending, live */
		{"c1", "sip:carol@x", STORE_ITEM_STORED, 10, 100},
		{"b6", "sip:bob@x", STORE_ITEM_EXPIRED, 70, 10},
	};

	env_up("cpm_store_test", LOG_WARN);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		fill_item(&it, rows[i].id, rows[i].rcpt, rows[i].st, rows[i].created, rows[i].expires);
		CHECK_EQ_INT(store_item_put(s, &it, NULL, on_done, tok(&r, k++)), 0);
	}
	struct store_notif n = {.target = "sip:alice@x", .kind = STORE_NOTIF_DELIVERED};
	for (int i = 3; i >= 1; i--) {
		snprintf(n.id, sizeof n.id, "n%d", i);
		n.created_at_ms = i;
		CHECK_EQ_INT(store_notif_put(s, &n, on_done, tok(&r, k++)), 0);
	}
	snprintf(n.id, sizeof n.id, "n9");
	snprintf(n.target, sizeof n.target, "sip:other@x");
	CHECK_EQ_INT(store_notif_put(s, &n, on_done, tok(&r, k++)), 0);
	struct store_reg g = {.aor = "sip:bob@x", .contact = "sip:b", .flow = "f"};
	snprintf(g.instance, sizeof g.instance, "dev1");
	CHECK_EQ_INT(store_reg_put(s, &g, on_done, tok(&r, k++)), 0);
	snprintf(g.instance, sizeof g.instance, "dev2");
	CHECK_EQ_INT(store_reg_put(s, &g, on_done, tok(&r, k++)), 0);
	struct store_delivery d = {.item_id = "b1", .instance = "dev1"};
	CHECK_EQ_INT(store_delivery_put(s, &d, on_done, tok(&r, k++)), 0);
	snprintf(d.instance, sizeof d.instance, "dev2");
	CHECK_EQ_INT(store_delivery_put(s, &d, on_done, tok(&r, k++)), 0);
	snprintf(d.item_id, sizeof d.item_id, "b2");
	CHECK_EQ_INT(store_delivery_put(s, &d, on_done, tok(&r, k++)), 0);
	CHECK(wait_for(&r.n, k));

	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_items_for_recipient(s, "sip:bob@x", 0, collect_item, &x), 3);
	CHECK_STR(x.id[0], "b1");
	CHECK_STR(x.id[1], "b2");
	CHECK_STR(x.id[2], "b3");
	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_items_for_recipient(s, "sip:bob@x", 2, collect_item, &x), 2); /* bounded */
	memset(&x, 0, sizeof x);
	x.stop_after = 1;
	CHECK_EQ_INT(store_items_for_recipient(s, "sip:bob@x", 0, collect_item, &x), 1); /* cb stops */
	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_items_for_recipient(s, "sip:nobody@x", 0, collect_item, &x), 0);

	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_items_expiring_before(s, 2001, 0, collect_item, &x), 4);
	CHECK_STR(x.id[0], "c1");
	CHECK_STR(x.id[1], "b5");
	CHECK_STR(x.id[2], "b3");
	CHECK_STR(x.id[3], "b2");
	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_items_expiring_before(s, 2001, 1, collect_item, &x), 1);

	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_notifs_for(s, "sip:alice@x", 0, collect_notif, &x), 3);
	CHECK_STR(x.id[0], "n1");
	CHECK_STR(x.id[2], "n3");
	/* by age, any target: n1 and n9 were created at 1, n2 at 2, n3 at 3 */
	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_notifs_created_before(s, 2, 0, collect_notif, &x), 2);
	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_notifs_created_before(s, 3, 0, collect_notif, &x), 3);
	CHECK_STR(x.id[2], "n2");
	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_notifs_created_before(s, 100, 1, collect_notif, &x), 1); /* bounded */
	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_regs_all(s, collect_reg, &x), 2);
	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_deliveries_for_item(s, "b1", collect_dlv, &x), 2);
	store_close(s);
	env_down();
}

/* ---- group commit: 1000 writes queued at once are applied in a handful of transactions ---- */
UNIT_TEST(t_group_commit)
{
	struct store *s;
	struct store_stats st0, st1;
	struct rec r = {0};
	struct store_delivery d;

	env_up("cpm_store_test", LOG_WARN);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	store_stats_get(s, &st0);
	/* Hold the database's write lock from another connection while queueing, so that the
	 * worker (stuck in BEGIN IMMEDIATE's busy wait with whatever it took when it woke up)
	 * cannot commit in between however slow this thread is: the outcome does not depend on
	 * timing. */
	sqlite3 *other;
	CHECK(sqlite3_open_v2(dbpath, &other, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	for (unsigned i = 0; i < 1000; i++) {
		memset(&d, 0, sizeof d);
		snprintf(d.item_id, sizeof d.item_id, "item%u", i % 37);
		snprintf(d.instance, sizeof d.instance, "dev%u", i);
		d.attempts = i;
		CHECK_EQ_INT(store_delivery_put(s, &d, on_done, tok(&r, i)), 0);
	}
	usleep(20000);
	CHECK_EQ_INT(r.n, 0); /* nothing is answered before it is committed */
	/* ...and the loop was not held up: 1000 submits returned while no commit was possible,
	 * and a read (WAL) does not wait for the write lock either */
	uint64_t t0 = now_ms();
	CHECK_EQ_INT(store_delivery_get(s, "item0", "dev0", &d), -ENOENT);
	CHECK(now_ms() - t0 < 100);
	CHECK(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(other);
	CHECK(wait_for(&r.n, 1000));
	store_stats_get(s, &st1);
	fprintf(stderr, "  1000 writes in %llu transactions (max %llu per transaction)\n",
		(unsigned long long)(st1.transactions - st0.transactions), (unsigned long long)st1.max_batch);
	CHECK_EQ_INT(st1.writes - st0.writes, 1000);
	/* The worker may have taken the first writes before the rest was queued; everything
	 * else goes in one transaction. One transaction per write would be 1000. */
	CHECK(st1.transactions - st0.transactions <= 2);
	CHECK(st1.max_batch >= 500);
	for (unsigned i = 0; i < 1000; i++) {
		CHECK_EQ_INT(r.err[i], 0);
		CHECK_EQ_INT(r.seq[i], i);
	}
	CHECK_EQ_INT(r.wrong_thread, 0);
	CHECK_EQ_INT(store_delivery_get(s, "item0", "dev999", &d), 0);
	CHECK_EQ_INT(d.attempts, 999);
	store_close(s);
	env_down();
}

/* ---- restart: what was acknowledged is there after close + reopen; close flushes ---- */
UNIT_TEST(t_persistence)
{
	struct store *s;
	struct store_item it;
	struct rec r = {0};
	struct ids x;
	char id[16];

	env_up("cpm_store_test", LOG_WARN);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	for (unsigned i = 0; i < 200; i++) {
		snprintf(id, sizeof id, "p%u", i);
		fill_item(&it, id, "sip:bob@x", STORE_ITEM_STORED, i, 100000 + i);
		CHECK_EQ_INT(store_item_put(s, &it, NULL, on_done, tok(&r, i)), 0);
	}
	struct store_reg g = {.aor = "sip:bob@x", .instance = "dev1", .contact = "sip:bob@1.2.3.4", .flow = "f",
			      .tcp = true, .expires_at_ms = 42};
	CHECK_EQ_INT(store_reg_put(s, &g, on_done, tok(&r, 200)), 0);
	/* close without waiting: it commits the queue and runs every done callback */
	store_close(s);
	CHECK_EQ_INT(r.n, 201);
	for (unsigned i = 0; i < 201; i++)
		CHECK_EQ_INT(r.err[i], 0);
	CHECK_EQ_INT(r.wrong_thread, 0);

	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_items_for_recipient(s, "sip:bob@x", 1000, collect_item, &x), 200);
	CHECK_STR(x.id[0], "p0");
	CHECK_EQ_INT(store_item_get(s, "p199", &it), 0);
	CHECK_EQ_INT(it.expires_at_ms, 100199);
	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(store_regs_all(s, collect_reg, &x), 1);
	CHECK_EQ_INT(store_reg_get(s, "sip:bob@x", "dev1", &g), 0);
	CHECK(g.tcp);
	store_close(s);
	env_down();
}

/* ---- fault injection: the Nth write fails with -EIO, is reported, and is not applied ---- */
static void fault_round(enum store_fault_mode mode, unsigned nth)
{
	struct store *inner, *s;
	struct store_item it;
	struct rec r = {0};
	char id[16];

	env_up("cpm_store_test", LOG_WARN);
	CHECK_EQ_INT(store_sqlite_open(&inner, loop, dbpath), 0);
	CHECK_EQ_INT(store_faulty_wrap(&s, inner, nth, mode), 0);
	for (unsigned i = 1; i <= 6; i++) {
		snprintf(id, sizeof id, "f%u", i);
		fill_item(&it, id, "sip:bob@x", STORE_ITEM_STORED, i, 10);
		CHECK_EQ_INT(store_item_put(s, &it, NULL, on_done, tok(&r, i - 1)), 0);
	}
	CHECK_EQ_INT(store_sync(s, on_done, tok(&r, 6)), 0); /* a barrier is not a write */
	CHECK(wait_for(&r.n, 7));
	for (unsigned i = 1; i <= 6; i++) {
		bool fail = i == nth || (mode == STORE_FAULT_FROM_NTH && i > nth);
		snprintf(id, sizeof id, "f%u", i);
		CHECK_EQ_INT(r.seq[i - 1], i - 1);
		CHECK_EQ_INT(r.err[i - 1], fail ? -EIO : 0);
		CHECK_EQ_INT(store_item_get(s, id, &it), fail ? -ENOENT : 0);
	}
	CHECK_EQ_INT(r.err[6], 0);
	CHECK_EQ_INT(r.wrong_thread, 0);
	store_close(s); /* closes inner too */

	/* and after a restart, the failed writes are still not there */
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	for (unsigned i = 1; i <= 6; i++) {
		bool fail = i == nth || (mode == STORE_FAULT_FROM_NTH && i > nth);
		snprintf(id, sizeof id, "f%u", i);
		CHECK_EQ_INT(store_item_get(s, id, &it), fail ? -ENOENT : 0);
	}
	store_close(s);
	env_down();
}

UNIT_TEST(t_faulty_only_nth)
{
	fault_round(STORE_FAULT_ONLY_NTH, 3);
}

UNIT_TEST(t_faulty_from_nth)
{
	fault_round(STORE_FAULT_FROM_NTH, 4);
}

/* ---- a write refused at the queue: the caller sees -EAGAIN and no done, the store counts it
 * once for /metrics (cpmd_errors_total{kind="store_queue"}), whichever caller it was ---- */
static unsigned long queue_errors(void)
{
	static char text[65536];
	struct metrics_gauges g = {0};
	const char *k = "cpmd_errors_total{kind=\"store_queue\"} ";

	if (metrics_format(text, sizeof text, &g) < 0)
		return ~0ul;
	const char *p = strstr(text, k);
	return p ? strtoul(p + strlen(k), NULL, 10) : ~0ul;
}

UNIT_TEST(t_faulty_queue_refused_counted)
{
	struct store *inner, *s;
	struct store_item it;
	struct rec r = {0};
	char id[16];

	env_up("cpm_store_test", LOG_WARN);
	metrics_reset();
	CHECK_EQ_INT(queue_errors(), 0);
	CHECK_EQ_INT(store_sqlite_open(&inner, loop, dbpath), 0);
	CHECK_EQ_INT(store_faulty_wrap(&s, inner, 2, STORE_FAULT_QUEUE_NTH), 0);
	for (unsigned i = 1; i <= 3; i++) {
		snprintf(id, sizeof id, "q%u", i);
		fill_item(&it, id, "sip:bob@x", STORE_ITEM_STORED, i, 10);
		CHECK_EQ_INT(store_item_put(s, &it, NULL, on_done, tok(&r, i - 1)), i == 2 ? -EAGAIN : 0);
	}
	CHECK_EQ_INT(queue_errors(), 1);
	CHECK_EQ_INT(store_item_del(s, "q1", on_done, tok(&r, 3)), 0);
	CHECK_EQ_INT(store_sync(s, on_done, tok(&r, 4)), 0);
	CHECK(wait_for(&r.n, 4)); /* q1, q3, the delete, the barrier: q2 never completes */
	CHECK_EQ_INT(queue_errors(), 1);
	CHECK_EQ_INT(store_item_get(s, "q2", &it), -ENOENT);
	CHECK_EQ_INT(store_item_get(s, "q3", &it), 0);
	store_close(s);
	env_down();
}

/* ---- hostile ids and unterminated fields are refused before anything is queued ---- */
UNIT_TEST(t_hostile_ids)
{
	static const char *const bad[] = {"../x", "a/b", ".", "..", "", "x y", "x\ny", "abc.def", "%2e%2e",
					  "123456789012345678901234567890123" /* 33 */};
	struct store *s;
	struct store_item it, got;
	struct rec r = {0};

	env_up("cpm_store_test", LOG_WARN);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK(store_id_valid("12345678901234567890123456789012")); /* 32 */
	CHECK(store_id_valid("a-B_9"));
	CHECK(!store_id_valid(NULL));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(!store_id_valid(bad[i]));
		fill_item(&it, "ok", "sip:bob@x", STORE_ITEM_STORED, 1, 2);
		memset(it.id, 0, sizeof it.id);
		memcpy(it.id, bad[i], strlen(bad[i]) < STORE_ID_MAX ? strlen(bad[i]) : STORE_ID_MAX);
		if (strlen(bad[i]) > STORE_ID_MAX)
			memset(it.id, 'a', sizeof it.id); /* no NUL in the array at all */
		CHECK_EQ_INT(store_item_put(s, &it, NULL, on_done, tok(&r, 0)), -EINVAL);
		CHECK_EQ_INT(store_item_get(s, bad[i], &got), -EINVAL);
		CHECK_EQ_INT(store_item_del(s, bad[i], on_done, tok(&r, 0)), -EINVAL);
		CHECK_EQ_INT(store_partial_del(s, bad[i], on_done, tok(&r, 0)), -EINVAL);
		CHECK_EQ_INT(store_notif_del(s, bad[i], on_done, tok(&r, 0)), -EINVAL);
	}
	/* a very long string (no NUL within any bound) */
	static char longid[100000];
	memset(longid, 'a', sizeof longid - 1);
	CHECK(!store_id_valid(longid));
	CHECK_EQ_INT(store_item_get(s, longid, &got), -EINVAL);
	CHECK_EQ_INT(store_prefs_del(s, longid, on_done, tok(&r, 0)), -EINVAL);
	CHECK_EQ_INT(store_reg_del(s, "sip:bob@x", longid, on_done, tok(&r, 0)), -EINVAL);
	/* an unterminated text field (peer data copied without its NUL) */
	fill_item(&it, "ok", "sip:bob@x", STORE_ITEM_STORED, 1, 2);
	memset(it.sel.name, 'n', sizeof it.sel.name);
	CHECK_EQ_INT(store_item_put(s, &it, NULL, on_done, tok(&r, 0)), -EINVAL);
	struct store_reg g = {.aor = "sip:bob@x", .instance = "i"};
	memset(g.contact, 'c', sizeof g.contact);
	CHECK_EQ_INT(store_reg_put(s, &g, on_done, tok(&r, 0)), -EINVAL);
	/* an embedded NUL ends the id: what follows is never used */
	fill_item(&it, "ok", "sip:bob@x", STORE_ITEM_STORED, 1, 2);
	memcpy(it.id, "ok\0/../../etc", 13);
	CHECK_EQ_INT(store_item_put(s, &it, NULL, on_done, tok(&r, 0)), 0);
	CHECK(wait_for(&r.n, 1));
	CHECK_EQ_INT(store_item_get(s, "ok", &got), 0);
	CHECK_STR(got.id, "ok");
	CHECK_EQ_INT(r.n, 1); /* refused calls never call done */
	store_close(s);
	env_down();
}

/* ---- crash consistency: SIGKILL a writer at a random moment, then check the database ---- */
#define CRASH_ROUNDS 6

static void child_done(void *arg, int err)
{
	unsigned *pend = arg;
	(void)err;
	(*pend)--;
}

struct child_ack {
	int fd;
	unsigned *pending;
	unsigned i;
	int err;
};

static void child_ack_done(void *arg, int err)
{
	struct child_ack *a = arg;

	if (!err && write(a->fd, &a->i, sizeof a->i) != sizeof a->i)
		_exit(3);
	(*a->pending)--;
	free(a);
}

static void crash_child(int fd, unsigned round)
{
	struct store *s;
	struct store_item it;
	unsigned pending = 0;
	char id[STORE_ID_MAX + 1];

	if (loop_create(&loop))
		_exit(2);
	if (store_sqlite_open(&s, loop, dbpath))
		_exit(2);
	for (unsigned i = 0;; i++) {
		/* a mix: new items, updates of earlier ones, deliveries */
		snprintf(id, sizeof id, "r%u_%u", round, i);
		fill_item(&it, id, "sip:bob@x", STORE_ITEM_STORED, i, 1000000 + i);
		struct child_ack *a = malloc(sizeof *a);
		if (!a)
			_exit(2);
		*a = (struct child_ack){.fd = fd, .pending = &pending, .i = i};
		if (store_item_put(s, &it, NULL, child_ack_done, a))
			_exit(2);
		pending++;
		if (i % 3 == 0) {
			struct store_delivery d = {.state = STORE_DLV_PENDING, .attempts = i};
			snprintf(d.item_id, sizeof d.item_id, "%s", id);
			snprintf(d.instance, sizeof d.instance, "dev%u", i % 4);
			if (store_delivery_put(s, &d, child_done, &pending))
				_exit(2);
			pending++;
		}
		while (pending > 300)
			loop_step(loop, 1);
		if (i % 50 == 0)
			loop_step(loop, 0);
	}
}

UNIT_TEST(t_crash_kill9)
{
	unsigned total_acked = 0;

	env_up("cpm_store_test", LOG_WARN);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (unsigned round = 0; round < CRASH_ROUNDS; round++) {
		int p[2];
		pid_t pid;
		static unsigned acked[1 << 20];
		size_t nacked = 0;
		ssize_t n;

		CHECK(pipe(p) == 0);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(p[1], round);
			_exit(0);
		}
		close(p[1]);
		/* kill between 30 and 400 ms in: during open, mid-batch or mid-commit */
		usleep((useconds_t)(30000 + rand() % 370000));
		kill(pid, SIGKILL);
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* everything the child wrote to the pipe was acknowledged before the kill */
		while ((n = read(p[0], (char *)acked + nacked * sizeof acked[0],
				 sizeof acked - nacked * sizeof acked[0])) > 0)
			nacked += (size_t)n / sizeof acked[0];
		close(p[0]);

		/* the database opens, is intact, and holds every acknowledged write */
		sqlite3 *db;
		sqlite3_stmt *st;
		CHECK(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
		CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
		CHECK(sqlite3_step(st) == SQLITE_ROW);
		CHECK_STR((const char *)sqlite3_column_text(st, 0), "ok");
		sqlite3_finalize(st);
		sqlite3_close(db);

		struct store *s;
		struct store_item it;
		char id[STORE_ID_MAX + 1];
		CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
		for (size_t i = 0; i < nacked; i++) {
			snprintf(id, sizeof id, "r%u_%u", round, acked[i]);
			CHECK_EQ_INT(store_item_get(s, id, &it), 0);
			CHECK_EQ_INT(it.expires_at_ms, 1000000 + acked[i]);
		}
		store_close(s);
		fprintf(stderr, "  round %u: %zu acknowledged writes present after kill -9\n", round, nacked);
		total_acked += (unsigned)nacked;
	}
	/* the test means something only if writes were acknowledged before the kills */
	CHECK(total_acked > 0);
	env_down();
}

UNIT_MAIN(T(t_item_roundtrip), T(t_other_records_roundtrip), T(t_scans), T(t_group_commit), T(t_persistence),
	  T(t_faulty_only_nth), T(t_faulty_from_nth), T(t_faulty_queue_refused_counted), T(t_hostile_ids), T(t_crash_kill9))
