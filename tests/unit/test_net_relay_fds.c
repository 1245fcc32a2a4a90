/* The relay's ownership of file descriptors (src/relay/ft_relay.h, FILE
 * DESCRIPTORS): the relay never opens a file; the store does
 * (store_blob_open_partial, store_blob_open_read, as pf calls them), and
 * the descriptor is handed over in the relay's parameters:
 *   - created (0): the relay owns it and closes it exactly once, in
 *     ft_relay_destroy(), whatever way the transfer went (complete, sender
 *     aborted, device lost, destroyed mid-way) -- not at done(), so that
 *     ft_relay_blob_dup() still works then;
 *   - not created (< 0): it is still the caller's, untouched;
 *   - a resumed upload's hasher thread reads through its own dup, which it
 *     closes itself.
 * Checked three ways in every path: the count of /proc/self/fd before and
 * after, close() interposed (the descriptor handed over is closed once
 * while it still names its file, and no close() in the process fails with
 * EBADF, the trace of a double close), and descriptors the test keeps (a
 * canary, and those of refused creates) are still open afterwards.
 *
 * The relays run on loopback sockets in the same loop as the store
 * (net/loop.h), with the test peers of tests/unit/net_peer.c. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "cpm/msrp.h"
#include "net/loop_su.h"
#include "relay/ft_relay.h"
#include "store/store.h"
#include "store/store_blobq.h"
#include "unit.h"

#include "net_peer.h"

/* ---------------------------------------------------------------- close(), watched */

static int (*real_close)(int);
static struct {
	int fd;
	dev_t dev;
	ino_t ino;
} watched;
static unsigned watched_closes; /* closes of watched.fd while it named watched's file */
static unsigned ebadf_closes;   /* close() of a descriptor that was not open */

int close(int fd)
{
	struct stat st;
	int rc, e;

	if (!real_close)
		*(void **)&real_close = dlsym(RTLD_NEXT, "close");
	if (fd == __atomic_load_n(&watched.fd, __ATOMIC_SEQ_CST) && fd >= 0 && fstat(fd, &st) == 0 &&
	    st.st_dev == watched.dev && st.st_ino == watched.ino)
		__atomic_add_fetch(&watched_closes, 1, __ATOMIC_SEQ_CST);
	rc = real_close(fd);
	e = errno;
	if (rc < 0 && e == EBADF)
		__atomic_add_fetch(&ebadf_closes, 1, __ATOMIC_SEQ_CST);
	errno = e;
	return rc;
}

static void watch(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		abort();
	watched.dev = st.st_dev;
	watched.ino = st.st_ino;
	__atomic_store_n(&watched_closes, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&watched.fd, fd, __ATOMIC_SEQ_CST);
}

static void unwatch(void)
{
	__atomic_store_n(&watched.fd, -1, __ATOMIC_SEQ_CST);
}

static unsigned closes(void)
{
	return __atomic_load_n(&watched_closes, __ATOMIC_SEQ_CST);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* ---------------------------------------------------------------- fixture */

static struct loop *lp;
static struct store *st;
static struct store_blobq *bq;
static struct msrp_hub *hub;
static char dir[64];
static int canary = -1; /* a descriptor the test owns all along */

struct fx {
	struct ft_relay *r;
	int done_calls, received;
	enum ft_relay_result res;
};

static void on_done(void *arg, enum ft_relay_result res, const char *detail)
{
	struct fx *f = arg;

	(void)detail;
	f->done_calls++;
	f->res = res;
}

static void on_event(void *arg, enum ft_relay_result ev, const char *detail)
{
	struct fx *f = arg;

	(void)detail;
	if (ev == FT_RELAY_RECEIVED)
		f->received++;
}

static bool is_done(void *arg) { return ((struct fx *)arg)->done_calls > 0; }
static bool is_received(void *arg) { return ((struct fx *)arg)->received > 0; }

static int env_up(void)
{
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .port = 0, .bind_timeout = 5};

	if (lp)
		return 0;
	log_threshold = LOG_WARN;
	if (loop_create(&lp))
		return -1;
	root = loop_su_root(lp); /* the peers and the hub step the same loop */
	strcpy(dir, "/tmp/cpm-fds-XXXXXX");
	if (!mkdtemp(dir) || store_open_dir(&st, lp, dir) || store_blobq_create(&bq, st, store_blob_dir(st)) ||
	    msrp_hub_create(&hub, root, &cfg))
		return -1;
	canary = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return canary >= 0 ? 0 : -1;
}

