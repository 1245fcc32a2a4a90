/* The chat session relay (src/relay/session_relay.c) over real loopback sockets and a real
 * su_root: two scripted MSRP peers (net_peer.c), A and B, driven from this thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpm/msrp.h"
#include "net/msrp_transport.h"
#include "relay/session_relay.h"
#include "unit.h"

#include "net_peer.h"

#define A_PATH "msrp://127.0.0.1:9/aliceSession0001;tcp"
#define B_PATH "msrp://127.0.0.1:9/bobDevice000001;tcp"

struct fix {
	struct msrp_hub *hub;
	struct session_relay *r;
	int done_calls;
	enum session_relay_leg leg;
	enum session_relay_result res;
	bool destroy_in_done;
};

static void on_done(void *arg, enum session_relay_leg leg, enum session_relay_result res, const char *detail)
{
	struct fix *f = arg;

	f->done_calls++;
	f->leg = leg;
	f->res = res;
	if (f->destroy_in_done) {
		session_relay_destroy(f->r);
		f->r = NULL;
	}
}

static bool is_done(void *arg)
{
	return ((struct fix *)arg)->done_calls > 0;
}

static int fix_start(struct fix *f, uint64_t max_size, size_t hw, unsigned bind_s, unsigned txn_ms)
{
	struct msrp_hub_cfg cfg = {.host = "127.0.0.1", .port = 0, .high_water = hw, .bind_timeout = bind_s,
				   .txn_timeout_ms = txn_ms};
	struct session_relay_params p = {.max_size = max_size};

	memset(f, 0, sizeof *f);
	if (!root && !(root = su_root_create(NULL)))
		return -1;
	if (msrp_hub_create(&f->hub, root, &cfg))
		return -1;
	if (session_relay_create(&f->r, f->hub, &p, on_done, f))
		return -1;
	return session_relay_set_peer_path(f->r, SR_LEG_A, A_PATH);
}

static void fix_stop(struct fix *f)
{
	session_relay_destroy(f->r);
	f->r = NULL;
	for (int i = 0; i < 20; i++)
		su_root_step(root, 1);
	msrp_hub_destroy(f->hub);
}

static const char *a_uri(struct fix *f) { return session_relay_path(f->r, SR_LEG_A); }
static const char *b_uri(struct fix *f) { return session_relay_path(f->r, SR_LEG_B); }

/* The peer that send_chunk() keeps reading while its own socket is full (a slow reader). */
static struct peer *poll_also;

/* One SEND chunk: range "s-e/t" as text (so that '*' can be written), flag '+', '$' or '#'. */
static int send_chunk(struct peer *pe, const char *to, const char *from, const char *tid, const char *msgid,
		      const char *range, const char *data, size_t len, char flag, const char *fr)
{
	char head[2048];
	int n = snprintf(head, sizeof head,
			 "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
			 "Byte-Range: %s\r\nSuccess-Report: yes\r\n%s%s%sX-Chat-Test: kept\r\n"
			 "Content-Type: message/cpim\r\n\r\n",
			 tid, to, from, msgid, range, fr ? "Failure-Report: " : "", fr ? fr : "", fr ? "\r\n" : "");
	char end[64];
	int e = snprintf(end, sizeof end, "\r\n-------%s%c\r\n", tid, flag);

	if (peer_send(pe, head, (size_t)n, poll_also) || peer_send(pe, data, len, poll_also) ||
	    peer_send(pe, end, (size_t)e, poll_also))
		return -1;
	return 0;
}

static int respond(struct peer *pe, const struct rx *x, int status, const char *phrase, const char *self)
{
	return peer_sendf(pe, "MSRP %s %d %s\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n", x->tid, status,
			  phrase, x->from, self, x->tid);
}

