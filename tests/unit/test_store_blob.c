/* The blob module (src/store/blob.c), the start-up reconcile (store_reconcile.c), the store of
 * a data directory (store_open_dir) and the blob queue's files API (store_blobq.h: open,
 * remove, move to mss/) on a real directory and a real SQLite store. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "net/loop.h"
#include "store/blob.h"
#include "store/store_blobq.h"
#include "store/store.h"
#include "store_env.h"
#include "unit.h"

/* A partial opened for appending, as a writer that resumes it would (the store hands out
 * read-write descriptors; the relay writes at offsets, these tests append). */
static int partial_append(struct blob_dir *bd, const char *id, int *fd, uint64_t *size)
{
	int rc = blob_partial_open_rw(bd, id, false, fd, size);
	if (rc == -ENOENT)
		rc = blob_partial_open_rw(bd, id, true, fd, size);
	if (rc == 0 && lseek(*fd, 0, SEEK_END) < 0) {
		rc = -errno;
		close(*fd);
	}
	return rc;
}

/* unlinkat() and renameat() are interposed: a removal or a move must run on the blob thread,
 * never on the loop's (the calls in src/store reach these first: static link). */
static pthread_t last_unlink_thread, last_rename_thread;
static unsigned unlinks, renames;
static int (*real_unlinkat)(int, const char *, int);
static int (*real_renameat)(int, const char *, int, const char *);

int unlinkat(int dfd, const char *name, int flags)
{
	if (!real_unlinkat)
		*(void **)&real_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
	__atomic_add_fetch(&unlinks, 1, __ATOMIC_SEQ_CST);
	last_unlink_thread = pthread_self();
	return real_unlinkat(dfd, name, flags);
}

int renameat(int ofd, const char *oname, int nfd, const char *nname)
{
	if (!real_renameat)
		*(void **)&real_renameat = dlsym(RTLD_NEXT, "renameat");
	__atomic_add_fetch(&renames, 1, __ATOMIC_SEQ_CST);
	last_rename_thread = pthread_self();
	return real_renameat(ofd, oname, nfd, nname);
}

/* A path under the test directory, for checks from outside the module. */
static const char *at(const char *rel)
{
	static char p[4][600];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, rel);
	return p[i];
}

static bool exists(const char *rel)
{
	struct stat st;

	return stat(at(rel), &st) == 0;
}

