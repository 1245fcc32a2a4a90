/* sip_tls: sofia's certificate directory, made and removed around the TLS transport's creation
 * (sip_tls.h says why it exists). */
#include "sipua/sip_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A certificate chain or key file larger than this is not a PEM file we want: the bound keeps
 * a wrong path (e.g. a disk image) from filling TMPDIR. */
#define SIP_TLS_PEM_MAX (1024 * 1024)

static int append_file(int out, const char *path, char *why, size_t whylen)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	char buf[8192];
	size_t total = 0;
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0) {
		total += (size_t)n;
		if (total > SIP_TLS_PEM_MAX || write(out, buf, (size_t)n) != n) {
			snprintf(why, whylen, "%s: %s", path, total > SIP_TLS_PEM_MAX ? "larger than 1 MiB" : strerror(errno));
			close(in);
			return -1;
		}
	}
	close(in);
	if (n < 0) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	/* PEM blocks must start on their own line when two files are joined */
	return write(out, "\n", 1) == 1 ? 0 : -1;
}

static int write_joined(const char *dir, const char *name, const char *a, const char *b, char *why, size_t whylen)
{
	char path[SIP_TLS_DIR_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = append_file(fd, a, why, whylen);
	if (!rc && b)
		rc = append_file(fd, b, why, whylen);
	if (close(fd) && !rc) {
		snprintf(why, whylen, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	return rc;
}

int sip_tls_dir_make(const char *cert, const char *key, const char *ca, char dir[SIP_TLS_DIR_MAX], char *why,
		     size_t whylen)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strlen(tmp) > SIP_TLS_DIR_MAX - 32)
		tmp = "/tmp";
	snprintf(dir, SIP_TLS_DIR_MAX, "%s/cpmd-tls-XXXXXX", tmp);
	if (!mkdtemp(dir)) { /* mkdtemp makes it 0700 */
		snprintf(why, whylen, "cannot create a directory in %s: %s", tmp, strerror(errno));
		dir[0] = '\0';
		return -1;
	}
	const char *trust = ca ? ca : cert;
	if ((key && cert && write_joined(dir, "agent.pem", key, cert, why, whylen)) ||
	    (trust && write_joined(dir, "cafile.pem", trust, NULL, why, whylen))) {
		sip_tls_dir_remove(dir);
		dir[0] = '\0';
		return -1;
	}
	return 0;
}

void sip_tls_dir_remove(const char *dir)
{
	char path[SIP_TLS_DIR_MAX + 32];
	if (!dir || !*dir)
		return;
	snprintf(path, sizeof path, "%s/agent.pem", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/cafile.pem", dir);
	unlink(path);
	rmdir(dir);
}