static int bind_a(struct fix *f, struct peer *a)
{
	struct want w = {a, 1, 1};

	if (peer_connect(a, msrp_hub_port(f->hub)) || send_bind(a, a_uri(f), A_PATH, "abind01"))
		return -1;
	return run_until(peer_has, &w, a, NULL, STEP_LIMIT_MS) && a->rx[0].status == 200 ? 0 : -1;
}

/* body_cap: B keeps up to that many body bytes (b->body). */
static int bind_b(struct fix *f, struct peer *b, struct peer *a, size_t body_cap)
{
	struct want w = {b, 1, 1};

	if (session_relay_set_peer_path(f->r, SR_LEG_B, B_PATH))
		return -1;
	if (peer_connect(b, msrp_hub_port(f->hub)) || send_bind(b, b_uri(f), B_PATH, "bbind01"))
		return -1;
	if (body_cap) {
		b->body = malloc(body_cap);
		b->body_cap = body_cap;
	}
	return run_until(peer_has, &w, a, b, STEP_LIMIT_MS) ? 0 : -1;
}

/* ---------------------------------------------------------------- tests */

UNIT_TEST(test_session_both_ways)
{
	struct fix f;
	struct peer a, b;
	struct want w;
	const struct rx *x, *y;
	struct session_relay_stats st;

	CHECK(fix_start(&f, 65536, 0, 5, 0) == 0);
	CHECK(bind_a(&f, &a) == 0);
	CHECK(bind_b(&f, &b, &a, 4096) == 0);
	CHECK_EQ_INT(b.rx[0].status, 200);
	CHECK_STR(b.rx[0].from, b_uri(&f));

	/* A -> B: re-framed, body unchanged */
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0001", "amsg0001", "1-5/5", "hello", 5, '$', NULL) == 0);
	w = (struct want){&b, 2, 2};
	CHECK(run_until(peer_has, &w, &a, &b, STEP_LIMIT_MS));
	x = &b.rx[1];
	CHECK(x->method == MSRP_METHOD_SEND);
	CHECK(strcmp(x->tid, "atid0001") != 0);
	CHECK_STR(x->to, B_PATH);
	CHECK_STR(x->from, b_uri(&f));
	CHECK_STR(x->msgid, "amsg0001");
	CHECK_STR(x->ctype, "message/cpim");
	CHECK(x->has_range && x->range.start == 1 && x->range.end == 5 && x->range.total == 5);
	CHECK(x->sr == MSRP_REPORT_YES);
	CHECK_STR(x->ext_name, "X-Chat-Test");
	CHECK_STR(x->ext_value, "kept");
	CHECK(x->flag == '$');
	CHECK(b.body_len == 5 && memcmp(b.body, "hello", 5) == 0);

	/* B's 200 goes back with A's tid, B's REPORT with the paths rewritten */
	CHECK(respond(&b, x, 200, "OK", B_PATH) == 0);
	CHECK(device_report(&b, x, 5) == 0); /* (From-Path DEVICE_PATH: only To-Path is checked) */
	w = (struct want){&a, 3, 3};
	CHECK(run_until(peer_has, &w, &a, &b, STEP_LIMIT_MS));
	y = find_tid(&a, "atid0001");
	CHECK(y && y->status == 200);
	CHECK_STR(y->to, A_PATH);
	CHECK_STR(y->from, a_uri(&f));
	y = find_method(&a, MSRP_METHOD_REPORT, 0);
	CHECK(y && y->report_status == 200);
	CHECK_STR(y->msgid, "amsg0001");
	CHECK_STR(y->to, A_PATH);
	CHECK_STR(y->from, a_uri(&f));

	/* B -> A, and A's 413 (a device's error) goes back and the session stays */
	CHECK(send_chunk(&b, b_uri(&f), B_PATH, "btid0001", "bmsg0001", "1-3/3", "hey", 3, '$', "yes") == 0);
	w = (struct want){&a, 4, 4};
	CHECK(run_until(peer_has, &w, &a, &b, STEP_LIMIT_MS));
	x = &a.rx[3];
	CHECK(x->method == MSRP_METHOD_SEND);
	CHECK_STR(x->msgid, "bmsg0001");
	CHECK_STR(x->to, A_PATH);
	CHECK(respond(&a, x, 413, "Too Big", A_PATH) == 0);
	w = (struct want){&b, 3, 3};
	CHECK(run_until(peer_has, &w, &a, &b, STEP_LIMIT_MS));
	y = find_tid(&b, "btid0001");
	CHECK(y && y->status == 413);
	CHECK_EQ_INT(f.done_calls, 0);

	session_relay_stats(f.r, &st);
	CHECK_EQ_INT(st.relayed[SR_LEG_A], 1);
	CHECK_EQ_INT(st.relayed[SR_LEG_B], 1);
	peer_close(&a);
	peer_close(&b);
	fix_stop(&f);
}

