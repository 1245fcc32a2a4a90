/* The saved registrations read in pages (store_regs_page, the walk of pf's start-up sweep,
 * pf_start.c), on real SQLite files and a real event loop: an empty table, a walk in pages of
 * every size from 1 up (each row once, in (aor, instance) order, a user's devices split across
 * two pages included), the limit (0: STORE_SCAN_DEFAULT), a key after the last one or between
 * two, rows written between two pages, a callback that stops, the argument checks, the
 * fault-injecting wrapper, and a cursor that is closed when a page returns (a WAL checkpoint
 * can truncate the log then, not inside the callback). */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "net/loop.h"
#include "store/store.h"
#include "store_env.h"
#include "unit.h"

static unsigned done_n, done_failed;

static void on_done(void *arg, int err)
{
	(void)arg;
	done_n++;
	if (err)
		done_failed++;
}

static struct store_reg reg(const char *aor, const char *instance)
{
	struct store_reg r;
	memset(&r, 0, sizeof r);
	snprintf(r.aor, sizeof r.aor, "%s", aor);
	snprintf(r.instance, sizeof r.instance, "%s", instance);
	snprintf(r.contact, sizeof r.contact, "<sip:%s;transport=udp>", aor);
	snprintf(r.flow, sizeof r.flow, "sip:192.0.2.1:5060;transport=udp");
	r.expires_at_ms = 1000;
	return r;
}

/* puts the registrations and waits for their commit */
static bool put_regs(struct store *s, const struct store_reg *r, size_t n)
{
	unsigned want = done_n + (unsigned)n;
	for (size_t i = 0; i < n; i++)
		if (store_reg_put(s, &r[i], on_done, NULL))
			return false;
	return wait_for(&done_n, want) && done_failed == 0;
}

/* What pages gave: the keys in order ("aor|instance"), up to stop_after rows (0: all). */
#define SEEN_MAX 1100
struct seen {
	unsigned n, stop_after;
	char key[SEEN_MAX][80];
	char aor[STORE_AOR_MAX + 1], instance[STORE_INSTANCE_MAX + 1]; /* the last row's key */
};
static struct seen sn;

