#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpm/hex.h"

enum log_level log_threshold = LOG_INFO;
bool log_journal;

static const char *const names[] = {"error", "warn", "info", "debug"};

#define LOG_MSG_MAX 2048 /* formatted text, before escaping; longer is cut */

size_t log_escape(char *out, size_t cap, const char *in, size_t len)
{
	size_t o = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		char esc[4];
		size_t n = 2;
		esc[0] = '\\';
		switch (c) {
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\\': esc[1] = '\\'; break;
		default:
			if (c >= 0x20 && c != 0x7f) {
				esc[0] = (char)c;
				n = 1;
			} else {
				esc[1] = 'x';
				cpm_hex_byte(esc + 2, c, CPM_HEX_LOWER);
				n = 4;
			}
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
	return o;
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX];
	/* prefix + the message with every byte escaped (4x) + a mark + '\n' */
	char line[64 + 4 * LOG_MSG_MAX + 32];
	struct timespec ts;
	struct tm tm;

	if (lvl > log_threshold)
		return;
	int saved = errno; /* callers log and then look at errno */
	int n;
	if (log_journal) {
		/* sd-daemon(3) priorities: LOG_ERR 3, LOG_WARNING 4, LOG_INFO 6, LOG_DEBUG 7 */
		static const int prio[] = {3, 4, 6, 7};
		n = snprintf(line, 64, "<%d>cpmd: %s: ", prio[lvl], names[lvl]);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ cpmd: %s: ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			     names[lvl]);
	}
	if (n < 0 || n >= 64)
		n = 0;
	int m = vsnprintf(msg, sizeof msg, fmt, ap);
	size_t mlen = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
	size_t len = (size_t)n + log_escape(line + n, sizeof line - (size_t)n - 32, msg, mlen);
	if (m >= (int)sizeof msg)
		len += (size_t)snprintf(line + len, 32, " [cut at %d bytes]", LOG_MSG_MAX - 1);
	line[len++] = '\n';
	/* One write per line, so that lines (of a crash too) are never interleaved. */
	for (size_t off = 0; off < len;) {
		ssize_t w = write(STDERR_FILENO, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_DEBUG; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}
