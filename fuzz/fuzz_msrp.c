/* libFuzzer driver for the MSRP parser (lib/msrp).
 *
 * Each input is parsed twice: once whole, and once cut into pieces whose
 * sizes come from the input itself, through a receive buffer of only
 * MSRP_MAX_HEADER_BYTES (the most the parser promises to need). Both runs
 * must report the same events and the same body bytes; any broken
 * invariant traps so that libFuzzer keeps the input. */
#include "cpm/msrp.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(x) do { if (!(x)) __builtin_trap(); } while (0)

/* What a run saw, folded into one FNV-1a hash: split-independent by design
 * (body bytes are hashed as a stream, not per slice). */
struct digest {
	uint64_t h;
	size_t msgs, leftover;
};

static void mix(struct digest *d, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		d->h ^= b[i];
		d->h *= 0x100000001b3ULL;
	}
}

static void mix_int(struct digest *d, long long v)
{
	mix(d, &v, sizeof v);
}

static void check_msg(const struct msrp_msg *m)
{
	size_t tl = strlen(m->tid);

	REQUIRE(tl >= 4 && tl <= MSRP_TID_MAX);
}

/* A request we accepted must be answerable with paths taken from it, and
 * the answer must parse back. */
static void check_answerable(const struct msrp_msg *m)
{
	char out[MSRP_MAX_HEADER_BYTES];
	struct msrp_uri uri;

	REQUIRE(msrp_uri_parse(msrp_path_first(m->from_path), &uri) == 0);
	REQUIRE(msrp_uri_parse(msrp_path_last(m->to_path), &uri) == 0);
	int n = msrp_build_response(out, sizeof out, m->tid, 200, NULL, m->from_path,
				    msrp_path_last(m->to_path));
	if (n < 0)
		return; /* only if it does not fit: paths can be ~8 KiB */
	struct msrp_parser *p = malloc(sizeof *p);
	struct msrp_event ev;
	size_t used;
	msrp_parser_init(p);
	REQUIRE(msrp_parse(p, out, (size_t)n, &used, &ev) == MSRP_EV_MSG);
	REQUIRE(strcmp(ev.msg->tid, m->tid) == 0 && ev.msg->status == 200);
	REQUIRE(msrp_parse(p, out + used, (size_t)n - used, &used, &ev) == MSRP_EV_END);
	free(p);
}

static void record(struct digest *d, const struct msrp_event *ev, enum msrp_ev t)
{
	switch (t) {
	case MSRP_EV_MSG:
		check_msg(ev->msg);
		if (ev->msg->method != MSRP_METHOD_NONE)
			check_answerable(ev->msg);
		d->msgs++;
		mix(d, "M", 1);
		mix(d, ev->msg->tid, strlen(ev->msg->tid));
		mix_int(d, ev->msg->method);
		mix_int(d, ev->msg->status);
		mix_int(d, (long long)ev->msg->nheaders);
		mix_int(d, (long long)ev->msg->range.start);
		break;
	case MSRP_EV_BODY:
		mix(d, ev->body.p, ev->body.len);
		break;
	case MSRP_EV_END:
		REQUIRE(ev->flag == '+' || ev->flag == '$' || ev->flag == '#');
		check_msg(ev->msg);
		mix(d, "E", 1);
		mix(d, &ev->flag, 1);
		break;
	case MSRP_EV_ERROR:
		REQUIRE(ev->error != MSRP_OK);
		REQUIRE(ev->fatal || ev->msg);
		if (ev->msg)
			check_msg(ev->msg);
		mix(d, "X", 1);
		mix_int(d, ev->error);
		mix_int(d, ev->fatal);
		break;
	case MSRP_EV_NEED_MORE:
		break;
	}
}

/* Next piece size: 1..64 bytes mostly, sometimes up to 4 KiB. */
static size_t next_piece(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s & 7) == 0 ? 1 + (size_t)(*s >> 20) % 4096 : 1 + (size_t)(*s >> 8) % 64;
}

/* Feed in[0..n) through a buffer of `cap` bytes, as a relay would: drop
 * `consumed` after each call, add input only on NEED_MORE. seed == 0
 * means "add as much as fits". */
static void run(const uint8_t *in, size_t n, size_t cap, uint64_t seed, struct digest *d)
{
	struct msrp_parser *p = malloc(sizeof *p);
	char *buf = malloc(cap ? cap : 1);
	size_t have = 0, fed = 0, calls = 0;
	bool dead = false;

	memset(d, 0, sizeof *d);
	d->h = 0xcbf29ce484222325ULL;
	msrp_parser_init(p);
	for (;;) {
		struct msrp_event ev;
		size_t used = (size_t)-1;
		enum msrp_ev t = msrp_parse(p, buf, have, &used, &ev);

		/* Every call but the last makes progress or asks for bytes. */
		REQUIRE(++calls <= 3 * n + 16);
		REQUIRE(used <= have && ev.type == t);
		if (t == MSRP_EV_BODY)
			REQUIRE(ev.body.len > 0 && ev.body.p >= buf &&
				(size_t)(ev.body.p - buf) + ev.body.len == used);
		if (t != MSRP_EV_NEED_MORE && !(t == MSRP_EV_ERROR && ev.fatal))
			REQUIRE(used > 0);
		record(d, &ev, t);
		memmove(buf, buf + used, have - used);
		have -= used;
		dead = t == MSRP_EV_ERROR && ev.fatal;
		if (dead || (t == MSRP_EV_NEED_MORE && fed == n))
			break;
		if (t != MSRP_EV_NEED_MORE)
			continue;
		/* NEED_MORE with a full buffer would deadlock a relay. */
		REQUIRE(have < cap);
		size_t k = seed ? next_piece(&seed) : n - fed;
		if (k > n - fed)
			k = n - fed;
		if (k > cap - have)
			k = cap - have;
		memcpy(buf + have, in + fed, k);
		have += k;
		fed += k;
	}
	/* After a fatal error what is left depends on how much was read. */
	d->leftover = dead ? SIZE_MAX : have;
	free(buf);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest whole, cut;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < size && i < 64; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ULL;
	run(data, size, size, 0, &whole);
	run(data, size, MSRP_MAX_HEADER_BYTES, seed | 1, &cut);
	REQUIRE(whole.h == cut.h && whole.msgs == cut.msgs && whole.leftover == cut.leftover);

	/* The URI parser on its own, on the raw input. */
	struct msrp_uri uri;
	(void)msrp_uri_parse((struct cpm_str){(const char *)data, size}, &uri);
	return 0;
}
