/* Issue 12: the relay on a worker loop (cpmd --workers N, src/net/msrp_workers.c,
 * src/relay/ft_relay_thread.c), over real loopback sockets.
 *
 * The test's thread is the main thread: it owns the main hub (the listener) and steps its
 * su_root, as cpmd's main loop does; the worker threads run their own loops. So every
 * crossing is real: a connection accepted on the main hub whose session lives on a worker is
 * handed over with the bytes already read, pf-side calls run on the worker while the caller
 * waits, done() comes back to the main loop. Also run under ThreadSanitizer (scripts/test.sh,
 * halt_on_error=1). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpm/msrp.h"
#include "net/msrp_transport.h"
#include "relay/ft_relay.h"
#include "unit.h"

#include "net_peer.h"

#define BIG (2 * 1024 * 1024) /* above HUB_WORKER_MIN_SIZE: placed on a worker */

struct wfix {
	struct msrp_hub *hub;
	struct ft_relay *relay;
	int done_calls;
	enum ft_relay_result res;
	bool done_on_main;
	pthread_t main_thread;
	char blob[160];
	char dir[64];
};

static void on_done(void *arg, enum ft_relay_result res, const char *detail)
{
	struct wfix *f = arg;

	f->done_calls++;
	f->res = res;
	f->done_on_main = pthread_equal(pthread_self(), f->main_thread);
}

static bool is_done(void *arg) { return ((struct wfix *)arg)->done_calls > 0; }

static int wfix_start(struct wfix *f, unsigned workers, unsigned bind_timeout, uint64_t size, const uint8_t *sha1)
{
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .port = 0, .bind_timeout = bind_timeout};
	struct ft_relay_params p = {.size = size, .has_blob = true};

	memset(f, 0, sizeof *f);
	f->main_thread = pthread_self();
	if (!root && !(root = su_root_create(NULL)))
		return -1;
	strcpy(f->dir, "/tmp/cpm-workers-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->blob, sizeof f->blob, "%s/blob", f->dir);
	if (msrp_hub_create(&f->hub, root, &cfg) || msrp_hub_start_workers(f->hub, workers))
		return -1;
	if (sha1) {
		p.has_sha1 = true;
		memcpy(p.sha1, sha1, 20);
	}
	p.blob_fd = blob_fd_new(f->blob);
	if (ft_relay_create(&f->relay, f->hub, &p, on_done, f))
		return -1;
	return 0;
}

static void wfix_stop(struct wfix *f)
{
	ft_relay_destroy(f->relay);
	f->relay = NULL;
	for (int i = 0; i < 20; i++)
		su_root_step(root, 1);
	msrp_hub_destroy(f->hub); /* stops and joins the workers */
	unlink(f->blob);
	rmdir(f->dir);
}

/* The session-id of a leg's path: "msrp://host:port/ID;tcp". */
static char leg_mark(struct wfix *f, enum ft_relay_leg leg)
{
	const char *p = strrchr(ft_relay_path(f->relay, leg), '/');
	return p ? p[1] : 0;
}

static char *make_file(size_t n)
{
	char *d = malloc(n);

	for (size_t i = 0; i < n; i++)
		d[i] = (char)(i * 13 + (i >> 11));
	return d;
}

/* ---------------------------------------------------------------- tests */

/* The sender's first request is its first data chunk, and it arrives together with 100 KiB of
 * that chunk's body: the main hub reads it all, sees a worker's session, and hands the socket
 * over with those bytes; the worker parses them again from the request's start. */
