/* The relay's store-and-forward modes over real loopback sockets and a real
 * su_root: store mode (receive for later delivery, final acknowledgement
 * held until the owner's commit), the switch from a live relay to store mode
 * (ft_relay_detach_down and keep_on_recipient_loss), and source mode
 * (deliver a stored file, with resume by file-range).
 *
 * The peers are driven from this thread with non-blocking sockets
 * (tests/unit/net_peer.c, shared with test_net_relay.c). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cpm/msrp.h"
#include "relay/ft_relay.h"
#include "unit.h"

#include "net_peer.h"

/* ---------------------------------------------------------------- fixture */

enum mode { MODE_LIVE, MODE_STORE, MODE_KEEP };

struct fix {
	struct msrp_hub *hub;
	struct ft_relay *relay;
	int done_calls;
	enum ft_relay_result res;
	char detail[160];
	int received, lost, other_events;
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
	else if (ev == FT_RELAY_RECIPIENT_LOST)
		f->lost++;
	else
		f->other_events++;
}

static bool is_done(void *arg) { return ((struct fix *)arg)->done_calls > 0; }
static bool is_received(void *arg) { return ((struct fix *)arg)->received > 0; }
static bool is_lost(void *arg) { return ((struct fix *)arg)->lost > 0; }


static int hub_start_txn(struct fix *f, size_t high_water, unsigned txn_ms)
{
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .port = 0, .high_water = high_water,
				   .bind_timeout = 5, .txn_timeout_ms = txn_ms};

	memset(f, 0, sizeof *f);
	if (!root) {
		root = su_root_create(NULL);
		if (!root)
			return -1;
	}
	/* unit/test_net_store_modes_worker: every file through the tee worker, however small */
	if (getenv("CPM_TEST_TEE_MIN"))
		ft_relay_test_tee_hooks(0, 0, strtoull(getenv("CPM_TEST_TEE_MIN"), NULL, 10));
	/* unit/test_net_store_modes_direct: live tees written O_DIRECT (--relay-tee direct) */
	ft_relay_set_tee_direct(getenv("CPM_TEST_TEE_DIRECT") != NULL);
	strcpy(f->dir, "/tmp/cpm-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->blob, sizeof f->blob, "%s/blob", f->dir);
	return msrp_hub_create(&f->hub, root, &cfg) ? -1 : 0;
}

static int hub_start(struct fix *f, size_t high_water)
{
	return hub_start_txn(f, high_water, 0);
}

static int relay_start(struct fix *f, enum mode mode, uint64_t size, const uint8_t *sha1)
{
	struct ft_relay_params p = {.size = size, .has_blob = true, .blob_fd = blob_fd_new(f->blob), .event = on_event};

	p.store_only = mode == MODE_STORE;
	p.keep_on_recipient_loss = mode == MODE_KEEP;
	if (sha1) {
		p.has_sha1 = true;
		memcpy(p.sha1, sha1, 20);
	}
	if (ft_relay_create(&f->relay, f->hub, &p, on_done, f)) {
		if (p.blob_fd >= 0)
			close(p.blob_fd); /* not taken */
		return -1;
	}
	if (ft_relay_set_peer_path(f->relay, FT_LEG_UP, SENDER_PATH))
		return -1;
	if (mode != MODE_STORE && ft_relay_set_peer_path(f->relay, FT_LEG_DOWN, DEVICE_PATH))
		return -1;
	return 0;
}

static void fix_stop(struct fix *f)
{
	ft_relay_destroy(f->relay);
	f->relay = NULL;
	for (int i = 0; i < 20; i++)
		su_root_step(root, 1);
	msrp_hub_destroy(f->hub);
	unlink(f->blob);
	rmdir(f->dir);
	if (!ft_relay_wait_hashers(5000))
		unit_fail(__FILE__, __LINE__, "a tee worker thread is still alive");
}

static const char *up_uri(struct fix *f) { return ft_relay_path(f->relay, FT_LEG_UP); }
static const char *down_uri(struct fix *f) { return ft_relay_path(f->relay, FT_LEG_DOWN); }


static int chunk_head(struct peer *pe, struct fix *f, const char *tid, uint64_t start, size_t len,
		      uint64_t total, struct peer *other)
{
	char head[1024];
	int n = snprintf(head, sizeof head,
			 "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
			 "Byte-Range: %llu-%llu/%llu\r\nSuccess-Report: yes\r\nFailure-Report: yes\r\n"
			 "Content-Type: application/octet-stream\r\n\r\n",
			 tid, up_uri(f), SENDER_PATH, (unsigned long long)start,
			 (unsigned long long)(start + len - 1), (unsigned long long)total);

	return peer_send(pe, head, (size_t)n, other);
}

static int chunk_end(struct peer *pe, const char *tid, char flag, struct peer *other)
{
	char end[64];
	int e = snprintf(end, sizeof end, "\r\n-------%s%c\r\n", tid, flag);

	return peer_send(pe, end, (size_t)e, other);
}

static int send_chunk(struct peer *pe, struct fix *f, const char *tid, const char *data, uint64_t start,
		      size_t len, uint64_t total, char flag, struct peer *other)
{
	if (chunk_head(pe, f, tid, start, len, total, other) || peer_send(pe, data, len, other) ||
	    chunk_end(pe, tid, flag, other))
		return -1;
	return 0;
}







struct want_tid {
	struct peer *pe;
	const char *tid;
};

static bool tid_seen(void *arg)
{
	struct want_tid *w = arg;

	return find_tid(w->pe, w->tid) != NULL;
}