UNIT_TEST(test_session_chunks_and_early_sender)
{
	struct fix f;
	struct peer a, b;
	struct want w;
	char *data = malloc(30000);

	for (int i = 0; i < 30000; i++)
		data[i] = (char)('a' + i % 26);
	CHECK(fix_start(&f, 65536, 0, 5, 0) == 0);
	CHECK(bind_a(&f, &a) == 0);
	/* A sends before B is there: held, not lost */
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0001", "amsg0002", "1-10000/30000", data, 10000, '+', NULL) == 0);
	for (int i = 0; i < 50; i++) {
		su_root_step(root, 1);
		peer_poll(&a);
	}
	CHECK_EQ_INT(a.n, 1); /* no answer yet: waiting for B */
	CHECK(bind_b(&f, &b, &a, 30000) == 0);
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0002", "amsg0002", "10001-20000/30000", data + 10000, 10000,
			 '+', NULL) == 0);
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0003", "amsg0002", "20001-30000/30000", data + 20000, 10000,
			 '$', NULL) == 0);
	w = (struct want){&b, 4, 4}; /* bind answer + three chunks */
	CHECK(run_until(peer_has, &w, &a, &b, STEP_LIMIT_MS));
	CHECK(b.rx[1].flag == '+' && b.rx[2].flag == '+' && b.rx[3].flag == '$');
	CHECK(b.rx[3].range.start == 20001 && b.rx[3].range.total == 30000);
	CHECK(b.body_len == 30000 && memcmp(b.body, data, 30000) == 0);
	free(data);
	peer_close(&a);
	peer_close(&b);
	fix_stop(&f);
}

static bool a_has_tid(void *arg)
{
	struct peer *a = arg;

	return find_tid(a, "atid0002") != NULL;
}

UNIT_TEST(test_session_max_size)
{
	struct fix f;
	struct peer a, b;
	struct want w;
	char big[3000];
	const struct rx *x;
	struct session_relay_stats st;

	memset(big, 'x', sizeof big);
	CHECK(fix_start(&f, 1000, 0, 5, 0) == 0);
	CHECK(bind_a(&f, &a) == 0);
	CHECK(bind_b(&f, &b, &a, 0) == 0);
	/* total over max-size: 413 at once, not forwarded; its later chunk too */
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0001", "big00001", "1-500/2000", big, 500, '+', NULL) == 0);
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0002", "big00001", "501-1000/2000", big, 500, '+', NULL) == 0);
	CHECK(run_until(a_has_tid, &a, &a, &b, STEP_LIMIT_MS));
	CHECK(find_tid(&a, "atid0001")->status == 413);
	CHECK(find_tid(&a, "atid0002")->status == 413);
	/* '*' total: its bytes go beyond */
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0003", "big00002", "1-*/*", big, 1500, '$', NULL) == 0);
	/* an end beyond max-size */
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0004", "big00003", "900-1100/*", big, 201, '$', NULL) == 0);
	/* and a message that fits still goes */
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0005", "ok000001", "1-1000/1000", big, 1000, '$', NULL) == 0);
	w = (struct want){&b, 2, 2};
	CHECK(run_until(peer_has, &w, &a, &b, STEP_LIMIT_MS));
	CHECK_STR(b.rx[1].msgid, "ok000001");
	CHECK(b.rx[1].body_len == 1000);
	x = find_tid(&a, "atid0003");
	CHECK(x && x->status == 413);
	x = find_tid(&a, "atid0004");
	CHECK(x && x->status == 413);
	for (int i = 0; i < 50; i++) {
		su_root_step(root, 1);
		peer_poll(&a);
		peer_poll(&b);
	}
	CHECK_EQ_INT(b.n, 2); /* nothing else reached B */
	session_relay_stats(f.r, &st);
	CHECK_EQ_INT(st.refused[SR_LEG_A], 4);
	CHECK_EQ_INT(st.relayed[SR_LEG_A], 1);
	CHECK_EQ_INT(f.done_calls, 0);
	peer_close(&a);
	peer_close(&b);
	fix_stop(&f);
}

