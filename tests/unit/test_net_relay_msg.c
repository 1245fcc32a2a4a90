/* The relay's large-message mode (params.size_from_range, issue 8,
 * docs/internals/messaging.md §2) over real loopback sockets and a real
 * su_root: the size comes from the first chunk's Byte-Range total, not from
 * a file-selector; no hash. Live, store mode and live -> store, the 413s
 * (total '*', no Byte-Range, total over max_size, bytes beyond the total),
 * a short message, the content-type filter, and the parameter checks.
 *
 * The peers are driven from this thread with non-blocking sockets
 * (tests/unit/net_peer.c, shared with the other relay tests). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpm/msrp.h"
#include "relay/ft_relay.h"
#include "unit.h"

#include "net_peer.h"

enum mode { MODE_LIVE, MODE_STORE, MODE_KEEP };

struct fix {
	struct msrp_hub *hub;
	struct ft_relay *relay;
	int done_calls;
	enum ft_relay_result res;
	char detail[160];
	int received, lost;
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

	(void)detail;
	if (ev == FT_RELAY_RECEIVED)
		f->received++;
	else if (ev == FT_RELAY_RECIPIENT_LOST)
		f->lost++;
}

static bool is_done(void *arg) { return ((struct fix *)arg)->done_calls > 0; }
static bool is_received(void *arg) { return ((struct fix *)arg)->received > 0; }
static bool is_lost(void *arg) { return ((struct fix *)arg)->lost > 0; }

static int hub_start(struct fix *f)
{
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .port = 0, .bind_timeout = 5};

	memset(f, 0, sizeof *f);
	if (!root) {
		root = su_root_create(NULL);
		if (!root)
			return -1;
	}
	strcpy(f->dir, "/tmp/cpm-relmsg-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->blob, sizeof f->blob, "%s/blob", f->dir);
	return msrp_hub_create(&f->hub, root, &cfg) ? -1 : 0;
}

/* A message relay: size from the Byte-Range, content type message/cpim. */
static int relay_start(struct fix *f, enum mode mode, uint64_t max_size)
{
	struct ft_relay_params p = {.size_from_range = true, .max_size = max_size, .has_blob = true,
				    .blob_fd = blob_fd_new(f->blob), .event = on_event,
				    .content_type = "message/cpim"};

	p.store_only = mode == MODE_STORE;
	p.keep_on_recipient_loss = mode == MODE_KEEP;
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
}

static const char *up_uri(struct fix *f) { return ft_relay_path(f->relay, FT_LEG_UP); }
static const char *down_uri(struct fix *f) { return ft_relay_path(f->relay, FT_LEG_DOWN); }

/* One chunk; range NULL: no Byte-Range header at all; ctype NULL: message/cpim. */
static int send_chunk(struct peer *pe, struct fix *f, const char *tid, const char *data, size_t len,
		      const char *range, const char *ctype, char flag, struct peer *other)
{
	char head[1024], rh[128] = "";
	int n;

	if (range)
		snprintf(rh, sizeof rh, "Byte-Range: %s\r\n", range);
	n = snprintf(head, sizeof head,
		     "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: msg00001\r\n%s"
		     "Success-Report: yes\r\nFailure-Report: yes\r\nContent-Type: %s\r\n\r\n",
		     tid, up_uri(f), SENDER_PATH, rh, ctype ? ctype : "message/cpim");
	if (peer_send(pe, head, (size_t)n, other) || peer_send(pe, data, len, other))
		return -1;
	n = snprintf(head, sizeof head, "\r\n-------%s%c\r\n", tid, flag);
	return peer_send(pe, head, (size_t)n, other);
}

static char *make_msg(size_t n)
{
	char *d = malloc(n);
	static const char cpim[] = "From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\n\r\n"
				   "Content-Type: text/plain\r\n\r\n";

	for (size_t i = 0; i < n; i++)
		d[i] = (char)('a' + i % 26);
	memcpy(d, cpim, n < sizeof cpim - 1 ? n : sizeof cpim - 1);
	if (n > 600) /* an end-line look-alike inside the body */
		memcpy(d + 300, "\r\n-------sbind01$\r\n", 19);
	return d;
}

