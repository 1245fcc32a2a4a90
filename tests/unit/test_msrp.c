/* Unit tests for the MSRP codec (lib/msrp). The core check: a stream cut at
 * every byte offset, or fed one byte at a time, gives exactly the events
 * and body bytes of the unsplit parse. */
#include "cpm/msrp.h"
#include "unit.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- a growable text log of everything the parser reported ---- */
struct log {
	char *p;
	size_t len, cap;
};

static void log_put(struct log *l, const void *s, size_t n)
{
	if (l->len + n + 1 > l->cap) {
		size_t cap = (l->cap ? l->cap * 2 : 1024) + n;
		l->p = realloc(l->p, cap);
		if (!l->p)
			abort();
		l->cap = cap;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
	l->p[l->len] = '\0';
}

static void log_fmt(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_fmt(struct log *l, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	log_put(l, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void log_free(struct log *l)
{
	free(l->p);
	memset(l, 0, sizeof *l);
}

static unsigned long long u(uint64_t v)
{
	return (unsigned long long)v;
}

static void log_msg(struct log *l, const struct msrp_msg *m)
{
	log_fmt(l, "MSG tid=%s method=%d name=%.*s status=%d comment=%.*s\n", m->tid, m->method,
		(int)m->method_name.len, m->method_name.p ? m->method_name.p : "", m->status,
		(int)m->comment.len, m->comment.p ? m->comment.p : "");
	log_fmt(l, "  to=%.*s from=%.*s mid=%.*s ct=%.*s nh=%zu\n", (int)m->to_path.len,
		m->to_path.p ? m->to_path.p : "", (int)m->from_path.len,
		m->from_path.p ? m->from_path.p : "", (int)m->message_id.len,
		m->message_id.p ? m->message_id.p : "", (int)m->content_type.len,
		m->content_type.p ? m->content_type.p : "", m->nheaders);
	log_fmt(l, "  br=%d %llu-%llu/%llu sr=%d fr=%d st=%d %d\n", m->has_byte_range,
		u(m->range.start), u(m->range.end), u(m->range.total), m->success_report,
		m->failure_report, m->has_status, m->status_code);
}

/* ---- a caller that behaves like the relay ---- */
struct run {
	struct log log;
	struct log body; /* body of the current message */
	size_t leftover; /* bytes never consumed when the input ran out */
	int errors, msgs, ends;
	int violations;  /* contract broken: see check_event() */
};

/* Invariants every caller relies on. */
static void check_event(struct run *r, const struct msrp_event *ev, enum msrp_ev t,
			const char *buf, size_t have, size_t used)
{
	if (used > have || ev->type != t)
		r->violations++;
	if (t == MSRP_EV_BODY) {
		if (ev->body.len == 0 || ev->body.p < buf || ev->body.p + ev->body.len > buf + have ||
		    (size_t)(ev->body.p - buf) + ev->body.len != used)
			r->violations++;
	}
	/* Only a fatal error may leave the input where it was. */
	if (t != MSRP_EV_NEED_MORE && !(t == MSRP_EV_ERROR && ev->fatal) && used == 0)
		r->violations++;
}

static void record(struct run *r, const struct msrp_event *ev, enum msrp_ev t)
{
	switch (t) {
	case MSRP_EV_MSG:
		r->msgs++;
		r->body.len = 0;
		log_msg(&r->log, ev->msg);
		break;
	case MSRP_EV_BODY:
		log_put(&r->body, ev->body.p, ev->body.len);
		break;
	case MSRP_EV_END:
		r->ends++;
		log_fmt(&r->log, "BODY %zu [", r->body.len);
		log_put(&r->log, r->body.p ? r->body.p : "", r->body.len);
		log_fmt(&r->log, "]\nEND %c tid=%s\n", ev->flag, ev->msg->tid);
		r->body.len = 0;
		break;
	case MSRP_EV_ERROR:
		r->errors++;
		log_fmt(&r->log, "ERROR %s fatal=%d tid=%s\n", msrp_strerror(ev->error), ev->fatal,
			ev->msg ? ev->msg->tid : "-");
		break;
	case MSRP_EV_NEED_MORE:
		break;
	}
}

/* Feed `in` in pieces: cut once at `cut` (step == 0) or every `step`
 * bytes. More input is added only when the parser says NEED_MORE, and
 * `consumed` bytes are dropped after every call, as the relay does. */
static void run_stream(const char *in, size_t n, size_t cut, size_t step, struct run *r)
{
	struct msrp_parser *p = malloc(sizeof *p);
	char *buf = malloc(n + 1);
	size_t have = 0, fed = 0;

	memset(r, 0, sizeof *r);
	msrp_parser_init(p);
	for (size_t guard = 0; guard < 4 * n + 100; guard++) {
		struct msrp_event ev;
		size_t used = 12345;
		enum msrp_ev t = msrp_parse(p, buf, have, &used, &ev);

		check_event(r, &ev, t, buf, have, used);
		record(r, &ev, t);
		if (used > have)
			break;
		memmove(buf, buf + used, have - used);
		have -= used;
		if (t == MSRP_EV_ERROR && ev.fatal)
			break;
		if (t != MSRP_EV_NEED_MORE)
			continue;
		if (fed == n)
			break;
		size_t piece = step ? step : fed < cut ? cut - fed : n - fed;
		if (piece > n - fed)
			piece = n - fed;
		memcpy(buf + have, in + fed, piece);
		have += piece;
		fed += piece;
	}
	r->leftover = have;
	if (r->body.len)
		log_fmt(&r->log, "UNFINISHED BODY %zu\n", r->body.len);
	log_fmt(&r->log, "LEFTOVER %zu\n", have);
	log_free(&r->body);
	free(buf);
	free(p);
}

static void run_free(struct run *r)
{
	log_free(&r->log);
}

/* The split-invariance check. Returns the number of mismatching cuts. */
static int split_mismatches(const char *in, size_t n, const struct run *whole)
{
	static const size_t steps[] = {1, 2, 3, 7, 13, 64};
	int bad = 0;
	struct run r;

	for (size_t cut = 1; cut < n; cut++) {
		run_stream(in, n, cut, 0, &r);
		if (r.violations || strcmp(r.log.p, whole->log.p) != 0) {
			if (!bad)
				fprintf(stderr, "  cut at %zu differs:\n%s\n--- vs whole:\n%s\n", cut,
					r.log.p, whole->log.p);
			bad++;
		}
		run_free(&r);
	}
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		run_stream(in, n, 0, steps[i], &r);
		if (r.violations || strcmp(r.log.p, whole->log.p) != 0)
			bad++;
		run_free(&r);
	}
	return bad;
}

/* ---- sample messages ---- */
#define TO_BOB "msrp://bob.example.com:8888/9di4eae923wzd;tcp"
#define FROM_ALICE "msrp://alicepc.example.com:7777/iau39soe2843z;tcp"
#define PATHS "To-Path: " TO_BOB "\r\nFrom-Path: " FROM_ALICE "\r\n"

/* Body bytes with line breaks, dashes and high bytes, like a real file. */
static void fill_body(char *b, size_t n, unsigned seed)
{
	static const char *bits[] = {"\r\n", "-------", "\r\n-------", "\xff\x00\x80", "abc", "\r"};
	size_t i = 0;

	while (i < n) {
		seed = seed * 1103515245u + 12345u;
		const char *s = bits[(seed >> 16) % 6];
		size_t k = (seed >> 16) % 6 == 3 ? 3 : strlen(s);
		for (size_t j = 0; j < k && i < n; j++)
			b[i++] = s[j];
	}
}

/* A message "head + body + end" in a malloc'd buffer. */
static char *make_msg(const char *head, size_t body_len, unsigned seed, const char *end,
		      size_t *n)
{
	size_t hl = strlen(head), el = strlen(end);
	char *m = malloc(hl + body_len + el + 1);

	memcpy(m, head, hl);
	fill_body(m + hl, body_len, seed);
	memcpy(m + hl + body_len, end, el + 1);
	*n = hl + body_len + el;
	return m;
}

static const char chunk_head[] = "MSRP a786hjs2 SEND\r\n" PATHS
				 "Message-ID: 87652491\r\n"
				 "Byte-Range: 1-2048/5000\r\n"
				 "Content-Type: application/octet-stream\r\n\r\n";
static const char interruptible_head[] = "MSRP b786hjs2 SEND\r\n" PATHS
					 "Message-ID: 87652491\r\n"
					 "Byte-Range: 2049-*/5000\r\n"
					 "Content-Type: application/octet-stream\r\n\r\n";
static const char binding[] = "MSRP d93kswow SEND\r\n" PATHS
			      "Message-ID: 12339sdqwer\r\n"
			      "Byte-Range: 1-0/0\r\n"
			      "-------d93kswow$\r\n";
static const char response[] = "MSRP a786hjs2 200 OK\r\n"
			       "To-Path: " FROM_ALICE "\r\n"
			       "From-Path: " TO_BOB "\r\n"
			       "-------a786hjs2$\r\n";
static const char report[] = "MSRP dkei38sd REPORT\r\n" PATHS
			     "Message-ID: 12339sdqwer\r\n"
			     "Byte-Range: 1-106/106\r\n"
			     "Status: 000 200 OK\r\n"
			     "-------dkei38sd$\r\n";
/* Everything here that looks like an end-line is not one. */
#define TRICKY_BODY "-------tricky01Q starts with dashes\r\n"       \
		    "a-------b\r\n-------\r\n"                          \
		    "-------tricky01$ then a space\r\n"             \
		    "\r\n-------tricky01X\r\n"                           \
		    "\r\n-------tricky01$X\r\n"                          \
		    "\r\n-------tricky01$\rZ\r\n"                        \
		    "\r\n-------tricky0\r\n"                             \
		    "\r\n-------tricky011$\r\n"                          \
		    "\r\n-------TRICKY01$\r\n"                           \
		    "\r\n-------tricky01\r\n-------tricky01"
static const char tricky[] = "MSRP tricky01 SEND\r\n" PATHS
			     "Message-ID: m1234567\r\n"
			     "Content-Type: text/plain\r\n\r\n" TRICKY_BODY
			     "\r\n-------tricky01$\r\n";

static void expect_split_invariant(const char *in, size_t n, int msgs, int ends, int errors)
{
	struct run whole;

	run_stream(in, n, 0, n ? n : 1, &whole);
	if (whole.violations || whole.msgs != msgs || whole.ends != ends || whole.errors != errors)
		fprintf(stderr, "  whole parse:\n%s\n", whole.log.p);
	CHECK_EQ_INT(whole.violations, 0);
	CHECK_EQ_INT(whole.msgs, msgs);
	CHECK_EQ_INT(whole.ends, ends);
	CHECK_EQ_INT(whole.errors, errors);
	CHECK_EQ_INT(split_mismatches(in, n, &whole), 0);
	run_free(&whole);
}

/* ---- split invariance ---- */
UNIT_TEST(split_chunked_send)
{
	size_t n;
	char *m = make_msg(chunk_head, 2048, 1, "\r\n-------a786hjs2+\r\n", &n);
	expect_split_invariant(m, n, 1, 1, 0);
	free(m);
}

UNIT_TEST(split_interruptible_send)
{
	size_t n;
	char *m = make_msg(interruptible_head, 1500, 2, "\r\n-------b786hjs2+\r\n", &n);
	expect_split_invariant(m, n, 1, 1, 0);
	free(m);
}

UNIT_TEST(split_binding_send)
{
	expect_split_invariant(binding, strlen(binding), 1, 1, 0);
}

UNIT_TEST(split_response)
{
	expect_split_invariant(response, strlen(response), 1, 1, 0);
}

UNIT_TEST(split_report)
{
	expect_split_invariant(report, strlen(report), 1, 1, 0);
}

UNIT_TEST(split_tricky_body)
{
	expect_split_invariant(tricky, strlen(tricky), 1, 1, 0);
}

UNIT_TEST(split_three_back_to_back)
{
	size_t n;
	char *chunk = make_msg(chunk_head, 300, 3, "\r\n-------a786hjs2#\r\n", &n);
	struct log all = {0};

	log_put(&all, binding, strlen(binding));
	log_put(&all, chunk, n);
	log_put(&all, response, strlen(response));
	expect_split_invariant(all.p, all.len, 3, 3, 0);
	free(chunk);
	log_free(&all);
}

UNIT_TEST(split_error_then_good)
{
	/* A bad Byte-Range with a body, a response with a body, then good ones. */
	static const char s[] = "MSRP bad00001 SEND\r\n" PATHS
				"Message-ID: m1234567\r\n"
				"Byte-Range: 0-3/3\r\n"
				"Content-Type: text/plain\r\n\r\n"
				"abc\r\n-------bad00001+\r\n"
				"MSRP bad00002 200 OK\r\n" PATHS
				"Content-Type: text/plain\r\n\r\n"
				"xyz\r\n-------bad00002$\r\n" "MSRP bad00003 SEND\r\n" PATHS
				"Message-ID: m1234567\r\n"
				"Bad Header\r\n"
				"Content-Type: text/plain\r\n\r\n"
				"zz\r\n-------bad00003$\r\n" "MSRP bad00004 SEND\r\n" PATHS
				"Message-ID: m1234567\r\n"
				"Byte-Range: 1-0/0\r\n"
				"-------bad00004$\r\n";
	size_t n = strlen(s);
	char *all = malloc(n + sizeof binding);

	memcpy(all, s, n);
	memcpy(all + n, binding, sizeof binding);
	expect_split_invariant(all, n + strlen(binding), 2, 2, 3);
	free(all);
}

/* ---- whole-stream content checks ---- */
static void parse_whole(const char *in, size_t n, struct run *r)
{
	run_stream(in, n, 0, n ? n : 1, r);
}

UNIT_TEST(tricky_body_is_body)
{
	struct run r;

	parse_whole(tricky, strlen(tricky), &r);
	char want[sizeof TRICKY_BODY + 64];
	snprintf(want, sizeof want, "BODY %zu [%s]\nEND $ tid=tricky01\n", strlen(TRICKY_BODY),
		 TRICKY_BODY);
	CHECK(strstr(r.log.p, want) != NULL);
	CHECK_EQ_INT(r.leftover, 0);
	run_free(&r);
}

/* Bodies dense with dashes, CRLFs and end-lines of other tids, of every length from 0 to 400
 * and cut at several places, come out byte for byte, ended at the real end-line only (written
 * for a faster end-line search that was measured and dropped: docs/BENCHMARKS.md, third
 * session; a search that skipped bytes wrongly failed here). */
UNIT_TEST(dash_dense_bodies_are_bodies)
{
	static const size_t steps[] = {0, 5, 7, 64};
	for (size_t len = 0; len <= 400; len++) {
		size_t n;
		char *m = make_msg(chunk_head, len, (unsigned)len * 7919u + 3u, "\r\n-------a786hjs2$\r\n", &n);
		size_t hl = strlen(chunk_head);
		for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
			struct run r;
			run_stream(m, n, 0, steps[k] ? steps[k] : n, &r);
			char want[64];
			snprintf(want, sizeof want, "BODY %zu [", len);
			const char *at = strstr(r.log.p, want);
			CHECK(at != NULL);
			CHECK(memcmp(at + strlen(want), m + hl, len) == 0);
			CHECK_EQ_INT(r.ends, 1);
			CHECK_EQ_INT(r.errors, 0);
			CHECK_EQ_INT(r.leftover, 0);
			CHECK_EQ_INT(r.violations, 0);
			run_free(&r);
		}
		free(m);
	}
}

/* Parse one message and return its fields through a fresh parser. */
struct one {
	struct msrp_parser p;
	struct msrp_event ev;
	enum msrp_ev t;
	size_t used;
};

static struct one *parse_one(const char *s)
{
	struct one *o = malloc(sizeof *o);

	msrp_parser_init(&o->p);
	o->t = msrp_parse(&o->p, s, strlen(s), &o->used, &o->ev);
	return o;
}

UNIT_TEST(binding_fields)
{
	struct one *o = parse_one(binding);

	CHECK_EQ_INT(o->t, MSRP_EV_MSG);
	CHECK_STR(o->ev.msg->tid, "d93kswow");
	CHECK_EQ_INT(o->ev.msg->method, MSRP_METHOD_SEND);
	CHECK(!o->ev.msg->has_body);
	CHECK(o->ev.msg->has_byte_range);
	CHECK_EQ_INT(o->ev.msg->range.start, 1);
	CHECK_EQ_INT(o->ev.msg->range.end, 0);
	CHECK_EQ_INT(o->ev.msg->range.total, 0);
	CHECK(cpm_str_eq(o->ev.msg->to_path, TO_BOB));
	CHECK(cpm_str_eq(o->ev.msg->from_path, FROM_ALICE));
	CHECK(cpm_str_eq(o->ev.msg->message_id, "12339sdqwer"));
	/* MSG leaves the end-line in place; END consumes exactly it. */
	const char *rest = binding + o->used;
	CHECK_STR(rest, "-------d93kswow$\r\n");
	size_t used;
	CHECK_EQ_INT(msrp_parse(&o->p, rest, strlen(rest), &used, &o->ev), MSRP_EV_END);
	CHECK_EQ_INT(used, strlen(rest));
	CHECK_EQ_INT(o->ev.flag, '$');
	free(o);
}

UNIT_TEST(response_and_report_fields)
{
	struct one *o = parse_one(response);

	CHECK_EQ_INT(o->t, MSRP_EV_MSG);
	CHECK_EQ_INT(o->ev.msg->method, MSRP_METHOD_NONE);
	CHECK_EQ_INT(o->ev.msg->status, 200);
	CHECK(cpm_str_eq(o->ev.msg->comment, "OK"));
	free(o);

	o = parse_one(report);
	CHECK_EQ_INT(o->t, MSRP_EV_MSG);
	CHECK_EQ_INT(o->ev.msg->method, MSRP_METHOD_REPORT);
	CHECK(o->ev.msg->has_status);
	CHECK_EQ_INT(o->ev.msg->status_code, 200);
	CHECK(cpm_str_eq(o->ev.msg->status_comment, "OK"));
	struct cpm_str v;
	CHECK(msrp_msg_header(o->ev.msg, "byte-range", &v));
	CHECK(cpm_str_eq(v, "1-106/106"));
	CHECK(!msrp_msg_header(o->ev.msg, "Content-Type", &v));
	free(o);
}

UNIT_TEST(empty_body_and_liberal_headers)
{
	static const char s[] = "MSRP emptyb01 SEND\r\n"
				"To-Path:" TO_BOB "\r\n"
				"From-Path:  " FROM_ALICE " \r\n"
				"Message-ID:m1234567\r\n"
				"Failure-Report: partial\r\n"
				"Success-Report: yes\r\n"
				"Content-Type: text/plain\r\n\r\n"
				"\r\n-------emptyb01$\r\n";
	struct run r;

	parse_whole(s, strlen(s), &r);
	CHECK_EQ_INT(r.errors, 0);
	CHECK_EQ_INT(r.ends, 1);
	CHECK(strstr(r.log.p, "BODY 0 []\nEND $") != NULL);
	CHECK(strstr(r.log.p, "sr=1 fr=3") != NULL);
	CHECK_EQ_INT(r.leftover, 0);
	run_free(&r);
	expect_split_invariant(s, strlen(s), 1, 1, 0);
}

UNIT_TEST(unknown_methods)
{
	struct one *o = parse_one("MSRP abcd1234 FOO\r\n" PATHS "-------abcd1234$\r\n");
	CHECK_EQ_INT(o->t, MSRP_EV_MSG);
	CHECK_EQ_INT(o->ev.msg->method, MSRP_METHOD_OTHER);
	CHECK(cpm_str_eq(o->ev.msg->method_name, "FOO"));
	free(o);
	/* Method names are case-sensitive. */
	o = parse_one("MSRP abcd1234 send\r\n" PATHS "-------abcd1234$\r\n");
	CHECK_EQ_INT(o->t, MSRP_EV_MSG);
	CHECK_EQ_INT(o->ev.msg->method, MSRP_METHOD_OTHER);
	free(o);
	o = parse_one("MSRP abcd1234 AUTH\r\n" PATHS "-------abcd1234$\r\n");
	CHECK_EQ_INT(o->ev.msg->method, MSRP_METHOD_AUTH);
	free(o);
}

/* ---- hostile input ---- */
struct verdict {
	int error; /* first error, or 0 */
	int fatal;
	char tid[MSRP_TID_MAX + 1];
	int msgs;
};

static struct verdict first_error(const char *s, size_t n)
{
	struct verdict v = {0, 0, "", 0};
	struct msrp_parser *p = malloc(sizeof *p);
	size_t off = 0;

	msrp_parser_init(p);
	for (int i = 0; i < 1000 && off <= n; i++) {
		struct msrp_event ev;
		size_t used;
		enum msrp_ev t = msrp_parse(p, s + off, n - off, &used, &ev);
		off += used;
		if (t == MSRP_EV_MSG)
			v.msgs++;
		if (t == MSRP_EV_ERROR && !v.error) {
			v.error = ev.error;
			v.fatal = ev.fatal;
			if (ev.msg)
				snprintf(v.tid, sizeof v.tid, "%s", ev.msg->tid);
		}
		if (t == MSRP_EV_NEED_MORE || (t == MSRP_EV_ERROR && ev.fatal))
			break;
	}
	free(p);
	return v;
}

static struct verdict err_of(const char *s)
{
	return first_error(s, strlen(s));
}

#define SEND_HEAD "MSRP abcd1234 SEND\r\n" PATHS "Message-ID: m1234567\r\n"
#define NOBODY_END "-------abcd1234$\r\n"

static struct verdict range_err(const char *range)
{
	char s[1024];
	snprintf(s, sizeof s, SEND_HEAD "Byte-Range: %s\r\n" NOBODY_END, range);
	return err_of(s);
}

UNIT_TEST(bad_byte_ranges)
{
	static const char *bad[] = {
		"-1-2/3", "0-2/3", "5-3/10", "1-2/3-", "1-99999999999999999999/*",
		"1-2/18446744073709551616", "1-2/x", "1-2", "1 -2/3", "+1-2/3", "1-2/3 4",
		"1-+2/3", "4611686018427387905-*/*", "1-*/4611686018427387905", "*-2/3",
		"1-11/10", "12-*/10", "", "/", "-", "1-2/", "1-/3", "0x1-2/3",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct verdict v = range_err(bad[i]);
		if (v.error != MSRP_E_BYTE_RANGE)
			fprintf(stderr, "  Byte-Range \"%s\" gave %d\n", bad[i], v.error);
		CHECK_EQ_INT(v.error, MSRP_E_BYTE_RANGE);
		CHECK_EQ_INT(v.fatal, 0);
		CHECK_STR(v.tid, "abcd1234");
	}
	static const char *good[] = {"1-0/0", "1-*/*", "2049-*/5000", "1-10/4611686018427387904",
				     "4611686018427387904-*/*", "3-2/2", "0001-2/3"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct verdict v = range_err(good[i]);
		if (v.error)
			fprintf(stderr, "  Byte-Range \"%s\" gave %d\n", good[i], v.error);
		CHECK_EQ_INT(v.error, 0);
		CHECK_EQ_INT(v.msgs, 1);
	}
}

UNIT_TEST(huge_total_is_just_a_number)
{
	struct one *o = parse_one(SEND_HEAD "Byte-Range: 1-*/4611686018427387904\r\n"
					    "Content-Type: a/b\r\n\r\nxy\r\n" NOBODY_END);
	CHECK_EQ_INT(o->t, MSRP_EV_MSG);
	CHECK(o->ev.msg->range.total == (1ULL << 62));
	CHECK(o->ev.msg->range.end == MSRP_RANGE_STAR);
	free(o);
}

UNIT_TEST(bad_start_lines_are_fatal)
{
	static const struct {
		const char *s;
		int error;
	} cases[] = {
		{"msrp abcd1234 SEND\r\n", MSRP_E_START_LINE},
		{"MSRP ab$d1234 SEND\r\n", MSRP_E_TID},
		{"MSRP abc SEND\r\n", MSRP_E_TID},
		{"MSRP .abcd SEND\r\n", MSRP_E_TID},
		{"MSRP abcdefghijabcdefghijabcdefghijXYZ SEND\r\n", MSRP_E_TID},
		{"MSRP abcd1234\r\n", MSRP_E_START_LINE},
		{"MSRP abcd1234 \r\n", MSRP_E_START_LINE},
		{"MSRP abcd1234 20 OK\r\n", MSRP_E_START_LINE},
		{"MSRP abcd1234 2000\r\n", MSRP_E_START_LINE},
		{"MSRP abcd1234 SE(ND\r\n", MSRP_E_START_LINE},
		{"GET / HTTP/1.1\r\n", MSRP_E_START_LINE},
		{"\r\n", MSRP_E_START_LINE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct verdict v = err_of(cases[i].s);
		if (v.error != cases[i].error)
			fprintf(stderr, "  \"%s\" gave %d\n", cases[i].s, v.error);
		CHECK_EQ_INT(v.error, cases[i].error);
		CHECK_EQ_INT(v.fatal, 1);
	}
	/* A 32-character tid is the longest allowed. */
	struct verdict v = err_of("MSRP abcdefghijabcdefghijabcdefghijXY SEND\r\n");
	CHECK_EQ_INT(v.error, 0);
}

UNIT_TEST(empty_input)
{
	struct msrp_parser *p = malloc(sizeof *p);
	struct msrp_event ev;
	size_t used = 99;

	msrp_parser_init(p);
	CHECK_EQ_INT(msrp_parse(p, NULL, 0, &used, &ev), MSRP_EV_NEED_MORE);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(msrp_parse(p, "MS", 2, &used, &ev), MSRP_EV_NEED_MORE);
	CHECK_EQ_INT(used, 0);
	free(p);
}

UNIT_TEST(fatal_is_sticky)
{
	struct msrp_parser *p = malloc(sizeof *p);
	struct msrp_event ev;
	size_t used;

	msrp_parser_init(p);
	CHECK_EQ_INT(msrp_parse(p, "xMSRP", 5, &used, &ev), MSRP_EV_ERROR);
	CHECK(ev.fatal);
	CHECK(ev.msg == NULL);
	CHECK_EQ_INT(msrp_parse(p, binding, strlen(binding), &used, &ev), MSRP_EV_ERROR);
	CHECK(ev.fatal);
	CHECK_EQ_INT(ev.error, MSRP_E_START_LINE);
	CHECK_EQ_INT(used, 0);
	free(p);
}

static char *repeat_line(const char *prefix, const char *line, size_t times, const char *suffix)
{
	size_t pl = strlen(prefix), ll = strlen(line), sl = strlen(suffix);
	char *s = malloc(pl + ll * times + sl + 1);

	memcpy(s, prefix, pl);
	for (size_t i = 0; i < times; i++)
		memcpy(s + pl + i * ll, line, ll);
	memcpy(s + pl + ll * times, suffix, sl + 1);
	return s;
}

UNIT_TEST(overlong_lines)
{
	char *s = malloc(4000);
	memset(s, 'a', 4000);
	memcpy(s, SEND_HEAD "X-Long: ", strlen(SEND_HEAD "X-Long: "));
	memcpy(s + 3990, "\r\n" NOBODY_END, 2);
	struct verdict v = first_error(s, 3992);
	CHECK_EQ_INT(v.error, MSRP_E_LINE_TOO_LONG);
	CHECK_EQ_INT(v.fatal, 0);
	CHECK_STR(v.tid, "abcd1234");
	/* Even without the CRLF: no more than a line's worth is waited for. */
	v = first_error(s, 3000);
	CHECK_EQ_INT(v.error, MSRP_E_LINE_TOO_LONG);
	/* A start line that long cannot be read: fatal. */
	memset(s, 'a', 4000);
	memcpy(s, "MSRP abcd1234 ", 14);
	v = first_error(s, 3000);
	CHECK_EQ_INT(v.error, MSRP_E_LINE_TOO_LONG);
	CHECK_EQ_INT(v.fatal, 1);
	free(s);
}

UNIT_TEST(header_block_too_big)
{
	/* 30 headers of ~300 bytes: each line fits, the block does not. */
	char line[301];
	memset(line, 'v', sizeof line);
	memcpy(line, "X-Pad: ", 7);
	memcpy(line + 298, "\r\n", 3);
	char *s = repeat_line(SEND_HEAD, line, 30, NOBODY_END);
	struct verdict v = err_of(s);
	CHECK_EQ_INT(v.error, MSRP_E_HEADERS_TOO_BIG);
	CHECK_EQ_INT(v.fatal, 0);
	CHECK_STR(v.tid, "abcd1234");
	free(s);
}

UNIT_TEST(too_many_headers)
{
	char *s = repeat_line(SEND_HEAD, "X-A: b\r\n", MSRP_MAX_HEADERS, NOBODY_END);
	struct verdict v = err_of(s);
	CHECK_EQ_INT(v.error, MSRP_E_TOO_MANY_HEADERS);
	CHECK_EQ_INT(v.fatal, 0);
	free(s);
	/* Exactly the limit is fine (3 headers in SEND_HEAD). */
	s = repeat_line(SEND_HEAD, "X-A: b\r\n", MSRP_MAX_HEADERS - 3, NOBODY_END);
	v = err_of(s);
	CHECK_EQ_INT(v.error, 0);
	CHECK_EQ_INT(v.msgs, 1);
	free(s);
}

UNIT_TEST(header_errors_are_not_fatal)
{
	static const struct {
		const char *s;
		int error;
	} cases[] = {
		{"MSRP abcd1234 SEND\r\nFrom-Path: " FROM_ALICE "\r\nTo-Path: " TO_BOB
		 "\r\nMessage-ID: m1234567\r\n" NOBODY_END, MSRP_E_PATHS},
		{"MSRP abcd1234 SEND\r\nTo-Path: " TO_BOB "\r\nMessage-ID: m1234567\r\n" NOBODY_END,
		 MSRP_E_PATHS},
		{"MSRP abcd1234 SEND\r\nTo-Path: " TO_BOB "\r\n" NOBODY_END, MSRP_E_PATHS},
		{"MSRP abcd1234 SEND\r\nTo-Path: http://x/;tcp\r\nFrom-Path: " FROM_ALICE
		 "\r\nMessage-ID: m1234567\r\n" NOBODY_END, MSRP_E_PATHS},
		{SEND_HEAD "To-Path: " TO_BOB "\r\n" NOBODY_END, MSRP_E_PATHS},
		{"MSRP abcd1234 SEND\r\n" PATHS NOBODY_END, MSRP_E_MESSAGE_ID},
		{"MSRP abcd1234 SEND\r\n" PATHS "Message-ID: ab\r\n" NOBODY_END, MSRP_E_MESSAGE_ID},
		{SEND_HEAD "Message-ID: m1234568\r\n" NOBODY_END, MSRP_E_MESSAGE_ID},
		{SEND_HEAD "Success-Report: partial\r\n" NOBODY_END, MSRP_E_REPORT_HDR},
		{SEND_HEAD "Failure-Report: maybe\r\n" NOBODY_END, MSRP_E_REPORT_HDR},
		{"MSRP abcd1234 REPORT\r\n" PATHS "Message-ID: m1234567\r\n" NOBODY_END,
		 MSRP_E_STATUS},
		{SEND_HEAD "Status: 00 200\r\n" NOBODY_END, MSRP_E_STATUS},
		{SEND_HEAD "Status: 000 2000\r\n" NOBODY_END, MSRP_E_STATUS},
		{SEND_HEAD "No colon here\r\n" NOBODY_END, MSRP_E_HEADER_SYNTAX},
		{SEND_HEAD ": empty name\r\n" NOBODY_END, MSRP_E_HEADER_SYNTAX},
		{SEND_HEAD "X-Ctl: a\x01z\r\n" NOBODY_END, MSRP_E_HEADER_SYNTAX},
		{SEND_HEAD "X-Lf: a\nb\r\n" NOBODY_END, MSRP_E_HEADER_SYNTAX},
		{SEND_HEAD "Content-Type: a/b\r\n" NOBODY_END, MSRP_E_HEADER_SYNTAX},
		{SEND_HEAD "\r\nbody\r\n" NOBODY_END, MSRP_E_HEADER_SYNTAX},
		{SEND_HEAD "-------abcd1234X\r\n" NOBODY_END, MSRP_E_HEADER_SYNTAX},
		{"MSRP abcd1234 200 OK\r\n" PATHS "Content-Type: a/b\r\n\r\nx\r\n" NOBODY_END,
		 MSRP_E_BODY_IN_RESPONSE},
		{"MSRP abcd1234 200 OK\r\n" PATHS "\r\nx\r\n" NOBODY_END, MSRP_E_BODY_IN_RESPONSE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct verdict v = err_of(cases[i].s);
		if (v.error != cases[i].error)
			fprintf(stderr, "  case %zu gave %d\n", i, v.error);
		CHECK_EQ_INT(v.error, cases[i].error);
		CHECK_EQ_INT(v.fatal, 0);
		CHECK_STR(v.tid, "abcd1234");
	}
}

UNIT_TEST(error_then_good_message)
{
	static const char s[] = "MSRP abcd1234 SEND\r\n" PATHS
				"Message-ID: m1234567\r\n"
				"Byte-Range: 1-2/x\r\n"
				"Content-Type: text/plain\r\n\r\n"
				"ignored \r\n-------abcd1234 body\r\n-------abcd1234$\r\n"
				"MSRP good5678 SEND\r\n" PATHS
				"Message-ID: m1234567\r\n"
				"Content-Type: text/plain\r\n\r\n"
				"hello\r\n-------good5678$\r\n";
	struct run r;

	parse_whole(s, strlen(s), &r);
	CHECK_EQ_INT(r.errors, 1);
	CHECK_EQ_INT(r.msgs, 1);
	CHECK(strstr(r.log.p, "ERROR bad Byte-Range fatal=0 tid=abcd1234\nMSG tid=good5678") !=
	      NULL);
	CHECK(strstr(r.log.p, "BODY 5 [hello]\nEND $ tid=good5678") != NULL);
	CHECK_EQ_INT(r.leftover, 0);
	run_free(&r);
	expect_split_invariant(s, strlen(s), 1, 1, 1);
}

/* The parser never needs more than MSRP_MAX_HEADER_BYTES unconsumed, and
 * holds back at most MSRP_END_LINE_MAX body bytes. */
UNIT_TEST(bounded_buffering)
{
	size_t n, body = 100000;
	char *m = make_msg(chunk_head, body, 9, "\r\n-------a786hjs2$\r\n", &n);
	struct msrp_parser *p = malloc(sizeof *p);
	char *buf = malloc(MSRP_MAX_HEADER_BYTES);
	size_t have = 0, fed = 0, got = 0, piece = 997;
	bool in_body = false, ended = false;

	msrp_parser_init(p);
	while (!ended) {
		struct msrp_event ev;
		size_t used;
		enum msrp_ev t = msrp_parse(p, buf, have, &used, &ev);
		memmove(buf, buf + used, have - used);
		have -= used;
		if (t == MSRP_EV_MSG)
			in_body = true;
		if (t == MSRP_EV_BODY)
			got += ev.body.len;
		if (t == MSRP_EV_END)
			ended = true;
		CHECK(t != MSRP_EV_ERROR);
		if (t != MSRP_EV_NEED_MORE)
			continue;
		if (in_body)
			CHECK(have <= MSRP_END_LINE_MAX);
		CHECK(fed < n);
		size_t k = piece;
		if (k > n - fed)
			k = n - fed;
		if (k > MSRP_MAX_HEADER_BYTES - have)
			k = MSRP_MAX_HEADER_BYTES - have;
		CHECK(k > 0);
		memcpy(buf + have, m + fed, k);
		have += k;
		fed += k;
	}
	CHECK_EQ_INT(got, body);
	CHECK_EQ_INT(p->body_bytes, body);
	free(buf);
	free(p);
	free(m);
}

/* ---- builders ---- */
UNIT_TEST(roundtrip_build_parse)
{
	struct msrp_byte_range br = {2049, MSRP_RANGE_STAR, 5000};
	struct msrp_request_head h = {
		.tid = "rt0123456789",
		.method = MSRP_METHOD_SEND,
		.to_path = CPM_STR_LIT("msrp://[2001:db8::1]:2855/relay1;tcp " TO_BOB),
		.from_path = CPM_STR_LIT(FROM_ALICE),
		.message_id = CPM_STR_LIT("msg-00001"),
		.range = &br,
		.success_report = MSRP_REPORT_YES,
		.failure_report = MSRP_REPORT_PARTIAL,
		.extra_headers = CPM_STR_LIT("Content-Disposition: attachment\r\n"),
		.content_type = CPM_STR_LIT("image/jpeg"),
	};
	char buf[2048];
	int n = msrp_build_request_head(buf, sizeof buf, &h);
	CHECK(n > 0);
	static const char body[] = "bytes\r\n-------rt0123456789 not the end";
	memcpy(buf + n, body, sizeof body - 1);
	n += (int)sizeof body - 1;
	int e = msrp_build_end(buf + n, sizeof buf - (size_t)n, h.tid, MSRP_FLAG_MORE, true);
	CHECK(e > 0);
	n += e;

	struct run r;
	parse_whole(buf, (size_t)n, &r);
	CHECK_EQ_INT(r.errors, 0);
	CHECK_EQ_INT(r.ends, 1);
	CHECK(strstr(r.log.p, "sr=1 fr=3") != NULL);
	CHECK(strstr(r.log.p, "br=1 2049-18446744073709551615/5000") != NULL);
	CHECK(strstr(r.log.p, "ct=image/jpeg nh=8") != NULL);
	char want[128];
	snprintf(want, sizeof want, "BODY %zu [%s]\nEND +", sizeof body - 1, body);
	CHECK(strstr(r.log.p, want) != NULL);
	run_free(&r);
	expect_split_invariant(buf, (size_t)n, 1, 1, 0);

	/* A REPORT and a bodiless binding SEND. */
	struct msrp_request_head rep = {
		.tid = "rep01234", .method = MSRP_METHOD_REPORT, .to_path = h.from_path,
		.from_path = CPM_STR_LIT(TO_BOB), .message_id = h.message_id, .range = &br,
		.status_code = 200,
	};
	br.end = 5000;
	n = msrp_build_request_head(buf, sizeof buf, &rep);
	CHECK(n > 0);
	n += msrp_build_end(buf + n, sizeof buf - (size_t)n, rep.tid, '$', false);
	struct one *o = malloc(sizeof *o);
	msrp_parser_init(&o->p);
	CHECK_EQ_INT(msrp_parse(&o->p, buf, (size_t)n, &o->used, &o->ev), MSRP_EV_MSG);
	CHECK(o->ev.msg->has_status);
	CHECK_EQ_INT(o->ev.msg->status_code, 200);
	CHECK(cpm_str_eq(o->ev.msg->status_comment, "OK"));
	CHECK_EQ_INT(o->ev.msg->range.end, 5000);
	free(o);
}

UNIT_TEST(builders_refuse_bad_input)
{
	char buf[512];
	struct msrp_request_head h = {
		.tid = "abcd1234", .method = MSRP_METHOD_SEND, .to_path = CPM_STR_LIT(TO_BOB),
		.from_path = CPM_STR_LIT(FROM_ALICE), .message_id = CPM_STR_LIT("m1234567"),
	};
	CHECK(msrp_build_request_head(buf, sizeof buf, &h) > 0);
	CHECK_EQ_INT(msrp_build_request_head(buf, 10, &h), -1);
	h.tid = "ab";
	CHECK_EQ_INT(msrp_build_request_head(buf, sizeof buf, &h), -1);
	h.tid = "abcd1234";
	h.content_type = CPM_STR_LIT("text/plain\r\nX-Evil: 1");
	CHECK_EQ_INT(msrp_build_request_head(buf, sizeof buf, &h), -1);
	h.content_type = CPM_STR_NULL;
	h.extra_headers = CPM_STR_LIT("X-A: 1\r\n\r\n");
	CHECK_EQ_INT(msrp_build_request_head(buf, sizeof buf, &h), -1);
	h.extra_headers = CPM_STR_NULL;
	struct msrp_byte_range bad = {0, 1, 1};
	h.range = &bad;
	CHECK_EQ_INT(msrp_build_request_head(buf, sizeof buf, &h), -1);
	h.range = NULL;
	h.method = MSRP_METHOD_OTHER;
	CHECK_EQ_INT(msrp_build_request_head(buf, sizeof buf, &h), -1);
	CHECK_EQ_INT(msrp_build_end(buf, sizeof buf, "abcd1234", 'x', true), -1);
	CHECK_EQ_INT(msrp_build_end(buf, 5, "abcd1234", '$', true), -1);
	int n = msrp_build_end(buf, sizeof buf, "abcd1234", '#', true);
	CHECK_EQ_INT(n, 20);
	CHECK(memcmp(buf, "\r\n-------abcd1234#\r\n", 20) == 0);
}

UNIT_TEST(build_response)
{
	char buf[512];
	int n = msrp_build_response(buf, sizeof buf, "abcd1234", 200, NULL,
				    CPM_STR_LIT(FROM_ALICE " msrp://relay.example:1/x;tcp"),
				    CPM_STR_LIT(TO_BOB));
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK_STR(buf, "MSRP abcd1234 200 OK\r\nTo-Path: " FROM_ALICE "\r\nFrom-Path: " TO_BOB
		       "\r\n-------abcd1234$\r\n");
	expect_split_invariant(buf, (size_t)n, 1, 1, 0);
	n = msrp_build_response(buf, sizeof buf, "abcd1234", 481, "", CPM_STR_LIT(FROM_ALICE),
				CPM_STR_LIT(TO_BOB));
	buf[n] = '\0';
	CHECK(strncmp(buf, "MSRP abcd1234 481\r\n", 19) == 0);
	CHECK_EQ_INT(msrp_build_response(buf, sizeof buf, "abcd1234", 2000, NULL,
					 CPM_STR_LIT(FROM_ALICE), CPM_STR_LIT(TO_BOB)), -1);
	CHECK_EQ_INT(msrp_build_response(buf, sizeof buf, "abcd1234", 400, "a\r\nb",
					 CPM_STR_LIT(FROM_ALICE), CPM_STR_LIT(TO_BOB)), -1);
	CHECK_STR(msrp_status_phrase(481), "Session Does Not Exist");
	CHECK_STR(msrp_status_phrase(999), "Unknown");
	for (int e = MSRP_OK; e <= MSRP_E_BODY_IN_RESPONSE; e++)
		CHECK(strcmp(msrp_strerror((enum msrp_error)e), "unknown error") != 0);
}

/* Extension headers on a response (cpmd's "Cpm-Stored"): after the paths,
 * parsed back as headers; anything that could end the head early refused. */
UNIT_TEST(build_response_ext)
{
	static const char want[] = "MSRP abcd1234 200 OK\r\nTo-Path: " FROM_ALICE "\r\nFrom-Path: " TO_BOB
				   "\r\nCpm-Stored: item42\r\n-------abcd1234$\r\n";
	char buf[512];
	struct msrp_parser p;
	struct msrp_event ev;
	struct cpm_str v;
	size_t used = 0;
	int n = msrp_build_response_ext(buf, sizeof buf, "abcd1234", 200, NULL, CPM_STR_LIT(FROM_ALICE),
					CPM_STR_LIT(TO_BOB), CPM_STR_LIT("Cpm-Stored: item42\r\n"));

	CHECK(n > 0);
	buf[n] = '\0';
	CHECK_STR(buf, want);
	expect_split_invariant(buf, (size_t)n, 1, 1, 0);
	msrp_parser_init(&p);
	CHECK_EQ_INT(msrp_parse(&p, buf, (size_t)n, &used, &ev), MSRP_EV_MSG);
	CHECK_EQ_INT(ev.msg->status, 200);
	CHECK(msrp_msg_header(ev.msg, "cpm-stored", &v));
	CHECK(cpm_str_eq(v, "item42"));
	/* empty extra: the plain response */
	CHECK_EQ_INT(msrp_build_response_ext(buf, sizeof buf, "abcd1234", 200, NULL, CPM_STR_LIT(FROM_ALICE),
					     CPM_STR_LIT(TO_BOB), CPM_STR_NULL), n - 20);
	/* no CRLF at the end, a bare CR, no colon, an empty line: refused */
	CHECK_EQ_INT(msrp_build_response_ext(buf, sizeof buf, "abcd1234", 200, NULL, CPM_STR_LIT(FROM_ALICE),
					     CPM_STR_LIT(TO_BOB), CPM_STR_LIT("Cpm-Stored: x")), -1);
	CHECK_EQ_INT(msrp_build_response_ext(buf, sizeof buf, "abcd1234", 200, NULL, CPM_STR_LIT(FROM_ALICE),
					     CPM_STR_LIT(TO_BOB), CPM_STR_LIT("A: x\ry\r\n")), -1);
	CHECK_EQ_INT(msrp_build_response_ext(buf, sizeof buf, "abcd1234", 200, NULL, CPM_STR_LIT(FROM_ALICE),
					     CPM_STR_LIT(TO_BOB), CPM_STR_LIT("nocolon\r\n")), -1);
	CHECK_EQ_INT(msrp_build_response_ext(buf, sizeof buf, "abcd1234", 200, NULL, CPM_STR_LIT(FROM_ALICE),
					     CPM_STR_LIT(TO_BOB), CPM_STR_LIT("A: x\r\n\r\n")), -1);
	/* too small a buffer */
	CHECK_EQ_INT(msrp_build_response_ext(buf, 60, "abcd1234", 200, NULL, CPM_STR_LIT(FROM_ALICE),
					     CPM_STR_LIT(TO_BOB), CPM_STR_LIT("Cpm-Stored: item42\r\n")), -1);
}

/* ---- URIs ---- */
UNIT_TEST(uri_parse)
{
	struct msrp_uri uri;

	CHECK_EQ_INT(msrp_uri_parse(CPM_STR_LIT("msrp://192.0.2.10:7394/iau39soe2843z;tcp"), &uri), 0);
	CHECK(!uri.secure);
	CHECK(cpm_str_eq(uri.host, "192.0.2.10"));
	CHECK_EQ_INT(uri.port, 7394);
	CHECK(cpm_str_eq(uri.session_id, "iau39soe2843z"));
	CHECK(cpm_str_eq(uri.transport, "tcp"));

	CHECK_EQ_INT(msrp_uri_parse(CPM_STR_LIT("MSRPS://user@[2001:db8::1]:2855/a+b=/c;ws;x=y"),
				    &uri), 0);
	CHECK(uri.secure);
	CHECK(cpm_str_eq(uri.host, "2001:db8::1"));
	CHECK_EQ_INT(uri.port, 2855);
	CHECK(cpm_str_eq(uri.session_id, "a+b=/c"));
	CHECK(cpm_str_eq(uri.transport, "ws"));

	CHECK_EQ_INT(msrp_uri_parse(CPM_STR_LIT("msrp://host.example;tcp"), &uri), 0);
	CHECK_EQ_INT(uri.port, 0);
	CHECK_EQ_INT(uri.session_id.len, 0);

	static const char *bad[] = {
		"msrp://host:1/s",          "http://host:1/s;tcp",  "msrp://:1/s;tcp",
		"msrp://host:0/s;tcp",      "msrp://host:65536/s;tcp", "msrp://host:/s;tcp",
		"msrp://[::1/s;tcp",        "msrp://[zz]:1/s;tcp",  "msrp://host:1/;tcp",
		"msrp://host:1/s;",         "msrp://host:1/s;t-cp", "msrp://host:1/s;tcp;",
		"msrp://ho st:1/s;tcp",     "msrp://host:1x/s;tcp", "msrp://host:1/s s;tcp",
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = msrp_uri_parse(cpm_str_c(bad[i]), &uri);
		if (rc != -1)
			fprintf(stderr, "  accepted uri #%zu\n", i);
		CHECK_EQ_INT(rc, -1);
	}
	CHECK_EQ_INT(msrp_uri_parse(CPM_STR_NULL, &uri), -1);
}

UNIT_TEST(path_first_last)
{
	struct cpm_str path = CPM_STR_LIT(" msrp://a:1/x;tcp  msrp://b:2/y;tcp msrp://c:3/z;tcp ");

	CHECK(cpm_str_eq(msrp_path_first(path), "msrp://a:1/x;tcp"));
	CHECK(cpm_str_eq(msrp_path_last(path), "msrp://c:3/z;tcp"));
	CHECK(cpm_str_eq(msrp_path_first(CPM_STR_LIT(TO_BOB)), TO_BOB));
	CHECK(cpm_str_eq(msrp_path_last(CPM_STR_LIT(TO_BOB)), TO_BOB));
	CHECK_EQ_INT(msrp_path_first(CPM_STR_NULL).len, 0);
	CHECK_EQ_INT(msrp_path_last(CPM_STR_LIT("   ")).len, 0);
}

UNIT_TEST(random_ident)
{
	char a[33], b[33];
	unsigned counts[128] = {0};

	msrp_random_ident(a, 32);
	msrp_random_ident(b, 32);
	CHECK_EQ_INT(strlen(a), 32);
	CHECK(strcmp(a, b) != 0);
	/* 62 symbols, 62000 draws: each should appear ~1000 times. */
	for (int i = 0; i < 2000; i++) {
		msrp_random_ident(a, 31);
		for (int k = 0; k < 31; k++) {
			CHECK((a[k] >= '0' && a[k] <= '9') || (a[k] >= 'a' && a[k] <= 'z') ||
			      (a[k] >= 'A' && a[k] <= 'Z'));
			counts[(unsigned char)a[k]]++;
		}
	}
	for (int c = 0; c < 128; c++)
		if (counts[c])
			CHECK(counts[c] > 800 && counts[c] < 1200);
	char tid[17];
	msrp_random_ident(tid, 16);
	CHECK(msrp_build_end(a, sizeof a, tid, '$', false) > 0);
}

UNIT_MAIN(T(dash_dense_bodies_are_bodies), T(split_chunked_send), T(split_interruptible_send), T(split_binding_send),
	  T(split_response), T(split_report), T(split_tricky_body), T(split_three_back_to_back),
	  T(split_error_then_good), T(tricky_body_is_body), T(binding_fields),
	  T(response_and_report_fields), T(empty_body_and_liberal_headers), T(unknown_methods),
	  T(bad_byte_ranges), T(huge_total_is_just_a_number), T(bad_start_lines_are_fatal),
	  T(empty_input), T(fatal_is_sticky), T(overlong_lines), T(header_block_too_big), T(too_many_headers),
	  T(header_errors_are_not_fatal), T(error_then_good_message), T(bounded_buffering),
	  T(roundtrip_build_parse), T(builders_refuse_bad_input), T(build_response), T(build_response_ext), T(uri_parse),
	  T(path_first_last), T(random_ident))
