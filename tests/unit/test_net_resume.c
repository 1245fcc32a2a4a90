/* Upload resume in store mode (params.resume_offset), the relay's tee worker
 * (relay_tee_worker.c: a slow disk, a write error mid-file, a relay destroyed
 * with a full ring) and the extension header of the stored acknowledgement
 * (ft_relay_set_ack_header), over real loopback sockets and a real su_root.
 *
 * The resume's whole-file sha-1 is computed by a worker thread that reads
 * the blob with pread(). This program interposes pread() (the relay is
 * linked into it): reads from any thread but the test's own pass through a
 * gate that a test can close (the worker then waits, so the test can show
 * that the loop goes on without it, deterministically, without timing) or
 * make fail (an I/O error on the stored prefix). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sofia-sip/su_wait.h>

#include "cpm/msrp.h"
#include "relay/ft_relay.h"
#include "unit.h"

#include "net_peer.h"

/* ---------------------------------------------------------------- the pread gate */

static pthread_t test_thread;
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_closed;
static int gate_errno;      /* non-zero: worker reads fail with it */
static unsigned gate_waits; /* worker reads that found the gate closed */
static ssize_t (*real_pread)(int, void *, size_t, off_t);

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	if (!pthread_equal(pthread_self(), test_thread)) {
		int fail;

		pthread_mutex_lock(&gate_mu);
		if (gate_closed)
			gate_waits++;
		while (gate_closed)
			pthread_cond_wait(&gate_cv, &gate_mu);
		fail = gate_errno;
		pthread_mutex_unlock(&gate_mu);
		if (fail) {
			errno = fail;
			return -1;
		}
	}
	return real_pread(fd, buf, n, off);
}

/* With _FORTIFY_SOURCE, pread() of a known-size buffer becomes this. */
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (n > buflen)
		abort();
	return pread(fd, buf, n, off);
}

static void gate_init(void)
{
	test_thread = pthread_self();
	if (!real_pread)
		*(void **)&real_pread = dlsym(RTLD_NEXT, "pread");
}