/* Step the loop a while, polling: gives anything we do not expect the time
 * to show up. */
static void settle(struct peer *a, struct peer *b, int steps)
{
	for (int i = 0; i < steps; i++) {
		su_root_step(root, 1);
		if (a)
			peer_poll(a);
		if (b)
			peer_poll(b);
	}
}


static int write_file(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	bool ok = fd >= 0 && write(fd, p, n) == (ssize_t)n;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static char *make_file(size_t n)
{
	char *d = malloc(n);

	for (size_t i = 0; i < n; i++)
		d[i] = (char)(i * 7 + (i >> 9));
	if (n > 600) {
		memcpy(d + 100, "-------", 7);
		memcpy(d + 300, "\r\n-------sbind01$\r\n", 19);
	}
	return d;
}

/* Connect and bind; with body_cap, the peer keeps what it receives (from
 * the start: a source relay sends right after answering the binding). */
static int connect_peer_body(struct fix *f, struct peer *pe, const char *to, const char *from, const char *tid,
			     size_t body_cap)
{
	struct want w = {pe, 1, 1};

	if (peer_connect(pe, msrp_hub_port(f->hub)))
		return -1;
	if (body_cap) {
		pe->body = malloc(body_cap);
		pe->body_cap = body_cap;
	}
	if (send_bind(pe, to, from, tid))
		return -1;
	if (!run_until(peer_has, &w, pe, NULL, STEP_LIMIT_MS) || pe->rx[0].status != 200)
		return -1;
	return 0;
}

static int connect_peer(struct fix *f, struct peer *pe, const char *to, const char *from, const char *tid)
{
	return connect_peer_body(f, pe, to, from, tid, 0);
}

static bool blob_is(struct fix *f, const char *file, size_t total)
{
	size_t blen = 0;
	char *blob = read_file(f->blob, &blen);
	bool ok = blob && blen == total && memcmp(blob, file, total) == 0;

	free(blob);
	return ok;
}

static int count_method(const struct peer *pe, enum msrp_method m)
{
	int k = 0;

	while (find_method(pe, m, (unsigned)k))
		k++;
	return k;
}

static bool report_seen(void *arg)
{
	const struct peer *pe = arg;
	const struct rx *x = find_method(pe, MSRP_METHOD_REPORT, 0);

	return x && x->flag;
}

/* ---------------------------------------------------------------- store mode */

/* The sender's '+' chunks are answered at once; the '$' chunk's 200 and the
 * success REPORT wait for ft_relay_ack_received(). */
UNIT_TEST(test_store_held_ack)
{
	const size_t c1 = 60000, c2 = 70000, c3 = 20000, total = c1 + c2 + c3;
	char *file = make_file(total);
	uint8_t sha[20], got[20];
	struct peer snd;
	struct fix f;
	struct want w;
	const struct rx *x;
	int fd;

	sha1_of(file, total, sha);
	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_STORE, total, sha) == 0);
	CHECK_STR(down_uri(&f), ""); /* no device leg at all */
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_DOWN, DEVICE_PATH) == -1);
	CHECK(ft_relay_ack_received(f.relay, 0) == -EINVAL); /* nothing to acknowledge yet */
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01") == 0);
	CHECK(send_chunk(&snd, &f, "st000001", file, 1, c1, total, '+', NULL) == 0);
	CHECK(send_chunk(&snd, &f, "st000002", file + c1, c1 + 1, c2, total, '+', NULL) == 0);
	CHECK(send_chunk(&snd, &f, "st000003", file + c1 + c2, c1 + c2 + 1, c3, total, '$', NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	w = (struct want){&snd, 3, 3};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	settle(&snd, NULL, 200);
	/* two answers from the relay itself, nothing for the last chunk */
	x = find_tid(&snd, "st000001");
	CHECK(x && x->status == 200);
	CHECK_STR(x->to, SENDER_PATH);
	CHECK_STR(x->from, up_uri(&f));
	x = find_tid(&snd, "st000002");
	CHECK(x && x->status == 200);
	CHECK(find_tid(&snd, "st000003") == NULL);
	CHECK_EQ_INT(count_method(&snd, MSRP_METHOD_REPORT), 0);
	CHECK_EQ_INT(snd.n, 3);
	CHECK_EQ_INT(f.done_calls, 0);
	CHECK_EQ_INT(f.received, 1);
	CHECK_EQ_INT(f.lost + f.other_events, 0);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), total);
	CHECK(ft_relay_sha1(f.relay, got));
	CHECK(memcmp(got, sha, 20) == 0);
	/* the owner makes it durable on its own thread (here: inline) */
	fd = ft_relay_blob_dup(f.relay);
	CHECK(fd >= 0);
	CHECK(fsync(fd) == 0);
	close(fd);
	CHECK(blob_is(&f, file, total));
	/* ... and only then acknowledges */
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	CHECK(ft_relay_ack_received(f.relay, 0) == -EINVAL); /* once */
	w = (struct want){&snd, 5, 5};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, "st000003");
	CHECK(x && x->status == 200);
	CHECK_STR(x->to, SENDER_PATH);
	x = find_method(&snd, MSRP_METHOD_REPORT, 0);
	CHECK(x != NULL);
	CHECK_EQ_INT(x->report_status, 200);
	CHECK_STR(x->msgid, "file0001");
	CHECK(x->has_range);
	CHECK_EQ_INT(x->range.start, 1);
	CHECK_EQ_INT(x->range.end, total);
	CHECK_EQ_INT(x->range.total, total);
	CHECK_STR(x->to, SENDER_PATH);
	CHECK_STR(x->from, up_uri(&f));
	CHECK_EQ_INT(f.done_calls, 1);
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

