/* libFuzzer driver for the relays' re-framing (src/relay/relay_frame.c), which turns every
 * request a peer sends into the one cpmd sends to the other leg. The input is an MSRP
 * stream (parsed by lib/msrp, as the hub does); for every request the parser accepts:
 *   - a SEND re-framed with our tid and paths must parse back with the same Message-ID,
 *     Byte-Range, report modes and content type (or be refused as a whole: -1);
 *   - a REPORT re-framed must parse back with the same Message-ID and Status;
 *   - a response built from it (relay_frame_response) must parse back;
 *   - relay_frame_to_session and relay_frame_path_ok never crash, on the peer's paths too.
 * Any broken invariant traps. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpm/msrp.h"
#include "relay/relay_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(x) do { if (!(x)) __builtin_trap(); } while (0)

/* Two slices hold the same bytes (an empty slice may have a NULL pointer: no memcmp then). */
static bool same(struct cpm_str a, struct cpm_str b)
{
	return a.len == b.len && (!a.len || !memcmp(a.p, b.p, a.len));
}

#define OUR_TO "msrp://192.0.2.1:9/deviceSession01;tcp"
#define OUR_FROM "msrp://127.0.0.1:2855/abcdefghijklmnopqrst;tcp"

/* Parse buf as one message; returns its head (static storage) or NULL. */
static const struct msrp_msg *reparse(struct msrp_parser *p, const char *buf, size_t n)
{
	struct msrp_event ev;
	size_t used = 0;

	msrp_parser_init(p);
	memset(&ev, 0, sizeof ev);
	if (msrp_parse(p, buf, n, &used, &ev) != MSRP_EV_MSG)
		return NULL;
	return ev.msg;
}

static void check_send(const struct msrp_msg *m)
{
	static char out[MSRP_MAX_HEADER_BYTES * 2 + 4096];
	static struct msrp_parser p;
	int n = relay_frame_send_head(out, sizeof out, m, "tid0123456789abc", cpm_str_c(OUR_TO), cpm_str_c(OUR_FROM));

	if (n < 0)
		return; /* refused as a whole (the relay answers 400) */
	REQUIRE((size_t)n < sizeof out);
	/* the body's end-line, so that a bodiless SEND is whole too */
	int e = msrp_build_end(out + n, sizeof out - (size_t)n, "tid0123456789abc", MSRP_FLAG_END, m->has_body);
	REQUIRE(e > 0);
	const struct msrp_msg *r = reparse(&p, out, (size_t)n + (size_t)e);
	REQUIRE(r && r->method == MSRP_METHOD_SEND);
	REQUIRE(!strcmp(r->tid, "tid0123456789abc"));
	REQUIRE(cpm_str_eq(r->to_path, OUR_TO) && cpm_str_eq(r->from_path, OUR_FROM));
	REQUIRE(same(r->message_id, m->message_id));
	REQUIRE(r->has_byte_range == m->has_byte_range);
	if (m->has_byte_range)
		REQUIRE(r->range.start == m->range.start && r->range.end == m->range.end &&
			r->range.total == m->range.total);
	REQUIRE(r->success_report == m->success_report && r->failure_report == m->failure_report);
	REQUIRE(r->has_body == m->has_body);
	REQUIRE(same(r->content_type, m->content_type));
}

static void check_report(const struct msrp_msg *m)
{
	static char out[MSRP_MAX_HEADER_BYTES * 2 + 4096];
	static struct msrp_parser p;
	int n = relay_frame_report(out, sizeof out, m, "rep0123456789abc", cpm_str_c(OUR_TO), cpm_str_c(OUR_FROM));

	if (n < 0)
		return;
	const struct msrp_msg *r = reparse(&p, out, (size_t)n);
	REQUIRE(r && r->method == MSRP_METHOD_REPORT);
	REQUIRE(same(r->message_id, m->message_id));
	REQUIRE(r->has_status && r->status_code == m->status_code);
}

static void check_response(const struct msrp_msg *m)
{
	static char out[MSRP_MAX_HEADER_BYTES * 2];
	static struct msrp_parser p;
	char comment[128];

	relay_frame_comment(comment, sizeof comment, m->comment);
	int n = relay_frame_response(out, sizeof out, m->tid, m->status >= 200 && m->status < 1000 ? m->status : 400,
				     comment[0] ? comment : NULL, m->from_path, cpm_str_c(OUR_FROM), CPM_STR_NULL);
	if (n < 0)
		return; /* a From-Path the builder will not repeat */
	const struct msrp_msg *r = reparse(&p, out, (size_t)n);
	REQUIRE(r && r->method == MSRP_METHOD_NONE && !strcmp(r->tid, m->tid));
}

static void check_paths(const struct msrp_msg *m)
{
	char path[SDP_MAX_PATH + 2];

	(void)relay_frame_to_session(m, "abcdefghijklmnopqrst", 20);
	if (cpm_str_copy(path, sizeof path, m->from_path))
		(void)relay_frame_path_ok(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msrp_parser p;
	size_t off = 0;

	msrp_parser_init(&p);
	while (off < size) {
		struct msrp_event ev;
		size_t used = 0;

		memset(&ev, 0, sizeof ev);
		enum msrp_ev t = msrp_parse(&p, (const char *)data + off, size - off, &used, &ev);
		off += used;
		if (t == MSRP_EV_NEED_MORE || (t == MSRP_EV_ERROR && ev.fatal))
			break;
		if (t != MSRP_EV_MSG)
			continue;
		check_paths(ev.msg);
		if (ev.msg->method == MSRP_METHOD_SEND)
			check_send(ev.msg);
		else if (ev.msg->method == MSRP_METHOD_REPORT && ev.msg->has_status)
			check_report(ev.msg);
		else if (ev.msg->method == MSRP_METHOD_NONE)
			check_response(ev.msg);
	}
	return 0;
}
