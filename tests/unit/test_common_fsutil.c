/* src/common/fsutil.c: mkdir_p, in a fresh temporary directory. */
#include "common/fsutil.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

/* root/rel, in a static buffer (one at a time) */
static const char *at(const char *rel)
{
	static char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s/%s", root, rel);
	return buf;
}

static bool is_dir(const char *p, mode_t *mode)
{
	struct stat st;
	if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if (mode)
		*mode = st.st_mode & 07777;
	return true;
}

UNIT_TEST(creates_every_component)
{
	mode_t m;

	errno = 1234;
	CHECK_EQ_INT(mkdir_p(at("a/b/c"), 0700), 0);
	CHECK_EQ_INT(errno, 1234); /* unchanged on success */
	CHECK(is_dir(at("a"), &m) && m == 0700);
	CHECK(is_dir(at("a/b/c"), &m) && m == 0700);
	/* again: all exist, still 0 and errno untouched (EEXIST is not leaked) */
	errno = 0;
	CHECK_EQ_INT(mkdir_p(at("a/b/c"), 0700), 0);
	CHECK_EQ_INT(errno, 0);
	/* existing directories keep their mode; new ones get `mode` */
	CHECK_EQ_INT(mkdir_p(at("a/b/c/d"), 0750), 0);
	CHECK(is_dir(at("a/b"), &m) && m == 0700);
	CHECK(is_dir(at("a/b/c/d"), &m) && m == 0750);
}

UNIT_TEST(slashes_and_relative)
{
	char cwd[PATH_MAX];

	CHECK_EQ_INT(mkdir_p(at("s//t///u/"), 0700), 0);
	CHECK(is_dir(at("s/t/u"), NULL));
	CHECK_EQ_INT(mkdir_p("/", 0700), 0);
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK_EQ_INT(chdir(root), 0);
	CHECK_EQ_INT(mkdir_p("rel/x", 0700), 0);
	CHECK_EQ_INT(chdir(cwd), 0);
	CHECK(is_dir(at("rel/x"), NULL));
	/* a symlink to a directory counts as one */
	char target[PATH_MAX];
	snprintf(target, sizeof target, "%s", at("rel"));
	CHECK_EQ_INT(symlink(target, at("link")), 0);
	CHECK_EQ_INT(mkdir_p(at("link"), 0700), 0);
	CHECK_EQ_INT(mkdir_p(at("link/y"), 0700), 0);
	CHECK(is_dir(at("rel/y"), NULL));
}

UNIT_TEST(errors_say_why)
{
	static char longp[PATH_MAX + 10];
	int fd = open(at("file"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	close(fd);
	errno = 0;
	CHECK_EQ_INT(mkdir_p(at("file"), 0700), -1); /* exists, not a directory */
	CHECK_EQ_INT(errno, ENOTDIR);
	errno = 0;
	CHECK_EQ_INT(mkdir_p(at("file/sub"), 0700), -1);
	CHECK_EQ_INT(errno, ENOTDIR);
	errno = 0;
	CHECK_EQ_INT(mkdir_p("", 0700), -1);
	CHECK_EQ_INT(errno, ENOENT);
	errno = 0;
	CHECK_EQ_INT(mkdir_p(NULL, 0700), -1);
	CHECK_EQ_INT(errno, ENOENT);
	memset(longp, 'x', sizeof longp - 1);
	errno = 0;
	CHECK_EQ_INT(mkdir_p(longp, 0700), -1);
	CHECK_EQ_INT(errno, ENAMETOOLONG);
	if (geteuid() != 0) { /* root may write anywhere */
		CHECK_EQ_INT(mkdir_p(at("ro"), 0500), 0);
		errno = 0;
		CHECK_EQ_INT(mkdir_p(at("ro/x/y"), 0700), -1);
		CHECK_EQ_INT(errno, EACCES);
	}
}

static void make_root(void)
{
	snprintf(root, sizeof root, "/tmp/cpm-fsutil-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(1);
	}
}

static void remove_root(void)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' && rm -rf '%s'", root, root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

static const struct unit_test tests[] = {
	T(creates_every_component),
	T(slashes_and_relative),
	T(errors_say_why),
};

int main(void)
{
	int rc;

	umask(0); /* modes as asked */
	make_root();
	rc = unit_run(tests, sizeof tests / sizeof tests[0]);
	remove_root();
	return rc;
}