/* The store could not keep the file: the sender is told so, not 200. */
UNIT_TEST(test_store_ack_error)
{
	const size_t total = 5000;
	char *file = make_file(total);
	uint8_t sha[20];
	struct peer snd;
	struct fix f;
	struct want w;
	const struct rx *x;

	sha1_of(file, total, sha);
	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_STORE, total, sha) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01") == 0);
	CHECK(send_chunk(&snd, &f, "err00001", file, 1, total, total, '$', NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	settle(&snd, NULL, 100);
	CHECK_EQ_INT(snd.n, 1); /* only the binding 200 */
	CHECK(ft_relay_ack_received(f.relay, EIO) == 0);
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_IO_ERROR);
	w = (struct want){&snd, 3, 3};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, "err00001");
	CHECK(x && x->status == 400);
	x = find_method(&snd, MSRP_METHOD_REPORT, 0);
	CHECK(x && x->report_status == 400);
	settle(&snd, NULL, 50);
	CHECK_EQ_INT(count_method(&snd, MSRP_METHOD_REPORT), 1);
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

/* The sender hangs up after its '$' chunk: the file is complete and
 * checked, so the relay waits for the owner's ack all the same (with nobody
 * left to tell). */
UNIT_TEST(test_store_sender_leaves_before_ack)
{
	const size_t total = 8000;
	char *file = make_file(total);
	struct peer snd;
	struct fix f;

	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_STORE, total, NULL) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01") == 0);
	CHECK(send_chunk(&snd, &f, "gone0001", file, 1, total, total, '$', NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	close(snd.fd);
	snd.fd = -1;
	settle(NULL, NULL, 50);
	CHECK_EQ_INT(f.done_calls, 0);
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	CHECK(blob_is(&f, file, total));
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

/* Before the '$' chunk, the sender leaving is an abort, as for a live relay. */
UNIT_TEST(test_store_sender_aborts)
{
	const size_t total = 8000;
	char *file = make_file(total);
	struct peer snd;
	struct fix f;

	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_STORE, total, NULL) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01") == 0);
	CHECK(send_chunk(&snd, &f, "half0001", file, 1, 4000, total, '+', NULL) == 0);
	settle(&snd, NULL, 20);
	close(snd.fd);
	snd.fd = -1;
	CHECK(run_until(is_done, &f, NULL, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_SENDER_ABORTED);
	CHECK_EQ_INT(f.received, 0);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), 4000);
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

UNIT_TEST(test_store_hash_mismatch)
{
	const size_t total = 3000;
	char *file = make_file(total);
	uint8_t sha[20];
	struct peer snd;
	struct fix f;
	struct want w;
	const struct rx *x;

	sha1_of(file, total, sha);
	sha[3] ^= 0x40;
	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_STORE, total, sha) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01") == 0);
	CHECK(send_chunk(&snd, &f, "hm000001", file, 1, 1000, total, '+', NULL) == 0);
	CHECK(send_chunk(&snd, &f, "hm000002", file + 1000, 1001, 2000, total, '$', NULL) == 0);
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_HASH_MISMATCH);
	CHECK_EQ_INT(f.received, 0);
	w = (struct want){&snd, 3, 3};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, "hm000001");
	CHECK(x && x->status == 200);
	x = find_tid(&snd, "hm000002");
	CHECK(x && x->status == 400);
	CHECK(ft_relay_ack_received(f.relay, 0) == -EINVAL);
	CHECK_EQ_INT(count_method(&snd, MSRP_METHOD_REPORT), 0);
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

UNIT_TEST(test_store_too_many_bytes)
{
	const size_t total = 4000;
	char *file = make_file(total);
	struct peer snd;
	struct fix f;
	struct want w;
	const struct rx *x;

	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_STORE, 1000, NULL) == 0); /* the selector says 1000 */
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01") == 0);
	CHECK(peer_sendf(&snd, "MSRP over0001 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
			       "Byte-Range: 1-*/*\r\nContent-Type: application/octet-stream\r\n\r\n",
			 up_uri(&f), SENDER_PATH) == 0);
	CHECK(peer_send(&snd, file, total, NULL) == 0);
	CHECK(peer_sendf(&snd, "\r\n-------over0001$\r\n") == 0);
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_TOO_BIG);
	CHECK_EQ_INT(f.received, 0);
	w = (struct want){&snd, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, "over0001");
	CHECK(x && x->status == 413);
	CHECK(ft_relay_bytes(f.relay) <= 1000);
	fix_stop(&f);
	peer_close(&snd);
	free(file);
}

/* ---------------------------------------------------------------- live → store */

static int connect_both(struct fix *f, struct peer *snd, struct peer *dev)
{
	if (connect_peer(f, snd, up_uri(f), SENDER_PATH, "sbind01") ||
	    connect_peer(f, dev, down_uri(f), DEVICE_PATH, "dbind01"))
		return -1;
	return 0;
}

struct want_bytes {
	struct peer *pe;
	uint64_t n;
};

static bool body_has(void *arg)
{
	struct want_bytes *w = arg;

	return w->pe->body_total >= w->n;
}

/* The owner gives up the device mid-chunk: the device sees '#', the
 * sender's transfer carries on into the blob. */
