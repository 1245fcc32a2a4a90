/* clamd_reply — classify one reply of clamd (see clamd_reply.h). Pure and bounded: every read
 * is inside [reply, reply + len), every write inside the caller's capacities. */
#include "screen/clamd_reply.h"

#include <string.h>

static const char STREAM[] = "stream: ";
static const char FOUND[] = " FOUND";
static const char ERROR_SFX[] = " ERROR";
/* clamd's own words when a stream passes StreamMaxLength (clamd/session.c, 0.9x to 1.4). */
static const char SIZE_LIMIT[] = "size limit exceeded";

const char *clamd_result_name(enum clamd_result r)
{
	switch (r) {
	case CLAMD_CLEAN: return "CLEAN";
	case CLAMD_INFECTED: return "INFECTED";
	case CLAMD_ERROR: return "ERROR";
	case CLAMD_TOO_BIG: return "TOO_BIG";
	}
	return "ERROR";
}

/* Copy at most cap - 1 bytes, printable ASCII kept and everything else '?', so that a name or
 * a reason can go into a log line or a SIP reason phrase without escaping. */
static void copy_printable(char *out, size_t cap, const char *in, size_t n)
{
	size_t i;

	if (!out || cap == 0)
		return;
	if (n > cap - 1)
		n = cap - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[i] = '\0';
}

static void set_why(char *why, size_t whylen, const char *prefix, const char *in, size_t n)
{
	size_t p = strlen(prefix);

	if (!why || whylen == 0)
		return;
	copy_printable(why, whylen, prefix, p);
	p = strlen(why);
	copy_printable(why + p, whylen - p, in, n);
}

static bool has_suffix(const char *s, size_t n, const char *sfx, size_t sn)
{
	return n >= sn && memcmp(s + n - sn, sfx, sn) == 0;
}

static bool contains(const char *s, size_t n, const char *needle, size_t nn)
{
	return nn <= n && memmem(s, n, needle, nn) != NULL;
}

enum clamd_result clamd_reply_parse(const char *reply, size_t len, char *virus, size_t vcap,
				    char *why, size_t whylen)
{
	if (virus && vcap)
		virus[0] = '\0';
	if (why && whylen)
		why[0] = '\0';
	/* clamd ends a reply with NUL ("z" commands) or '\n' ("n" commands). */
	while (len > 0 && (reply[len - 1] == '\0' || reply[len - 1] == '\n' || reply[len - 1] == '\r'))
		len--;
	if (len == 0) {
		set_why(why, whylen, "clamd: empty reply", "", 0);
		return CLAMD_ERROR;
	}
	if (has_suffix(reply, len, ERROR_SFX, sizeof ERROR_SFX - 1)) {
		bool big = contains(reply, len, SIZE_LIMIT, sizeof SIZE_LIMIT - 1);
		set_why(why, whylen, "clamd: ", reply, len);
		return big ? CLAMD_TOO_BIG : CLAMD_ERROR;
	}
	if (len > sizeof STREAM - 1 && memcmp(reply, STREAM, sizeof STREAM - 1) == 0) {
		const char *r = reply + sizeof STREAM - 1;
		size_t rn = len - (sizeof STREAM - 1);

		if (rn == 2 && memcmp(r, "OK", 2) == 0)
			return CLAMD_CLEAN;
		if (rn > sizeof FOUND - 1 && has_suffix(r, rn, FOUND, sizeof FOUND - 1)) {
			copy_printable(virus, vcap, r, rn - (sizeof FOUND - 1));
			return CLAMD_INFECTED;
		}
	}
	set_why(why, whylen, "clamd: unexpected reply: ", reply, len);
	return CLAMD_ERROR;
}

bool clamd_reply_is_pong(const char *reply, size_t len)
{
	while (len > 0 && (reply[len - 1] == '\0' || reply[len - 1] == '\n' || reply[len - 1] == '\r'))
		len--;
	return len == 4 && memcmp(reply, "PONG", 4) == 0;
}