static int seen_cb(void *arg, const struct store_reg *r)
{
	struct seen *s = arg;
	if (s->n < SEEN_MAX)
		snprintf(s->key[s->n], sizeof s->key[s->n], "%.40s|%.38s", r->aor, r->instance); /* short in the tests */
	snprintf(s->aor, sizeof s->aor, "%s", r->aor);
	snprintf(s->instance, sizeof s->instance, "%s", r->instance);
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

/* Registrations written in no order: bob has three devices, carol two. */
static const char *const rows[][2] = {
	{"dave@x", "<urn:uuid:d1>"}, {"bob@x", "<urn:uuid:b2>"},   {"alice@x", "<urn:uuid:a1>"},
	{"carol@x", "tablet"},       {"bob@x", "<urn:uuid:b1>"},   {"carol@x", "phone"},
	{"bob@x", "<urn:uuid:b3>"},  {"bob@xy", "<urn:uuid:b0>"},
};
#define NROWS (sizeof rows / sizeof rows[0])
/* ... and in (aor, instance) byte order ('<' < 'p' < 't'; "bob@x" < "bob@xy") */
static const char *const sorted[NROWS] = {
	"alice@x|<urn:uuid:a1>", "bob@x|<urn:uuid:b1>", "bob@x|<urn:uuid:b2>", "bob@x|<urn:uuid:b3>",
	"bob@xy|<urn:uuid:b0>",  "carol@x|phone",       "carol@x|tablet",      "dave@x|<urn:uuid:d1>",
};

static bool fill(struct store *s)
{
	struct store_reg r[NROWS];
	for (size_t i = 0; i < NROWS; i++)
		r[i] = reg(rows[i][0], rows[i][1]);
	return put_regs(s, r, NROWS);
}

UNIT_TEST(t_regs_page_empty)
{
	struct store *s;
	env_up("cpm_store_regs", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_regs_page(s, "", "", 10, seen_cb, &sn), 0);
	CHECK_EQ_INT(store_regs_page(s, "bob@x", "<urn:uuid:b1>", 10, seen_cb, &sn), 0);
	CHECK_EQ_INT(store_regs_page(s, "", "", 0, seen_cb, &sn), 0);
	CHECK_EQ_INT(sn.n, 0);
	store_close(s);
	env_down();
}

UNIT_TEST(t_regs_page_walk)
{
	struct store *s;
	env_up("cpm_store_regs", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK(fill(s));
	/* every page size: each row exactly once, in key order, also when a page ends between two
	 * devices of one user; a page shorter than the limit is the last, and a full last page is
	 * followed by an empty one */
	for (unsigned limit = 1; limit <= NROWS + 1; limit++) {
		memset(&sn, 0, sizeof sn);
		unsigned pages = 0;
		int rc;
		do {
			char aor[STORE_AOR_MAX + 1], inst[STORE_INSTANCE_MAX + 1];
			snprintf(aor, sizeof aor, "%s", sn.aor);
			snprintf(inst, sizeof inst, "%s", sn.instance);
			unsigned before = sn.n;
			rc = store_regs_page(s, aor, inst, limit, seen_cb, &sn);
			CHECK(rc >= 0);
			CHECK_EQ_INT(sn.n - before, rc);
			CHECK(rc <= (int)limit);
			pages++;
		} while (rc == (int)limit);
		CHECK_EQ_INT(sn.n, NROWS);
		CHECK_EQ_INT(pages, NROWS / limit + 1);
		for (size_t i = 0; i < NROWS; i++)
			CHECK_STR(sn.key[i], sorted[i]);
	}
	store_close(s);
	env_down();
}

UNIT_TEST(t_regs_page_keys)
{
	struct store *s;
	env_up("cpm_store_regs", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK(fill(s));
	/* after the last key: nothing; after a key beyond every row: nothing */
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_regs_page(s, "dave@x", "<urn:uuid:d1>", 10, seen_cb, &sn), 0);
	CHECK_EQ_INT(store_regs_page(s, "zz@x", "", 10, seen_cb, &sn), 0);
	CHECK_EQ_INT(sn.n, 0);
	/* a key that is no row: the walk goes on at the next row there is */
	CHECK_EQ_INT(store_regs_page(s, "bob@x", "<urn:uuid:b1~", 10, seen_cb, &sn), 6);
	CHECK_STR(sn.key[0], "bob@x|<urn:uuid:b2>");
	/* (aor, "") is before every device of aor; (aor, the last device) after them */
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_regs_page(s, "bob@x", "", 3, seen_cb, &sn), 3);
	CHECK_STR(sn.key[0], "bob@x|<urn:uuid:b1>");
	CHECK_STR(sn.key[2], "bob@x|<urn:uuid:b3>");
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_regs_page(s, "bob@x", "<urn:uuid:b3>", 1, seen_cb, &sn), 1);
	CHECK_STR(sn.key[0], "bob@xy|<urn:uuid:b0>");
	/* rows written between two pages: seen when their key is ahead of the walk, not behind */
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_regs_page(s, "", "", 2, seen_cb, &sn), 2); /* alice, bob b1 */
	struct store_reg more[2] = {reg("aaron@x", "i"), reg("bob@x", "<urn:uuid:b1a>")};
	CHECK(put_regs(s, more, 2));
	CHECK_EQ_INT(store_regs_page(s, sn.aor, sn.instance, 2, seen_cb, &sn), 2);
	CHECK_STR(sn.key[2], "bob@x|<urn:uuid:b1a>");
	CHECK_STR(sn.key[3], "bob@x|<urn:uuid:b2>");
	/* a callback that stops: the rows it was given */
	memset(&sn, 0, sizeof sn);
	sn.stop_after = 3;
	CHECK_EQ_INT(store_regs_page(s, "", "", 0, seen_cb, &sn), 3);
	store_close(s);
	env_down();
}