UNIT_TEST(test_detach_down_mid_transfer)
{
	const size_t c1 = 50000, c2 = 100000, c3 = 50000, part = 60000, total = c1 + c2 + c3;
	char *file = make_file(total);
	uint8_t sha[20], got[20];
	struct peer snd, dev;
	struct fix f;
	struct want w;
	struct want_bytes wb;
	struct want_tid wt;
	const struct rx *x;

	sha1_of(file, total, sha);
	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_LIVE, total, sha) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "dd000001", file, 1, c1, total, '+', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS)); /* chunk 1 at the device, unanswered */
	/* chunk 2: head and part of the body */
	CHECK(chunk_head(&snd, &f, "dd000002", c1 + 1, c2, total, &dev) == 0);
	CHECK(peer_send(&snd, file + c1, part, &dev) == 0);
	wb = (struct want_bytes){&dev, c1 + part};
	CHECK(run_until(body_has, &wb, &snd, &dev, STEP_LIMIT_MS));
	CHECK(find_tid(&snd, "dd000001") == NULL); /* the device has not answered */

	CHECK(ft_relay_detach_down(f.relay) == 0);
	CHECK_EQ_INT(f.lost, 0); /* the owner asked: no event for it */
	CHECK_EQ_INT(f.received, 0);
	CHECK_EQ_INT(f.done_calls, 0);
	w = (struct want){&dev, 3, 3};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[2].method, MSRP_METHOD_SEND);
	CHECK_EQ_INT(dev.rx[2].flag, '#');
	CHECK_EQ_INT(dev.rx[2].body_len, part);
	CHECK(run_until(peer_eof, &dev, &snd, &dev, STEP_LIMIT_MS)); /* its connection is closed */
	/* chunk 1 (relayed, unanswered) is answered by the relay */
	wt = (struct want_tid){&snd, "dd000001"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "dd000001")->status, 200);

	/* the sender never noticed: the rest of chunk 2, then chunk 3 */
	CHECK(peer_send(&snd, file + c1 + part, c2 - part, NULL) == 0);
	CHECK(chunk_end(&snd, "dd000002", '+', NULL) == 0);
	CHECK(send_chunk(&snd, &f, "dd000003", file + c1 + c2, c1 + c2 + 1, c3, total, '$', NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	wt = (struct want_tid){&snd, "dd000002"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "dd000002")->status, 200);
	settle(&snd, NULL, 100);
	CHECK(find_tid(&snd, "dd000003") == NULL); /* held */
	CHECK_EQ_INT(count_method(&snd, MSRP_METHOD_REPORT), 0);
	CHECK(ft_relay_sha1(f.relay, got));
	CHECK(memcmp(got, sha, 20) == 0);
	CHECK(blob_is(&f, file, total));
	CHECK(ft_relay_detach_down(f.relay) == 0); /* already in store mode */
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	wt = (struct want_tid){&snd, "dd000003"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "dd000003")->status, 200);
	CHECK(run_until(report_seen, &snd, &snd, NULL, STEP_LIMIT_MS));
	x = find_method(&snd, MSRP_METHOD_REPORT, 0);
	CHECK(x && x->report_status == 200 && x->range.end == total);
	CHECK(ft_relay_detach_down(f.relay) == -EINVAL); /* ended */
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* keep_on_recipient_loss: the device's connection goes away mid-transfer;
 * the relay switches to store mode by itself and says so. */