static int connect_peer(struct fix *f, struct peer *pe, const char *to, const char *from, const char *tid,
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

static bool blob_is(struct fix *f, const char *data, size_t total)
{
	size_t blen = 0;
	char *blob = read_file(f->blob, &blen);
	bool ok = blob && blen == total && memcmp(blob, data, total) == 0;

	free(blob);
	return ok;
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

static bool report_seen(void *arg)
{
	const struct rx *x = find_method(arg, MSRP_METHOD_REPORT, 0);

	return x && x->flag;
}

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

static char *range_of(char *buf, size_t cap, size_t start, size_t len, size_t total)
{
	snprintf(buf, cap, "%zu-%zu/%zu", start, start + len - 1, total);
	return buf;
}

/* ---------------------------------------------------------------- parameters */

UNIT_TEST(test_msg_params)
{
	struct fix f;
	struct ft_relay_params p = {.size_from_range = true};
	struct ft_relay *r = NULL;

	CHECK(hub_start(&f) == 0);
	p.size = 10; /* a selector's size and a size from the range: which one? */
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	p.size = 0;
	p.has_sha1 = true; /* no hash to check a message against */
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	p.has_sha1 = false;
	p.content_type = "message/cpim-with-a-type-name-far-too-long-to-be-anything-real-at-all-xxxxxx";
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	CHECK(r == NULL);
	p.content_type = "message/cpim";
	CHECK(ft_relay_create(&r, f.hub, &p, on_done, &f) == 0);
	ft_relay_destroy(r);
	f.relay = NULL;
	fix_stop(&f);
}

/* ---------------------------------------------------------------- live */

/* Three chunks to the device, every byte unchanged, the headers kept; the
 * device's 200s and REPORT complete it. */
UNIT_TEST(test_msg_live)
{
	const size_t c1 = 40000, c2 = 50000, c3 = 7000, total = c1 + c2 + c3;
	char *msg = make_msg(total), rb[64];
	struct peer snd, dev;
	struct fix f;
	struct want w;
	const struct rx *x;

	CHECK(hub_start(&f) == 0);
	CHECK(relay_start(&f, MODE_LIVE, 1 << 20) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01", 0) == 0);
	CHECK(connect_peer(&f, &dev, down_uri(&f), DEVICE_PATH, "dbind01", total + 1) == 0);
	CHECK(send_chunk(&snd, &f, "lm000001", msg, c1, range_of(rb, sizeof rb, 1, c1, total), NULL, '+', &dev) == 0);
	CHECK(send_chunk(&snd, &f, "lm000002", msg + c1, c2, range_of(rb, sizeof rb, c1 + 1, c2, total), NULL, '+',
			 &dev) == 0);
	CHECK(send_chunk(&snd, &f, "lm000003", msg + c1 + c2, c3, range_of(rb, sizeof rb, c1 + c2 + 1, c3, total),
			 "Message/CPIM", '$', &dev) == 0);
	w = (struct want){&dev, 4, 4};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(dev.body_len, total);
	CHECK(memcmp(dev.body, msg, total) == 0);
	for (unsigned i = 1; i < 4; i++) {
		CHECK_STR(dev.rx[i].msgid, "msg00001");
		CHECK_STR(dev.rx[i].ctype, i == 3 ? "Message/CPIM" : "message/cpim");
		CHECK(dev.rx[i].has_range && dev.rx[i].range.total == total);
		CHECK(device_respond(&dev, &dev.rx[i], 200, "OK") == 0);
	}
	CHECK_EQ_INT(dev.rx[3].flag, '$');
	CHECK(device_report(&dev, &dev.rx[3], total) == 0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_COMPLETE);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), total);
	CHECK(run_until(report_seen, &snd, &snd, &dev, STEP_LIMIT_MS));
	x = find_method(&snd, MSRP_METHOD_REPORT, 0);
	CHECK(x && x->report_status == 200 && x->range.end == total);
	x = find_tid(&snd, "lm000003");
	CHECK(x && x->status == 200);
	CHECK(blob_is(&f, msg, total));
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(msg);
}

/* ---------------------------------------------------------------- store */

/* Store mode: the Byte-Range total is the size; the '$' chunk's 200 and the
 * REPORT (1-N/N) are held for the owner and carry the ack header. */
UNIT_TEST(test_msg_store)
{
	const size_t c1 = 30000, c2 = 12345, total = c1 + c2;
	char *msg = make_msg(total), rb[64];
	struct peer snd;
	struct fix f;
	struct want_tid wt;
	const struct rx *x;

	CHECK(hub_start(&f) == 0);
	CHECK(relay_start(&f, MODE_STORE, total) == 0); /* exactly the maximum is fine */
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01", 0) == 0);
	CHECK(send_chunk(&snd, &f, "sm000001", msg, c1, range_of(rb, sizeof rb, 1, c1, total), NULL, '+', NULL) == 0);
	CHECK(send_chunk(&snd, &f, "sm000002", msg + c1, c2, range_of(rb, sizeof rb, c1 + 1, c2, total), NULL, '$',
			 NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	settle(&snd, NULL, 50);
	CHECK(find_tid(&snd, "sm000001") && find_tid(&snd, "sm000001")->status == 200);
	CHECK(find_tid(&snd, "sm000002") == NULL); /* held */
	CHECK(blob_is(&f, msg, total));
	CHECK(ft_relay_set_ack_header(f.relay, "Cpm-Stored", "item42") == 0);
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	wt = (struct want_tid){&snd, "sm000002"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, "sm000002");
	CHECK(x->status == 200);
	CHECK_STR(x->ext_name, "Cpm-Stored");
	CHECK_STR(x->ext_value, "item42");
	CHECK(run_until(report_seen, &snd, &snd, NULL, STEP_LIMIT_MS));
	x = find_method(&snd, MSRP_METHOD_REPORT, 0);
	CHECK(x && x->report_status == 200);
	CHECK(x->range.start == 1 && x->range.end == total && x->range.total == total);
	CHECK_STR(x->ext_value, "item42");
	fix_stop(&f);
	peer_close(&snd);
	free(msg);
}

/* keep_on_recipient_loss: the device goes mid-message, the rest goes to the
 * blob and is acknowledged once the owner says so. */
UNIT_TEST(test_msg_live_to_store)
{
	const size_t c1 = 20000, c2 = 25000, total = c1 + c2;
	char *msg = make_msg(total), rb[64];
	struct peer snd, dev;
	struct fix f;
	struct want w;
	struct want_tid wt;

	CHECK(hub_start(&f) == 0);
	CHECK(relay_start(&f, MODE_KEEP, 0) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01", 0) == 0);
	CHECK(connect_peer(&f, &dev, down_uri(&f), DEVICE_PATH, "dbind01", 0) == 0);
	CHECK(send_chunk(&snd, &f, "kl000001", msg, c1, range_of(rb, sizeof rb, 1, c1, total), NULL, '+', &dev) == 0);
	w = (struct want){&dev, 2, 2};
	CHECK(run_until(peer_has, &w, &snd, &dev, STEP_LIMIT_MS));
	close(dev.fd);
	dev.fd = -1;
	CHECK(run_until(is_lost, &f, &snd, NULL, STEP_LIMIT_MS));
	wt = (struct want_tid){&snd, "kl000001"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "kl000001")->status, 200);
	CHECK(send_chunk(&snd, &f, "kl000002", msg + c1, c2, range_of(rb, sizeof rb, c1 + 1, c2, total), NULL, '$',
			 NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK(blob_is(&f, msg, total));
	CHECK(ft_relay_ack_received(f.relay, 0) == 0);
	CHECK_EQ_INT(f.res, FT_RELAY_RECEIVED);
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(msg);
}

/* ---------------------------------------------------------------- refusals */

/* The first chunk must say how big the message is: '*' and a missing
 * Byte-Range get 413, nothing is written. */
static void refused_first_chunk(const char *range, int *ok)
{
	const size_t total = 2000;
	char *msg = make_msg(total);
	struct peer snd;
	struct fix f;
	struct want_tid wt;
	const struct rx *x;

	*ok = 0;
	CHECK(hub_start(&f) == 0);
	CHECK(relay_start(&f, MODE_STORE, 1 << 20) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01", 0) == 0);
	CHECK(send_chunk(&snd, &f, "un000001", msg, total, range, NULL, '$', NULL) == 0);
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_TOO_BIG);
	wt = (struct want_tid){&snd, "un000001"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	x = find_tid(&snd, "un000001");
	CHECK_EQ_INT(x->status, 413);
	CHECK_EQ_INT(f.received, 0);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), 0);
	fix_stop(&f);
	peer_close(&snd);
	free(msg);
	*ok = 1;
}

UNIT_TEST(test_msg_size_unknown)
{
	int ok;

	refused_first_chunk("1-*/*", &ok);
	CHECK(ok);
	refused_first_chunk("1-2000/*", &ok);
	CHECK(ok);
	refused_first_chunk(NULL, &ok);
	CHECK(ok);
}

/* A total over max_size: 413 before any byte moves, also towards a device. */
UNIT_TEST(test_msg_too_big)
{
	const size_t total = 5000;
	char *msg = make_msg(total), rb[64];
	struct peer snd, dev;
	struct fix f;
	struct want_tid wt;

	CHECK(hub_start(&f) == 0);
	CHECK(relay_start(&f, MODE_LIVE, total - 1) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01", 0) == 0);
	CHECK(connect_peer(&f, &dev, down_uri(&f), DEVICE_PATH, "dbind01", 0) == 0);
	CHECK(send_chunk(&snd, &f, "tb000001", msg, 1000, range_of(rb, sizeof rb, 1, 1000, total), NULL, '+', &dev) ==
	      0);
	CHECK(run_until(is_done, &f, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_TOO_BIG);
	wt = (struct want_tid){&snd, "tb000001"};
	CHECK(run_until(tid_seen, &wt, &snd, &dev, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "tb000001")->status, 413);
	settle(&snd, &dev, 50);
	CHECK_EQ_INT(dev.n, 1); /* only its binding's 200: nothing was relayed */
	fix_stop(&f);
	peer_close(&snd);
	peer_close(&dev);
	free(msg);
}

/* A later chunk beyond the total of the first: 413 (the total is the size). */
UNIT_TEST(test_msg_beyond_total)
{
	const size_t total = 3000;
	char *msg = make_msg(2 * total), rb[64];
	struct peer snd;
	struct fix f;
	struct want_tid wt;

	CHECK(hub_start(&f) == 0);
	CHECK(relay_start(&f, MODE_STORE, 1 << 20) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01", 0) == 0);
	CHECK(send_chunk(&snd, &f, "bt000001", msg, 1000, range_of(rb, sizeof rb, 1, 1000, total), NULL, '+', NULL) ==
	      0);
	CHECK(send_chunk(&snd, &f, "bt000002", msg + 1000, 4000, range_of(rb, sizeof rb, 1001, 4000, 2 * total), NULL,
			 '$', NULL) == 0);
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_TOO_BIG);
	wt = (struct want_tid){&snd, "bt000002"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "bt000002")->status, 413);
	CHECK_EQ_INT(f.received, 0);
	fix_stop(&f);
	peer_close(&snd);
	free(msg);
}

/* A '$' before the total: a short message, 400. */
UNIT_TEST(test_msg_short)
{
	const size_t total = 3000;
	char *msg = make_msg(total), rb[64];
	struct peer snd;
	struct fix f;
	struct want_tid wt;

	CHECK(hub_start(&f) == 0);
	CHECK(relay_start(&f, MODE_STORE, 0) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01", 0) == 0);
	CHECK(send_chunk(&snd, &f, "sh000001", msg, 1000, range_of(rb, sizeof rb, 1, 1000, total), NULL, '$', NULL) ==
	      0);
	CHECK(run_until(is_done, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.res, FT_RELAY_HASH_MISMATCH);
	wt = (struct want_tid){&snd, "sh000001"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "sh000001")->status, 400);
	CHECK_EQ_INT(f.received, 0);
	fix_stop(&f);
	peer_close(&snd);
	free(msg);
}

/* Another content type than the one we offered: 415, not relayed; the
 * right one after it goes through. */
UNIT_TEST(test_msg_content_type)
{
	const size_t total = 1500;
	char *msg = make_msg(total), rb[64];
	struct peer snd;
	struct fix f;
	struct want_tid wt;

	CHECK(hub_start(&f) == 0);
	CHECK(relay_start(&f, MODE_STORE, 0) == 0);
	CHECK(connect_peer(&f, &snd, up_uri(&f), SENDER_PATH, "sbind01", 0) == 0);
	CHECK(send_chunk(&snd, &f, "ct000001", msg, total, range_of(rb, sizeof rb, 1, total, total), "text/plain", '$',
			 NULL) == 0);
	wt = (struct want_tid){&snd, "ct000001"};
	CHECK(run_until(tid_seen, &wt, &snd, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(find_tid(&snd, "ct000001")->status, 415);
	CHECK_EQ_INT(ft_relay_bytes(f.relay), 0);
	CHECK_EQ_INT(f.done_calls, 0);
	CHECK(send_chunk(&snd, &f, "ct000002", msg, total, range_of(rb, sizeof rb, 1, total, total),
			 "message/cpim;charset=utf-8", '$', NULL) == 0);
	CHECK(run_until(is_received, &f, &snd, NULL, STEP_LIMIT_MS));
	CHECK(blob_is(&f, msg, total));
	fix_stop(&f);
	peer_close(&snd);
	free(msg);
}

UNIT_MAIN(T(test_msg_params), T(test_msg_live), T(test_msg_store), T(test_msg_live_to_store),
	  T(test_msg_size_unknown), T(test_msg_too_big), T(test_msg_beyond_total), T(test_msg_short),
	  T(test_msg_content_type))