UNIT_TEST(test_workers_handoff_with_body_read)
{
	const size_t total = BIG, first = 100 * 1024;
	char *file = make_file(total);
	uint8_t sha[20];
	struct peer snd, dev;
	struct wfix f;
	struct want w;
	char head[1024];
	int n;

	sha1_of(file, total, sha);
	CHECK(wfix_start(&f, 2, 5, total, sha) == 0);
	/* on a worker: its session-ids carry the worker's index */
	CHECK(leg_mark(&f, FT_LEG_UP) == '1' || leg_mark(&f, FT_LEG_UP) == '2');
	CHECK(leg_mark(&f, FT_LEG_DOWN) == leg_mark(&f, FT_LEG_UP));
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_DOWN, DEVICE_PATH) == 0);
	CHECK(peer_connect(&dev, msrp_hub_port(f.hub)) == 0);
	CHECK(send_bind(&dev, ft_relay_path(f.relay, FT_LEG_DOWN), DEVICE_PATH, "dbind01") == 0);
	w = (struct want){&dev, 1, 1};
	CHECK(run_until(peer_has, &w, &dev, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[0].status, 200);
	dev.body = malloc(total);
	dev.body_cap = total;

	CHECK(peer_connect(&snd, msrp_hub_port(f.hub)) == 0);
	n = snprintf(head, sizeof head,
		     "MSRP snd00001 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
		     "Byte-Range: 1-%zu/%zu\r\nSuccess-Report: yes\r\nContent-Type: application/octet-stream\r\n\r\n",
		     ft_relay_path(f.relay, FT_LEG_UP), SENDER_PATH, total, total);
	{
		/* head and the first 100 KiB in one write: one read on the main hub takes both */
		char *one = malloc((size_t)n + first);
		memcpy(one, head, (size_t)n);
		memcpy(one + n, file, first);
		CHECK(peer_send(&snd, one, (size_t)n + first, &dev) == 0);
		free(one);
	}
	/* let the main hub read it and hand it over before the rest comes */
	for (int i = 0; i < 50; i++)
		su_root_step(root, 1);
	CHECK(peer_send(&snd, file + first, total - first, &dev) == 0);
	CHECK(peer_sendf(&snd, "\r\n-------snd00001$\r\n") == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.body_len, total);
	CHECK(memcmp(dev.body, file, total) == 0);
	CHECK(device_respond(&dev, &dev.rx[1], 200, "OK") == 0);
	CHECK(device_report(&dev, &dev.rx[1], total) == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	CHECK(f.done_on_main); /* posted back to the main loop */
	CHECK_EQ_INT(ft_relay_bytes(f.relay), total);
	{
		size_t blen = 0;
		char *blob = read_file(f.blob, &blen);
		CHECK(blob && blen == total && memcmp(blob, file, total) == 0);
		free(blob);
	}
	struct msrp_hub_stats st;
	msrp_hub_stats(f.hub, &st);
	CHECK(st.bytes_relayed >= total); /* the worker's counter, read from main */
	peer_close(&snd);
	peer_close(&dev);
	free(dev.body);
	free(file);
	wfix_stop(&f);
}

/* A done() the worker posted and the main loop has not run yet is dropped by destroy: no
 * callback after ft_relay_destroy(). */
UNIT_TEST(test_workers_no_done_after_destroy)
{
	struct wfix f;

	CHECK(wfix_start(&f, 2, 1, BIG, NULL) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
	usleep(1600 * 1000); /* the worker's bind timeout fires; main does not step */
	ft_relay_destroy(f.relay);
	f.relay = NULL;
	for (int i = 0; i < 200; i++)
		su_root_step(root, 1);
	CHECK_EQ_INT(f.done_calls, 0);
	wfix_stop(&f);

	/* the control: stepping main, the same timeout arrives */
	CHECK(wfix_start(&f, 2, 1, BIG, NULL) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(run_until(is_done, &f, NULL, NULL, 4000));
	CHECK_EQ_INT(f.res, FT_RELAY_TIMEOUT);
	CHECK(f.done_on_main);
	wfix_stop(&f);
}

/* A done() the worker posted and main has not run yet is run by ft_relay_deliver_pending(),
 * once: pf calls it before acting on a BYE that overtook it. */
UNIT_TEST(test_workers_deliver_pending)
{
	struct wfix f;

	CHECK(wfix_start(&f, 2, 1, BIG, NULL) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
	usleep(1600 * 1000); /* the worker's bind timeout fires and posts done; main does not step */
	CHECK_EQ_INT(f.done_calls, 0);
	ft_relay_deliver_pending(f.relay);
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_TIMEOUT);
	CHECK(f.done_on_main);
	ft_relay_deliver_pending(f.relay); /* nothing more */
	for (int i = 0; i < 200; i++)
		su_root_step(root, 1);
	CHECK_EQ_INT(f.done_calls, 1); /* and the loop does not run it a second time */
	wfix_stop(&f);
}

/* stderr made a full pipe: the next log line of any thread blocks until drain_later() empties
 * it, 300 ms on. */
struct stall {
	int saved, rd, wr;
	pthread_t tid;
};

static void *drain_later(void *arg)
{
	struct stall *st = arg;
	char buf[4096];
	ssize_t n;

	usleep(300 * 1000);
	while ((n = read(st->rd, buf, sizeof buf)) > 0)
		if (write(st->saved, buf, (size_t)n) < 0)
			break;
	return NULL;
}

static int stall_logs(struct stall *st)
{
	int fds[2];
	char junk[512];

	memset(junk, '.', sizeof junk);
	junk[sizeof junk - 1] = '\n';
	if (pipe(fds))
		return -1;
	st->rd = fds[0];
	st->wr = fds[1];
	(void)fcntl(st->wr, F_SETPIPE_SZ, 4096);
	fcntl(st->wr, F_SETFL, O_NONBLOCK);
	while (write(st->wr, junk, sizeof junk) > 0)
		;
	if (errno != EAGAIN)
		return -1;
	fcntl(st->wr, F_SETFL, 0);
	fflush(stderr);
	st->saved = dup(2);
	if (st->saved < 0 || dup2(st->wr, 2) < 0)
		return -1;
	return pthread_create(&st->tid, NULL, drain_later, st) ? -1 : 0;
}

static void unstall_logs(struct stall *st)
{
	dup2(st->saved, 2);
	close(st->wr); /* the drainer sees EOF */
	pthread_join(st->tid, NULL);
	close(st->saved); /* only now: the drainer writes to it until the end */
	close(st->rd);
}

/* A live relay of `file` on a worker, the device bound and the whole file sent in one chunk
 * (Success-Report yes) until the device has it; f, snd and dev are the caller's to stop. */
static int live_file_sent(struct wfix *f, struct peer *snd, struct peer *dev, const char *file, size_t total)
{
	uint8_t sha[20];
	struct want w;

	sha1_of(file, total, sha);
	if (wfix_start(f, 2, 5, total, sha) || ft_relay_set_peer_path(f->relay, FT_LEG_UP, SENDER_PATH) ||
	    ft_relay_set_peer_path(f->relay, FT_LEG_DOWN, DEVICE_PATH) || peer_connect(dev, msrp_hub_port(f->hub)) ||
	    send_bind(dev, ft_relay_path(f->relay, FT_LEG_DOWN), DEVICE_PATH, "dbind02"))
		return -1;
	w = (struct want){dev, 1, 1};
	if (!run_until(peer_has, &w, dev, NULL, STEP_LIMIT_MS) || peer_connect(snd, msrp_hub_port(f->hub)) ||
	    peer_sendf(snd,
		       "MSRP snd00002 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0002\r\n"
		       "Byte-Range: 1-%zu/%zu\r\nSuccess-Report: yes\r\nContent-Type: application/octet-stream\r\n\r\n",
		       ft_relay_path(f->relay, FT_LEG_UP), SENDER_PATH, total, total) ||
	    peer_send(snd, file, total, dev) || peer_sendf(snd, "\r\n-------snd00002$\r\n"))
		return -1;
	w = (struct want){dev, 2, 2};
	return run_until(peer_has, &w, snd, dev, STEP_LIMIT_MS) ? 0 : -1;
}

/* As the sender, without stepping the main loop: wait (at most ms) for the REPORT. */
static bool sender_has_report(struct peer *snd, uint64_t ms)
{
	uint64_t t0 = now_ms();
	while (!find_method(snd, MSRP_METHOD_REPORT, 0) && now_ms() - t0 < ms) {
		peer_poll(snd);
		usleep(1000);
	}
	return find_method(snd, MSRP_METHOD_REPORT, 0) != NULL;
}

/* The race t_mss_large lost once in CI: the relay forwards the device's success REPORT to the
 * sender and only then ends and posts done(COMPLETE); the sender's BYE can reach the main loop
 * before that post, and pf calls ft_relay_deliver_pending() then. Here the worker is held right
 * after the forward (its "complete" log line blocks on a full stderr) while the test, as the
 * sender, has the REPORT: deliver_pending must still run done(COMPLETE) before it returns. */
UNIT_TEST(test_workers_bye_overtakes_done)
{
	const size_t total = BIG;
	char *file = make_file(total);
	struct peer snd, dev;
	struct wfix f;
	struct stall st;

	CHECK(live_file_sent(&f, &snd, &dev, file, total) == 0);
	CHECK(device_respond(&dev, &dev.rx[1], 200, "OK") == 0);
	for (int i = 0; i < 20; i++) { /* the worker takes the 200 (the main loop has no part in it) */
		peer_poll(&snd);
		usleep(5000);
	}
	CHECK(stall_logs(&st) == 0);
	CHECK(device_report(&dev, &dev.rx[1], total) == 0);
	bool got_report = sender_has_report(&snd, 5000); /* the main loop is not stepped */
	int calls_before = f.done_calls;
	ft_relay_deliver_pending(f.relay); /* what pf does on the sender's BYE */
	int calls_after = f.done_calls;
	unstall_logs(&st);
	CHECK(got_report);
	CHECK_EQ_INT(calls_before, 0);
	CHECK_EQ_INT(calls_after, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	CHECK(f.done_on_main);
	for (int i = 0; i < 100; i++)
		su_root_step(root, 1);
	CHECK_EQ_INT(f.done_calls, 1); /* and not a second time */
	peer_close(&snd);
	peer_close(&dev);
	free(file);
	wfix_stop(&f);
}

/* The same BYE with a disk slower than the network (the tee worker 320 ms behind the bytes the
 * device has): the file's last end-line waits for the tee, so the device's REPORT, and the
 * sender's after it, come only once the blob is whole; deliver_pending then finds the transfer
 * complete, and the blob holds the file. */
UNIT_TEST(test_workers_report_after_tee_drain)
{
	const size_t total = BIG;
	char *file = make_file(total);
	struct peer snd, dev;
	struct wfix f;

	ft_relay_test_tee_hooks(40000, 0, 0); /* 40 ms before each 256 KiB write: 320 ms behind */
	CHECK(live_file_sent(&f, &snd, &dev, file, total) == 0);
	CHECK(device_respond(&dev, &dev.rx[1], 200, "OK") == 0);
	CHECK(device_report(&dev, &dev.rx[1], total) == 0);
	/* the moment the sender has the REPORT, the transfer must be known complete */
	bool got_report = sender_has_report(&snd, 10000);
	ft_relay_deliver_pending(f.relay);
	ft_relay_test_tee_hooks(0, 0, 0);
	CHECK(got_report);
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	{
		size_t blen = 0;
		char *blob = read_file(f.blob, &blen);
		CHECK(blob && blen == total && memcmp(blob, file, total) == 0); /* the tee was written first */
		free(blob);
	}
	peer_close(&snd);
	peer_close(&dev);
	free(file);
	wfix_stop(&f);
}

/* Small transfers, and --workers 1, stay on the main loop: the old path, no crossing. */
UNIT_TEST(test_workers_small_and_one_stay_on_main)
{
	struct wfix f;
	struct ft_relay_params p = {.size = 1000};
	struct ft_relay *small;

	CHECK(wfix_start(&f, 2, 5, BIG, NULL) == 0);
	CHECK(ft_relay_create(&small, f.hub, &p, on_done, &f) == 0);
	{
		const char *s = strrchr(ft_relay_path(small, FT_LEG_UP), '/');
		CHECK(s && s[1] == '0');
	}
	ft_relay_destroy(small);
	wfix_stop(&f);

	CHECK(wfix_start(&f, 1, 5, BIG, NULL) == 0);
	CHECK(hub_worker_count(f.hub) == 0);
	wfix_stop(&f);
}

/* The price of one call from main into a worker relay (hub_call round trip). */
UNIT_TEST(test_workers_call_round_trip)
{
	struct wfix f;
	const int calls = 20000;

	CHECK(wfix_start(&f, 2, 5, BIG, NULL) == 0);
	uint64_t t0 = now_ms();
	for (int i = 0; i < calls; i++)
		CHECK_EQ_INT(ft_relay_bytes(f.relay), 0);
	uint64_t ms = now_ms() - t0;
	printf("hub_call round trip: %d calls in %llu ms (%.1f us each)\n", calls, (unsigned long long)ms,
	       1000.0 * (double)ms / calls);
	wfix_stop(&f);
}

UNIT_MAIN(T(test_workers_handoff_with_body_read), T(test_workers_no_done_after_destroy), T(test_workers_deliver_pending), T(test_workers_bye_overtakes_done), T(test_workers_report_after_tee_drain),
	  T(test_workers_small_and_one_stay_on_main), T(test_workers_call_round_trip))
