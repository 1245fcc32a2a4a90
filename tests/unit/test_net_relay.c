/* The MSRP relay over real loopback sockets and a real su_root.
 *
 * Both peers (the sender and the recipient device) are driven from this
 * thread with non-blocking sockets: every wait steps the su_root, so the
 * relay and the peers take turns, deterministically enough for asserts on
 * what each side received. The peers parse with our own MSRP parser and
 * keep every message they get (start line, paths, headers, body). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <time.h>

#include "cpm/msrp.h"
#include "net/msrp_transport.h" /* MSRP_RBUF_SIZE: what one read can add to a queue */
#include "relay/ft_relay.h"
#include "unit.h"

#include "net_peer.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CPM_HAS_TSAN 1
#endif
#endif
#ifndef CPM_HAS_TSAN
#define CPM_HAS_TSAN 0
#endif

#define MSRP_OUR_URI_MAX_T 128

/* ---------------------------------------------------------------- relay fixture */

struct fix {
	struct msrp_hub *hub;
	struct ft_relay *relay;
	int done_calls;
	enum ft_relay_result res;
	char detail[160];
	bool destroy_in_done;
	char blob[160];
	char dir[64];
};

static void on_done(void *arg, enum ft_relay_result res, const char *detail)
{
	struct fix *f = arg;

	f->done_calls++;
	f->res = res;
	snprintf(f->detail, sizeof f->detail, "%s", detail);
	if (f->destroy_in_done) {
		ft_relay_destroy(f->relay);
		f->relay = NULL;
	}
}

static bool is_done(void *arg)
{
	return ((struct fix *)arg)->done_calls > 0;
}


static int fix_start(struct fix *f, size_t high_water, unsigned bind_timeout, uint64_t size,
		     const uint8_t *sha1)
{
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .port = 0, .high_water = high_water,
				   .bind_timeout = bind_timeout};
	struct ft_relay_params p = {.size = size};

	memset(f, 0, sizeof *f);
	if (!root) {
		root = su_root_create(NULL);
		if (!root)
			return -1;
	}
	strcpy(f->dir, "/tmp/cpm-relay-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->blob, sizeof f->blob, "%s/blob", f->dir);
	if (msrp_hub_create(&f->hub, root, &cfg))
		return -1;
	if (sha1) {
		p.has_sha1 = true;
		memcpy(p.sha1, sha1, 20);
	}
	p.has_blob = true;
	p.blob_fd = blob_fd_new(f->blob);
	if (ft_relay_create(&f->relay, f->hub, &p, on_done, f))
		return -1;
	if (ft_relay_set_peer_path(f->relay, FT_LEG_UP, SENDER_PATH) ||
	    ft_relay_set_peer_path(f->relay, FT_LEG_DOWN, DEVICE_PATH))
		return -1;
	return 0;
}

static void fix_stop(struct fix *f)
{
	ft_relay_destroy(f->relay);
	f->relay = NULL;
	/* let draining connections go */
	for (int i = 0; i < 20; i++)
		su_root_step(root, 1);
	msrp_hub_destroy(f->hub);
	unlink(f->blob);
	rmdir(f->dir);
}

static const char *up_uri(struct fix *f) { return ft_relay_path(f->relay, FT_LEG_UP); }
static const char *down_uri(struct fix *f) { return ft_relay_path(f->relay, FT_LEG_DOWN); }


/* One data chunk from the sender, head + body + end-line. */
static int send_chunk(struct peer *pe, struct fix *f, const char *tid, const char *data,
		      uint64_t start, size_t len, uint64_t total, char flag, struct peer *other)
{
	char head[1024];
	int n = snprintf(head, sizeof head,
			 "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
			 "Byte-Range: %llu-%llu/%llu\r\nSuccess-Report: yes\r\nFailure-Report: yes\r\n"
			 "Content-Disposition: attachment\r\nContent-Type: application/octet-stream\r\n\r\n",
			 tid, up_uri(f), SENDER_PATH, (unsigned long long)start,
			 (unsigned long long)(start + len - 1), (unsigned long long)total);
	char end[64];
	int e = snprintf(end, sizeof end, "\r\n-------%s%c\r\n", tid, flag);

	if (peer_send(pe, head, (size_t)n, other) || peer_send(pe, data, len, other) ||
	    peer_send(pe, end, (size_t)e, other))
		return -1;
	return 0;
}









/* Both peers connect and bind. */
static int connect_both(struct fix *f, struct peer *snd, struct peer *dev)
{
	struct want w;

	if (peer_connect(snd, msrp_hub_port(f->hub)) || peer_connect(dev, msrp_hub_port(f->hub)))
		return -1;
	if (send_bind(snd, up_uri(f), SENDER_PATH, "sbind01") ||
	    send_bind(dev, down_uri(f), DEVICE_PATH, "dbind01"))
		return -1;
	w = (struct want){snd, 1, 1};
	if (!run_until(peer_has, &w, snd, dev, STEP_LIMIT_MS))
		return -1;
	w = (struct want){dev, 1, 1};
	if (!run_until(peer_has, &w, snd, dev, STEP_LIMIT_MS))
		return -1;
	return 0;
}

static char *make_file(size_t n)
{
	char *d = malloc(n);

	for (size_t i = 0; i < n; i++)
		d[i] = (char)(i * 7 + (i >> 9));
	/* things that look like end-lines but are not ours */
	if (n > 600) {
		memcpy(d + 100, "-------", 7);
		memcpy(d + 300, "\r\n-------sbind01$\r\n", 19);
		memcpy(d + 500, "\r\n-------", 9);
	}
	return d;
}

/* ---------------------------------------------------------------- tests */