static int put_file(const char *rel, const char *content)
{
	int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return -1;
	if (write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

UNIT_TEST(t_blob_write_resume_commit_read)
{
	struct blob_dir *bd;
	uint64_t size;
	int fd;
	char buf[64];

	env_up("cpm_blob_test", LOG_WARN);
	CHECK_EQ_INT(blob_dir_open(&bd, dir), 0);
	CHECK(exists("blobs/tmp"));
	CHECK_EQ_INT(partial_append(bd, "abc123", &fd, &size), 0);
	CHECK_EQ_INT(size, 0);
	CHECK_EQ_INT(blob_append(fd, "hello ", 6), 0);
	CHECK_EQ_INT(blob_partial_sync(fd), 0);
	close(fd);
	CHECK(exists("blobs/tmp/abc123"));
	CHECK(!exists("blobs/abc123"));

	/* resume: reopen lands at the current size; a store that recorded fewer contiguous bytes
	 * cuts the tail off first */
	CHECK_EQ_INT(partial_append(bd, "abc123", &fd, &size), 0);
	CHECK_EQ_INT(size, 6);
	CHECK_EQ_INT(blob_append(fd, "XXXX", 4), 0);
	CHECK_EQ_INT(blob_partial_truncate(fd, 6), 0);
	CHECK(lseek(fd, 0, SEEK_END) == 6); /* the writer goes on at the cut (no O_APPEND) */
	CHECK_EQ_INT(blob_append(fd, "world", 5), 0);
	CHECK_EQ_INT(blob_commit(bd, "abc123", fd), 0);
	close(fd);
	CHECK(!exists("blobs/tmp/abc123"));
	CHECK(exists("blobs/abc123"));
	CHECK_EQ_INT(blob_exists(bd, "abc123", false), 0);
	CHECK_EQ_INT(blob_exists(bd, "abc123", true), -ENOENT);

	/* read from an offset (resume of a delivery) */
	CHECK_EQ_INT(blob_open_read(bd, "abc123", 6, &fd, &size), 0);
	CHECK_EQ_INT(size, 11);
	memset(buf, 0, sizeof buf);
	CHECK_EQ_INT(read(fd, buf, sizeof buf), 5);
	CHECK_STR(buf, "world");
	close(fd);
	CHECK_EQ_INT(blob_open_read(bd, "abc123", 0, &fd, &size), 0);
	memset(buf, 0, sizeof buf);
	CHECK_EQ_INT(read(fd, buf, sizeof buf), 11);
	CHECK_STR(buf, "hello world");
	close(fd);
	CHECK_EQ_INT(blob_open_read(bd, "abc123", 12, &fd, &size), -EINVAL);
	CHECK_EQ_INT(blob_open_read(bd, "nothere", 0, &fd, &size), -ENOENT);

	/* commit of a partial that is gone fails, and says so */
	CHECK_EQ_INT(partial_append(bd, "gone1", &fd, &size), 0);
	CHECK_EQ_INT(blob_remove(bd, "gone1", true), 0);
	CHECK_EQ_INT(blob_commit(bd, "gone1", fd), -ENOENT);
	close(fd);

	CHECK_EQ_INT(blob_remove(bd, "abc123", false), 0);
	CHECK_EQ_INT(blob_remove(bd, "abc123", false), -ENOENT);
	CHECK(!exists("blobs/abc123"));
	blob_dir_close(bd);
	env_down();
}

UNIT_TEST(t_blob_hostile_ids)
{
	static const char *const bad[] = {"../x", "..", ".", "", "tmp/../../x", "/etc/passwd", "a b", "a\nb",
					  "123456789012345678901234567890123"};
	struct blob_dir *bd;
	uint64_t size;
	int fd;
	static char longid[8192];

	env_up("cpm_blob_test", LOG_WARN);
	CHECK_EQ_INT(blob_dir_open(&bd, dir), 0);
	CHECK_EQ_INT(put_file("victim", "keep me"), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(partial_append(bd, bad[i], &fd, &size), -EINVAL);
		CHECK_EQ_INT(blob_open_read(bd, bad[i], 0, &fd, &size), -EINVAL);
		CHECK_EQ_INT(blob_remove(bd, bad[i], false), -EINVAL);
		CHECK_EQ_INT(blob_remove(bd, bad[i], true), -EINVAL);
		CHECK_EQ_INT(blob_exists(bd, bad[i], false), -EINVAL);
		CHECK_EQ_INT(blob_commit(bd, bad[i], -1), -EINVAL);
	}
	memset(longid, 'a', sizeof longid - 1);
	CHECK_EQ_INT(partial_append(bd, longid, &fd, &size), -EINVAL);
	/* "../victim" from blobs/tmp would be blobs/victim; from blobs it is the victim itself */
	CHECK_EQ_INT(blob_remove(bd, "../victim", false), -EINVAL);
	CHECK(exists("victim"));
	/* a symlink planted in tmp/ is not followed */
	CHECK_EQ_INT(symlink(at("victim"), at("blobs/tmp/link1")), 0);
	CHECK_EQ_INT(partial_append(bd, "link1", &fd, &size), -ELOOP);
	CHECK_EQ_INT(blob_dir_open(&bd, ""), -EINVAL);
	blob_dir_close(bd);
	env_down();
}

/* ---- reconcile ---- */
static unsigned done_n;
static int done_err;

static void on_done(void *arg, int err)
{
	(void)arg;
	done_n++;
	done_err = err ? err : done_err;
}

static unsigned failed_cb_n;

static int on_failed(void *arg, const struct store_item *it)
{
	(void)arg;
	failed_cb_n += !strcmp(it->id, "missing1") && it->state == STORE_ITEM_FAILED;
	return 0;
}

static void item(struct store *s, const char *id, enum store_item_state st, int64_t expires)
{
	struct store_item it;

	memset(&it, 0, sizeof it);
	snprintf(it.id, sizeof it.id, "%s", id);
	snprintf(it.sender, sizeof it.sender, "sip:alice@x");
	snprintf(it.recipient, sizeof it.recipient, "sip:bob@x");
	it.state = st;
	it.expires_at_ms = expires;
	if (store_item_put(s, &it, NULL, on_done, NULL))
		abort();
}

UNIT_TEST(t_reconcile)
{
	struct store *s;
	struct blob_dir *bd;
	struct store_reconcile_report rep;
	struct store_item it;
	const int64_t now = 1000000;

	env_up("cpm_blob_test", LOG_WARN);
	done_n = 0;
	done_err = 0;
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK_EQ_INT(blob_dir_open(&bd, dir), 0);
	/* final blobs */
	item(s, "stored1", STORE_ITEM_STORED, now + 1);        /* blob kept */
	item(s, "delivering1", STORE_ITEM_DELIVERING, now + 1); /* blob kept */
	item(s, "missing1", STORE_ITEM_STORED, now + 1);       /* no blob: FAILED */
	item(s, "done1", STORE_ITEM_DELIVERED, now + 1);       /* blob removed */
	CHECK_EQ_INT(put_file("blobs/stored1", "a"), 0);
	CHECK_EQ_INT(put_file("blobs/delivering1", "a"), 0);
	CHECK_EQ_INT(put_file("blobs/done1", "a"), 0);
	CHECK_EQ_INT(put_file("blobs/orphan1", "a"), 0);       /* no item: removed */
	CHECK_EQ_INT(put_file("blobs/not.ours", "a"), 0);      /* not our name: left alone */
	/* partials */
	item(s, "recv1", STORE_ITEM_RECEIVING, now + 1000);    /* kept */
	item(s, "recv2", STORE_ITEM_RECEIVING, now - 1);       /* expired: removed */
	item(s, "cancel1", STORE_ITEM_CANCELLED, now + 1000);  /* kept: a partial row references it */
	struct store_partial p = {.item_id = "cancel1", .sender = "sip:alice@x", .bytes = 1, .expires_at_ms = now + 1000};
	CHECK_EQ_INT(store_partial_put(s, &p, on_done, NULL), 0);
	snprintf(p.item_id, sizeof p.item_id, "oldpart1");   /* partial row, expired: removed */
	p.expires_at_ms = now - 5;
	CHECK_EQ_INT(store_partial_put(s, &p, on_done, NULL), 0);
	CHECK_EQ_INT(put_file("blobs/tmp/recv1", "p"), 0);
	CHECK_EQ_INT(put_file("blobs/tmp/recv2", "p"), 0);
	CHECK_EQ_INT(put_file("blobs/tmp/cancel1", "p"), 0);
	CHECK_EQ_INT(put_file("blobs/tmp/oldpart1", "p"), 0);
	CHECK_EQ_INT(put_file("blobs/tmp/stray1", "p"), 0);   /* nothing references it: removed */
	CHECK(wait_for(&done_n, 9));
	CHECK_EQ_INT(done_err, 0);

	CHECK_EQ_INT(store_reconcile(s, bd, now, &rep, on_failed, on_done, NULL), 0);
	CHECK(wait_for(&done_n, 10));
	CHECK_EQ_INT(done_err, 0);
	CHECK_EQ_INT(rep.blobs_kept, 2);
	CHECK_EQ_INT(rep.blobs_removed, 2);
	CHECK_EQ_INT(rep.partials_kept, 2);
	CHECK_EQ_INT(rep.partials_removed, 3);
	CHECK_EQ_INT(rep.items_failed, 1);
	CHECK_EQ_INT(rep.foreign, 1);
	CHECK_EQ_INT(failed_cb_n, 1);
	CHECK(exists("blobs/stored1"));
	CHECK(exists("blobs/delivering1"));
	CHECK(!exists("blobs/done1"));
	CHECK(!exists("blobs/orphan1"));
	CHECK(exists("blobs/not.ours"));
	CHECK(exists("blobs/tmp/recv1"));
	CHECK(exists("blobs/tmp/cancel1"));
	CHECK(!exists("blobs/tmp/recv2"));
	CHECK(!exists("blobs/tmp/oldpart1"));
	CHECK(!exists("blobs/tmp/stray1"));
	CHECK_EQ_INT(store_item_get(s, "missing1", &it), 0);
	CHECK_EQ_INT(it.state, STORE_ITEM_FAILED);
	CHECK_EQ_INT(store_item_get(s, "stored1", &it), 0);
	CHECK_EQ_INT(it.state, STORE_ITEM_STORED);

	/* a second run finds nothing more to do */
	CHECK_EQ_INT(store_reconcile(s, bd, now, &rep, NULL, NULL, NULL), 0);
	CHECK_EQ_INT(rep.blobs_removed + rep.partials_removed + rep.items_failed, 0);
	CHECK_EQ_INT(rep.blobs_kept, 2);
	CHECK_EQ_INT(rep.partials_kept, 2);
	blob_dir_close(bd);
	store_close(s);
	env_down();
}

/* ---- a stop signal during the reconcile: -EINTR, nothing removed half-way; the next start
 * does it all (store_set_interrupt; cpmd asks sigpending() for SIGTERM/SIGINT) ---- */
static unsigned asked;
static bool stop_now(void *arg)
{
	asked++;
	return *(bool *)arg;
}

UNIT_TEST(t_reconcile_interrupted)
{
	struct store *s;
	struct blob_dir *bd;
	struct store_reconcile_report rep;
	char name[64];
	bool stop = true;

	env_up("cpm_blob_test", LOG_WARN);
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK_EQ_INT(blob_dir_open(&bd, dir), 0);
	for (int i = 0; i < 5000; i++) { /* orphans: more than one check interval (4096) */
		snprintf(name, sizeof name, "blobs/orphan%05d", i);
		CHECK_EQ_INT(put_file(name, ""), 0);
	}
	store_set_interrupt(s, stop_now, &stop);
	asked = 0;
	CHECK_EQ_INT(store_reconcile(s, bd, 0, &rep, NULL, NULL, NULL), -EINTR);
	CHECK_EQ_INT(asked, 1);
	CHECK_EQ_INT(rep.blobs_removed, 0);
	CHECK(exists("blobs/orphan00000"));
	CHECK(exists("blobs/orphan04999"));
	stop = false; /* asked, answered no: the reconcile goes on to the end */
	asked = 0;
	CHECK_EQ_INT(store_reconcile(s, bd, 0, &rep, NULL, NULL, NULL), 0);
	CHECK(asked >= 1);
	CHECK_EQ_INT(rep.blobs_removed, 5000);
	CHECK(!exists("blobs/orphan04999"));
	blob_dir_close(bd);
	store_close(s);
	env_down();
}

/* ---- the durable acknowledgement path: blob commit off the loop, then the item ---- */
struct ack {
	unsigned n;
	int err[8];
	bool wrong_thread;
	pthread_t loop;
};

static void on_ack(void *arg, int err)
{
	struct ack *a = arg;

	if (!pthread_equal(pthread_self(), a->loop))
		a->wrong_thread = true;
	if (a->n < 8)
		a->err[a->n] = err;
	a->n++;
}

static void blobq_round(bool faulty)
{
	struct store *s, *inner;
	struct blob_dir *bd;
	struct store_blobq *q;
	struct store_item it;
	struct ack a = {.loop = pthread_self()}, b = {.loop = pthread_self()};
	uint64_t size;
	int fd;

	env_up("cpm_blob_test", LOG_WARN);
	done_n = 0;
	CHECK_EQ_INT(store_sqlite_open(&inner, loop, dbpath), 0);
	s = inner;
	/* faulty: the 3rd write (item put, partial put, then the STORED update) fails */
	if (faulty)
		CHECK_EQ_INT(store_faulty_wrap(&s, inner, 3, STORE_FAULT_ONLY_NTH), 0);
	CHECK_EQ_INT(blob_dir_open(&bd, dir), 0);
	CHECK_EQ_INT(store_blobq_create(&q, s, bd), 0);
	item(s, "up1", STORE_ITEM_RECEIVING, 1000);
	CHECK(wait_for(&done_n, 1));
	CHECK_EQ_INT(partial_append(bd, "up1", &fd, &size), 0);
	CHECK_EQ_INT(blob_append(fd, "the whole file", 14), 0);
	/* a resume checkpoint first: sync, then the partial row */
	struct store_partial p = {.item_id = "up1", .sender = "sip:alice@x", .bytes = 14, .expires_at_ms = 1000};
	struct ack c = {.loop = pthread_self()};
	CHECK_EQ_INT(store_blobq_checkpoint(q, fd, &p, on_ack, &c), 0);
	CHECK(wait_for(&c.n, 1));
	CHECK_EQ_INT(c.err[0], 0);
	CHECK_EQ_INT(store_partial_get(s, "up1", &p), 0);
	CHECK_EQ_INT(p.bytes, 14);
	CHECK_EQ_INT(store_item_get(s, "up1", &it), 0);
	it.state = STORE_ITEM_STORED;
	it.bytes_received = 14;
	CHECK_EQ_INT(store_blobq_commit(q, fd, &it, on_ack, &a), 0);
	/* a commit whose partial vanished: its error arrives, the item is untouched */
	CHECK_EQ_INT(partial_append(bd, "up2", &fd, &size), 0);
	CHECK_EQ_INT(blob_remove(bd, "up2", true), 0);
	snprintf(it.id, sizeof it.id, "up2");
	CHECK_EQ_INT(store_blobq_commit(q, fd, &it, on_ack, &b), 0);
	CHECK_EQ_INT(store_blobq_commit(q, 5, &(struct store_item){.id = "../x"}, on_ack, &b), -EINVAL);
	/* (the two answers may come in either order: up2 fails before any store write) */
	CHECK(wait_for(&a.n, 1));
	CHECK(wait_for(&b.n, 1));
	CHECK(!a.wrong_thread && !b.wrong_thread);
	CHECK_EQ_INT(a.n, 1);
	CHECK_EQ_INT(b.n, 1);
	CHECK_EQ_INT(a.err[0], faulty ? -EIO : 0);
	CHECK_EQ_INT(b.err[0], -ENOENT);
	CHECK(exists("blobs/up1"));
	CHECK(!exists("blobs/tmp/up1"));
	CHECK_EQ_INT(store_item_get(s, "up1", &it), 0);
	CHECK_EQ_INT(it.state, faulty ? STORE_ITEM_RECEIVING : STORE_ITEM_STORED);
	CHECK_EQ_INT(it.bytes_received, faulty ? 0 : 14);
	if (faulty) {
		/* never acknowledged: the next start-up's reconcile removes the final blob */
		struct store_reconcile_report rep;
		CHECK_EQ_INT(store_reconcile(s, bd, 0, &rep, NULL, NULL, NULL), 0);
		CHECK_EQ_INT(rep.blobs_removed, 1);
		CHECK(!exists("blobs/up1"));
	}
	store_blobq_destroy(q);
	blob_dir_close(bd);
	store_close(s);
	env_down();
}

UNIT_TEST(t_blobq_commit)
{
	blobq_round(false);
}

UNIT_TEST(t_blobq_commit_store_fails)
{
	blobq_round(true);
}

/* ---- the store of a data directory ---- */
UNIT_TEST(t_store_open_dir)
{
	struct store *s, *f;
	char data[400];

	env_up("cpm_blob_test", LOG_WARN);
	/* the directory and its parents are created, then the layout */
	snprintf(data, sizeof data, "%s/a/b/data", dir);
	CHECK_EQ_INT(store_open_dir(&s, loop, data), 0);
	CHECK(exists("a/b/data/cpmd.db"));
	CHECK(exists("a/b/data/blobs/tmp"));
	CHECK(exists("a/b/data/mss"));
	CHECK(store_blob_dir(s) != NULL);
	/* a fault-injecting wrapper lends its inner store's directory; closing closes it once */
	CHECK_EQ_INT(store_faulty_wrap(&f, s, 1, STORE_FAULT_ONLY_NTH), 0);
	CHECK(store_blob_dir(f) == store_blob_dir(s));
	store_close(f);
	/* reopen: everything exists already */
	CHECK_EQ_INT(store_open_dir(&s, loop, data), 0);
	store_close(s);
	/* a bare database has no blob directory */
	CHECK_EQ_INT(store_sqlite_open(&s, loop, dbpath), 0);
	CHECK(store_blob_dir(s) == NULL);
	store_close(s);
	CHECK(store_blob_dir(NULL) == NULL);
	s = NULL;
	CHECK_EQ_INT(store_open_dir(&s, loop, ""), -EINVAL);
	CHECK_EQ_INT(store_open_dir(&s, NULL, data), -EINVAL);
	CHECK_EQ_INT(put_file("plainfile", "x"), 0);
	snprintf(data, sizeof data, "%s/plainfile/data", dir);
	CHECK_EQ_INT(store_open_dir(&s, loop, data), -ENOTDIR);
	CHECK(s == NULL);
	env_down();
}

/* ---- the files API of the blob queue ---- */
static char *slurp(const char *rel)
{
	static char buf[256];
	int fd = open(at(rel), O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

struct files_env {
	struct store *s;
	struct store_blobq *q;
};

static int files_up(struct files_env *e)
{
	env_up("cpm_blob_test", LOG_WARN);
	done_n = 0;
	done_err = 0;
	if (store_open_dir(&e->s, loop, dir))
		return -1;
	return store_blobq_create(&e->q, e->s, store_blob_dir(e->s));
}

static void files_down(struct files_env *e)
{
	store_blobq_destroy(e->q);
	store_close(e->s);
	env_down();
}

/* Make id a complete blob holding `content` (through the real commit path). */
static bool committed_blob(struct files_env *e, const char *id, const char *content)
{
	struct store_item it = {.state = STORE_ITEM_STORED};
	struct ack a = {.loop = pthread_self()};
	uint64_t size;
	int fd;

	snprintf(it.id, sizeof it.id, "%s", id);
	item(e->s, id, STORE_ITEM_RECEIVING, 1000);
	if (store_blob_open_partial(e->q, id, true, &fd, &size) ||
	    pwrite(fd, content, strlen(content), 0) != (ssize_t)strlen(content) ||
	    store_blobq_commit(e->q, fd, &it, on_ack, &a))
		return false;
	return wait_for(&a.n, 1) && a.err[0] == 0;
}

UNIT_TEST(t_blobq_open)
{
	struct files_env e;
	uint64_t size = 99;
	int fd = -1, fd2 = -1;
	char buf[32];

	CHECK_EQ_INT(files_up(&e), 0);
	/* a new partial: read-write (a resume's hasher reads it back), not O_APPEND (the relay
	 * writes with pwrite at its own count), empty */
	CHECK_EQ_INT(store_blob_open_partial(e.q, "p1", true, &fd, &size), 0);
	CHECK_EQ_INT(size, 0);
	int fl = fcntl(fd, F_GETFL);
	CHECK_EQ_INT(fl & O_ACCMODE, O_RDWR);
	CHECK(!(fl & O_APPEND));
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK_EQ_INT(pwrite(fd, "abcdef", 6, 0), 6);
	CHECK_EQ_INT(pread(fd, buf, 3, 2), 3);
	CHECK(!memcmp(buf, "cde", 3));
	close(fd);
	CHECK(exists("blobs/tmp/p1"));
	/* resume: it must exist, and comes with its size */
	CHECK_EQ_INT(store_blob_open_partial(e.q, "p1", false, &fd, &size), 0);
	CHECK_EQ_INT(size, 6);
	CHECK_EQ_INT(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	close(fd);
	CHECK_EQ_INT(store_blob_open_partial(e.q, "nope1", false, &fd, &size), -ENOENT);
	CHECK(!exists("blobs/tmp/nope1"));
	/* fresh again: a live transfer that became a deferred one starts over, emptied */
	CHECK_EQ_INT(store_blob_open_partial(e.q, "p1", true, &fd, &size), 0);
	CHECK_EQ_INT(size, 0);
	close(fd);
	CHECK_EQ_INT(slurp("blobs/tmp/p1")[0], '\0');
	/* a complete blob, read-only, at an offset; a partial is not a complete blob */
	CHECK_EQ_INT(store_blob_open_read(e.q, "p1", 0, &fd, &size), -ENOENT);
	CHECK(committed_blob(&e, "c1", "hello world"));
	CHECK_EQ_INT(store_blob_open_read(e.q, "c1", 6, &fd2, &size), 0);
	CHECK_EQ_INT(size, 11);
	CHECK_EQ_INT(fcntl(fd2, F_GETFL) & O_ACCMODE, O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK_EQ_INT(read(fd2, buf, sizeof buf), 5);
	CHECK_STR(buf, "world");
	close(fd2);
	CHECK_EQ_INT(store_blob_open_read(e.q, "c1", 12, &fd2, &size), -EINVAL);
	/* a symlink planted where a partial would be is not followed */
	CHECK_EQ_INT(put_file("victim", "keep me"), 0);
	CHECK_EQ_INT(symlink(at("victim"), at("blobs/tmp/link1")), 0);
	CHECK_EQ_INT(store_blob_open_partial(e.q, "link1", true, &fd, &size), -ELOOP);
	CHECK_STR(slurp("victim"), "keep me");
	files_down(&e);
}

UNIT_TEST(t_blobq_remove_move)
{
	struct files_env e;
	struct ack a = {.loop = pthread_self()};
	uint64_t size;
	unsigned u0, r0;
	int fd;

	CHECK_EQ_INT(files_up(&e), 0);
	/* a partial */
	CHECK_EQ_INT(store_blob_open_partial(e.q, "p1", true, &fd, &size), 0);
	close(fd);
	u0 = __atomic_load_n(&unlinks, __ATOMIC_SEQ_CST);
	CHECK_EQ_INT(store_blob_remove(e.q, "p1", true, on_ack, &a), 0);
	CHECK_EQ_INT(a.n, 0); /* never from inside the call */
	CHECK(wait_for(&a.n, 1));
	CHECK_EQ_INT(a.err[0], 0);
	CHECK(!exists("blobs/tmp/p1"));
	CHECK(__atomic_load_n(&unlinks, __ATOMIC_SEQ_CST) > u0);
	CHECK(!pthread_equal(last_unlink_thread, pthread_self())); /* the blob thread unlinked */
	/* a missing file: -ENOENT through the completion, in the loop thread */
	CHECK_EQ_INT(store_blob_remove(e.q, "p1", true, on_ack, &a), 0);
	CHECK_EQ_INT(store_blob_remove(e.q, "never1", false, on_ack, &a), 0);
	CHECK(wait_for(&a.n, 3));
	CHECK_EQ_INT(a.err[1], -ENOENT);
	CHECK_EQ_INT(a.err[2], -ENOENT);
	CHECK(!a.wrong_thread);
	/* a complete blob; and NULL done is fine */
	CHECK(committed_blob(&e, "c1", "one"));
	CHECK(exists("blobs/c1"));
	CHECK_EQ_INT(store_blob_remove(e.q, "c1", true, NULL, NULL), 0); /* the partial name: gone already */
	CHECK_EQ_INT(store_blob_remove(e.q, "c1", false, on_ack, &a), 0);
	CHECK(wait_for(&a.n, 4));
	CHECK_EQ_INT(a.err[3], 0);
	CHECK(!exists("blobs/c1"));
	/* requests run in order: a removal queued right after a commit of the same id finds the
	 * committed file */
	{
		struct store_item it = {.id = "o1", .state = STORE_ITEM_STORED};
		struct ack c = {.loop = pthread_self()}, d = {.loop = pthread_self()};
		item(e.s, "o1", STORE_ITEM_RECEIVING, 1000);
		CHECK_EQ_INT(store_blob_open_partial(e.q, "o1", true, &fd, &size), 0);
		CHECK_EQ_INT(store_blobq_commit(e.q, fd, &it, on_ack, &c), 0);
		CHECK_EQ_INT(store_blob_remove(e.q, "o1", false, on_ack, &d), 0);
		CHECK(wait_for(&c.n, 1) && wait_for(&d.n, 1));
		CHECK_EQ_INT(c.err[0], 0);
		CHECK_EQ_INT(d.err[0], 0);
		CHECK(!exists("blobs/o1") && !exists("blobs/tmp/o1"));
	}
	/* the message-store hand-off: blobs/<id> → mss/<id>, on the blob thread */
	CHECK(committed_blob(&e, "m1", "kept for the MSS"));
	struct ack m = {.loop = pthread_self()};
	r0 = __atomic_load_n(&renames, __ATOMIC_SEQ_CST);
	CHECK_EQ_INT(store_blob_move_to_mss(e.q, "m1", on_ack, &m), 0);
	CHECK(wait_for(&m.n, 1));
	CHECK_EQ_INT(m.err[0], 0);
	CHECK(!m.wrong_thread);
	CHECK(!exists("blobs/m1"));
	CHECK_STR(slurp("mss/m1"), "kept for the MSS");
	CHECK(__atomic_load_n(&renames, __ATOMIC_SEQ_CST) > r0);
	CHECK(!pthread_equal(last_rename_thread, pthread_self()));
	CHECK_EQ_INT(store_blob_move_to_mss(e.q, "m1", on_ack, &m), 0); /* not there any more */
	CHECK(wait_for(&m.n, 2));
	CHECK_EQ_INT(m.err[1], -ENOENT);
	CHECK_STR(slurp("mss/m1"), "kept for the MSS");
	/* what reconcile sees: mss/ is not the blob directory */
	struct store_reconcile_report rep;
	CHECK_EQ_INT(store_reconcile(e.s, store_blob_dir(e.s), 0, &rep, NULL, NULL, NULL), 0);
	CHECK(exists("mss/m1"));
	files_down(&e);
}

UNIT_TEST(t_blobq_hostile_ids)
{
	static const char *const bad[] = {"../x", "..", ".", "", "tmp/../../victim", "/etc/passwd", "a b",
					  "a\nb", "123456789012345678901234567890123", "../mss/x", "../../victim"};
	struct files_env e;
	struct ack a = {.loop = pthread_self()};
	uint64_t size;
	int fd = -1;

	CHECK_EQ_INT(files_up(&e), 0);
	CHECK_EQ_INT(put_file("victim", "keep me"), 0);
	CHECK_EQ_INT(put_file("blobs/victim", "keep me"), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(store_blob_remove(e.q, bad[i], false, on_ack, &a), -EINVAL);
		CHECK_EQ_INT(store_blob_remove(e.q, bad[i], true, on_ack, &a), -EINVAL);
		CHECK_EQ_INT(store_blob_move_to_mss(e.q, bad[i], on_ack, &a), -EINVAL);
		CHECK_EQ_INT(store_blob_open_partial(e.q, bad[i], true, &fd, &size), -EINVAL);
		CHECK_EQ_INT(store_blob_open_partial(e.q, bad[i], false, &fd, &size), -EINVAL);
		CHECK_EQ_INT(store_blob_open_read(e.q, bad[i], 0, &fd, &size), -EINVAL);
	}
	CHECK_EQ_INT(store_blob_remove(e.q, NULL, false, on_ack, &a), -EINVAL);
	CHECK_EQ_INT(store_blob_open_read(e.q, "ok1", 0, NULL, &size), -EINVAL);
	/* refused: nothing queued, no done, nothing touched */
	store_blobq_drain(e.q);
	for (int i = 0; i < 5; i++)
		loop_step(loop, 1);
	CHECK_EQ_INT(a.n, 0);
	CHECK(fd == -1);
	CHECK_STR(slurp("victim"), "keep me");
	CHECK_STR(slurp("blobs/victim"), "keep me");
	files_down(&e);
}

/* drain answers everything queued and the queue stays usable; destroy runs what is still
 * queued and answers it. */
UNIT_TEST(t_blobq_drain_destroy)
{
	struct files_env e;
	struct ack a = {.loop = pthread_self()};
	uint64_t size;
	char id[16];
	int fd;

	CHECK_EQ_INT(files_up(&e), 0);
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof id, "d%d", i);
		CHECK_EQ_INT(store_blob_open_partial(e.q, id, true, &fd, &size), 0);
		close(fd);
		CHECK_EQ_INT(store_blob_remove(e.q, id, true, on_ack, &a), 0);
	}
	store_blobq_drain(e.q);
	CHECK_EQ_INT(a.n, 6);
	CHECK(!a.wrong_thread);
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(a.err[i], 0);
	CHECK(!exists("blobs/tmp/d0") && !exists("blobs/tmp/d5"));
	CHECK_EQ_INT(store_blob_open_partial(e.q, "late1", true, &fd, &size), 0);
	close(fd);
	struct ack b = {.loop = pthread_self()};
	CHECK_EQ_INT(store_blob_remove(e.q, "late1", true, on_ack, &b), 0);
	store_blobq_destroy(e.q); /* runs it, and its done */
	e.q = NULL;
	CHECK_EQ_INT(b.n, 1);
	CHECK_EQ_INT(b.err[0], 0);
	CHECK(!exists("blobs/tmp/late1"));
	files_down(&e);
}

UNIT_MAIN(T(t_blob_write_resume_commit_read), T(t_blob_hostile_ids), T(t_reconcile), T(t_reconcile_interrupted), T(t_blobq_commit),
	  T(t_blobq_commit_store_fails), T(t_store_open_dir), T(t_blobq_open), T(t_blobq_remove_move),
	  T(t_blobq_hostile_ids), T(t_blobq_drain_destroy))