/* Step the loop until the process has `n` descriptors again (draining
 * connections close, a hasher thread closes its dup). */
static bool fds_back_to(int n)
{
	uint64_t end = now_ms() + 4000;

	while (count_fds() != n && now_ms() < end)
		loop_step(lp, 5);
	return count_fds() == n;
}

static void stepn(int n)
{
	for (int i = 0; i < n; i++)
		loop_step(lp, 1);
}

static char *make_file(size_t n)
{
	char *d = malloc(n);

	for (size_t i = 0; i < n; i++)
		d[i] = (char)(i * 13 + (i >> 8));
	return d;
}

/* A partial the way an earlier upload left it, written through a store
 * descriptor: the first n bytes of file. */
static int put_partial(const char *id, const char *file, size_t n)
{
	uint64_t size;
	int fd;
	bool ok;

	if (store_blob_open_partial(bq, id, true, &fd, &size))
		return -1;
	ok = pwrite(fd, file, n, 0) == (ssize_t)n;
	close(fd);
	return ok ? 0 : -1;
}

static void on_commit(void *arg, int err)
{
	*(int *)arg = err ? err : 1;
}

/* A complete blob, made the way pf makes one: partial, then the commit. */
static int put_blob(const char *id, const char *file, size_t n)
{
	struct store_item it = {.state = STORE_ITEM_STORED, .expires_at_ms = INT64_MAX};
	uint64_t size;
	int fd, res = 0;

	snprintf(it.id, sizeof it.id, "%s", id);
	if (store_item_put(st, &it, NULL, NULL, NULL) || put_partial(id, file, n) ||
	    store_blob_open_partial(bq, id, false, &fd, &size))
		return -1;
	if (store_blobq_commit(bq, fd, &it, on_commit, &res))
		return -1;
	for (int i = 0; i < 5000 && !res; i++)
		loop_step(lp, 1);
	return res == 1 ? 0 : -1;
}

static int send_chunk(struct peer *pe, const char *to, const char *tid, const char *data, uint64_t start,
		      size_t len, uint64_t total, char flag, struct peer *other)
{
	char head[1024];
	char end[64];
	int n = snprintf(head, sizeof head,
			 "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
			 "Byte-Range: %llu-%llu/%llu\r\nSuccess-Report: yes\r\nFailure-Report: yes\r\n"
			 "Content-Type: application/octet-stream\r\n\r\n",
			 tid, to, SENDER_PATH, (unsigned long long)start, (unsigned long long)(start + len - 1),
			 (unsigned long long)total);
	int e = snprintf(end, sizeof end, "\r\n-------%s%c\r\n", tid, flag);

	if (peer_send(pe, head, (size_t)n, other) || peer_send(pe, data, len, other) ||
	    peer_send(pe, end, (size_t)e, other))
		return -1;
	return 0;
}

static int connect_peer(struct peer *pe, const char *to, const char *from, const char *tid)
{
	struct want w = {pe, 1, 1};

	if (peer_connect(pe, msrp_hub_port(hub)) || send_bind(pe, to, from, tid))
		return -1;
	return run_until(peer_has, &w, pe, NULL, STEP_LIMIT_MS) && pe->rx[0].status == 200 ? 0 : -1;
}

/* A device that answers 200 to every chunk and reports the whole message
 * after the '$' chunk. */
struct dev {
	struct peer *pe;
	unsigned seen;
	uint64_t total;
	struct fx *f;
	unsigned chunks;
	unsigned hang_up_after; /* close the connection after this many chunks (0: never) */
};

static void dev_answer(struct dev *d)
{
	peer_poll(d->pe);
	while (d->pe->fd >= 0 && d->seen < d->pe->n) {
		const struct rx *x = &d->pe->rx[d->seen % MAX_RX];

		if (x->method == MSRP_METHOD_SEND && !x->flag)
			return; /* still arriving */
		d->seen++;
		if (x->method != MSRP_METHOD_SEND || !x->body_len)
			continue;
		d->chunks++;
		if (d->hang_up_after && d->chunks >= d->hang_up_after) {
			close(d->pe->fd);
			d->pe->fd = -1;
			return;
		}
		device_respond(d->pe, x, 200, "OK");
		if (x->flag == '$')
			device_report(d->pe, x, d->total);
	}
}