UNIT_TEST(t_regs_page_limit)
{
	struct store *s;
	static struct store_reg r[STORE_SCAN_DEFAULT + 5];
	env_up("cpm_store_regs", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	for (unsigned i = 0; i < STORE_SCAN_DEFAULT + 5; i++) {
		char aor[32];
		snprintf(aor, sizeof aor, "u%05u@x", i);
		r[i] = reg(aor, "i");
	}
	CHECK(put_regs(s, r, STORE_SCAN_DEFAULT + 5));
	memset(&sn, 0, sizeof sn);
	/* limit 0: STORE_SCAN_DEFAULT; the rest on the next page */
	CHECK_EQ_INT(store_regs_page(s, "", "", 0, seen_cb, &sn), STORE_SCAN_DEFAULT);
	CHECK_STR(sn.aor, "u00999@x");
	CHECK_EQ_INT(store_regs_page(s, sn.aor, sn.instance, 0, seen_cb, &sn), 5);
	CHECK_STR(sn.key[STORE_SCAN_DEFAULT], "u01000@x|i");
	CHECK_STR(sn.aor, "u01004@x");
	CHECK_EQ_INT(store_regs_page(s, "", "", 7, seen_cb, &sn), 7);
	store_close(s);
	env_down();
}

UNIT_TEST(t_regs_page_bad_args)
{
	struct store *s;
	char long_aor[STORE_AOR_MAX + 2], max_aor[STORE_AOR_MAX + 1], long_inst[STORE_INSTANCE_MAX + 2];
	env_up("cpm_store_regs", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	memset(long_aor, 'a', sizeof long_aor - 1);
	long_aor[sizeof long_aor - 1] = '\0';
	memset(max_aor, 'a', sizeof max_aor - 1);
	max_aor[sizeof max_aor - 1] = '\0';
	memset(long_inst, 'i', sizeof long_inst - 1);
	long_inst[sizeof long_inst - 1] = '\0';
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_regs_page(s, "", "", 10, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(store_regs_page(s, NULL, "", 10, seen_cb, &sn), -EINVAL);
	CHECK_EQ_INT(store_regs_page(s, "", NULL, 10, seen_cb, &sn), -EINVAL);
	CHECK_EQ_INT(store_regs_page(s, long_aor, "", 10, seen_cb, &sn), -EINVAL);
	CHECK_EQ_INT(store_regs_page(s, "bob@x", long_inst, 10, seen_cb, &sn), -EINVAL);
	CHECK_EQ_INT(store_regs_page(s, max_aor, "", 10, seen_cb, &sn), 0); /* the longest key there can be */
	store_close(s);
	env_down();
}

/* Through the fault-injecting wrapper (reads pass through), and the read cursor: open inside
 * the callback (a TRUNCATE checkpoint of another connection cannot reset the log: busy), closed
 * once the page returned (it can). */
static sqlite3 *other;
static int busy_inside = -1;

static int busy_of_checkpoint(void)
{
	sqlite3_stmt *st;
	int busy = -1;
	if (sqlite3_prepare_v2(other, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		busy = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return busy;
}

static int checkpoint_cb(void *arg, const struct store_reg *r)
{
	if (busy_inside < 0)
		busy_inside = busy_of_checkpoint();
	return seen_cb(arg, r);
}

UNIT_TEST(t_regs_page_faulty_and_cursor)
{
	struct store *inner, *s;
	env_up("cpm_store_regs", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&inner, loop, dbpath), 0);
	CHECK_EQ_INT(store_faulty_wrap(&s, inner, 1000, STORE_FAULT_ONLY_NTH), 0);
	CHECK(fill(s));
	CHECK_EQ_INT(sqlite3_open(dbpath, &other), SQLITE_OK);
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_regs_page(s, "", "", 3, checkpoint_cb, &sn), 3);
	CHECK_STR(sn.key[2], "bob@x|<urn:uuid:b2>");
	CHECK_EQ_INT(busy_inside, 1);
	CHECK_EQ_INT(busy_of_checkpoint(), 0);
	CHECK_EQ_INT(store_regs_page(s, sn.aor, sn.instance, 10, seen_cb, &sn), NROWS - 3);
	CHECK_EQ_INT(sn.n, NROWS);
	sqlite3_close(other);
	store_close(s);
	env_down();
}

UNIT_MAIN(T(t_regs_page_empty), T(t_regs_page_walk), T(t_regs_page_keys), T(t_regs_page_limit),
	  T(t_regs_page_bad_args), T(t_regs_page_faulty_and_cursor))