UNIT_TEST(test_session_leg_closes)
{
	struct fix f;
	struct peer a, b;

	CHECK(fix_start(&f, 65536, 0, 5, 0) == 0);
	f.destroy_in_done = true;
	CHECK(bind_a(&f, &a) == 0);
	CHECK(bind_b(&f, &b, &a, 0) == 0);
	peer_close(&b);
	CHECK(run_until(is_done, &f, &a, NULL, STEP_LIMIT_MS));
	CHECK_EQ_INT(f.done_calls, 1);
	CHECK(f.leg == SR_LEG_B && f.res == SR_CLOSED);
	CHECK(run_until(peer_eof, &a, &a, NULL, STEP_LIMIT_MS)); /* A's connection is closed too */
	CHECK_EQ_INT(f.done_calls, 1);
	peer_close(&a);
	fix_stop(&f);
}

UNIT_TEST(test_session_bind_timeout)
{
	struct fix f;
	struct peer a;

	CHECK(fix_start(&f, 65536, 0, 1, 0) == 0);
	CHECK(bind_a(&f, &a) == 0);
	CHECK(session_relay_set_peer_path(f.r, SR_LEG_B, B_PATH) == 0);
	CHECK(run_until(is_done, &f, &a, NULL, 4000));
	CHECK(f.leg == SR_LEG_B && f.res == SR_TIMEOUT);
	peer_close(&a);
	fix_stop(&f);
}

UNIT_TEST(test_session_no_response_408)
{
	struct fix f;
	struct peer a, b;
	struct want w;

	CHECK(fix_start(&f, 65536, 0, 5, 300) == 0);
	CHECK(bind_a(&f, &a) == 0);
	CHECK(bind_b(&f, &b, &a, 0) == 0);
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0002", "amsg0001", "1-2/2", "hi", 2, '$', NULL) == 0);
	w = (struct want){&b, 2, 2};
	CHECK(run_until(peer_has, &w, &a, &b, STEP_LIMIT_MS));
	/* B never answers: A gets 408 from us, and the session goes on */
	CHECK(run_until(a_has_tid, &a, &a, &b, 3000));
	CHECK(find_tid(&a, "atid0002")->status == 408);
	CHECK_EQ_INT(f.done_calls, 0);
	peer_close(&a);
	peer_close(&b);
	fix_stop(&f);
}

