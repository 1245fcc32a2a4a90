/* sofia-sip log redirection (see sofia_log.h).
 *
 * Which sofia lines are printed is sofia's business, as before: each of its
 * logs has a threshold (0 fatal .. 3 warnings .. 9 everything), 3 by default,
 * raised with SOFIA_DEBUG (all logs) or NUA_DEBUG, NTA_DEBUG, TPORT_DEBUG,
 * SRESOLV_DEBUG (one log). sofia does not tell a logger the level of a line,
 * so: while a log's threshold is the default 3 or less, what it prints is its
 * errors and warnings and we log them at warn; once an operator raised it,
 * its lines are debugging asked for and we log them at debug (shown with
 * --log-level debug). TPORT_LOG=1 (every SIP message) goes through the
 * default log at level 0: logged at warn, one cpmd line per message line. */
#include "cpmd/sofia_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sofia-sip/su_log.h>

#include "common/log.h"

/* Exported by libsofia-sip-ua, declared only in its private headers. */
extern su_log_t nua_log[];
extern su_log_t nta_log[];
extern su_log_t tport_log[];
extern su_log_t sresolv_log[];

#define SOFIA_DEFAULT_LEVEL 3

struct sofia_stream {
	su_log_t *log;
	const char *name; /* our prefix */
	char buf[1024]; /* the current line, until its '\n' */
	size_t len;
};

static struct sofia_stream streams[] = {
	{su_log_default, "sofia", "", 0}, /* also every other sofia log (soa, nea, ...) */
	{nua_log, "sofia nua", "", 0},
	{nta_log, "sofia nta", "", 0},
	{tport_log, "sofia tport", "", 0},
	{sresolv_log, "sofia sresolv", "", 0},
};
#define NSTREAMS (sizeof streams / sizeof streams[0])

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void emit(struct sofia_stream *s)
{
	size_t len = s->len;
	s->len = 0;
	if (len && s->buf[len - 1] == '\r') /* a CRLF line of a SIP message (TPORT_LOG) */
		len--;
	if (len == 0)
		return;
	const su_log_t *l = s->log;
	unsigned threshold = l->log_init > 1 ? l->log_level : su_log_default->log_level;
	log_msg(threshold > SOFIA_DEFAULT_LEVEL ? LOG_DEBUG : LOG_WARN, "%s: %.*s", s->name, (int)len, s->buf);
}

static void logger(void *stream, char const *fmt, va_list ap)
{
	struct sofia_stream *s = stream;
	char text[4096];

	int n = vsnprintf(text, sizeof text, fmt, ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n') {
			emit(s);
			continue;
		}
		if (s->len == sizeof s->buf) /* an overlong line: in pieces */
			emit(s);
		s->buf[s->len++] = text[i];
	}
	pthread_mutex_unlock(&lock);
}

void sofia_log_redirect(void)
{
	for (size_t i = 0; i < NSTREAMS; i++)
		su_log_redirect(streams[i].log, logger, &streams[i]);
}

void sofia_log_flush(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < NSTREAMS; i++)
		emit(&streams[i]);
	pthread_mutex_unlock(&lock);
}