UNIT_TEST(test_keep_on_device_connection_loss)
{
	const size_t c1 = 60000, c2 = 60000, total = c1 + c2;
	char *file = make_file(total);
	uint8_t sha[20];
	struct peer snd, dev;
	struct fix f;
	struct want w;
	struct want_tid wt;

	sha1_of(file, total, sha);
	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_KEEP, total, sha) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "kl000001", file, 1, c1, total, '+', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	close(dev.fd);
	dev.fd = -1;
	CHECK(run_until(is_lost, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.lost, 1);
	CHECK_EQ_INT(f.done_calls, 0); /* the transfer goes on */
	CHECK_EQ_INT(f.received, 0);
	wt = (struct want_tid){&snd, "kl000001"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "kl000001")->status, 200);
	CHECK(send_chunk(&snd, &f, "kl000002", file + c1, c1 + 1, c2, total, '$', NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	settle(&snd, NULL, 50);
	CHECK(find_tid(&snd, "kl000002") == NULL);
	CHECK(blob_is(&f, file, total));
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	wt = (struct want_tid){&snd, "kl000002"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "kl000002")->status, 200);
	CHECK_EQ_INT(f.lost, 1);
	CHECK_EQ_INT(f.other_events, 0);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* A live relay remembers what the device acknowledged: chunk 1 answered
 * 200, chunk 2 relayed but not answered, then the device's connection goes:
 * ft_relay_bytes_acked() is the end of chunk 1 (pf records it so that the
 * stored file's delivery to that device resumes there). */
UNIT_TEST(test_keep_device_acked_bytes)
{
	const size_t c1 = 3000, c2 = 4000, c3 = 5000, total = c1 + c2 + c3;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;

	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_KEEP, total, NULL) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), 0);
	CHECK(send_chunk(&snd, &f, "ka000001", file, 1, c1, total, '+', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK(device_respond(&dev, &dev.rx[1], 200, "OK") == 0);
	CHECK(send_chunk(&snd, &f, "ka000002", file + c1, c1 + 1, c2, total, '+', &dev) == 0);
	w = (struct want){&dev, 3, 3};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	settle(&snd, &dev, 50);
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), c1);
	close(dev.fd);
	dev.fd = -1;
	CHECK(run_until(is_lost, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), c1); /* chunk 2 was never answered */
	CHECK(send_chunk(&snd, &f, "ka000003", file + c1 + c2, c1 + c2 + 1, c3, total, '$', NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK(blob_is(&f, file, total));
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* keep_on_recipient_loss: a 413 from the device is not passed on; the
 * sender gets 200 from us and goes on. */
UNIT_TEST(test_keep_on_device_error)
{
	const size_t c1 = 2000, c2 = 3000, total = c1 + c2;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;
	struct want_tid wt;

	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_KEEP, total, NULL) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "ke000001", file, 1, c1, total, '+', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK(device_respond(&dev, &dev.rx[1], 413, "Message Too Large") == 0);
	CHECK(run_until(is_lost, &f, &snd, &dev, STEP_LIMIT_MS));
	wt = (struct want_tid){&snd, "ke000001"};
	CHECK(run_until(tid_seen, &wt, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "ke000001")->status, 200);
	CHECK(run_until(peer_eof, &dev, &snd, &dev, STEP_LIMIT_MS));
	CHECK(send_chunk(&snd, &f, "ke000002", file + c1, c1 + 1, c2, total, '$', NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK(blob_is(&f, file, total));
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* The '$' chunk reached the device, which dies before acknowledging it:
 * the whole file is checked and in the blob, so RECEIVED follows at once
 * and the answer the device owed is now held for the owner's ack. */
UNIT_TEST(test_keep_last_chunk_in_flight)
{
	const size_t total = 20000;
	char *file = make_file(total);
	uint8_t sha[20];
	struct peer snd, dev;
	struct fix f;
	struct want w;
	struct want_tid wt;

	sha1_of(file, total, sha);
	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_KEEP, total, sha) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "kf000001", file, 1, total, total, '$', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[1].flag, '$');
	close(dev.fd);
	dev.fd = -1;
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.lost, 1);
	CHECK_EQ_INT(f.done_calls, 0);
	settle(&snd, NULL, 50);
	CHECK(find_tid(&snd, "kf000001") == NULL);
	CHECK_EQ_INT(count_method(&snd, MSRP_METHOD_REPORT), 0);
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	wt = (struct want_tid){&snd, "kf000001"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "kf000001")->status, 200);
	w = (struct want){&snd, 3, 3};
	CHECK(run_until(peer_has, &w, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(count_method(&snd, MSRP_METHOD_REPORT), 1);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* keep_on_recipient_loss: a device that takes a chunk and never answers it
 * is lost after the transaction timeout; the sender gets our 200. */
UNIT_TEST(test_keep_on_device_timeout)
{
	const size_t c1 = 4000, c2 = 1000, total = c1 + c2;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;
	struct want_tid wt;

	CHECK(hub_start_txn(&f, 0, 300) == 0);
	CHECK(relay_start(&f, MODE_KEEP, total, NULL) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "kt000001", file, 1, c1, total, '+', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK(run_until(is_lost, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.done_calls, 0);
	wt = (struct want_tid){&snd, "kt000001"};
	CHECK(run_until(tid_seen, &wt, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "kt000001")->status, 200);
	CHECK(run_until(peer_eof, &dev, &snd, &dev, STEP_LIMIT_MS));
	CHECK(send_chunk(&snd, &f, "kt000002", file + c1, c1 + 1, c2, total, '$', NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK(blob_is(&f, file, total));
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* Without keep_on_recipient_loss nothing changes: the device's loss ends
 * the relay. */
UNIT_TEST(test_no_keep_still_ends)
{
	const size_t total = 20000;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;

	CHECK(hub_start(&f, 0) == 0);
	CHECK(relay_start(&f, MODE_LIVE, total, NULL) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "nk000001", file, 1, 5000, total, '+', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	close(dev.fd);
	dev.fd = -1;
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_RECIPIENT_LOST);
	CHECK_EQ_INT(f.lost + f.received, 0);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* ---------------------------------------------------------------- source mode */

/* A device that checks every chunk it gets and answers it. */
struct devctl {
	struct peer *dev;
	unsigned seen;          /* rx index up to which chunks were checked */
	int status;             /* what to answer */
	unsigned answer_max;    /* answer at most this many chunks */
	unsigned answered;
	bool report;            /* success REPORT after the '$' chunk */
	uint64_t expect_total;  /* the message (range) length */
	uint64_t next_start;    /* Byte-Range start of the next chunk */
	unsigned chunks;
	bool bad_range, saw_last;
	char why[160];
};

static void dev_service(struct devctl *d)
{
	struct peer *dev = d->dev;

	while (d->seen < dev->n) {
		const struct rx *x = &dev->rx[d->seen % MAX_RX];

		if (x->method == MSRP_METHOD_SEND && !x->flag)
			return; /* still arriving */
		d->seen++;
		if (x->method != MSRP_METHOD_SEND)
			continue;
		d->chunks++;
		if (!x->has_range || x->range.start != d->next_start || x->range.total != d->expect_total ||
		    x->range.end != x->range.start + x->body_len - 1 || x->range.end > d->expect_total ||
		    x->sr != MSRP_REPORT_YES || x->fr != MSRP_REPORT_YES) {
			if (!d->bad_range)
				snprintf(d->why, sizeof d->why, "chunk %u: %llu-%llu/%llu, %llu body bytes",
					 d->chunks, (unsigned long long)x->range.start,
					 (unsigned long long)x->range.end, (unsigned long long)x->range.total,
					 (unsigned long long)x->body_len);
			d->bad_range = true;
		}
		d->next_start = x->range.end + 1;
		if (d->answered < d->answer_max) {
			device_respond(dev, x, d->status, d->status == 200 ? "OK" : "Refused");
			d->answered++;
		}
		if (x->flag == '$') {
			d->saw_last = true;
			if (d->report && d->status == 200)
				device_report(dev, x, d->expect_total);
		}
	}
}

static bool run_dev(struct devctl *d, cond_f *cond, void *arg, int limit_ms)
{
	uint64_t end = now_ms() + (uint64_t)limit_ms;

	while (now_ms() < end) {
		if (cond(arg))
			return true;
		su_root_step(root, 1);
		peer_poll(d->dev);
		dev_service(d);
	}
	return cond(arg);
}

static void devctl_init(struct devctl *d, struct peer *dev, uint64_t expect_total)
{
	memset(d, 0, sizeof *d);
	d->dev = dev;
	d->seen = 1; /* rx[0]: the answer to the binding SEND */
	d->status = 200;
	d->answer_max = ~0u;
	d->report = true;
	d->expect_total = expect_total;
	d->next_start = 1;
}

static int source_start(struct fix *f, const char *file, size_t size, const struct ft_relay_source_params *tmpl)
{
	struct ft_relay_source_params p = *tmpl;

	if (write_file(f->blob, file, size))
		return -1;
	p.blob_fd = blob_fd_read(f->blob);
	p.size = size;
	if (ft_relay_create_source(&f->relay, f->hub, &p, on_done, f)) {
		if (p.blob_fd >= 0)
			close(p.blob_fd); /* not taken */
		return -1;
	}
	return ft_relay_set_peer_path(f->relay, FT_LEG_DOWN, DEVICE_PATH) ? -1 : 0;
}

struct want_acked {
	struct fix *f;
	uint64_t n;
};

static bool acked_reaches(void *arg)
{
	struct want_acked *w = arg;

	return ft_relay_bytes_acked(w->f->relay) >= w->n;
}

static bool chunks_answered(void *arg)
{
	struct devctl *d = arg;

	return d->saw_last;
}

UNIT_TEST(test_source_full_delivery)
{
	const size_t total = 300000; /* 4 x 64 KiB + 37856 */
	char *file = make_file(total);
	struct ft_relay_source_params sp = {.content_type = "image/jpeg", .message_id = "stored0001"};
	struct peer dev;
	struct devctl d;
	struct fix f;
	const struct rx *x;

	sha1_of(file, total, sp.sha1);
	sp.has_sha1 = true;
	CHECK(hub_start(&f, 0) == 0);
	CHECK(source_start(&f, file, total, &sp) == 0);
	CHECK_STR(up_uri(&f), ""); /* no sender leg */
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == -1);
	CHECK(ft_relay_detach_down(f.relay) == -EINVAL);
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), 0);
	settle(NULL, NULL, 20);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), 0); /* nothing before the device binds */
	CHECK(connect_peer_body(&f, &dev, down_uri(&f), DEVICE_PATH, "dbind01", total) == 0);
	devctl_init(&d, &dev, total);
	d.report = false;
	CHECK(run_dev(&d, chunks_answered, &d, STEP_LIMIT_MS));
	settle(&dev, NULL, 100);
	CHECK_EQ_INT(f.done_calls, 0); /* the success REPORT is missing */
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), total);
	CHECK(!d.bad_range);
	CHECK_EQ_INT(d.chunks, 5);
	CHECK_EQ_INT(dev.body_len, total);
	CHECK(memcmp(dev.body, file, total) == 0);
	x = &dev.rx[1];
	CHECK_EQ_INT(x->method, MSRP_METHOD_SEND);
	CHECK_STR(x->msgid, "stored0001");
	CHECK_STR(x->ctype, "image/jpeg");
	CHECK_STR(x->to, DEVICE_PATH);
	CHECK_STR(x->from, down_uri(&f));
	CHECK_EQ_INT(x->body_len, FT_RELAY_SOURCE_CHUNK);
	CHECK_EQ_INT(x->flag, '+');
	CHECK_EQ_INT(dev.rx[5].flag, '$');
	CHECK_EQ_INT(dev.rx[5].range.end, total);
	CHECK(device_report(&dev, &dev.rx[5], total) == 0);
	CHECK(run_dev(&d, is_done, &f, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), total);
	fix_stop(&f);
	peer_close(&dev);
	free(file);
}

/* Resume from an offset (a=file-range:100001-300000): the MSRP message is
 * the range only, counted from 1, total = the range length. */
UNIT_TEST(test_source_resume_range)
{
	const size_t total = 300000, off = 100000, len = total - off;
	char *file = make_file(total);
	struct ft_relay_source_params sp = {.offset = off};
	struct peer dev;
	struct devctl d;
	struct fix f;

	sha1_of(file, total, sp.sha1);
	sp.has_sha1 = true;
	CHECK(hub_start(&f, 0) == 0);
	CHECK(source_start(&f, file, total, &sp) == 0);
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), off);
	CHECK(connect_peer_body(&f, &dev, down_uri(&f), DEVICE_PATH, "dbind01", total) == 0);
	devctl_init(&d, &dev, len);
	CHECK(run_dev(&d, is_done, &f, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	if (d.bad_range)
		fprintf(stderr, "  %s\n", d.why);
	CHECK(!d.bad_range);
	CHECK(d.saw_last);
	CHECK_EQ_INT(d.chunks, 4); /* 3 x 64 KiB + 3392 */
	CHECK_EQ_INT(dev.rx[1].range.start, 1);
	CHECK_EQ_INT(dev.rx[1].range.total, len);
	CHECK_STR(dev.rx[1].ctype, "application/octet-stream");
	CHECK_EQ_INT(dev.body_len, len);
	CHECK(memcmp(dev.body, file + off, len) == 0); /* the tail of the file */
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), total);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), len);
	fix_stop(&f);
	peer_close(&dev);
	free(file);
}