static bool dev_run_until_done(struct dev *d, struct peer *snd)
{
	uint64_t end = now_ms() + STEP_LIMIT_MS;

	while (!d->f->done_calls && now_ms() < end) {
		loop_step(lp, 1);
		if (snd)
			peer_poll(snd);
		dev_answer(d);
	}
	return d->f->done_calls > 0;
}

/* ---------------------------------------------------------------- a handed-over tee */

/* A live relay on a fresh partial: the file gets through; the relay still
 * holds the blob after done() (blob_dup works), and destroy closes it. */
UNIT_TEST(test_fds_tee_complete)
{
	const size_t total = 150000;
	char *file = make_file(total);
	struct ft_relay_params p = {.size = total, .has_sha1 = true, .has_blob = true, .event = on_event};
	struct fx f = {0};
	struct peer snd, dev;
	struct dev d = {.pe = &dev, .total = total, .f = &f};
	uint64_t size;
	int base, fd, dup_fd;

	CHECK(env_up() == 0);
	sha1_of(file, total, p.sha1);
	base = count_fds();
	CHECK_EQ_INT(store_blob_open_partial(bq, "tee1", true, &fd, &size), 0);
	watch(fd);
	p.blob_fd = fd;
	CHECK_EQ_INT(ft_relay_create(&f.r, hub, &p, on_done, &f), 0);
	/* handed over: the descriptor is the relay's, the test holds nothing more */
	CHECK_EQ_INT(count_fds(), base + 1);
	CHECK(ft_relay_set_peer_path(f.r, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(ft_relay_set_peer_path(f.r, FT_LEG_DOWN, DEVICE_PATH) == 0);
	CHECK(connect_peer(&snd, ft_relay_path(f.r, FT_LEG_UP), SENDER_PATH, "sbind01") == 0);
	CHECK(connect_peer(&dev, ft_relay_path(f.r, FT_LEG_DOWN), DEVICE_PATH, "dbind01") == 0);
	d.seen = 1;
	CHECK(send_chunk(&snd, ft_relay_path(f.r, FT_LEG_UP), "ch000001", file, 1, 100000, total, '+', &dev) == 0);
	CHECK(send_chunk(&snd, ft_relay_path(f.r, FT_LEG_UP), "ch000002", file + 100000, 100001, total - 100000,
			 total, '$', &dev) == 0);
	CHECK(dev_run_until_done(&d, &snd));
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	/* ended, not destroyed: the relay still holds its blob */
	CHECK(fd_open(fd));
	CHECK_EQ_INT(closes(), 0);
	dup_fd = ft_relay_blob_dup(f.r);
	CHECK(dup_fd >= 0 && dup_fd != fd);
	CHECK(fsync(dup_fd) == 0);
	close(dup_fd); /* the dup is the caller's */
	CHECK_EQ_INT(closes(), 0);
	ft_relay_destroy(f.r);
	CHECK_EQ_INT(closes(), 1); /* closed by destroy, at once */
	CHECK(!fd_open(fd));
	unwatch();
	peer_close(&snd);
	peer_close(&dev);
	CHECK(fds_back_to(base));
	stepn(10);
	CHECK_EQ_INT(closes(), 1);
	CHECK(fd_open(canary));
	CHECK_EQ_INT(ebadf_closes, 0);
	/* the bytes went through the store's descriptor */
	char path[128];
	size_t blen = 0;
	snprintf(path, sizeof path, "%s/blobs/tmp/tee1", dir);
	char *blob = read_file(path, &blen);
	CHECK(blob && blen == total && !memcmp(blob, file, total));
	free(blob);
	free(file);
}

/* Store mode, the sender leaves half-way: done(SENDER_ABORTED); the
 * descriptor is closed by destroy only. */
UNIT_TEST(test_fds_tee_sender_aborted)
{
	const size_t total = 60000;
	char *file = make_file(total);
	struct ft_relay_params p = {.size = total, .has_blob = true, .store_only = true, .event = on_event};
	struct fx f = {0};
	struct peer snd;
	uint64_t size;
	int base, fd;

	CHECK(env_up() == 0);
	base = count_fds();
	CHECK_EQ_INT(store_blob_open_partial(bq, "abort1", true, &fd, &size), 0);
	watch(fd);
	p.blob_fd = fd;
	CHECK_EQ_INT(ft_relay_create(&f.r, hub, &p, on_done, &f), 0);
	CHECK(ft_relay_set_peer_path(f.r, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(connect_peer(&snd, ft_relay_path(f.r, FT_LEG_UP), SENDER_PATH, "sbind01") == 0);
	CHECK(send_chunk(&snd, ft_relay_path(f.r, FT_LEG_UP), "half0001", file, 1, 20000, total, '+', NULL) == 0);
	stepn(20);
	peer_close(&snd);
	CHECK(run_until(is_done, &f, NULL, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_SENDER_ABORTED);
	CHECK_EQ_INT(f.received, 0);
	CHECK(fd_open(fd));
	CHECK_EQ_INT(closes(), 0);
	ft_relay_destroy(f.r);
	CHECK_EQ_INT(closes(), 1);
	unwatch();
	CHECK(fds_back_to(base));
	CHECK(fd_open(canary));
	CHECK_EQ_INT(ebadf_closes, 0);
	free(file);
}

/* A live relay destroyed in the middle of the file (no done() at all). */
UNIT_TEST(test_fds_tee_destroyed_midway)
{
	const size_t total = 200000;
	char *file = make_file(total);
	struct ft_relay_params p = {.size = total, .has_blob = true};
	struct fx f = {0};
	struct peer snd, dev;
	struct want w;
	uint64_t size;
	int base, fd;

	CHECK(env_up() == 0);
	base = count_fds();
	CHECK_EQ_INT(store_blob_open_partial(bq, "mid1", true, &fd, &size), 0);
	watch(fd);
	p.blob_fd = fd;
	CHECK_EQ_INT(ft_relay_create(&f.r, hub, &p, on_done, &f), 0);
	CHECK(ft_relay_set_peer_path(f.r, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(ft_relay_set_peer_path(f.r, FT_LEG_DOWN, DEVICE_PATH) == 0);
	CHECK(connect_peer(&snd, ft_relay_path(f.r, FT_LEG_UP), SENDER_PATH, "sbind01") == 0);
	CHECK(connect_peer(&dev, ft_relay_path(f.r, FT_LEG_DOWN), DEVICE_PATH, "dbind01") == 0);
	CHECK(send_chunk(&snd, ft_relay_path(f.r, FT_LEG_UP), "mid00001", file, 1, 50000, total, '+', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.done_calls, 0);
	ft_relay_destroy(f.r);
	CHECK_EQ_INT(closes(), 1);
	CHECK_EQ_INT(f.done_calls, 0); /* no callback after destroy */
	unwatch();
	stepn(20);
	peer_close(&snd);
	peer_close(&dev);
	CHECK(fds_back_to(base));
	CHECK(fd_open(canary));
	CHECK_EQ_INT(ebadf_closes, 0);
	free(file);
}

/* ---------------------------------------------------------------- a handed-over stored blob */

static void source_round(bool device_hangs_up)
{
	const size_t total = 200000; /* 4 chunks */
	char *file = make_file(total);
	struct ft_relay_source_params sp = {.size = total, .has_sha1 = true, .message_id = "stored0001"};
	struct fx f = {0};
	struct peer dev;
	struct dev d = {.pe = &dev, .total = total, .f = &f, .hang_up_after = device_hangs_up ? 2 : 0};
	const char *id = device_hangs_up ? "srcb" : "srca";
	uint64_t size;
	int base, fd;

	CHECK(env_up() == 0);
	sha1_of(file, total, sp.sha1);
	CHECK(put_blob(id, file, total) == 0);
	base = count_fds();
	CHECK_EQ_INT(store_blob_open_read(bq, id, 0, &fd, &size), 0);
	CHECK_EQ_INT(size, total);
	watch(fd);
	sp.blob_fd = fd;
	CHECK_EQ_INT(ft_relay_create_source(&f.r, hub, &sp, on_done, &f), 0);
	CHECK_EQ_INT(count_fds(), base + 1);
	CHECK(ft_relay_set_peer_path(f.r, FT_LEG_DOWN, DEVICE_PATH) == 0);
	CHECK(connect_peer(&dev, ft_relay_path(f.r, FT_LEG_DOWN), DEVICE_PATH, "dbind01") == 0);
	d.seen = 1;
	CHECK(dev_run_until_done(&d, NULL));
	CHECK_EQ_INT(f.res, device_hangs_up ? FT_RELAY_RECIPIENT_LOST : FT_RELAY_COMPLETE);
	CHECK(fd_open(fd));
	CHECK_EQ_INT(closes(), 0);
	ft_relay_destroy(f.r);
	CHECK_EQ_INT(closes(), 1);
	unwatch();
	peer_close(&dev);
	CHECK(fds_back_to(base));
	CHECK(fd_open(canary));
	CHECK_EQ_INT(ebadf_closes, 0);
	free(file);
}

UNIT_TEST(test_fds_source_complete)
{
	source_round(false);
}

UNIT_TEST(test_fds_source_device_lost)
{
	source_round(true);
}

/* ---------------------------------------------------------------- a handed-over partial (resume) */

static void resume_round(bool sender_aborts)
{
	const size_t total = 300000, off = 120000, rest = total - off;
	char *file = make_file(total);
	struct ft_relay_params p = {.size = total, .has_sha1 = true, .has_blob = true, .store_only = true,
				    .event = on_event, .resume_offset = off};
	struct fx f = {0};
	struct peer snd;
	const char *id = sender_aborts ? "resb" : "resa";
	uint64_t size;
	int base, fd;

	CHECK(env_up() == 0);
	sha1_of(file, total, p.sha1);
	CHECK(put_partial(id, file, off) == 0);
	base = count_fds();
	CHECK_EQ_INT(store_blob_open_partial(bq, id, false, &fd, &size), 0);
	CHECK_EQ_INT(size, off);
	watch(fd);
	p.blob_fd = fd;
	CHECK_EQ_INT(ft_relay_create(&f.r, hub, &p, on_done, &f), 0);
	CHECK(ft_relay_set_peer_path(f.r, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(connect_peer(&snd, ft_relay_path(f.r, FT_LEG_UP), SENDER_PATH, "sbind01") == 0);
	if (sender_aborts) {
		CHECK(send_chunk(&snd, ft_relay_path(f.r, FT_LEG_UP), "rs000001", file + off, 1, 50000, rest, '+',
				 NULL) == 0);
		stepn(20);
		peer_close(&snd);
		CHECK(run_until(is_done, &f, NULL, NULL, STEP_LIMIT_MS));
		CHECK_EQ_INT(f.res, FT_RELAY_SENDER_ABORTED);
	} else {
		CHECK(send_chunk(&snd, ft_relay_path(f.r, FT_LEG_UP), "rs000001", file + off, 1, rest, rest, '$',
				 NULL) == 0);
		CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
		CHECK(fd_open(fd));
		CHECK_EQ_INT(ft_relay_ack_received(f.r, 0), 0);
		CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
		peer_close(&snd);
	}
	CHECK(fd_open(fd));
	CHECK_EQ_INT(closes(), 0);
	ft_relay_destroy(f.r);
	CHECK_EQ_INT(closes(), 1);
	unwatch();
	/* the hasher's own dup goes with the thread */
	CHECK(fds_back_to(base));
	CHECK(fd_open(canary));
	CHECK_EQ_INT(ebadf_closes, 0);
	free(file);
}

UNIT_TEST(test_fds_resume_complete)
{
	resume_round(false);
}

UNIT_TEST(test_fds_resume_sender_aborted)
{
	resume_round(true);
}

/* ---------------------------------------------------------------- create failures */

/* Whatever makes a create fail, early (parameter checks) or late (after
 * the relay took the descriptor into its state: a resume's blob that
 * cannot be cut, a source of the wrong size), the descriptor is the
 * caller's, open and untouched. */
UNIT_TEST(test_fds_create_failures)
{
	const size_t total = 10000;
	char *file = make_file(total);
	struct ft_relay *r = NULL;
	struct fx f = {0};
	char path[128];
	uint64_t size;
	int base, fd;

	CHECK(env_up() == 0);
	CHECK(put_blob("fail1", file, total) == 0);
	CHECK(put_partial("fail2", file, 5000) == 0);
	base = count_fds();

	/* store mode without an event callback: refused before anything */
	{
		struct ft_relay_params p = {.size = total, .has_blob = true, .store_only = true};
		CHECK_EQ_INT(store_blob_open_partial(bq, "fail3", true, &fd, &size), 0);
		watch(fd);
		p.blob_fd = fd;
		CHECK_EQ_INT(ft_relay_create(&r, hub, &p, on_done, &f), -EINVAL);
		CHECK(r == NULL && fd_open(fd));
		/* and a resume without the file's hash */
		p.event = on_event;
		p.resume_offset = 10;
		CHECK_EQ_INT(ft_relay_create(&r, hub, &p, on_done, &f), -EINVAL);
		CHECK(r == NULL && fd_open(fd));
		CHECK_EQ_INT(closes(), 0);
		close(fd); /* still ours */
		CHECK_EQ_INT(closes(), 1);
		unwatch();
	}
	/* a resume whose blob cannot be cut to the offset (open read-only): the
	 * relay existed already, and gives the descriptor back */
	{
		struct ft_relay_params p = {.size = total, .has_sha1 = true, .has_blob = true, .store_only = true,
					    .event = on_event, .resume_offset = 4000};
		snprintf(path, sizeof path, "%s/blobs/tmp/fail2", dir);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0);
		watch(fd);
		p.blob_fd = fd;
		CHECK(ft_relay_create(&r, hub, &p, on_done, &f) < 0);
		CHECK(r == NULL && fd_open(fd));
		CHECK_EQ_INT(closes(), 0);
		close(fd);
		CHECK_EQ_INT(closes(), 1);
		unwatch();
	}
	/* a source: a bad Message-ID (refused before), the wrong size (refused
	 * after the relay took the descriptor into its state) */
	{
		struct ft_relay_source_params sp = {.size = total + 1};
		CHECK_EQ_INT(store_blob_open_read(bq, "fail1", 0, &fd, &size), 0);
		watch(fd);
		sp.blob_fd = fd;
		CHECK_EQ_INT(ft_relay_create_source(&r, hub, &sp, on_done, &f), -EINVAL);
		CHECK(r == NULL && fd_open(fd));
		sp.size = total;
		sp.message_id = "bad id";
		CHECK_EQ_INT(ft_relay_create_source(&r, hub, &sp, on_done, &f), -EINVAL);
		CHECK(r == NULL && fd_open(fd));
		CHECK_EQ_INT(closes(), 0);
		/* the same descriptor then serves a relay that is created */
		sp.message_id = NULL;
		CHECK_EQ_INT(ft_relay_create_source(&r, hub, &sp, on_done, &f), 0);
		ft_relay_destroy(r);
		CHECK_EQ_INT(closes(), 1);
		unwatch();
	}
	/* a descriptor that is not one */
	{
		struct ft_relay_params p = {.size = total, .has_blob = true, .blob_fd = -1};
		struct ft_relay_source_params sp = {.size = total, .blob_fd = -1};
		CHECK_EQ_INT(ft_relay_create(&r, hub, &p, on_done, &f), -EINVAL);
		CHECK_EQ_INT(ft_relay_create_source(&r, hub, &sp, on_done, &f), -EINVAL);
	}
	stepn(10);
	CHECK(fds_back_to(base));
	CHECK(fd_open(canary));
	CHECK_EQ_INT(ebadf_closes, 0);
	CHECK_EQ_INT(f.done_calls, 0);
	free(file);
}

/* Last: everything this program opened goes (store, hub, loop). */
UNIT_TEST(test_fds_teardown)
{
	char cmd[128];

	CHECK(env_up() == 0);
	msrp_hub_destroy(hub);
	store_blobq_destroy(bq);
	store_close(st);
	loop_destroy(lp);
	lp = NULL;
	root = NULL;
	close(canary);
	CHECK_EQ_INT(ebadf_closes, 0);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

UNIT_MAIN(T(test_fds_tee_complete), T(test_fds_tee_sender_aborted), T(test_fds_tee_destroyed_midway),
	  T(test_fds_source_complete), T(test_fds_source_device_lost), T(test_fds_resume_complete),
	  T(test_fds_resume_sender_aborted), T(test_fds_create_failures), T(test_fds_teardown))
