/* Which files this receive directory already has, by MSRP Message-ID: so
 * that a re-delivery of a file we saved (the server crashed between our last
 * acknowledgement and its own bookkeeping, and sends it again after its
 * restart; cpmd uses the stored item's id as the Message-ID of every attempt)
 * is acknowledged without saving a second copy.
 *
 * DIR/.cpm-received, one line per file: "MESSAGE-ID SHA1HEX\n", appended
 * after the file is renamed into place and fsynced with it. Bounded: past
 * RECV_LOG_MAX bytes the file becomes .cpm-received.old (one generation is
 * kept and searched too). Lines are only ever compared, never trusted as
 * paths. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpm.h"

#define RECV_LOG ".cpm-received"
#define RECV_LOG_OLD ".cpm-received.old"
#define RECV_LOG_MAX (1024 * 1024)

static bool valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n < 4 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= ' ' || id[i] > '~')
			return false;
	return true;
}

static bool seen_in(int dir_fd, const char *file, const char *line)
{
	int fd = openat(dir_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return false;
	}
	char buf[160];
	bool found = false;
	while (!found && fgets(buf, sizeof buf, f))
		found = strcmp(buf, line) == 0;
	fclose(f);
	return found;
}

bool recv_log_seen(int dir_fd, const char *msgid, const char *sha1hex)
{
	char line[160];
	if (!valid_id(msgid))
		return false;
	snprintf(line, sizeof line, "%s %s\n", msgid, sha1hex);
	return seen_in(dir_fd, RECV_LOG, line) || seen_in(dir_fd, RECV_LOG_OLD, line);
}

void recv_log_add(int dir_fd, const char *msgid, const char *sha1hex)
{
	char line[160];
	struct stat st;
	if (!valid_id(msgid))
		return;
	if (fstatat(dir_fd, RECV_LOG, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_size > RECV_LOG_MAX)
		renameat(dir_fd, RECV_LOG, dir_fd, RECV_LOG_OLD);
	int fd = openat(dir_fd, RECV_LOG, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	int n = snprintf(line, sizeof line, "%s %s\n", msgid, sha1hex);
	if (write(fd, line, (size_t)n) == n)
		fdatasync(fd);
	close(fd);
}