/* A range that stops before the end of the file (a=file-range:1001-6000). */
UNIT_TEST(test_source_inner_range)
{
	const size_t total = 100000, off = 1000, len = 5000;
	char *file = make_file(total);
	struct ft_relay_source_params sp = {.offset = off, .length = len, .has_sha1 = true};
	struct peer dev;
	struct devctl d;
	struct fix f;

	memset(sp.sha1, 0xee, 20); /* not checked for a part of the file */
	CHECK(hub_start(&f, 0) == 0);
	CHECK(source_start(&f, file, total, &sp) == 0);
	CHECK(connect_peer_body(&f, &dev, down_uri(&f), DEVICE_PATH, "dbind01", total) == 0);
	devctl_init(&d, &dev, len);
	CHECK(run_dev(&d, is_done, &f, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	CHECK(!d.bad_range);
	CHECK_EQ_INT(d.chunks, 1);
	CHECK_EQ_INT(dev.rx[1].range.start, 1);
	CHECK_EQ_INT(dev.rx[1].range.end, len);
	CHECK_EQ_INT(dev.rx[1].range.total, len);
	CHECK_EQ_INT(dev.rx[1].flag, '$');
	CHECK_EQ_INT(dev.body_len, len);
	CHECK(memcmp(dev.body, file + off, len) == 0);
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), off + len);
	fix_stop(&f);
	peer_close(&dev);
	free(file);
}

