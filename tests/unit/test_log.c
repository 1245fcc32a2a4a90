/* cpmd's logger (src/common/log.c): one line per call, ISO 8601 UTC time,
 * "cpmd: LEVEL: " prefix, control characters escaped so that no string can
 * forge a line. */
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "unit.h"

/* Runs log_msg with stderr redirected; returns what it wrote. */
static const char *capture(enum log_level lvl, const char *fmt, const char *arg)
{
	static char out[16384];
	char path[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return "";
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	log_msg(lvl, fmt, arg);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, out, sizeof out - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

UNIT_TEST(escapes_control_characters)
{
	char out[128];
	const char in[] = "a\nb\rc\td\\e\x1b[31m\x7f\x01\xc3\xa9";
	log_escape(out, sizeof out, in, sizeof in - 1);
	CHECK_STR(out, "a\\nb\\rc\\td\\\\e\\x1b[31m\\x7f\\x01\xc3\xa9");
	/* whole escapes only, always terminated */
	CHECK_EQ_INT(log_escape(out, 4, "\n\n", 2), 2);
	CHECK_STR(out, "\\n");
	CHECK_EQ_INT(log_escape(out, 1, "x", 1), 0);
	CHECK_STR(out, "");
}

UNIT_TEST(a_newline_cannot_forge_a_line)
{
	const char *l = capture(LOG_INFO, "ft: name=\"%s\" size=3", "x\ncpmd: error: FAKE LINE\r\n");
	CHECK_EQ_INT(count_lines(l), 1);
	CHECK(strstr(l, " cpmd: info: ft: name=\"x\\ncpmd: error: FAKE LINE\\r\\n\" size=3\n") != NULL);
}

UNIT_TEST(iso8601_utc_time_stamp)
{
	const char *l = capture(LOG_WARN, "%s", "hello");
	/* 2026-12-03T07:11:54.123Z cpmd: warn: hello */
	CHECK(strlen(l) == 24 + 1 + strlen("cpmd: warn: hello") + 1);
	const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
	for (size_t i = 0; shape[i]; i++)
		CHECK(shape[i] == 'd' ? (l[i] >= '0' && l[i] <= '9') : l[i] == shape[i]);
	CHECK_STR(l + 25, "cpmd: warn: hello\n");
}

UNIT_TEST(threshold_and_long_messages)
{
	log_threshold = LOG_INFO;
	CHECK_STR(capture(LOG_DEBUG, "%s", "hidden"), "");
	static char big[5000];
	memset(big, '\n', sizeof big - 1);
	const char *l = capture(LOG_ERROR, "%s", big);
	CHECK_EQ_INT(count_lines(l), 1);
	CHECK(strstr(l, "\\n\\n [cut at 2047 bytes]\n") != NULL);
}

UNIT_MAIN(T(escapes_control_characters), T(a_newline_cannot_forge_a_line), T(iso8601_utc_time_stamp),
	  T(threshold_and_long_messages))