UNIT_TEST(test_session_bad_requests)
{
	struct fix f;
	struct peer a, b;
	struct want w;

	CHECK(fix_start(&f, 65536, 0, 5, 0) == 0);
	CHECK(bind_a(&f, &a) == 0);
	CHECK(bind_b(&f, &b, &a, 0) == 0);
	/* another session's To-Path: 481; an unknown method: 501; nothing reaches B */
	CHECK(send_chunk(&a, b_uri(&f), A_PATH, "atid0001", "amsg0001", "1-2/2", "hi", 2, '$', NULL) == 0);
	CHECK(peer_sendf(&a, "MSRP atid0002 FROB\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------atid0002$\r\n", a_uri(&f),
			 A_PATH) == 0);
	CHECK(run_until(a_has_tid, &a, &a, &b, STEP_LIMIT_MS));
	CHECK(find_tid(&a, "atid0001")->status == 481);
	CHECK(find_tid(&a, "atid0002")->status == 501);
	/* a response to nothing we sent is dropped */
	CHECK(peer_sendf(&b, "MSRP nothing1 200 OK\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------nothing1$\r\n", b_uri(&f),
			 B_PATH) == 0);
	CHECK(send_chunk(&a, a_uri(&f), A_PATH, "atid0003", "amsg0003", "1-2/2", "ok", 2, '$', NULL) == 0);
	w = (struct want){&b, 2, 2};
	CHECK(run_until(peer_has, &w, &a, &b, STEP_LIMIT_MS));
	CHECK_STR(b.rx[1].msgid, "amsg0003");
	CHECK_EQ_INT(a.n, 3);
	CHECK_EQ_INT(f.done_calls, 0);
	peer_close(&a);
	peer_close(&b);
	fix_stop(&f);
}

UNIT_TEST(test_session_back_pressure)
{
	struct fix f;
	struct peer a, b;
	struct want w;
	struct session_relay_stats st;
	enum { N = 200, SZ = 60000 };
	char *data = malloc(SZ);
	const size_t hw = 256 * 1024;

	memset(data, 'q', SZ);
	CHECK(fix_start(&f, 65536, hw, 5, 0) == 0);
	CHECK(bind_a(&f, &a) == 0);
	CHECK(bind_b(&f, &b, &a, 0) == 0);
	b.read_budget = 4096; /* a slow reader */
	poll_also = &b;
	for (int i = 0; i < N; i++) {
		char tid[32], mid[32];

		snprintf(tid, sizeof tid, "atid%05d", i);
		snprintf(mid, sizeof mid, "amsg%05d", i);
		/* Failure-Report no: the table never fills, only the queue bounds us */
		CHECK(send_chunk(&a, a_uri(&f), A_PATH, tid, mid, "1-60000/60000", data, SZ, '$', "no") == 0);
		su_root_step(root, 1);
		peer_poll(&b);
	}
	b.read_budget = 0;
	poll_also = NULL;
	w = (struct want){&b, N + 1, N + 1};
	CHECK(run_until(peer_has, &w, &a, &b, 20000));
	CHECK(b.body_total == (uint64_t)N * SZ);
	session_relay_stats(f.r, &st);
	/* one chunk may land on a queue just under high water */
	CHECK(st.max_queued[SR_LEG_B] <= hw + SZ + 4096);
	free(data);
	peer_close(&a);
	peer_close(&b);
	fix_stop(&f);
}

UNIT_TEST(test_session_create_checks)
{
	struct fix f;
	struct session_relay *r;
	struct session_relay_params p = {.max_size = SESSION_RELAY_MAX_SIZE + 1};

	CHECK(fix_start(&f, 65536, 0, 5, 0) == 0);
	CHECK(session_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	p.max_size = 0;
	CHECK(session_relay_create(&r, f.hub, &p, on_done, &f) == -EINVAL);
	CHECK(session_relay_set_peer_path(f.r, SR_LEG_B, "not a path") == -1);
	CHECK(session_relay_set_peer_path(f.r, SR_LEG_B, "msrp://h:1/x;tcp\r\nX: y") == -1);
	fix_stop(&f);
}

UNIT_MAIN(T(test_session_both_ways), T(test_session_chunks_and_early_sender), T(test_session_max_size),
	  T(test_session_leg_closes), T(test_session_bind_timeout), T(test_session_no_response_408),
	  T(test_session_bad_requests), T(test_session_back_pressure), T(test_session_create_checks))