UNIT_TEST(test_source_device_413)
{
	const size_t total = 200000;
	char *file = make_file(total);
	struct ft_relay_source_params sp = {0};
	struct peer dev;
	struct devctl d;
	struct fix f;

	CHECK(hub_start(&f, 0) == 0);
	CHECK(source_start(&f, file, total, &sp) == 0);
	CHECK(connect_peer(&f, &dev, down_uri(&f), DEVICE_PATH, "dbind01") == 0);
	devctl_init(&d, &dev, total);
	d.status = 413;
	CHECK(run_dev(&d, is_done, &f, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_RECIPIENT_REFUSED);
	CHECK(strstr(f.detail, "413") != NULL);
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), 0);
	CHECK_EQ_INT(f.done_calls, 1);
	fix_stop(&f);
	peer_close(&dev);
	free(file);
}

/* The device answers two chunks and goes away: the owner resumes from
 * offset + 2 chunks. */
UNIT_TEST(test_source_device_disconnect)
{
	const size_t total = 500000, off = 1000;
	char *file = make_file(total);
	struct ft_relay_source_params sp = {.offset = off};
	struct want_acked wa;
	struct peer dev;
	struct devctl d;
	struct fix f;

	CHECK(hub_start(&f, 0) == 0);
	CHECK(source_start(&f, file, total, &sp) == 0);
	CHECK(connect_peer(&f, &dev, down_uri(&f), DEVICE_PATH, "dbind01") == 0);
	devctl_init(&d, &dev, total - off);
	d.answer_max = 2;
	d.report = false;
	wa = (struct want_acked){&f, off + 2 * FT_RELAY_SOURCE_CHUNK};
	CHECK(run_dev(&d, acked_reaches, &wa, STEP_LIMIT_MS));
	settle(&dev, NULL, 50);
	CHECK(d.chunks > 2); /* more came, unanswered */
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), off + 2 * FT_RELAY_SOURCE_CHUNK);
	close(dev.fd);
	dev.fd = -1;
	CHECK(run_until(is_done, &f, NULL, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_RECIPIENT_LOST);
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), off + 2 * FT_RELAY_SOURCE_CHUNK);
	fix_stop(&f);
	peer_close(&dev);
	free(file);
}

