/* Logging for cpmd (all modules): one line per event on stderr,
 *   2026-12-03T07:11:54.123Z cpmd: info: TEXT
 * (ISO 8601 UTC time, "cpmd: LEVEL: " prefix) so that operators can grep and
 * tests can wait for lines like "cpmd: ready". TEXT is escaped: bytes below
 * 0x20, 0x7f and the backslash come out as \n, \r, \t, \\ and \xNN, so a
 * peer-controlled string (a file name, a header) can never start a line of
 * its own or send terminal escapes; every caller gets this, none can forget. */
#ifndef CPMD_LOG_H
#define CPMD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;
/* true (--log-format journal, or JOURNAL_STREAM set: stderr goes to journald): no time of our
 * own (the journal stamps each line; two stamps only confuse) and an sd-daemon(3) "<N>"
 * priority prefix, which journald turns into the entry's PRIORITY; "cpmd: LEVEL: " stays, so
 * `journalctl -u cpmd | grep` reads as the text format does. */
extern bool log_journal;

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int log_level_parse(const char *s, enum log_level *out);

/* The escaping of log_msg: in[0..len) into out (always NUL-terminated when
 * cap > 0), whole escapes only. Returns the length written. */
size_t log_escape(char *out, size_t cap, const char *in, size_t len);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_threshold >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