UNIT_TEST(test_relay_three_chunks)
{
	const size_t c1 = 1000, c2 = 200 * 1024, c3 = 5000, total = c1 + c2 + c3;
	char *file = make_file(total);
	uint8_t sha[20], got[20];
	struct peer snd, dev;
	struct fix f;
	struct want w;
	const char *tids[3] = {"snd00001", "snd00002", "snd00003"};
	size_t blen = 0;
	char *blob;

	sha1_of(file, total, sha);
	CHECK(fix_start(&f, 0, 5, total, sha) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	/* binding SENDs were answered locally, not relayed */
	CHECK_EQ_INT(snd.rx[0].status, 200);
	CHECK_STR(snd.rx[0].tid, "sbind01");
	CHECK_STR(snd.rx[0].to, SENDER_PATH);
	CHECK_STR(snd.rx[0].from, up_uri(&f));
	CHECK_EQ_INT(dev.rx[0].status, 200);
	CHECK_STR(dev.rx[0].from, down_uri(&f));
	dev.body = malloc(total);
	dev.body_cap = total;

	CHECK(send_chunk(&snd, &f, tids[0], file, 1, c1, total, '+', &dev) == 0);
	CHECK(send_chunk(&snd, &f, tids[1], file + c1, c1 + 1, c2, total, '+', &dev) == 0);
	CHECK(send_chunk(&snd, &f, tids[2], file + c1 + c2, c1 + c2 + 1, c3, total, '$', &dev) == 0);
	w = (struct want){&dev, 4, 4};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));

	/* what the device got */
	CHECK_EQ_INT(dev.body_len, total);
	CHECK(memcmp(dev.body, file, total) == 0);
	for (int i = 0; i < 3; i++) {
		const struct rx *x = &dev.rx[1 + i];

		CHECK_EQ_INT(x->method, MSRP_METHOD_SEND);
		CHECK(strcmp(x->tid, tids[i]) != 0); /* our own tid downstream */
		CHECK_STR(x->to, DEVICE_PATH);
		CHECK_STR(x->from, down_uri(&f));
		CHECK_STR(x->msgid, "file0001");
		CHECK_STR(x->ctype, "application/octet-stream");
		CHECK(x->has_disposition);
		CHECK(x->has_range);
		CHECK_EQ_INT(x->range.total, total);
		CHECK_EQ_INT(x->sr, MSRP_REPORT_YES);
		CHECK_EQ_INT(x->flag, i == 2 ? '$' : '+');
	}
	CHECK_EQ_INT(dev.rx[2].range.start, c1 + 1);
	CHECK_EQ_INT(dev.rx[2].range.end, c1 + c2);
	CHECK_EQ_INT(dev.rx[2].body_len, c2);
	CHECK_EQ_INT(f.done_calls, 0); /* not before the device acknowledged */

	/* the device answers each chunk and sends the success REPORT */
	for (int i = 0; i < 3; i++)
		CHECK(device_respond(&dev, &dev.rx[1 + i], 200, "OK") == 0);
	w = (struct want){&snd, 4, 4};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.done_calls, 0); /* the REPORT is still missing */
	CHECK(device_report(&dev, &dev.rx[3], total) == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	w = (struct want){&snd, 5, 5};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));

	/* responses mapped back to the sender's tids */
	for (int i = 0; i < 3; i++) {
		const struct rx *x = find_tid(&snd, tids[i]);

		CHECK(x != NULL);
		CHECK_EQ_INT(x->method, MSRP_METHOD_NONE);
		CHECK_EQ_INT(x->status, 200);
		CHECK_STR(x->to, SENDER_PATH);
		CHECK_STR(x->from, up_uri(&f));
	}
	{
		const struct rx *x = find_method(&snd, MSRP_METHOD_REPORT, 0);

		CHECK(x != NULL);
		CHECK_STR(x->msgid, "file0001");
		CHECK_EQ_INT(x->report_status, 200);
		CHECK_EQ_INT(x->range.start, 1);
		CHECK_EQ_INT(x->range.end, total);
		CHECK_STR(x->to, SENDER_PATH);
		CHECK_STR(x->from, up_uri(&f));
		CHECK(strcmp(x->tid, dev.rx[3].tid) != 0 && strncmp(x->tid, "rep", 3) != 0);
	}
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), total);
	CHECK(ft_relay_sha1(f.relay, got));
	CHECK(memcmp(got, sha, 20) == 0);
	blob = read_file(f.blob, &blen);
	CHECK(blob != NULL);
	CHECK_EQ_INT(blen, total);
	CHECK(memcmp(blob, file, total) == 0);
	free(blob);
	{
		struct msrp_hub_stats st;

		msrp_hub_stats(f.hub, &st);
		CHECK_EQ_INT(st.bytes_relayed, total);
		CHECK_EQ_INT(st.sessions_open, 2);
		CHECK_EQ_INT(st.connections_open, 2);
	}
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

