/* The devices' push parameters in the store (store_push.c, schema 5; issue 13,
 * docs/internals/push.md), on real SQLite files and a real event loop: put (an upsert), delete,
 * the start-up scan (most recently written first, bounded, stoppable), argument checks, a
 * restart, a process killed right after its done (the row is there: a hard write), the
 * fault-injecting wrapper, and the upgrade of a schema-4 database. */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "net/loop.h"
#include "store/store.h"
#include "store_env.h"
#include "unit.h"

struct rec {
	unsigned n;
	int err[16];
};

static void on_done(void *arg, int err)
{
	struct rec *r = arg;
	r->err[r->n++ % 16] = err;
}

static struct store_push dev(const char *aor, const char *instance, const char *param, int64_t at)
{
	struct store_push p;
	memset(&p, 0, sizeof p);
	snprintf(p.aor, sizeof p.aor, "%s", aor);
	snprintf(p.instance, sizeof p.instance, "%s", instance);
	snprintf(p.provider, sizeof p.provider, "apns");
	snprintf(p.prid, sizeof p.prid, "00fc13ad%%2Fff");
	snprintf(p.param, sizeof p.param, "%s", param);
	p.updated_at_ms = at;
	return p;
}

/* What a scan gave: the rows in order, up to stop_after (0: all). */
struct seen {
	unsigned n, stop_after;
	struct store_push rows[8];
};
static int seen_cb(void *arg, const struct store_push *p)
{
	struct seen *s = arg;
	if (s->n < 8)
		s->rows[s->n] = *p;
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

UNIT_TEST(t_push_roundtrip)
{
	struct store *s;
	struct rec r = {0};
	struct seen sn = {0};
	env_up("cpm_store_push", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	struct store_push a = dev("bob@x", "<urn:uuid:phone>", "ABCD.com.example.voip", 100);
	struct store_push b = dev("bob@x", "<urn:uuid:tablet>", "", 300);
	struct store_push c = dev("alice@x", "<urn:uuid:phone>", "T", 200);
	CHECK_EQ_INT(store_push_put(s, &a, on_done, &r), 0);
	CHECK_EQ_INT(store_push_put(s, &b, on_done, &r), 0);
	CHECK_EQ_INT(store_push_put(s, &c, on_done, &r), 0);
	CHECK(wait_for(&r.n, 3));
	CHECK_EQ_INT(r.err[0] | r.err[1] | r.err[2], 0);
	/* the most recently written first, every field back as written */
	CHECK_EQ_INT(store_push_all(s, 0, seen_cb, &sn), 3);
	CHECK_STR(sn.rows[0].instance, "<urn:uuid:tablet>");
	CHECK_STR(sn.rows[0].param, "");
	CHECK_STR(sn.rows[1].aor, "alice@x");
	CHECK_STR(sn.rows[2].aor, "bob@x");
	CHECK_STR(sn.rows[2].instance, "<urn:uuid:phone>");
	CHECK_STR(sn.rows[2].provider, "apns");
	CHECK_STR(sn.rows[2].prid, "00fc13ad%2Fff");
	CHECK_STR(sn.rows[2].param, "ABCD.com.example.voip");
	CHECK_EQ_INT(sn.rows[2].updated_at_ms, 100);
	/* bounded, and a callback may stop the scan */
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_push_all(s, 2, seen_cb, &sn), 2);
	memset(&sn, 0, sizeof sn);
	sn.stop_after = 1;
	CHECK_EQ_INT(store_push_all(s, 0, seen_cb, &sn), 1);
	/* a put of the same device replaces its row (new token, now the newest) */
	a.updated_at_ms = 400;
	snprintf(a.prid, sizeof a.prid, "new-token");
	CHECK_EQ_INT(store_push_put(s, &a, on_done, &r), 0);
	/* registered without them: the row goes; a second delete finds nothing */
	CHECK_EQ_INT(store_push_del(s, "alice@x", "<urn:uuid:phone>", on_done, &r), 0);
	CHECK_EQ_INT(store_push_del(s, "alice@x", "<urn:uuid:phone>", on_done, &r), 0);
	CHECK(wait_for(&r.n, 6));
	CHECK_EQ_INT(r.err[3], 0);
	CHECK_EQ_INT(r.err[4], 0);
	CHECK_EQ_INT(r.err[5], -ENOENT);
	store_close(s);
	/* a restart keeps them */
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	memset(&sn, 0, sizeof sn);
	CHECK_EQ_INT(store_push_all(s, 0, seen_cb, &sn), 2);
	CHECK_STR(sn.rows[0].instance, "<urn:uuid:phone>");
	CHECK_STR(sn.rows[0].prid, "new-token");
	CHECK_STR(sn.rows[1].instance, "<urn:uuid:tablet>");
	store_close(s);
	env_down();
}

UNIT_TEST(t_push_bad_args)
{
	struct store *s;
	struct rec r = {0};
	struct seen sn = {0};
	env_up("cpm_store_push", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	struct store_push p = dev("bob@x", "i", "", 1);
	p.provider[0] = '\0'; /* pn-provider and pn-prid are required */
	CHECK_EQ_INT(store_push_put(s, &p, on_done, &r), -EINVAL);
	p = dev("bob@x", "i", "", 1);
	p.prid[0] = '\0';
	CHECK_EQ_INT(store_push_put(s, &p, on_done, &r), -EINVAL);
	p = dev("", "i", "", 1);
	CHECK_EQ_INT(store_push_put(s, &p, on_done, &r), -EINVAL);
	p = dev("bob@x", "", "", 1);
	CHECK_EQ_INT(store_push_put(s, &p, on_done, &r), -EINVAL);
	p = dev("bob@x", "i", "", 1);
	memset(p.param, 'x', sizeof p.param); /* no NUL inside the field */
	CHECK_EQ_INT(store_push_put(s, &p, on_done, &r), -EINVAL);
	CHECK_EQ_INT(store_push_put(NULL, &p, on_done, &r), -EINVAL);
	CHECK_EQ_INT(store_push_del(s, "bob@x", "", on_done, &r), -EINVAL);
	CHECK_EQ_INT(store_push_del(s, "", "i", on_done, &r), -EINVAL);
	CHECK_EQ_INT(store_push_all(s, 0, NULL, NULL), -EINVAL);
	/* nothing was queued, nothing written */
	struct rec sync = {0};
	CHECK_EQ_INT(store_sync(s, on_done, &sync), 0);
	CHECK(wait_for(&sync.n, 1));
	CHECK_EQ_INT(r.n, 0);
	CHECK_EQ_INT(store_push_all(s, 0, seen_cb, &sn), 0);
	store_close(s);
	env_down();
}

/* A push write's done means on disk, not only in the writer's hands: a process killed right
 * after it (cpmd under kill -9) leaves the row for the next start. */
UNIT_TEST(t_push_kill_after_done)
{
	struct store *s;
	struct seen sn = {0};
	env_up("cpm_store_push", LOG_ERROR);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rec r = {0};
		struct store_push p = dev("bob@x", "<urn:uuid:phone>", "P", 7);
		if (store_sqlite_open(&s, loop, dbpath) || store_push_put(s, &p, on_done, &r) || !wait_for(&r.n, 1) ||
		    r.err[0])
			_exit(1);
		kill(getpid(), SIGKILL); /* no close, no flush */
		_exit(2);
	}
	int st = 0;
	CHECK_EQ_INT(waitpid(pid, &st, 0), pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK_EQ_INT(store_push_all(s, 0, seen_cb, &sn), 1);
	CHECK_STR(sn.rows[0].param, "P");
	store_close(s);
	env_down();
}

/* The fault-injecting wrapper fails a push write like any other (nothing applied) and
 * forwards the scan. */
UNIT_TEST(t_push_faulty)
{
	struct store *inner, *s;
	struct rec r = {0};
	struct seen sn = {0};
	env_up("cpm_store_push", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&inner, loop, dbpath), 0);
	CHECK_EQ_INT(store_faulty_wrap(&s, inner, 1, STORE_FAULT_ONLY_NTH), 0);
	struct store_push a = dev("bob@x", "a", "", 1), b = dev("bob@x", "b", "", 2);
	CHECK_EQ_INT(store_push_put(s, &a, on_done, &r), 0);
	CHECK_EQ_INT(store_push_put(s, &b, on_done, &r), 0);
	CHECK(wait_for(&r.n, 2));
	CHECK_EQ_INT(r.err[0], -EIO);
	CHECK_EQ_INT(r.err[1], 0);
	CHECK_EQ_INT(store_push_all(s, 0, seen_cb, &sn), 1);
	CHECK_STR(sn.rows[0].instance, "b");
	store_close(s);
	env_down();
}

/* Schema 5 is schema 4 and the push table: a database of cpmd before it (made here by taking
 * the table away) is upgraded in place, its rows kept, and push parameters work. */
UNIT_TEST(t_push_upgrade_4_5)
{
	struct store *s;
	struct store_reg reg;
	struct rec r = {0};
	struct seen sn = {0};
	sqlite3 *db;
	env_up("cpm_store_push", LOG_ERROR);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	memset(&reg, 0, sizeof reg);
	snprintf(reg.aor, sizeof reg.aor, "bob@x");
	snprintf(reg.instance, sizeof reg.instance, "i");
	snprintf(reg.contact, sizeof reg.contact, "sip:bob@192.0.2.1");
	reg.expires_at_ms = 5;
	CHECK_EQ_INT(store_reg_put(s, &reg, on_done, &r), 0);
	CHECK(wait_for(&r.n, 1));
	store_close(s);
	CHECK_EQ_INT(version_of(dbpath), 5);
	CHECK_EQ_INT(sqlite3_open(dbpath, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "DROP TABLE push; UPDATE schema_version SET version=4", NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(db);
	CHECK_EQ_INT(version_of(dbpath), 4);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK_EQ_INT(version_of(dbpath), 5);
	CHECK_EQ_INT(store_reg_get(s, "bob@x", "i", &reg), 0);
	CHECK_EQ_INT(store_push_all(s, 0, seen_cb, &sn), 0);
	struct store_push p = dev("bob@x", "i", "", 1);
	CHECK_EQ_INT(store_push_put(s, &p, on_done, &r), 0);
	CHECK(wait_for(&r.n, 2));
	CHECK_EQ_INT(r.err[1], 0);
	CHECK_EQ_INT(store_push_all(s, 0, seen_cb, &sn), 1);
	store_close(s);
	env_down();
}

UNIT_MAIN(T(t_push_roundtrip), T(t_push_bad_args), T(t_push_kill_after_done), T(t_push_faulty),
	  T(t_push_upgrade_4_5))
