/* Which files this receive directory already has, by MSRP Message-ID: so
 * that a re-delivery of a file we saved (the server crashed between our last
 * acknowledgement and its own bookkeeping, and sends it again after its
 * restart; cpmd uses the stored item's id as the Message-ID of every attempt)
 * is acknowledged without saving a second copy.
 *
 * One log per (user, receive directory), next to the send journals (the
 * --journal state directory, not the --dir, which holds received files only):
 * received-<sha-1 of "user\ndir">.log, one line per file: "MESSAGE-ID
 * SHA1HEX\n", appended (fdatasync) after the file is renamed into place.
 * Bounded: past RECV_LOG_MAX bytes it becomes .old (one generation is kept and
 * searched too). Lines are only ever compared, never used as paths. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpm.h"

#include <openssl/evp.h>

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

void recv_log_init(struct cpm_app *app)
{
	char dir[4096], key[8400], hex[41];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned ml = 0;

	app->recv_log[0] = '\0';
	dir[0] = '\0';
	if (cpm_state_dir(app->o, dir, sizeof dir) < 0) {
		char why[4200];
		if (dir[0])
			snprintf(why, sizeof why, "cannot use directory %s: %s", dir, strerror(errno));
		else
			snprintf(why, sizeof why, "no --journal, and neither $XDG_STATE_HOME nor $HOME is set");
		errlog(app, "no log of received files (%s): a file the server delivers again after a crash "
			    "would be saved twice", why);
		return;
	}
	int kl = snprintf(key, sizeof key, "%s\n%s", app->o->aor, app->o->dir_abs);
	if (kl < 0 || (size_t)kl >= sizeof key || !EVP_Digest(key, (size_t)kl, md, &ml, EVP_sha1(), NULL))
		return;
	cpm_hex_encode(hex, sizeof hex, md, 20, CPM_HEX_LOWER, '\0');
	int n = snprintf(app->recv_log, sizeof app->recv_log, "%s/received-%s.log", dir, hex);
	if (n < 0 || (size_t)n >= sizeof app->recv_log - 4)
		app->recv_log[0] = '\0';
}

static bool seen_in(const char *file, const char *line)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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

bool recv_log_seen(struct cpm_app *app, const char *msgid, const char *sha1hex)
{
	char line[160], old[4300];
	if (!app->recv_log[0] || !valid_id(msgid))
		return false;
	snprintf(line, sizeof line, "%s %s\n", msgid, sha1hex);
	snprintf(old, sizeof old, "%s.old", app->recv_log);
	return seen_in(app->recv_log, line) || seen_in(old, line);
}

void recv_log_add(struct cpm_app *app, const char *msgid, const char *sha1hex)
{
	char line[160], old[4300];
	struct stat st;
	if (!app->recv_log[0] || !valid_id(msgid))
		return;
	if (stat(app->recv_log, &st) == 0 && st.st_size > RECV_LOG_MAX) {
		snprintf(old, sizeof old, "%s.old", app->recv_log);
		rename(app->recv_log, old);
	}
	int fd = open(app->recv_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	int n = snprintf(line, sizeof line, "%s %s\n", msgid, sha1hex);
	if (write(fd, line, (size_t)n) == n)
		fdatasync(fd);
	close(fd);
}