static void gate_set(bool closed, int err)
{
	pthread_mutex_lock(&gate_mu);
	gate_closed = closed;
	gate_errno = err;
	if (!closed)
		gate_waits = 0;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

static bool worker_at_gate(void *arg)
{
	bool at;

	pthread_mutex_lock(&gate_mu);
	at = gate_waits > 0;
	pthread_mutex_unlock(&gate_mu);
	return at;
}

/* ---------------------------------------------------------------- fixture */

struct fix {
	struct msrp_hub *hub;
	struct ft_relay *relay;
	int done_calls;
	enum ft_relay_result res;
	char detail[160];
	int received, other_events;
	char blob[160];
	char dir[64];
};

static void on_done(void *arg, enum ft_relay_result res, const char *detail)
{
	struct fix *f = arg;

	f->done_calls++;
	f->res = res;
	snprintf(f->detail, sizeof f->detail, "%s", detail);
}

static void on_event(void *arg, enum ft_relay_result ev, const char *detail)
{
	struct fix *f = arg;

	if (ev == FT_RELAY_RECEIVED)
		f->received++;
	else
		f->other_events++;
}

static bool is_done(void *arg) { return ((struct fix *)arg)->done_calls > 0; }
static bool is_received(void *arg) { return ((struct fix *)arg)->received > 0; }

static int hub_start(struct fix *f)
{
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .port = 0, .bind_timeout = 5};

	gate_init();
	memset(f, 0, sizeof *f);
	if (!root) {
		root = su_root_create(NULL);
		if (!root)
			return -1;
	}
	strcpy(f->dir, "/tmp/cpm-resume-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->blob, sizeof f->blob, "%s/blob", f->dir);
	return msrp_hub_create(&f->hub, root, &cfg) ? -1 : 0;
}

static void params_resume(struct ft_relay_params *p, struct fix *f, uint64_t size, uint64_t off,
			  const uint8_t sha1[20])
{
	memset(p, 0, sizeof *p);
	p->size = size;
	p->has_blob = true;
	p->blob_fd = blob_fd_resume(f->blob); /* the relay's once created */
	p->event = on_event;
	p->store_only = true;
	p->resume_offset = off;
	p->has_sha1 = true;
	memcpy(p->sha1, sha1, 20);
}

static int resume_start(struct fix *f, uint64_t size, uint64_t off, const uint8_t sha1[20])
{
	struct ft_relay_params p;

	params_resume(&p, f, size, off, sha1);
	if (ft_relay_create(&f->relay, f->hub, &p, on_done, f)) {
		if (p.blob_fd >= 0)
			close(p.blob_fd); /* not taken */
		return -1;
	}
	return ft_relay_set_peer_path(f->relay, FT_LEG_UP, SENDER_PATH) ? -1 : 0;
}

static void fix_stop(struct fix *f)
{
	gate_set(false, 0); /* never leave a worker at the gate */
	ft_relay_destroy(f->relay);
	f->relay = NULL;
	for (int i = 0; i < 20; i++)
		su_root_step(root, 1);
	msrp_hub_destroy(f->hub);
	unlink(f->blob);
	rmdir(f->dir);
	/* A destroyed relay's tee worker leaves by itself: none may outlive the test (ASan's leak
	 * check, ThreadSanitizer, OpenSSL's exit handlers). */
	if (!ft_relay_wait_hashers(5000))
		unit_fail(__FILE__, __LINE__, "a tee worker thread is still alive");
	ft_relay_test_tee_hooks(0, 0, 0);
}

static const char *up_uri(struct fix *f) { return ft_relay_path(f->relay, FT_LEG_UP); }

static char *make_file(size_t n)
{
	char *d = malloc(n);

	for (size_t i = 0; i < n; i++)
		d[i] = (char)(i * 7 + (i >> 9) + (i >> 17));
	return d;
}

static int write_file(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	bool ok = fd >= 0;

	while (ok && n) {
		ssize_t w = write(fd, p, n);

		ok = w > 0;
		if (ok) {
			p += w;
			n -= (size_t)w;
		}
	}
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* The blob of an earlier attempt: the first `off` bytes of the file, then
 * a tail that attempt did not count (the relay must cut it off). */
static int write_prefix(struct fix *f, const char *file, size_t off, size_t junk)
{
	char *b = malloc(off + junk + 1);
	int rc;

	memcpy(b, file, off);
	memset(b + off, 'J', junk);
	rc = write_file(f->blob, b, off + junk);
	free(b);
	return rc;
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_size;
}

static bool blob_is(struct fix *f, const char *file, size_t total)
{
	size_t blen = 0;
	char *blob = read_file(f->blob, &blen);
	bool ok = blob && blen == total && memcmp(blob, file, total) == 0;

	free(blob);
	return ok;
}

static int connect_sender(struct fix *f, struct peer *pe)
{
	struct want w = {pe, 1, 1};

	if (peer_connect(pe, msrp_hub_port(f->hub)) || send_bind(pe, up_uri(f), SENDER_PATH, "sbind01"))
		return -1;
	if (!run_until(peer_has, &w, pe, NULL, STEP_LIMIT_MS) || pe->rx[0].status != 200)
		return -1;
	return 0;
}

static int chunk_head(struct peer *pe, struct fix *f, const char *tid, uint64_t start, size_t len,
		      uint64_t total)
{
	return peer_sendf(pe,
			  "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
			  "Byte-Range: %llu-%llu/%llu\r\nSuccess-Report: yes\r\nFailure-Report: yes\r\n"
			  "Content-Type: application/octet-stream\r\n\r\n",
			  tid, up_uri(f), SENDER_PATH, (unsigned long long)start,
			  (unsigned long long)(start + len - 1), (unsigned long long)total);
}

static int send_chunk(struct peer *pe, struct fix *f, const char *tid, const char *data, uint64_t start,
		      size_t len, uint64_t total, char flag)
{
	if (chunk_head(pe, f, tid, start, len, total) || peer_send(pe, data, len, NULL))
		return -1;
	return peer_sendf(pe, "\r\n-------%s%c\r\n", tid, flag);
}

/* The range [off, size) of `file` as one message counted within the range,
 * in chunks of `csize`; tids "rs000001", ... Returns the number of chunks. */
static int send_range(struct peer *pe, struct fix *f, const char *file, uint64_t off, uint64_t size,
		      size_t csize)
{
	uint64_t len = size - off, done = 0;
	int k = 0;

	while (done < len) {
		size_t n = len - done < csize ? (size_t)(len - done) : csize;
		char tid[16];

		snprintf(tid, sizeof tid, "rs%06d", ++k);
		if (send_chunk(pe, f, tid, file + off + done, done + 1, n, len, done + n == len ? '$' : '+'))
			return -1;
		done += n;
	}
	return k;
}

static int count_method(const struct peer *pe, enum msrp_method m)
{
	int k = 0;

	while (find_method(pe, m, (unsigned)k))
		k++;
	return k;
}

static void settle(struct peer *a, int steps)
{
	for (int i = 0; i < steps; i++) {
		su_root_step(root, 1);
		if (a)
			peer_poll(a);
	}
}

static bool report_seen(void *arg)
{
	const struct rx *x = find_method(arg, MSRP_METHOD_REPORT, 0);

	return x && x->flag;
}

/* ---------------------------------------------------------------- resume */

/* One resume from `off`: the whole file's sha-1 is right, the success ack
 * carries the ack header, every range counts within the range. */
static void resume_at(uint64_t off)
{
	const size_t size = 200000, csize = 65536;
	uint64_t len = size - off;
	char *file = make_file(size);
	uint8_t sha[20], got[20];
	struct peer snd;
	struct fix f;
	struct want w;
	const struct rx *x;
	int chunks;
	char last[16];

	sha1_of(file, size, sha);
	CHECK(hub_start(&f) == 0);
	CHECK(write_prefix(&f, file, (size_t)off, 5000) == 0);
	CHECK(resume_start(&f, size, off, sha) == 0);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), off);
	CHECK(ft_relay_set_ack_header(f.relay, "Cpm-Stored", "item-42") == 0);
	CHECK(connect_sender(&f, &snd) == 0);
	chunks = send_range(&snd, &f, file, off, size, csize);
	CHECK(chunks > 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	w = (struct want){&snd, (unsigned)chunks, (unsigned)chunks};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	settle(&snd, 50);
	CHECK_EQ_INT(snd.n, chunks); /* binding + every '+' chunk; not the '$' yet */
	for (int k = 1; k < chunks; k++) {
		char tid[16];

		snprintf(tid, sizeof tid, "rs%06d", k);
		x = find_tid(&snd, tid);
		CHECK(x && x->status == 200);
		CHECK_EQ_INT(x->ext_count, 0); /* the header is for the final ack only */
	}
	snprintf(last, sizeof last, "rs%06d", chunks);
	CHECK(find_tid(&snd, last) == NULL);
	CHECK_EQ_INT(f.done_calls, 0);
	CHECK_EQ_INT(f.other_events, 0);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), size);
	CHECK(ft_relay_sha1(f.relay, got));
	CHECK(memcmp(got, sha, 20) == 0);
	CHECK(blob_is(&f, file, size)); /* the stale tail is gone */
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	CHECK(run_until(report_seen, &snd, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, last);
	CHECK(x && x->status == 200);
	CHECK_EQ_INT(x->ext_count, 1);
	CHECK_STR(x->ext_name, "Cpm-Stored");
	CHECK_STR(x->ext_value, "item-42");
	x = find_method(&snd, MSRP_METHOD_REPORT, 0);
	CHECK_EQ_INT(x->report_status, 200);
	CHECK(x->has_range);
	CHECK_EQ_INT(x->range.start, 1);
	CHECK_EQ_INT(x->range.end, len);
	CHECK_EQ_INT(x->range.total, len);
	CHECK_STR(x->msgid, "file0001");
	CHECK_EQ_INT(x->ext_count, 1);
	CHECK_STR(x->ext_name, "Cpm-Stored");
	CHECK_STR(x->ext_value, "item-42");
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

UNIT_TEST(test_resume_from_byte_1) { resume_at(1); }
UNIT_TEST(test_resume_from_middle) { resume_at(100000); }
UNIT_TEST(test_resume_last_byte_only) { resume_at(199999); }

/* The stored prefix is not what the selector's sha-1 says: as a store-mode
 * mismatch (400 for the '$' chunk, HASH_MISMATCH, never RECEIVED). */
UNIT_TEST(test_resume_prefix_mismatch)
{
	const size_t size = 150000, off = 70000;
	char *file = make_file(size);
	uint8_t sha[20];
	struct peer snd;
	struct fix f;
	const struct rx *x;
	int chunks;
	char last[16];

	sha1_of(file, size, sha);
	CHECK(hub_start(&f) == 0);
	file[1234] ^= 0x10; /* the earlier attempt stored a wrong byte */
	CHECK(write_prefix(&f, file, off, 0) == 0);
	file[1234] ^= 0x10;
	CHECK(resume_start(&f, size, off, sha) == 0);
	CHECK(connect_sender(&f, &snd) == 0);
	chunks = send_range(&snd, &f, file, off, size, 65536);
	CHECK(chunks == 2);
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_HASH_MISMATCH);
	CHECK_EQ_INT(f.received, 0);
	snprintf(last, sizeof last, "rs%06d", chunks);
	{
		struct want w = {&snd, 3, 3};

		CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	}
	x = find_tid(&snd, last);
	CHECK(x && x->status == 400);
	CHECK_STR(x->comment, "Hash mismatch");
	CHECK(ft_relay_ack_received(f.relay, 0) == -EINVAL);
	CHECK_EQ_INT(count_method(&snd, MSRP_METHOD_REPORT), 0);
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

/* The blob is shorter than resume_offset: done(IO_ERROR) from the loop
 * (not inside create), and the blob is neither extended nor written. */
UNIT_TEST(test_resume_short_prefix)
{
	const size_t size = 50000, off = 30000;
	char *file = make_file(size);
	uint8_t sha[20];
	struct fix f;

	sha1_of(file, size, sha);
	CHECK(hub_start(&f) == 0);
	CHECK(write_prefix(&f, file, 20000, 0) == 0);
	CHECK(resume_start(&f, size, off, sha) == 0);
	CHECK_EQ_INT(f.done_calls, 0);
	CHECK(run_until(is_done, &f, NULL, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_IO_ERROR);
	CHECK_EQ_INT(f.received, 0);
	settle(NULL, 20);
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(file_size(f.blob), 20000);
	fix_stop(&f);
	free(file);
}

/* The prefix cannot be read (EIO from the worker's pread) while the sender
 * is in the middle of a chunk: 400 for that chunk, a failure REPORT,
 * done(IO_ERROR). */
UNIT_TEST(test_resume_prefix_read_error)
{
	const size_t size = 100000, off = 40000;
	char *file = make_file(size);
	uint8_t sha[20];
	struct peer snd;
	struct fix f;
	struct want w;
	const struct rx *x;

	sha1_of(file, size, sha);
	CHECK(hub_start(&f) == 0);
	CHECK(write_prefix(&f, file, off, 0) == 0);
	gate_set(true, 0);
	CHECK(resume_start(&f, size, off, sha) == 0);
	CHECK(run_until(worker_at_gate, NULL, NULL, NULL, STEP_LIMIT_MS));
	CHECK(connect_sender(&f, &snd) == 0);
	CHECK(send_chunk(&snd, &f, "re000001", file + off, 1, 30000, size - off, '+') == 0);
	w = (struct want){&snd, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	CHECK(chunk_head(&snd, &f, "re000002", 30001, 30000, size - off) == 0);
	CHECK(peer_send(&snd, file + off + 30000, 1000, NULL) == 0);
	settle(&snd, 20);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), off + 31000);
	gate_set(false, EIO); /* the worker's read fails */
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_IO_ERROR);
	CHECK(run_until(report_seen, &snd, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, "re000002");
	CHECK(x && x->status == 400);
	x = find_method(&snd, MSRP_METHOD_REPORT, 0);
	CHECK_EQ_INT(x->report_status, 400);
	CHECK_EQ_INT(x->ext_count, 0);
	CHECK_EQ_INT(f.received, 0);
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

/* More bytes than the range: a Byte-Range counted from the start of the
 * FILE (total = size) is refused at once, and body bytes beyond the range
 * are 413 / TOO_BIG. */
UNIT_TEST(test_resume_too_many_bytes)
{
	const size_t size = 20000, off = 5000;
	char *file = make_file(size + 4000);
	uint8_t sha[20];
	struct peer snd;
	struct fix f;
	struct want w;
	const struct rx *x;

	sha1_of(file, size, sha);
	/* a sender counting from the file's start */
	CHECK(hub_start(&f) == 0);
	CHECK(write_prefix(&f, file, off, 0) == 0);
	CHECK(resume_start(&f, size, off, sha) == 0);
	CHECK(connect_sender(&f, &snd) == 0);
	CHECK(send_chunk(&snd, &f, "tb000001", file + off, off + 1, size - off, size, '$') == 0);
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_TOO_BIG);
	w = (struct want){&snd, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, "tb000001");
	CHECK(x && x->status == 413);
	fix_stop(&f);
	peer_close(&snd);

	/* an open-ended range with more body bytes than the range holds */
	CHECK(hub_start(&f) == 0);
	CHECK(write_prefix(&f, file, off, 0) == 0);
	CHECK(resume_start(&f, size, off, sha) == 0);
	CHECK(connect_sender(&f, &snd) == 0);
	CHECK(peer_sendf(&snd, "MSRP tb000002 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
			       "Byte-Range: 1-*/*\r\nContent-Type: application/octet-stream\r\n\r\n",
			 up_uri(&f), SENDER_PATH) == 0);
	CHECK(peer_send(&snd, file + off, size - off + 4000, NULL) == 0);
	CHECK(peer_sendf(&snd, "\r\n-------tb000002$\r\n") == 0);
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_TOO_BIG);
	w = (struct want){&snd, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, "tb000002");
	CHECK(x && x->status == 413);
	/* not one byte beyond the file (the slice that crosses the end is
	 * refused whole), and the blob holds what the count says */
	CHECK(ft_relay_bytes(f.relay) <= size);
	CHECK_EQ_INT(file_size(f.blob), ft_relay_bytes(f.relay));
	CHECK(blob_is(&f, file, (size_t)ft_relay_bytes(f.relay)));
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

/* The sender leaves in the middle of a chunk: the blob holds exactly
 * ft_relay_bytes() bytes, all of them the file's (what a partial row
 * records, and where the next resume starts). */
UNIT_TEST(test_resume_sender_aborts)
{
	const size_t size = 300000, off = 100000;
	char *file = make_file(size);
	uint8_t sha[20];
	struct peer snd;
	struct fix f;
	struct want w;
	uint64_t n;

	sha1_of(file, size, sha);
	CHECK(hub_start(&f) == 0);
	CHECK(write_prefix(&f, file, off, 777) == 0);
	CHECK(resume_start(&f, size, off, sha) == 0);
	CHECK(connect_sender(&f, &snd) == 0);
	CHECK(send_chunk(&snd, &f, "ab000001", file + off, 1, 65536, size - off, '+') == 0);
	w = (struct want){&snd, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	CHECK(chunk_head(&snd, &f, "ab000002", 65537, 65536, size - off) == 0);
	CHECK(peer_send(&snd, file + off + 65536, 12345, NULL) == 0);
	settle(&snd, 20);
	close(snd.fd);
	snd.fd = -1;
	CHECK(run_until(is_done, &f, NULL, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_SENDER_ABORTED);
	CHECK_EQ_INT(f.received, 0);
	n = ft_relay_bytes(f.relay);
	CHECK_EQ_INT(n, off + 65536 + 12345);
	CHECK(blob_is(&f, file, (size_t)n));
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

struct ticker {
	su_timer_t *t;
	unsigned ticks;
};

static void tick(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	((struct ticker *)arg)->ticks++;
}

static bool ticked(void *arg)
{
	return ((struct ticker *)arg)->ticks >= 5;
}

/* A 64 MiB prefix: the loop is never blocked by its hash. The worker is
 * held at its first read (the pread gate) while the whole range arrives:
 * the loop keeps answering the sender and a 1 ms timer keeps firing; the
 * '$' chunk waits for the hash without blocking; the gate opens and the
 * file is RECEIVED with the right sha-1. No timing is asserted. */
UNIT_TEST(test_resume_big_prefix_loop_not_blocked)
{
	const size_t off = 64u << 20, size = off + 300000;
	char *file = make_file(size);
	uint8_t sha[20], got[20];
	struct ticker tk = {0};
	struct peer snd;
	struct fix f;
	struct want w;
	int chunks;

	sha1_of(file, size, sha);
	CHECK(hub_start(&f) == 0);
	CHECK(write_prefix(&f, file, off, 0) == 0);
	gate_set(true, 0);
	CHECK(resume_start(&f, size, off, sha) == 0);
	CHECK(run_until(worker_at_gate, NULL, NULL, NULL, STEP_LIMIT_MS));
	tk.t = su_timer_create(su_root_task(root), 1);
	CHECK(tk.t && su_timer_set_for_ever(tk.t, tick, &tk) == 0);
	CHECK(connect_sender(&f, &snd) == 0);
	chunks = send_range(&snd, &f, file, off, size, 65536);
	CHECK(chunks == 5);
	w = (struct want){&snd, (unsigned)chunks, (unsigned)chunks};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS)); /* the four '+' answered */
	tk.ticks = 0;
	CHECK(run_until(ticked, &tk, &snd, NULL, STEP_LIMIT_MS));
	CHECK(worker_at_gate(NULL)); /* the prefix hash has not even started */
	CHECK_EQ_INT(f.received, 0);
	CHECK(find_tid(&snd, "rs000005") == NULL);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), size);
	gate_set(false, 0);
	CHECK(run_until(is_received, &f, &snd, NULL, 60000));
	CHECK(ft_relay_sha1(f.relay, got));
	CHECK(memcmp(got, sha, 20) == 0);
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK(run_until(report_seen, &snd, &snd, NULL, STEP_LIMIT_MS));
	CHECK(find_tid(&snd, "rs000005") && find_tid(&snd, "rs000005")->status == 200);
	CHECK_EQ_INT(find_method(&snd, MSRP_METHOD_REPORT, 0)->range.total, size - off);
	CHECK_EQ_INT(find_method(&snd, MSRP_METHOD_REPORT, 0)->ext_count, 0); /* none set */
	su_timer_destroy(tk.t);
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

/* ---------------------------------------------------------------- the ack header */

/* Plain store mode: the header goes on the '$' chunk's 200 and the success
 * REPORT only; an error ack carries none; not set: none. */
UNIT_TEST(test_ack_header_store_mode)
{
	const size_t size = 90000;
	char *file = make_file(size);
	struct ft_relay_params p = {.size = size, .store_only = true, .event = on_event};
	struct peer snd;
	struct fix f;
	const struct rx *x;

	for (int round = 0; round < 3; round++) {
		/* 0: header set, ack ok; 1: header set, ack error; 2: no header */
		CHECK(hub_start(&f) == 0);
		p.has_blob = true;
		p.blob_fd = blob_fd_new(f.blob);
		CHECK(ft_relay_create(&f.relay, f.hub, &p, on_done, &f) == 0);
		CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
		if (round < 2) {
			CHECK(ft_relay_set_ack_header(f.relay, "Cpm-Stored", "first") == 0);
			CHECK(ft_relay_set_ack_header(f.relay, "Cpm-Stored", "4f0c-item_7") == 0); /* replaces */
		}
		CHECK(connect_sender(&f, &snd) == 0);
		CHECK(send_range(&snd, &f, file, 0, size, 60000) == 2);
		CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
		CHECK(ft_relay_ack_received(f.relay, round == 1 ? EIO : 0) == 0);
		CHECK(run_until(report_seen, &snd, &snd, NULL, STEP_LIMIT_MS));
		x = find_tid(&snd, "rs000001");
		CHECK(x && x->status == 200 && x->ext_count == 0);
		x = find_tid(&snd, "rs000002");
		CHECK(x != NULL);
		CHECK_EQ_INT(x->status, round == 1 ? 400 : 200);
		CHECK_EQ_INT(x->ext_count, round == 0 ? 1 : 0);
		if (round == 0) {
			CHECK_STR(x->ext_name, "Cpm-Stored");
			CHECK_STR(x->ext_value, "4f0c-item_7");
		}
		x = find_method(&snd, MSRP_METHOD_REPORT, 0);
		CHECK_EQ_INT(x->report_status, round == 1 ? 400 : 200);
		CHECK_EQ_INT(x->ext_count, round == 0 ? 1 : 0);
		if (round == 0)
			CHECK_STR(x->ext_value, "4f0c-item_7");
		CHECK(ft_relay_set_ack_header(f.relay, "Cpm-Stored", "x") == -EINVAL); /* ended */
		fix_stop(&f);
		peer_close(&snd);
	}
	free(file);
}

/* A live relay switched to store mode (ft_relay_detach_down) acknowledges
 * with the header too. */
UNIT_TEST(test_ack_header_after_detach)
{
	const size_t size = 30000;
	char *file = make_file(size);
	struct ft_relay_params p = {.size = size, .keep_on_recipient_loss = true, .event = on_event};
	struct peer snd;
	struct fix f;
	const struct rx *x;

	CHECK(hub_start(&f) == 0);
	p.has_blob = true;
	p.blob_fd = blob_fd_new(f.blob);
	CHECK(ft_relay_create(&f.relay, f.hub, &p, on_done, &f) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_DOWN, DEVICE_PATH) == 0);
	CHECK(ft_relay_set_ack_header(f.relay, "Cpm-Stored", "item-9") == 0);
	CHECK(ft_relay_detach_down(f.relay) == 0);
	CHECK(connect_sender(&f, &snd) == 0);
	CHECK(send_range(&snd, &f, file, 0, size, 65536) == 1);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK(run_until(report_seen, &snd, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, "rs000001");
	CHECK(x && x->status == 200);
	CHECK_STR(x->ext_value, "item-9");
	x = find_method(&snd, MSRP_METHOD_REPORT, 0);
	CHECK_STR(x->ext_name, "Cpm-Stored");
	CHECK_STR(x->ext_value, "item-9");
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

UNIT_TEST(test_ack_header_invalid)
{
	static const char *const bad_names[] = {"", "Bad Name", "A:b", "To-Path", "from-path",
						"Content-Type", "content-disposition", "Status",
						"Byte-Range", "Message-ID", "Cpm\r\nX", "Cpm\x01", "Ä"};
	static const char *const bad_values[] = {"", "a\r\nb", "a\nb", "a\rb", " lead", "trail ",
						 "\tx", "x\x01y", "x\x7fy"};
	struct ft_relay_params p = {.size = 100, .store_only = true, .event = on_event};
	struct ft_relay_source_params sp = {.size = 10};
	struct ft_relay *live, *src;
	char name[FT_RELAY_ACK_NAME_MAX + 2], value[FT_RELAY_ACK_VALUE_MAX + 2];
	struct fix f;

	CHECK(hub_start(&f) == 0);
	p.has_blob = true;
	p.blob_fd = blob_fd_new(f.blob);
	CHECK(ft_relay_create(&f.relay, f.hub, &p, on_done, &f) == 0);
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
		CHECK(ft_relay_set_ack_header(f.relay, bad_names[i], "v") == -EINVAL);
	for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
		CHECK(ft_relay_set_ack_header(f.relay, "Cpm-Stored", bad_values[i]) == -EINVAL);
	CHECK(ft_relay_set_ack_header(f.relay, NULL, "v") == -EINVAL);
	CHECK(ft_relay_set_ack_header(f.relay, "Cpm-Stored", NULL) == -EINVAL);
	/* the limits themselves are fine, one more is not */
	memset(name, 'N', sizeof name);
	name[FT_RELAY_ACK_NAME_MAX] = '\0';
	memset(value, 'v', sizeof value);
	value[FT_RELAY_ACK_VALUE_MAX] = '\0';
	CHECK(ft_relay_set_ack_header(f.relay, name, value) == 0);
	CHECK(ft_relay_set_ack_header(f.relay, "Cpm-Stored", "a b\tc é") == 0);
	name[FT_RELAY_ACK_NAME_MAX] = 'N';
	name[FT_RELAY_ACK_NAME_MAX + 1] = '\0';
	CHECK(ft_relay_set_ack_header(f.relay, name, "v") == -EINVAL);
	value[FT_RELAY_ACK_VALUE_MAX] = 'v';
	value[FT_RELAY_ACK_VALUE_MAX + 1] = '\0';
	CHECK(ft_relay_set_ack_header(f.relay, "Cpm-Stored", value) == -EINVAL);
	/* relays that never acknowledge a stored file */
	memset(&p, 0, sizeof p);
	p.size = 100;
	CHECK(ft_relay_create(&live, f.hub, &p, on_done, &f) == 0);
	CHECK(ft_relay_set_ack_header(live, "Cpm-Stored", "v") == -EINVAL); /* no event: never store mode */
	ft_relay_destroy(live);
	CHECK(write_file(f.blob, "0123456789", 10) == 0);
	sp.blob_fd = blob_fd_read(f.blob);
	CHECK(ft_relay_create_source(&src, f.hub, &sp, on_done, &f) == 0);
	CHECK(ft_relay_set_ack_header(src, "Cpm-Stored", "v") == -EINVAL);
	ft_relay_destroy(src);
	fix_stop(&f);
}

/* ---------------------------------------------------------------- the tee worker (relay_tee_worker.c) */

/* A fresh upload in store mode (no resume), `size` bytes in 64 KiB chunks. */
static int upload_start(struct fix *f, struct peer *snd, const char *file, size_t size, const uint8_t sha[20])
{
	struct ft_relay_params p;

	params_resume(&p, f, size, 0, sha);
	close(p.blob_fd);
	p.blob_fd = blob_fd_new(f->blob);
	if (ft_relay_create(&f->relay, f->hub, &p, on_done, f)) {
		close(p.blob_fd);
		return -1;
	}
	if (ft_relay_set_peer_path(f->relay, FT_LEG_UP, SENDER_PATH) || connect_sender(f, snd))
		return -1;
	return send_range(snd, f, file, 0, size, 65536) > 0 ? 0 : -1;
}

/* A disk slower than the network: the worker sleeps 15 ms before each write (34 MB/s), the
 * ring (2 MiB) fills, and the sender is held until the worker freed room (without the hold
 * the ring would refuse the bytes and the relay end with an I/O error). The file arrives whole
 * and RECEIVED comes only once the worker has written and hashed all of it. */
UNIT_TEST(test_worker_slow_disk)
{
	const size_t size = 6u << 20;
	char *file = make_file(size);
	uint8_t sha[20], got[20];
	struct peer snd;
	struct fix f;

	sha1_of(file, size, sha);
	CHECK(hub_start(&f) == 0);
	ft_relay_test_tee_hooks(15000, 0, 0);
	CHECK(upload_start(&f, &snd, file, size, sha) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, 60000));
	CHECK_EQ_INT(f.done_calls, 0);
	CHECK(ft_relay_sha1(f.relay, got));
	CHECK(memcmp(got, sha, 20) == 0);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), size);
	CHECK(blob_is(&f, file, size)); /* written before RECEIVED */
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