/* A damaged blob is not delivered: the last chunk ends with '#'. */
UNIT_TEST(test_source_hash_mismatch)
{
	const size_t total = 100000;
	char *file = make_file(total);
	struct ft_relay_source_params sp = {.has_sha1 = true};
	struct peer dev;
	struct devctl d;
	struct fix f;
	struct want w;

	sha1_of(file, total, sp.sha1);
	sp.sha1[0] ^= 1;
	CHECK(hub_start(&f, 0) == 0);
	CHECK(source_start(&f, file, total, &sp) == 0);
	CHECK(connect_peer(&f, &dev, down_uri(&f), DEVICE_PATH, "dbind01") == 0);
	devctl_init(&d, &dev, total);
	d.answer_max = 0;
	CHECK(run_dev(&d, is_done, &f, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_HASH_MISMATCH);
	w = (struct want){&dev, 3, 3};
	CHECK(run_until(peer_has, &w, &dev, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[1].flag, '+');
	CHECK_EQ_INT(dev.rx[2].flag, '#');
	fix_stop(&f);
	peer_close(&dev);
	free(file);
}

/* A device that reads slowly: the queue towards it never holds more than
 * the high-water mark, and every byte still arrives. */
UNIT_TEST(test_source_backpressure_slow_reader)
{
	const size_t total = 8u << 20, hw = 128 * 1024;
	char *file = make_file(total);
	struct ft_relay_source_params sp = {.has_sha1 = true};
	struct peer dev;
	struct devctl d;
	struct fix f;
	int small = 32 * 1024;
	uint8_t got[20];

	sha1_of(file, total, sp.sha1);
	CHECK(hub_start(&f, hw) == 0);
	CHECK(source_start(&f, file, total, &sp) == 0);
	CHECK(peer_connect(&dev, msrp_hub_port(f.hub)) == 0);
	setsockopt(dev.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	CHECK(send_bind(&dev, down_uri(&f), DEVICE_PATH, "dbind01") == 0);
	dev.read_budget = 32 * 1024; /* per poll */
	dev.body = malloc(total);
	dev.body_cap = total;
	devctl_init(&d, &dev, total);
	d.seen = 0;
	CHECK(run_dev(&d, is_done, &f, 20000));
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	CHECK(!d.bad_range);
	CHECK_EQ_INT(dev.body_len, total);
	sha1_of(dev.body, total, got);
	CHECK(memcmp(got, sp.sha1, 20) == 0);
	fprintf(stderr, "  max DOWN queue %zu bytes for a %zu-byte file (high water %zu)\n",
		ft_relay_max_queued(f.relay, FT_LEG_DOWN), total, hw);
	CHECK(ft_relay_max_queued(f.relay, FT_LEG_DOWN) > 0); /* the reader really was slow */
	CHECK(ft_relay_max_queued(f.relay, FT_LEG_DOWN) <= hw);
	fix_stop(&f);
	peer_close(&dev);
	free(file);
}

/* A device that takes the chunks and never answers: FT_RELAY_TIMEOUT. */
UNIT_TEST(test_source_no_response_timeout)
{
	const size_t total = 100000;
	char *file = make_file(total);
	struct ft_relay_source_params sp = {0};
	struct peer dev;
	struct devctl d;
	struct fix f;
	uint64_t t0;

	CHECK(hub_start_txn(&f, 0, 300) == 0);
	CHECK(source_start(&f, file, total, &sp) == 0);
	CHECK(connect_peer(&f, &dev, down_uri(&f), DEVICE_PATH, "dbind01") == 0);
	devctl_init(&d, &dev, total);
	d.answer_max = 0;
	d.report = false;
	t0 = now_ms();
	CHECK(run_dev(&d, is_done, &f, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_TIMEOUT);
	CHECK(now_ms() - t0 >= 250);
	CHECK(d.saw_last); /* everything was sent; the answers did not come */
	CHECK_EQ_INT(ft_relay_bytes_acked(f.relay), 0);
	fix_stop(&f);
	peer_close(&dev);
	free(file);
}

UNIT_TEST(test_source_bad_params)
{
	const size_t total = 1000;
	char *file = make_file(total);
	struct ft_relay_source_params sp = {0};
	struct ft_relay *r = NULL;
	struct fix f;

	CHECK(hub_start(&f, 0) == 0);
	CHECK(write_file(f.blob, file, total) == 0);
	/* A refused create leaves the descriptor to the caller: one serves
	 * every attempt below. */
	int fd = blob_fd_read(f.blob);
	CHECK(fd >= 0);
	sp.blob_fd = fd;
	sp.size = total + 1; /* the blob is not that size */
	CHECK(ft_relay_create_source(&r, f.hub, &sp, on_done, &f) == -EINVAL);
	sp.size = total;
	sp.offset = total + 1;
	CHECK(ft_relay_create_source(&r, f.hub, &sp, on_done, &f) == -EINVAL);
	sp.offset = 10;
	sp.length = total;
	CHECK(ft_relay_create_source(&r, f.hub, &sp, on_done, &f) == -EINVAL);
	sp.length = 0;
	sp.message_id = "bad id";
	CHECK(ft_relay_create_source(&r, f.hub, &sp, on_done, &f) == -EINVAL);
	sp.message_id = NULL;
	sp.content_type = "text/plain\r\nX: y";
	CHECK(ft_relay_create_source(&r, f.hub, &sp, on_done, &f) == -EINVAL);
	sp.content_type = NULL;
	sp.blob_fd = -1; /* the source needs its blob */
	CHECK(ft_relay_create_source(&r, f.hub, &sp, on_done, &f) == -EINVAL);
	CHECK(r == NULL);
	{
		/* store mode without an event callback could never be acknowledged */
		struct ft_relay_params p = {.size = 10, .store_only = true, .has_blob = true, .blob_fd = fd};

		CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
		p.event = on_event;
		p.has_blob = false; /* nor without a blob */
		CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
		p.store_only = false;
		p.keep_on_recipient_loss = true;
		CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
		CHECK(r == NULL);
	}
	CHECK(fcntl(fd, F_GETFD) >= 0); /* still open: never taken */
	close(fd);
	fix_stop(&f);
	free(file);
}

UNIT_MAIN(T(test_store_held_ack), T(test_store_ack_error), T(test_store_sender_leaves_before_ack),
	  T(test_store_sender_aborts), T(test_store_hash_mismatch),
	  T(test_store_too_many_bytes), T(test_detach_down_mid_transfer),
	  T(test_keep_on_device_connection_loss), T(test_keep_device_acked_bytes), T(test_keep_on_device_error),
	  T(test_keep_last_chunk_in_flight), T(test_keep_on_device_timeout), T(test_no_keep_still_ends), T(test_source_full_delivery),
	  T(test_source_resume_range), T(test_source_inner_range), T(test_source_device_413), T(test_source_device_disconnect),
	  T(test_source_hash_mismatch), T(test_source_backpressure_slow_reader), T(test_source_no_response_timeout),
	  T(test_source_bad_params))
