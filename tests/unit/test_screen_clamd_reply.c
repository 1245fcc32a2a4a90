/* clamd_reply_parse: every reply class of clamd 1.4, bounds of the copies, hostile bytes. */
#include "screen/clamd_reply.h"
#include "unit.h"

#define P(s, v, vc, w, wc) clamd_reply_parse(s, sizeof(s) - 1, v, vc, w, wc)

UNIT_TEST(clean)
{
	char v[32] = "x", w[64] = "x";

	CHECK_EQ_INT(P("stream: OK\0", v, sizeof v, w, sizeof w), CLAMD_CLEAN);
	CHECK_STR(v, "");
	CHECK_STR(w, "");
	CHECK_EQ_INT(P("stream: OK\n", v, sizeof v, w, sizeof w), CLAMD_CLEAN);
	CHECK_EQ_INT(P("stream: OKAY", v, sizeof v, w, sizeof w), CLAMD_ERROR);
	CHECK_EQ_INT(P("stream: ok", v, sizeof v, w, sizeof w), CLAMD_ERROR);
	CHECK_EQ_INT(P("OK", v, sizeof v, w, sizeof w), CLAMD_ERROR);
}

UNIT_TEST(found)
{
	char v[32], w[64];

	CHECK_EQ_INT(P("stream: Cpmd-Test-Eicar FOUND\0", v, sizeof v, w, sizeof w), CLAMD_INFECTED);
	CHECK_STR(v, "Cpmd-Test-Eicar");
	CHECK_STR(w, "");
	/* a name longer than the buffer is cut, terminated */
	CHECK_EQ_INT(P("stream: Win.Trojan.AVeryLongNameIndeedThatGoesOn-12345 FOUND", v, 8, w, sizeof w),
		     CLAMD_INFECTED);
	CHECK_STR(v, "Win.Tro");
	/* control bytes in a name never reach a log line */
	CHECK_EQ_INT(P("stream: a\r\nb\x01 FOUND", v, sizeof v, w, sizeof w), CLAMD_INFECTED);
	CHECK_STR(v, "a??b?");
	/* no name: not a reply clamd writes, so an error (the operator's fail-open/closed) */
	CHECK_EQ_INT(P("stream:  FOUND", v, sizeof v, w, sizeof w), CLAMD_ERROR);
	CHECK_EQ_INT(P("stream: FOUND", v, sizeof v, w, sizeof w), CLAMD_ERROR);
	CHECK_EQ_INT(P("stream:FOUND", v, sizeof v, w, sizeof w), CLAMD_ERROR);
}

UNIT_TEST(errors)
{
	char v[32], w[64];

	CHECK_EQ_INT(P("INSTREAM size limit exceeded. ERROR\0", v, sizeof v, w, sizeof w), CLAMD_TOO_BIG);
	CHECK_STR(w, "clamd: INSTREAM size limit exceeded. ERROR");
	CHECK_STR(v, "");
	CHECK_EQ_INT(P("stream: Can't allocate memory ERROR", v, sizeof v, w, sizeof w), CLAMD_ERROR);
	CHECK_STR(w, "clamd: stream: Can't allocate memory ERROR");
	CHECK_EQ_INT(P("UNKNOWN COMMAND\0", v, sizeof v, w, sizeof w), CLAMD_ERROR);
	CHECK_STR(w, "clamd: unexpected reply: UNKNOWN COMMAND");
	CHECK_EQ_INT(P("", v, sizeof v, w, sizeof w), CLAMD_ERROR);
	CHECK_STR(w, "clamd: empty reply");
	CHECK_EQ_INT(P("\0\0\n", v, sizeof v, w, sizeof w), CLAMD_ERROR);
	/* a reason cut to a tiny buffer stays terminated */
	CHECK_EQ_INT(P("whatever ERROR", v, sizeof v, w, 4), CLAMD_ERROR);
	CHECK_STR(w, "cla");
	/* no buffers at all */
	CHECK_EQ_INT(P("stream: X FOUND", NULL, 0, NULL, 0), CLAMD_INFECTED);
	CHECK_EQ_INT(P("x ERROR", NULL, 0, NULL, 0), CLAMD_ERROR);
}

UNIT_TEST(pong)
{
	CHECK(clamd_reply_is_pong("PONG\0", 5));
	CHECK(clamd_reply_is_pong("PONG\n", 5));
	CHECK(clamd_reply_is_pong("PONG", 4));
	CHECK(!clamd_reply_is_pong("PONGX", 5));
	CHECK(!clamd_reply_is_pong("PON", 3));
	CHECK(!clamd_reply_is_pong("", 0));
}

UNIT_TEST(names)
{
	CHECK_STR(clamd_result_name(CLAMD_CLEAN), "CLEAN");
	CHECK_STR(clamd_result_name(CLAMD_INFECTED), "INFECTED");
	CHECK_STR(clamd_result_name(CLAMD_ERROR), "ERROR");
	CHECK_STR(clamd_result_name(CLAMD_TOO_BIG), "TOO_BIG");
}

UNIT_MAIN(T(clean), T(found), T(errors), T(pong), T(names))