/* The disk fills up mid-file (the worker's write fails with ENOSPC at `cut`): the relay ends
 * FT_RELAY_IO_ERROR, the blob is cut back to what was written (a piece boundary at or below
 * `cut`), ft_relay_bytes() says that much, and a resume from there completes the file. */
UNIT_TEST(test_worker_write_error_then_resume)
{
	const size_t size = 3u << 20, cut = (1u << 20) + 4321;
	char *file = make_file(size);
	uint8_t sha[20];
	struct peer snd, snd2;
	struct fix f;
	uint64_t have;
	int chunks;

	sha1_of(file, size, sha);
	CHECK(hub_start(&f) == 0);
	ft_relay_test_tee_hooks(0, cut, 0);
	CHECK(upload_start(&f, &snd, file, size, sha) == 0);
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_IO_ERROR);
	CHECK_EQ_INT(f.received, 0);
	have = ft_relay_bytes(f.relay);
	CHECK(have <= cut);
	CHECK_EQ_INT(file_size(f.blob), (long long)have);
	CHECK(blob_is(&f, file, (size_t)have));
	ft_relay_destroy(f.relay);
	f.relay = NULL;
	peer_close(&snd);
	CHECK(ft_relay_wait_hashers(5000));
	/* the disk has room again: resume where the blob ends */
	ft_relay_test_tee_hooks(0, 0, 0);
	f.done_calls = 0;
	CHECK(resume_start(&f, size, have, sha) == 0);
	CHECK(connect_sender(&f, &snd2) == 0);
	chunks = send_range(&snd2, &f, file, have, size, 65536);
	CHECK(chunks > 0);
	CHECK(run_until(is_received, &f, &snd2, NULL, 60000));
	CHECK(blob_is(&f, file, size));
	fix_stop(&f);
	peer_close(&snd2);
	free(file);
}