UNIT_TEST(test_relay_hash_mismatch)
{
	const size_t total = 3000;
	char *file = make_file(total);
	uint8_t sha[20];
	struct peer snd, dev;
	struct fix f;
	struct want w;
	const struct rx *x;

	sha1_of(file, total, sha);
	sha[0] ^= 1;
	CHECK(fix_start(&f, 0, 5, total, sha) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "snd1", file, 1, 1000, total, '+', &dev) == 0);
	CHECK(send_chunk(&snd, &f, "snd2", file + 1000, 1001, 2000, total, '$', &dev) == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	w = (struct want){&dev, 3, 3};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[1].flag, '+');
	CHECK_EQ_INT(dev.rx[2].flag, '#'); /* the last chunk never ended with '$' */
	CHECK_EQ_INT(dev.rx[2].body_len, 2000);
	w = (struct want){&snd, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	x = find_tid(&snd, "snd2");
	CHECK(x != NULL);
	CHECK_EQ_INT(x->status, 400);
	CHECK_EQ_INT(f.res, FT_RELAY_HASH_MISMATCH);
	CHECK_EQ_INT(f.done_calls, 1);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

UNIT_TEST(test_relay_sender_closes_midway)
{
	const size_t total = 100000;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;
	char head[512];
	int n;

	CHECK(fix_start(&f, 0, 5, total, NULL) == 0);
	f.destroy_in_done = true; /* ASan watches this path */
	CHECK(connect_both(&f, &snd, &dev) == 0);
	n = snprintf(head, sizeof head,
		     "MSRP midw01 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
		     "Byte-Range: 1-%zu/%zu\r\nContent-Type: application/octet-stream\r\n\r\n",
		     up_uri(&f), SENDER_PATH, total, total);
	CHECK(peer_send(&snd, head, (size_t)n, &dev) == 0);
	CHECK(peer_send(&snd, file, 40000, &dev) == 0);
	w = (struct want){&dev, 2, 0};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	close(snd.fd);
	snd.fd = -1;
	CHECK(run_until(is_done, &f, NULL, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_SENDER_ABORTED);
	CHECK(f.relay == NULL); /* destroyed inside done() */
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, NULL, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[1].flag, '#');
	CHECK_EQ_INT(dev.rx[1].body_len, 40000);
	CHECK(run_until(peer_eof, &dev, NULL, &dev, STEP_LIMIT_MS)); /* relay gone: device closed */
	CHECK_EQ_INT(f.done_calls, 1);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

UNIT_TEST(test_relay_device_refuses_413)
{
	const size_t total = 300000;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;
	const struct rx *x;

	CHECK(fix_start(&f, 0, 5, total, NULL) == 0);
	f.destroy_in_done = true;
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "big00001", file, 1, 2000, total, '+', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK(device_respond(&dev, &dev.rx[1], 413, "Message Too Large") == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_RECIPIENT_REFUSED);
	w = (struct want){&snd, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	x = find_tid(&snd, "big00001");
	CHECK(x != NULL);
	CHECK_EQ_INT(x->status, 413);
	CHECK_STR(x->to, SENDER_PATH);
	CHECK_EQ_INT(f.done_calls, 1);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

UNIT_TEST(test_relay_unknown_session_481)
{
	struct peer x;
	struct fix f;
	struct want w;

	CHECK(fix_start(&f, 0, 5, 10, NULL) == 0);
	CHECK(peer_connect(&x, msrp_hub_port(f.hub)) == 0);
	CHECK(send_bind(&x, "msrp://127.0.0.1:1/NoSuchSession12345;tcp", SENDER_PATH, "unk0001") == 0);
	w = (struct want){&x, 1, 1};
	CHECK(run_until(peer_has, &w, &x, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(x.rx[0].status, 481);
	CHECK_STR(x.rx[0].tid, "unk0001");
	CHECK_STR(x.rx[0].to, SENDER_PATH);
	CHECK(run_until(peer_eof, &x, &x, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.done_calls, 0);
	fix_stop(&f);
	peer_close(&x);
}

/* A device that lost the fork race (its late 2xx was BYEd) must not take
 * the winner's session: only the negotiated peer's From-Path may bind. */
UNIT_TEST(test_relay_wrong_peer_403)
{
	struct peer x;
	struct fix f;
	struct want w;

	CHECK(fix_start(&f, 0, 5, 10, NULL) == 0);
	CHECK(peer_connect(&x, msrp_hub_port(f.hub)) == 0);
	CHECK(send_bind(&x, down_uri(&f), "msrp://127.0.0.1:9/LoserDevice0001;tcp", "los0001") == 0);
	w = (struct want){&x, 1, 1};
	CHECK(run_until(peer_has, &w, &x, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(x.rx[0].status, 403);
	CHECK(run_until(peer_eof, &x, &x, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.done_calls, 0);
	fix_stop(&f);
	peer_close(&x);
}

UNIT_TEST(test_relay_second_connection_506)
{
	struct peer snd, dev, dup;
	struct fix f;
	struct want w;

	CHECK(fix_start(&f, 0, 5, 10, NULL) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(peer_connect(&dup, msrp_hub_port(f.hub)) == 0);
	CHECK(send_bind(&dup, up_uri(&f), SENDER_PATH, "dup0001") == 0);
	w = (struct want){&dup, 1, 1};
	CHECK(run_until(peer_has, &w, &dup, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(dup.rx[0].status, 506);
	CHECK(run_until(peer_eof, &dup, &dup, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.done_calls, 0); /* the bound session did not notice */
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	peer_close(&dup);
}

UNIT_TEST(test_relay_requests_we_refuse)
{
	struct peer snd, dev;
	struct fix f;
	struct want w;
	const struct rx *x;

	CHECK(fix_start(&f, 0, 5, 10, NULL) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	/* AUTH: we are no RFC 4976 relay */
	CHECK(peer_sendf(&snd, "MSRP auth0001 AUTH\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------auth0001$\r\n",
			 up_uri(&f), SENDER_PATH) == 0);
	/* To-Path names the other session: 481 even on a bound connection */
	CHECK(peer_sendf(&snd, "MSRP wrong001 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: msg00001\r\n"
			       "-------wrong001$\r\n", down_uri(&f), SENDER_PATH) == 0);
	/* bad Byte-Range: the parser keeps the tid, we answer 400 */
	CHECK(peer_sendf(&snd, "MSRP bad00001 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: msg00001\r\n"
			       "Byte-Range: x-y/z\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------bad00001$\r\n",
			 up_uri(&f), SENDER_PATH) == 0);
	/* a REPORT is never answered */
	CHECK(peer_sendf(&snd, "MSRP rep00001 REPORT\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: msg00001\r\n"
			       "Status: 000 200 OK\r\n-------rep00001$\r\n", up_uri(&f), SENDER_PATH) == 0);
	/* a body from the device: nothing to relay it to */
	CHECK(peer_sendf(&dev, "MSRP dsend001 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: msg00002\r\n"
			       "Content-Type: text/plain\r\n\r\nhello\r\n-------dsend001$\r\n",
			 down_uri(&f), DEVICE_PATH) == 0);
	w = (struct want){&snd, 4, 4};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	for (int i = 0; i < 50; i++) { /* give a stray answer time to show up */
		su_root_step(root, 1);
		peer_poll(&snd);
	}
	CHECK_EQ_INT(snd.n, 4);
	x = find_tid(&snd, "auth0001");
	CHECK(x && x->status == 501);
	x = find_tid(&snd, "wrong001");
	CHECK(x && x->status == 481);
	x = find_tid(&snd, "bad00001");
	CHECK(x && x->status == 400);
	CHECK(find_tid(&snd, "rep00001") == NULL);
	x = find_tid(&dev, "dsend001");
	CHECK(x && x->status == 403);
	CHECK_EQ_INT(f.done_calls, 0);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
}

UNIT_TEST(test_relay_too_big)
{
	const size_t total = 4000;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;
	const struct rx *x;

	CHECK(fix_start(&f, 0, 5, 1000, NULL) == 0); /* selector says 1000 bytes */
	CHECK(connect_both(&f, &snd, &dev) == 0);
	/* declares no end and no total, then sends 4000 bytes */
	CHECK(peer_sendf(&snd, "MSRP over0001 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
			       "Byte-Range: 1-*/*\r\nContent-Type: application/octet-stream\r\n\r\n",
			 up_uri(&f), SENDER_PATH) == 0);
	CHECK(peer_send(&snd, file, total, &dev) == 0);
	CHECK(peer_sendf(&snd, "\r\n-------over0001$\r\n") == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_TOO_BIG);
	w = (struct want){&snd, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	x = find_tid(&snd, "over0001");
	CHECK(x && x->status == 413);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[1].flag, '#');
	CHECK(dev.rx[1].body_len <= 1000);
	CHECK(ft_relay_bytes(f.relay) <= 1000);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

UNIT_TEST(test_relay_garbage_is_protocol_error)
{
	struct peer snd, dev;
	struct fix f;

	CHECK(fix_start(&f, 0, 5, 10, NULL) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(peer_sendf(&snd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_PROTOCOL_ERROR);
	CHECK(run_until(peer_eof, &snd, &snd, &dev, STEP_LIMIT_MS));
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
}

UNIT_TEST(test_relay_bind_timeout)
{
	struct peer snd;
	struct fix f;

	CHECK(fix_start(&f, 0, 1, 10, NULL) == 0); /* 1 s */
	CHECK(peer_connect(&snd, msrp_hub_port(f.hub)) == 0);
	CHECK(send_bind(&snd, up_uri(&f), SENDER_PATH, "sbind01") == 0);
	/* the device never comes */
	CHECK(run_until(is_done, &f, &snd, NULL, 3000));
	CHECK_EQ_INT(f.res, FT_RELAY_TIMEOUT);
	CHECK(strstr(f.detail, "recipient") != NULL);
	fix_stop(&f);
	peer_close(&snd);
}

/* Data sent before the device is there waits (UP is not read), then flows. */
UNIT_TEST(test_relay_holds_until_device_binds)
{
	const size_t total = 50000;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;

	CHECK(fix_start(&f, 0, 5, total, NULL) == 0);
	CHECK(peer_connect(&snd, msrp_hub_port(f.hub)) == 0);
	CHECK(send_chunk(&snd, &f, "early001", file, 1, total, total, '$', NULL) == 0);
	for (int i = 0; i < 50; i++) {
		su_root_step(root, 1);
		peer_poll(&snd);
	}
	CHECK_EQ_INT(ft_relay_bytes(f.relay), 0); /* held: nowhere to go */
	CHECK(peer_connect(&dev, msrp_hub_port(f.hub)) == 0);
	CHECK(send_bind(&dev, down_uri(&f), DEVICE_PATH, "dbind01") == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[1].body_len, total);
	CHECK_EQ_INT(dev.rx[1].flag, '$');
	CHECK(device_respond(&dev, &dev.rx[1], 200, "OK") == 0);
	CHECK(device_report(&dev, &dev.rx[1], total) == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* 20 MiB through a device that reads slowly: the DOWN queue stays near the
 * high-water mark instead of growing with the file. */
UNIT_TEST(test_relay_backpressure_20mib)
{
	const size_t total = 20u << 20, chunk = 64 * 1024, hw = 256 * 1024;
	char *file = make_file(total);
	uint8_t sha[20], got[20];
	struct peer snd, dev;
	struct fix f;
	struct want w;
	size_t off = 0;
	unsigned k = 0;
	size_t blen = 0;
	char *blob;

	sha1_of(file, total, sha);
	CHECK(fix_start(&f, hw, 5, total, sha) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	dev.read_budget = 256 * 1024; /* per poll */
	while (off < total) {
		char tid[16], head[512], end[32];
		size_t n = total - off < chunk ? total - off : chunk;
		char flag = off + n == total ? '$' : '+';
		int hl, el;

		snprintf(tid, sizeof tid, "bp%06u", k++);
		hl = snprintf(head, sizeof head,
			      "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
			      "Byte-Range: %zu-%zu/%zu\r\nFailure-Report: no\r\nSuccess-Report: yes\r\n"
			      "Content-Type: application/octet-stream\r\n\r\n",
			      tid, up_uri(&f), SENDER_PATH, off + 1, off + n, total);
		el = snprintf(end, sizeof end, "\r\n-------%s%c\r\n", tid, flag);
		CHECK(peer_send(&snd, head, (size_t)hl, &dev) == 0);
		CHECK(peer_send(&snd, file + off, n, &dev) == 0);
		CHECK(peer_send(&snd, end, (size_t)el, &dev) == 0);
		off += n;
	}
	w = (struct want){&dev, k + 1, k + 1};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.body_total, total);
	CHECK_EQ_INT(f.done_calls, 0);
	CHECK(device_report(&dev, rx_cur(&dev), total) == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	fprintf(stderr, "  max DOWN queue %zu bytes for a %zu-byte file (high water %zu)\n",
		ft_relay_max_queued(f.relay, FT_LEG_DOWN), total, hw);
	/* high water + one receive buffer + headers; far below the file */
	CHECK(ft_relay_max_queued(f.relay, FT_LEG_DOWN) <= hw + MSRP_RBUF_SIZE + 16 * 1024);
	CHECK(ft_relay_max_queued(f.relay, FT_LEG_DOWN) > 0); /* the reader really was slow */
	/* relayed live to the end: the tee worker hashed nothing (lazy sha-1; the device checks
	 * the hash); the blob still holds the file, for a switch to store mode that never came */
	CHECK(!ft_relay_sha1(f.relay, got));
	blob = read_file(f.blob, &blen);
	CHECK(blob && blen == total && memcmp(blob, file, total) == 0);
	free(blob);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* A device request that arrives while a chunk to it is open waits for the
 * chunk's end-line: nothing may be written inside a chunk. */
UNIT_TEST(test_relay_device_request_during_chunk)
{
	const size_t total = 60000;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;
	char head[512];
	int n;
	const struct rx *x;

	CHECK(fix_start(&f, 0, 5, total, NULL) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	dev.body = malloc(total);
	dev.body_cap = total;
	n = snprintf(head, sizeof head,
		     "MSRP open0001 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
		     "Byte-Range: 1-%zu/%zu\r\nContent-Type: application/octet-stream\r\n\r\n",
		     up_uri(&f), SENDER_PATH, total, total);
	CHECK(peer_send(&snd, head, (size_t)n, &dev) == 0);
	CHECK(peer_send(&snd, file, 30000, &dev) == 0);
	for (int i = 0; i < 30; i++) {
		su_root_step(root, 1);
		peer_poll(&dev);
	}
	CHECK_EQ_INT(dev.n, 2);
	CHECK_EQ_INT(dev.rx[1].flag, 0); /* chunk still open */
	CHECK(send_bind(&dev, down_uri(&f), DEVICE_PATH, "keep0001") == 0);
	for (int i = 0; i < 30; i++) {
		su_root_step(root, 1);
		peer_poll(&dev);
	}
	CHECK_EQ_INT(dev.n, 2); /* no answer inside the chunk */
	CHECK(peer_send(&snd, file + 30000, total - 30000, &dev) == 0);
	CHECK(peer_sendf(&snd, "\r\n-------open0001$\r\n") == 0);
	w = (struct want){&dev, 3, 3};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[1].flag, '$');
	CHECK_EQ_INT(dev.rx[1].body_len, total);
	CHECK(memcmp(dev.body, file, total) == 0);
	x = find_tid(&dev, "keep0001");
	CHECK(x && x->status == 200);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* A peer that floods requests and never reads the answers: the server stops
 * reading it (so the peer's socket fills up) instead of queueing without
 * end, and answers everything once the peer reads. */
UNIT_TEST(test_relay_flood_without_reading)
{
	struct peer x;
	struct fix f;
	char req[256];
	int n = 0;
	unsigned sent = 0;
	bool blocked = false;
	struct want w;

	CHECK(fix_start(&f, 64 * 1024, 5, 10, NULL) == 0);
	CHECK(peer_connect(&x, msrp_hub_port(f.hub)) == 0);
	for (unsigned i = 0; i < 200000 && !blocked; i++) {
		size_t off = 0;

		n = snprintf(req, sizeof req, "MSRP a%07u AUTH\r\nTo-Path: msrp://127.0.0.1:1/x;tcp\r\n"
			     "From-Path: %s\r\n-------a%07u$\r\n", i, SENDER_PATH, i);
		while (off < (size_t)n) {
			ssize_t r = send(x.fd, req + off, (size_t)n - off, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (r > 0) {
				off += (size_t)r;
				continue;
			}
			/* full: give the server a chance, then decide */
			for (int k = 0; k < 20; k++)
				su_root_step(root, 1);
			r = send(x.fd, req + off, (size_t)n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r > 0) {
				off += (size_t)r;
				continue;
			}
			blocked = true;
			break;
		}
		if (off == (size_t)n)
			sent++;
	}
	CHECK(blocked); /* the server stopped reading us */
	/* now read: every complete request gets its 501 */
	w = (struct want){&x, sent, sent};
	CHECK(run_until(peer_has, &w, &x, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(rx_cur(&x)->status, 501);
	fix_stop(&f);
	peer_close(&x);
}

/* A device that takes a chunk and never answers it: 30 s in production,
 * 300 ms here. */
UNIT_TEST(test_relay_txn_timeout)
{
	const size_t total = 5000;
	char *file = make_file(total);
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .txn_timeout_ms = 300};
	struct ft_relay_params p = {.size = total};
	struct peer snd, dev;
	struct fix f;
	struct want w;
	uint64_t t0;

	CHECK(fix_start(&f, 0, 5, total, NULL) == 0);
	/* a second hub with the short timeout; the fixture's relay is swapped */
	ft_relay_destroy(f.relay);
	msrp_hub_destroy(f.hub);
	CHECK(msrp_hub_create(&f.hub, root, &cfg) == 0);
	p.has_blob = true;
	p.blob_fd = blob_fd_new(f.blob);
	CHECK(ft_relay_create(&f.relay, f.hub, &p, on_done, &f) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_DOWN, DEVICE_PATH) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "slow0001", file, 1, total, total, '$', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	t0 = now_ms();
	CHECK(run_until(is_done, &f, &snd, &dev, 3000));
	CHECK_EQ_INT(f.res, FT_RELAY_TIMEOUT);
	CHECK(now_ms() - t0 >= 250); /* not before its time */
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* A re-sent range is relayed but teed once; a range after a hole is
 * refused (400) and not relayed. */
UNIT_TEST(test_relay_overlap_and_gap)
{
	const size_t total = 3000;
	char *file = make_file(total);
	uint8_t sha[20];
	struct peer snd, dev;
	struct fix f;
	struct want w;
	const struct rx *x;
	size_t blen = 0;
	char *blob;

	sha1_of(file, total, sha);
	CHECK(fix_start(&f, 0, 5, total, sha) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "ovl00001", file, 1, 1000, total, '+', &dev) == 0);
	CHECK(send_chunk(&snd, &f, "gap00001", file + 2499, 2500, 500, total, '+', &dev) == 0);
	CHECK(send_chunk(&snd, &f, "ovl00002", file + 500, 501, 1500, total, '+', &dev) == 0);
	CHECK(send_chunk(&snd, &f, "ovl00003", file + 2000, 2001, 1000, total, '$', &dev) == 0);
	w = (struct want){&dev, 4, 4};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.body_total, 1000 + 1500 + 1000);
	CHECK_EQ_INT(dev.rx[2].range.start, 501);
	CHECK_EQ_INT(dev.rx[3].flag, '$'); /* size and hash passed */
	w = (struct want){&snd, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	x = find_tid(&snd, "gap00001");
	CHECK(x && x->status == 400);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), total);
	blob = read_file(f.blob, &blen);
	CHECK(blob && blen == total && memcmp(blob, file, total) == 0);
	free(blob);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* A device that binds and then reads nothing: the relay gives up after the
 * transaction timeout instead of holding the sender for ever. */
UNIT_TEST(test_relay_device_stalls)
{
	const size_t total = 16u << 20;
	char *file = make_file(total);
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .txn_timeout_ms = 300, .high_water = 64 * 1024};
	struct ft_relay_params p = {.size = total};
	struct peer snd, dev;
	struct fix f;
	char head[512];
	size_t off = 0;
	uint64_t end;
	int n;

	CHECK(fix_start(&f, 0, 5, total, NULL) == 0);
	ft_relay_destroy(f.relay);
	msrp_hub_destroy(f.hub);
	CHECK(msrp_hub_create(&f.hub, root, &cfg) == 0);
	p.has_blob = true;
	p.blob_fd = blob_fd_new(f.blob);
	CHECK(ft_relay_create(&f.relay, f.hub, &p, on_done, &f) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_DOWN, DEVICE_PATH) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	n = snprintf(head, sizeof head,
		     "MSRP stall001 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
		     "Byte-Range: 1-%zu/%zu\r\nFailure-Report: no\r\nContent-Type: application/octet-stream\r\n\r\n",
		     up_uri(&f), SENDER_PATH, total, total);
	CHECK(peer_send(&snd, head, (size_t)n, NULL) == 0);
	end = now_ms() + 5000;
	while (!f.done_calls && now_ms() < end) {
		ssize_t w = off < total ? send(snd.fd, file + off, total - off, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;

		if (w > 0)
			off += (size_t)w;
		su_root_step(root, 1); /* the device never reads */
	}
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_TIMEOUT);
	CHECK(strstr(f.detail, "read nothing") != NULL);
	CHECK(off < total); /* the sender was held back meanwhile */
	CHECK(ft_relay_max_queued(f.relay, FT_LEG_DOWN) <= 64 * 1024 + MSRP_RBUF_SIZE + 16 * 1024);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* Connection limit, and unbound connections that never say anything. */
UNIT_TEST(test_hub_limits)
{
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .bind_timeout = 1, .max_conns = 2};
	struct msrp_hub *h;
	struct msrp_hub_stats st;
	struct peer a, b, c;
	uint64_t t0;

	if (!root)
		CHECK((root = su_root_create(NULL)) != NULL);
	CHECK(msrp_hub_create(&h, root, &cfg) == 0);
	CHECK(peer_connect(&a, msrp_hub_port(h)) == 0);
	CHECK(peer_connect(&b, msrp_hub_port(h)) == 0);
	for (int i = 0; i < 20; i++)
		su_root_step(root, 1);
	CHECK(peer_connect(&c, msrp_hub_port(h)) == 0);
	t0 = now_ms();
	CHECK(run_until(peer_eof, &c, &c, NULL, 500)); /* over the limit: closed at once */
	msrp_hub_stats(h, &st);
	CHECK_EQ_INT(st.connections_open, 2);
	CHECK(!a.eof && !b.eof);
	CHECK(run_until(peer_eof, &a, &a, NULL, 3000)); /* bind timeout */
	CHECK(run_until(peer_eof, &b, &b, NULL, 500));
	CHECK(now_ms() - t0 >= 700);
	msrp_hub_stats(h, &st);
	CHECK_EQ_INT(st.connections_open, 0);
	msrp_hub_destroy(h);
	peer_close(&a);
	peer_close(&b);
	peer_close(&c);
}

/* '#' from the sender: the DOWN chunk ends with '#' too. */
UNIT_TEST(test_relay_sender_aborts_with_hash)
{
	const size_t total = 10000;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;

	CHECK(fix_start(&f, 0, 5, total, NULL) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	CHECK(send_chunk(&snd, &f, "abrt0001", file, 1, 4000, total, '#', &dev) == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_SENDER_ABORTED);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[1].flag, '#');
	CHECK_EQ_INT(dev.rx[1].body_len, 4000);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* No Failure-Report and no Success-Report: complete once the last byte has
 * gone to the device's socket; nothing is sent to the sender. */
UNIT_TEST(test_relay_no_reports_requested)
{
	const size_t total = 3000;
	char *file = make_file(total);
	struct peer snd, dev;
	struct fix f;
	struct want w;
	char head[512];
	int n;

	CHECK(fix_start(&f, 0, 5, total, NULL) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	n = snprintf(head, sizeof head,
		     "MSRP norep001 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
		     "Byte-Range: 1-%zu/%zu\r\nFailure-Report: no\r\nSuccess-Report: no\r\n"
		     "Content-Type: application/octet-stream\r\n\r\n", up_uri(&f), SENDER_PATH, total, total);
	CHECK(peer_send(&snd, head, (size_t)n, &dev) == 0);
	CHECK(peer_send(&snd, file, total, &dev) == 0);
	CHECK(peer_sendf(&snd, "\r\n-------norep001$\r\n") == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.rx[1].fr, MSRP_REPORT_NO);
	CHECK_EQ_INT(dev.rx[1].body_len, total);
	/* a device answering anyway (rcsjta does) changes nothing */
	CHECK(device_respond(&dev, &dev.rx[1], 200, "OK") == 0);
	for (int i = 0; i < 30; i++) {
		su_root_step(root, 1);
		peer_poll(&snd);
	}
	CHECK_EQ_INT(snd.n, 1); /* only the answer to its binding SEND */
	CHECK_EQ_INT(f.done_calls, 1);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(file);
}

/* A slow device (its queue takes longer to drain than the transaction
 * timeout) that keeps reading and answers every chunk: no timeout, because
 * the response clock starts when our bytes have left, not when they were
 * queued. */
UNIT_TEST(test_relay_slow_device_is_not_late)
{
	const size_t total = 512 * 1024, chunk = 64 * 1024;
	char *file = make_file(total);
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .txn_timeout_ms = 200, .high_water = 256 * 1024};
	struct ft_relay_params p = {.size = total};
	struct peer snd, dev;
	struct fix f;
	char *stream = malloc(total + 64 * 1024);
	size_t slen = 0, off = 0;
	unsigned answered = 1, k = 0; /* rx[0] is the answer to the binding SEND */
	uint64_t end;

	CHECK(stream != NULL);
	CHECK(fix_start(&f, 0, 5, total, NULL) == 0);
	ft_relay_destroy(f.relay);
	msrp_hub_destroy(f.hub);
	CHECK(msrp_hub_create(&f.hub, root, &cfg) == 0);
	p.has_blob = true;
	p.blob_fd = blob_fd_new(f.blob);
	CHECK(ft_relay_create(&f.relay, f.hub, &p, on_done, &f) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
	CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_DOWN, DEVICE_PATH) == 0);
	CHECK(connect_both(&f, &snd, &dev) == 0);
	{
		/* a slow link, not a big buffer in the device's kernel */
		int rb = 16 * 1024;

		setsockopt(dev.fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
	}
	for (size_t o = 0; o < total; o += chunk, k++) {
		slen += (size_t)snprintf(stream + slen, 512,
					 "MSRP slow%04u SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\n"
					 "Message-ID: file0001\r\nByte-Range: %zu-%zu/%zu\r\n"
					 "Content-Type: application/octet-stream\r\n\r\n",
					 k, up_uri(&f), SENDER_PATH, o + 1, o + chunk, total);
		memcpy(stream + slen, file + o, chunk);
		slen += chunk;
		slen += (size_t)snprintf(stream + slen, 64, "\r\n-------slow%04u%c\r\n", k,
					 o + chunk == total ? '$' : '+');
	}
	dev.read_budget = 4096; /* ~1 MB/s: 256 KiB of queue take longer than 200 ms */
	end = now_ms() + 8000;
	while (!f.done_calls && now_ms() < end) {
		ssize_t w = off < slen ? send(snd.fd, stream + off, slen - off, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;

		if (w > 0)
			off += (size_t)w;
		su_root_step(root, 1);
		peer_poll(&dev);
		peer_poll(&snd);
		while (answered < dev.n && dev.rx[answered % MAX_RX].flag) {
			CHECK(device_respond(&dev, &dev.rx[answered % MAX_RX], 200, "OK") == 0);
			answered++;
		}
	}
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	CHECK_EQ_INT(dev.body_total, total);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(stream);
	free(file);
}

/* Mangled streams on both legs (fixed seed): the server survives, done() is
 * called at most once, and the sanitizers see nothing. */
UNIT_TEST(test_relay_mangled_streams)
{
	const size_t total = 6000;
	char *file = make_file(total);
	unsigned seed = 12345;

	for (int it = 0; it < 20; it++) {
		struct peer snd, dev;
		struct fix f;
		char buf[16384];
		size_t n = 0;

		CHECK(fix_start(&f, 0, 5, total, NULL) == 0);
		f.destroy_in_done = it % 2 == 0;
		CHECK(connect_both(&f, &snd, &dev) == 0);
		for (int k = 0; k < 3; k++) {
			size_t len = 2000;

			n += (size_t)snprintf(buf + n, 600,
					      "MSRP mng%05d SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\n"
					      "Message-ID: file0001\r\nByte-Range: %zu-%zu/%zu\r\n"
					      "Content-Type: application/octet-stream\r\n\r\n",
					      k, up_uri(&f), SENDER_PATH, k * len + 1, (k + 1) * len, total);
			memcpy(buf + n, file + k * len, len);
			n += len;
			n += (size_t)snprintf(buf + n, 64, "\r\n-------mng%05d%c\r\n", k, k == 2 ? '$' : '+');
		}
		/* flip, drop or duplicate a few bytes */
		for (int m = 0; m < 1 + it % 5; m++) {
			size_t at = (size_t)rand_r(&seed) % n;

			switch (rand_r(&seed) % 3) {
			case 0:
				buf[at] = (char)rand_r(&seed);
				break;
			case 1:
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default:
				if (n + 1 < sizeof buf) {
					memmove(buf + at + 1, buf + at, n - at);
					n++;
				}
				break;
			}
		}
		peer_send(&snd, buf, n / 2, &dev);
		for (int i = 0; i < 5; i++) {
			su_root_step(root, 1);
			peer_poll(&dev);
			peer_poll(&snd);
		}
		if (dev.n > 1)
			device_respond(&dev, &dev.rx[1], it % 3 ? 200 : 415, "X");
		peer_send(&snd, buf + n / 2, n - n / 2, &dev);
		if (it % 4 == 0)
			peer_sendf(&dev, "MSRP zz REPORT\r\n\r\n"); /* garbage from the device */
		for (int i = 0; i < 20; i++) {
			su_root_step(root, 1);
			peer_poll(&dev);
			peer_poll(&snd);
		}
		CHECK(f.done_calls <= 1);
		fix_stop(&f);
		peer_close(&snd);
		peer_close(&dev);
	}
	free(file);
}

/* IPv6: the listener, our path URIs (bracketed host) and binding. */
UNIT_TEST(test_hub_ipv6)
{
	struct msrp_hub_cfg cfg = {.host = "::1"};
	struct ft_relay_params p = {.size = 10};
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct msrp_hub *h;
	struct ft_relay *r;
	struct peer x;
	struct want w;
	char want_prefix[64];

	if (!root)
		CHECK((root = su_root_create(NULL)) != NULL);
	CHECK(msrp_hub_create(&h, root, &cfg) == 0);
	CHECK(ft_relay_create(&r, h, &p, NULL, NULL) == 0);
	snprintf(want_prefix, sizeof want_prefix, "msrp://[::1]:%u/", msrp_hub_port(h));
	CHECK(strncmp(ft_relay_path(r, FT_LEG_UP), want_prefix, strlen(want_prefix)) == 0);
	CHECK(ft_relay_set_peer_path(r, FT_LEG_UP, "msrp://[::1]:9/v6sender;tcp") == 0);
	CHECK(ft_relay_set_peer_path(r, FT_LEG_DOWN, "not a path") == -1);
	memset(&x, 0, sizeof x);
	msrp_parser_init(&x.p);
	a.sin6_port = htons(msrp_hub_port(h));
	x.fd = socket(AF_INET6, SOCK_STREAM, 0);
	CHECK(x.fd >= 0 && connect(x.fd, (struct sockaddr *)&a, sizeof a) == 0);
	fcntl(x.fd, F_SETFL, O_NONBLOCK);
	CHECK(send_bind(&x, ft_relay_path(r, FT_LEG_UP), "msrp://[::1]:9/v6sender;tcp", "v6bind01") == 0);
	w = (struct want){&x, 1, 1};
	CHECK(run_until(peer_has, &w, &x, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(x.rx[0].status, 200);
	CHECK_STR(x.rx[0].to, "msrp://[::1]:9/v6sender;tcp");
	CHECK_STR(x.rx[0].from, ft_relay_path(r, FT_LEG_UP));
	ft_relay_destroy(r);
	for (int i = 0; i < 10; i++)
		su_root_step(root, 1);
	msrp_hub_destroy(h);
	peer_close(&x);
}

/* ---------------------------------------------------------------- threaded peers */

/* Peers on their own threads with blocking sockets, the relay on this one:
 * the closest to real use, and the throughput figure. The size is
 * CPM_RELAY_BENCH_MIB (default 64); the blob goes to CPM_RELAY_BENCH_DIR
 * (default /tmp). */
#define PAT_SIZE (1u << 20)

struct bench {
	uint16_t port;
	char up[MSRP_OUR_URI_MAX_T], down[MSRP_OUR_URI_MAX_T];
	uint64_t total;
	size_t chunk;
	const char *pat;
	uint64_t dev_bytes;
	int sender_ok, device_ok; /* set by the peer threads: atomics (ThreadSanitizer) */
};

static int blocking_connect(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_full(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *bench_sender(void *arg)
{
	struct bench *b = arg;
	char head[512], end[64], buf[4096];
	int fd = blocking_connect(b->port), n;
	uint64_t off = 0;
	unsigned k = 0;

	if (fd < 0)
		return NULL;
	n = snprintf(head, sizeof head, "MSRP bsbind01 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\n"
		     "Message-ID: bind0001\r\n-------bsbind01$\r\n", b->up, SENDER_PATH);
	if (send_full(fd, head, (size_t)n))
		goto out;
	while (off < b->total) {
		size_t len = b->total - off < b->chunk ? (size_t)(b->total - off) : b->chunk;
		char flag = off + len == b->total ? '$' : '+';
		int hl, el;

		k++;
		hl = snprintf(head, sizeof head,
			      "MSRP bs%08u SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: file0001\r\n"
			      "Byte-Range: %llu-%llu/%llu\r\nSuccess-Report: yes\r\nFailure-Report: no\r\n"
			      "Content-Type: application/octet-stream\r\n\r\n",
			      k, b->up, SENDER_PATH, (unsigned long long)off + 1,
			      (unsigned long long)(off + len), (unsigned long long)b->total);
		el = snprintf(end, sizeof end, "\r\n-------bs%08u%c\r\n", k, flag);
		if (send_full(fd, head, (size_t)hl) ||
		    send_full(fd, b->pat + off % PAT_SIZE, len) || send_full(fd, end, (size_t)el))
			goto out;
		off += len;
	}
	/* wait for the success REPORT */
	for (size_t have = 0;;) {
		ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);

		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = '\0';
		if (strstr(buf, " REPORT\r\n") && strstr(buf, "Status: 000 200")) {
			__atomic_store_n(&b->sender_ok, 1, __ATOMIC_RELEASE);
			break;
		}
		if (have > sizeof buf / 2) { /* keep the tail only */
			memmove(buf, buf + have - 256, 256);
			have = 256;
		}
	}
out:
	close(fd);
	return NULL;
}

static void *bench_device(void *arg)
{
	struct bench *b = arg;
	static char buf[512 * 1024];
	struct msrp_parser *p = malloc(sizeof *p);
	char msg[512];
	size_t len = 0;
	int fd = blocking_connect(b->port), n;

	if (fd < 0 || !p)
		goto out;
	msrp_parser_init(p);
	n = snprintf(msg, sizeof msg, "MSRP bdbind01 SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\n"
		     "Message-ID: bind0002\r\n-------bdbind01$\r\n", b->down, DEVICE_PATH);
	if (send_full(fd, msg, (size_t)n))
		goto out;
	for (;;) {
		ssize_t r = recv(fd, buf + len, sizeof buf - len, 0);
		size_t off = 0;

		if (r <= 0)
			break;
		len += (size_t)r;
		for (;;) {
			struct msrp_event ev;
			size_t used = 0;
			enum msrp_ev t = msrp_parse(p, buf + off, len - off, &used, &ev);

			off += used;
			if (t == MSRP_EV_NEED_MORE)
				break;
			if (t == MSRP_EV_BODY)
				b->dev_bytes += ev.body.len;
			if (t == MSRP_EV_ERROR)
				goto out;
			if (t == MSRP_EV_END && ev.flag == '$' && ev.msg->method == MSRP_METHOD_SEND &&
			    ev.msg->has_body) {
				n = snprintf(msg, sizeof msg,
					     "MSRP bdrep001 REPORT\r\nTo-Path: %s\r\nFrom-Path: %s\r\n"
					     "Message-ID: file0001\r\nByte-Range: 1-%llu/%llu\r\n"
					     "Status: 000 200 OK\r\n-------bdrep001$\r\n", b->down, DEVICE_PATH,
					     (unsigned long long)b->total, (unsigned long long)b->total);
				send_full(fd, msg, (size_t)n);
				__atomic_store_n(&b->device_ok, 1, __ATOMIC_RELEASE);
			}
		}
		memmove(buf, buf + off, len - off);
		len -= off;
	}
out:
	free(p);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static long proc_status_kib(const char *key)
{
	char line[256];
	long v = -1;
	FILE *fp = fopen("/proc/self/status", "r");

	while (fp && fgets(line, sizeof line, fp))
		if (strncmp(line, key, strlen(key)) == 0 && sscanf(line + strlen(key), "%ld", &v) == 1)
			break;
	if (fp)
		fclose(fp);
	return v;
}

UNIT_TEST(test_relay_threaded_throughput)
{
	const char *env = getenv("CPM_RELAY_BENCH_MIB");
	uint64_t mib = env ? strtoull(env, NULL, 10) : 64;
	char *pat = make_file(PAT_SIZE);
	struct bench b;
	struct fix f;
	uint8_t sha[20], got[20];
	pthread_t ts, td;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint64_t t0, t1;
	long rss0, rss_max;
	uint64_t next_sample = 0;
	bool sha_ok;
	struct rusage ru0, ru1;
	double cpu_ms;

	memset(&b, 0, sizeof b);
	b.total = mib << 20;
	b.chunk = 64 * 1024;
	b.pat = pat;
	EVP_DigestInit_ex(md, EVP_sha1(), NULL);
	for (uint64_t off = 0; off < b.total; off += PAT_SIZE)
		EVP_DigestUpdate(md, pat, PAT_SIZE);
	EVP_DigestFinal_ex(md, sha, NULL);
	EVP_MD_CTX_free(md);
	CHECK(fix_start(&f, 0, 5, b.total, sha) == 0);
	if (getenv("CPM_RELAY_BENCH_DIR") || getenv("CPM_RELAY_BENCH_NOBLOB")) {
		/* re-create the relay with its blob elsewhere (tmpfs vs disk),
		 * or without one (to see what the tee costs) */
		struct ft_relay_params p = {.size = b.total, .has_sha1 = true};

		ft_relay_destroy(f.relay);
		if (getenv("CPM_RELAY_BENCH_DIR"))
			snprintf(f.blob, sizeof f.blob, "%s/cpm-relay-bench", getenv("CPM_RELAY_BENCH_DIR"));
		memcpy(p.sha1, sha, 20);
		p.has_blob = !getenv("CPM_RELAY_BENCH_NOBLOB");
		p.blob_fd = p.has_blob ? blob_fd_new(f.blob) : -1;
		CHECK(ft_relay_create(&f.relay, f.hub, &p, on_done, &f) == 0);
		CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_UP, SENDER_PATH) == 0);
		CHECK(ft_relay_set_peer_path(f.relay, FT_LEG_DOWN, DEVICE_PATH) == 0);
	}
	b.port = msrp_hub_port(f.hub);
	snprintf(b.up, sizeof b.up, "%s", up_uri(&f));
	snprintf(b.down, sizeof b.down, "%s", down_uri(&f));
	rss0 = proc_status_kib("VmRSS:");
	rss_max = rss0;
	getrusage(RUSAGE_THREAD, &ru0);
	t0 = now_ms();
	CHECK(pthread_create(&td, NULL, bench_device, &b) == 0);
	CHECK(pthread_create(&ts, NULL, bench_sender, &b) == 0);
	while (!f.done_calls && now_ms() - t0 < 120000) {
		su_root_step(root, 10);
		if (now_ms() >= next_sample) { /* the whole process: peers included */
			long rss = proc_status_kib("VmRSS:");

			if (rss > rss_max)
				rss_max = rss;
			next_sample = now_ms() + 50;
		}
	}
	t1 = now_ms();
	getrusage(RUSAGE_THREAD, &ru1);
	/* without a blob the worker hashes (it could not hash back later); with one a live relay
	 * hashes nothing (lazy sha-1) */
	sha_ok = getenv("CPM_RELAY_BENCH_NOBLOB") ? ft_relay_sha1(f.relay, got) && memcmp(got, sha, 20) == 0
						 : !ft_relay_sha1(f.relay, got);
	/* the sender waits for its REPORT; let it arrive */
	for (int i = 0; i < 100 && !__atomic_load_n(&b.sender_ok, __ATOMIC_ACQUIRE); i++)
		su_root_step(root, 10);
	ft_relay_destroy(f.relay); /* closes both: the threads see EOF */
	f.relay = NULL;
	for (int i = 0; i < 50; i++)
		su_root_step(root, 2);
	pthread_join(ts, NULL);
	pthread_join(td, NULL);
	cpu_ms = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
			  ru0.ru_stime.tv_sec) * 1e3 +
		 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
			  ru0.ru_stime.tv_usec) / 1e3;
	fprintf(stderr, "  %llu MiB relayed in %llu ms: %.0f MB/s; relay thread CPU %.0f ms "
		"(%.0f MB per CPU-second); RSS %ld KiB before, at most %ld KiB during\n",
		(unsigned long long)mib, (unsigned long long)(t1 - t0),
		t1 > t0 ? (double)b.total / 1e3 / (double)(t1 - t0) : 0.0, cpu_ms,
		cpu_ms > 0 ? (double)b.total / 1e3 / cpu_ms : 0.0, rss0, rss_max);
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	CHECK(__atomic_load_n(&b.sender_ok, __ATOMIC_ACQUIRE));
	CHECK(__atomic_load_n(&b.device_ok, __ATOMIC_ACQUIRE));
	CHECK_EQ_INT(b.dev_bytes, b.total);
	CHECK(sha_ok);
	/* memory does not grow with the file: a few queues and buffers (the tee worker's ring
	 * included). ThreadSanitizer's shadow memory grows with every byte touched: not there. */
#if !defined(__SANITIZE_THREAD__) && !CPM_HAS_TSAN
	CHECK(rss_max - rss0 < 8 * 1024);
#endif
	fix_stop(&f);
	free(pat);
}

UNIT_MAIN(T(test_relay_three_chunks), T(test_relay_hash_mismatch), T(test_relay_sender_closes_midway),
	  T(test_relay_device_refuses_413), T(test_relay_unknown_session_481),
	  T(test_relay_wrong_peer_403), T(test_relay_second_connection_506), T(test_relay_requests_we_refuse), T(test_relay_too_big),
	  T(test_relay_garbage_is_protocol_error), T(test_relay_bind_timeout),
	  T(test_relay_holds_until_device_binds), T(test_relay_backpressure_20mib),
	  T(test_relay_device_request_during_chunk), T(test_relay_flood_without_reading),
	  T(test_relay_txn_timeout), T(test_relay_overlap_and_gap),
	  T(test_relay_device_stalls), T(test_hub_limits),
	  T(test_relay_sender_aborts_with_hash), T(test_relay_no_reports_requested),
	  T(test_relay_slow_device_is_not_late), T(test_relay_mangled_streams), T(test_hub_ipv6),
	  T(test_relay_threaded_throughput))
