/* clamd_probe — the test driver of src/screen (tests/screen/t_clamd*.sh): one call of the
 * cpmscreen API against a real clamd, its result on stdout as one line
 *   CLEAN | INFECTED <name> | ERROR <why> | TOO_BIG <why> | PONG | NOPONG <why>
 * followed by " ms=<elapsed>" so that the scripts can check that a failure came quickly.
 *
 * usage: clamd_probe ADDR [--connect-ms N] [--reply-ms N] [--stream-max N] COMMAND
 *   ping | file PATH [OFFSET LEN] | buf PATH (the file read into memory, then scan_buf)
 *   | threads N PATH (N threads scan PATH at once: every result must be the same) */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpm/parse.h"
#include "screen/clamd.h"

static struct clamd_cfg cfg;

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fprintf(stderr, "usage: clamd_probe ADDR [--connect-ms N] [--reply-ms N] [--stream-max N] "
			"ping | file PATH [OFFSET LEN] | buf PATH | threads N PATH\n");
	exit(64);
}

static uint64_t num(const char *s)
{
	uint64_t v;

	if (cpm_parse_u64(s, UINT64_MAX, true, &v) < 0)
		usage();
	return v;
}

static void print(enum clamd_result r, const char *virus, const char *why, long long ms)
{
	if (r == CLAMD_INFECTED)
		printf("INFECTED %s ms=%lld\n", virus, ms);
	else if (r == CLAMD_CLEAN)
		printf("CLEAN ms=%lld\n", ms);
	else
		printf("%s %s ms=%lld\n", clamd_result_name(r), why, ms);
}

struct job {
	const char *path;
	enum clamd_result r;
	char virus[128], why[256];
};

static void *scan_job(void *arg)
{
	struct job *j = arg;
	int fd = open(j->path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		j->r = CLAMD_ERROR;
		snprintf(j->why, sizeof j->why, "open %s", j->path);
	} else {
		j->r = clamd_scan_fd(&cfg, fd, 0, (uint64_t)st.st_size, j->virus, sizeof j->virus,
				     j->why, sizeof j->why);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	char virus[128] = "", why[256] = "";
	enum clamd_result r;
	long long t0;
	int i = 2;

	if (argc < 3)
		usage();
	cfg.addr = argv[1];
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--connect-ms") == 0)
			cfg.connect_ms = (unsigned)num(argv[i + 1]);
		else if (strcmp(argv[i], "--reply-ms") == 0)
			cfg.reply_ms = (unsigned)num(argv[i + 1]);
		else if (strcmp(argv[i], "--stream-max") == 0)
			cfg.stream_max = num(argv[i + 1]);
		else
			usage();
	}
	if (i >= argc)
		usage();
	t0 = ms_now();
	if (strcmp(argv[i], "ping") == 0) {
		int rc = clamd_ping(&cfg, why, sizeof why);

		if (rc == 0)
			printf("PONG ms=%lld\n", ms_now() - t0);
		else
			printf("NOPONG %s ms=%lld\n", why, ms_now() - t0);
		return rc == 0 ? 0 : 1;
	}
	if (strcmp(argv[i], "file") == 0 && (argc == i + 2 || argc == i + 4)) {
		int fd = open(argv[i + 1], O_RDONLY | O_CLOEXEC);
		struct stat st;
		uint64_t off = 0, len;

		if (fd < 0 || fstat(fd, &st) < 0) {
			perror(argv[i + 1]);
			return 2;
		}
		len = (uint64_t)st.st_size;
		if (argc == i + 4) {
			off = num(argv[i + 2]);
			len = num(argv[i + 3]);
		}
		t0 = ms_now();
		r = clamd_scan_fd(&cfg, fd, off, len, virus, sizeof virus, why, sizeof why);
		print(r, virus, why, ms_now() - t0);
		close(fd);
		return 0;
	}
	if (strcmp(argv[i], "buf") == 0 && argc == i + 2) {
		FILE *f = fopen(argv[i + 1], "rb");
		char *mem;
		long n;

		if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
			return 2;
		mem = malloc((size_t)n + 1);
		if (!mem || fread(mem, 1, (size_t)n, f) != (size_t)n)
			return 2;
		fclose(f);
		t0 = ms_now();
		r = clamd_scan_buf(&cfg, mem, (size_t)n, virus, sizeof virus, why, sizeof why);
		print(r, virus, why, ms_now() - t0);
		free(mem);
		return 0;
	}
	if (strcmp(argv[i], "threads") == 0 && argc == i + 3) {
		unsigned n = (unsigned)num(argv[i + 1]), k;
		pthread_t *th = calloc(n, sizeof *th);
		struct job *jobs = calloc(n, sizeof *jobs);

		if (!th || !jobs || n == 0)
			return 2;
		for (k = 0; k < n; k++) {
			jobs[k].path = argv[i + 2];
			if (pthread_create(&th[k], NULL, scan_job, &jobs[k]) != 0)
				return 2;
		}
		for (k = 0; k < n; k++)
			pthread_join(th[k], NULL);
		/* one line per thread: the script checks that they all say the same */
		for (k = 0; k < n; k++)
			print(jobs[k].r, jobs[k].virus, jobs[k].why, ms_now() - t0);
		free(th);
		free(jobs);
		return 0;
	}
	usage();
	return 64;
}