/* Destroyed with chunks in flight: the ring is full and the worker asleep in a slow write when
 * the relay goes; the worker leaves by itself at its next piece, frees the ring, touches
 * nothing of the relay's (ASan), and no thread outlives fix_stop(). */
UNIT_TEST(test_worker_destroy_in_flight)
{
	const size_t size = 8u << 20;
	char *file = make_file(size);
	uint8_t sha[20];
	struct peer snd;
	struct fix f;
	struct ft_relay_params p;

	sha1_of(file, size, sha);
	CHECK(hub_start(&f) == 0);
	ft_relay_test_tee_hooks(50000, 0, 0);
	params_resume(&p, &f, size, 0, sha);
	close(p.blob_fd);
	p.blob_fd = blob_fd_new(f.blob);
	CHECK(ft_relay_create(&f.relay, f.hub, &p, on_done, &f) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(connect_sender(&f, &snd) == 0);
	/* 3 MiB: more than the ring; the last chunks wait in the sockets */
	for (int k = 0; k < 48; k++) {
		char tid[16];

		snprintf(tid, sizeof tid, "rs%06d", k + 1);
		CHECK(send_chunk(&snd, &f, tid, file + (size_t)k * 65536, (uint64_t)k * 65536 + 1, 65536, size,
				 '+') == 0);
	}
	settle(&snd, 20);
	CHECK(ft_relay_bytes(f.relay) >= (1u << 20)); /* accepted, mostly not written yet */
	fix_stop(&f); /* destroys the relay, waits for the worker */
	CHECK_EQ_INT(f.done_calls, 0);
	peer_close(&snd);
	free(file);
}

/* What a resume needs, or ft_relay_create() refuses it. */
UNIT_TEST(test_resume_bad_params)
{
	uint8_t sha[20] = {1};
	struct ft_relay_params p;
	struct ft_relay *r = (void *)1;
	struct fix f;

	CHECK(hub_start(&f) == 0);
	CHECK(write_file(f.blob, "0123456789", 10) == 0);
	/* A refused create leaves the descriptor to the caller: one serves
	 * every attempt below. */
	params_resume(&p, &f, 100, 10, sha);
	int fd = p.blob_fd;
	CHECK(fd >= 0);
	p.store_only = false;
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	CHECK(r == NULL);
	p.keep_on_recipient_loss = true; /* a live relay cannot resume */
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	close(p.blob_fd);
	params_resume(&p, &f, 100, 10, sha);
	p.has_sha1 = false;
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	close(p.blob_fd);
	params_resume(&p, &f, 100, 10, sha);
	close(p.blob_fd);
	p.has_blob = false;
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	p.has_blob = true;
	p.blob_fd = -1; /* a blob without a descriptor */
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	params_resume(&p, &f, 100, 100, sha); /* nothing left to send */
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	close(p.blob_fd);
	params_resume(&p, &f, 100, 101, sha);
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	close(p.blob_fd);
	params_resume(&p, &f, 100, 10, sha); /* fine */
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == 0);
	CHECK_EQ_INT(ft_relay_bytes(r), 10);
	ft_relay_destroy(r);
	CHECK_EQ_INT(f.done_calls, 0);
	fix_stop(&f);
}

UNIT_MAIN(T(test_resume_from_byte_1), T(test_resume_from_middle), T(test_resume_last_byte_only),
	  T(test_resume_prefix_mismatch), T(test_resume_short_prefix), T(test_resume_prefix_read_error),
	  T(test_resume_too_many_bytes), T(test_resume_sender_aborts),
	  T(test_resume_big_prefix_loop_not_blocked), T(test_ack_header_store_mode),
	  T(test_ack_header_after_detach), T(test_ack_header_invalid), T(test_worker_slow_disk),
	  T(test_worker_write_error_then_resume), T(test_worker_destroy_in_flight), T(test_resume_bad_params))
