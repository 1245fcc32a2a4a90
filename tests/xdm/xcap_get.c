/* Test driver of the XDM preferences client: fetch one user's document from an XCAP server
 * with xcap_fetch (src/xdm) and parse it with prefs_doc_parse (lib/prefs), printing one
 * "key value" line each, for tests/xdm/t_xcap*.sh to compare:
 *   result fetched|not-modified|no-doc|error
 *   etag <etag>            (fetched)
 *   why <reason>           (error)
 *   defer true|false|unset ... blocked <uri> ... accept <type> ... deny <type>
 *   ms <elapsed milliseconds>
 * Usage: xcap_get [--etag E] [--auid A] [--file F] [--cap BYTES] [--timeout-ms N]
 *                 [--user U --password P] [--threads N] ROOT AOR
 * --threads N: N threads fetch at the same time (thread safety); every result must be the
 * same, and the first one is printed. Exit 0 unless usage, parse or thread mismatch (1/2);
 * an XCAP_ERROR is a result, not a failure of the driver. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpm/prefs_doc.h"
#include "cpm/xml_safe.h"
#include "xdm/xcap_client.h"

#define MAX_THREADS 16

struct job {
	const struct xcap_cfg *cfg;
	const char *aor, *etag_in;
	size_t cap;
	enum xcap_result r;
	char *body;
	size_t len;
	char etag[XCAP_ETAG_MAX + 1], why[XCAP_WHY_MAX];
};

static void *run(void *arg)
{
	struct job *j = arg;
	j->r = xcap_fetch(j->cfg, j->aor, j->etag_in, j->body, j->cap, &j->len, j->etag, j->why);
	return NULL;
}

static const char *b(enum prefs_bool v)
{
	return v == PREFS_UNSET ? "unset" : prefs_bool_name(v);
}

static const char *or_unset(const char *s)
{
	return s[0] ? s : "unset";
}

static int print_doc(const char *body, size_t len)
{
	static struct prefs_doc pd;
	int rc = prefs_doc_parse(body, len, &pd);

	if (rc != PREFS_OK) {
		printf("parse-error %s\nlen %zu\n", prefs_strerror(rc), len);
		fwrite(body, 1, len, stderr); /* the test's log shows what was refused */
		return 1;
	}
	printf("defer %s\ndelivery %s\nkeep-files %s\non-expiry %s\nhistories %s\nscreening %s\n",
	       b(pd.defer), or_unset(prefs_delivery_name(pd.delivery)),
	       or_unset(prefs_keep_name(pd.keep_files)), or_unset(prefs_expiry_name(pd.on_expiry)),
	       b(pd.histories), b(pd.screening));
	if (pd.has_max_file_size)
		printf("max-file-size %llu\n", (unsigned long long)pd.max_file_size);
	else
		printf("max-file-size unset\n");
	for (size_t i = 0; i < pd.nblocked; i++)
		printf("blocked %s\n", pd.blocked[i]);
	for (size_t i = 0; i < pd.naccept; i++)
		printf("accept %s\n", pd.accept_types[i]);
	for (size_t i = 0; i < pd.ndeny; i++)
		printf("deny %s\n", pd.deny_types[i]);
	return 0;
}

int main(int argc, char **argv)
{
	struct xcap_cfg cfg = {0};
	static struct job jobs[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	const char *etag_in = NULL;
	size_t cap = PREFS_MAX_BYTES;
	int nthreads = 1, i = 1, rc = 0;
	struct timespec t0, t1;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--etag"))
			etag_in = argv[i + 1];
		else if (!strcmp(argv[i], "--auid"))
			cfg.auid = argv[i + 1];
		else if (!strcmp(argv[i], "--file"))
			cfg.filename = argv[i + 1];
		else if (!strcmp(argv[i], "--cap"))
			cap = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--timeout-ms"))
			cfg.timeout_ms = cfg.connect_timeout_ms = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--user"))
			cfg.user = argv[i + 1];
		else if (!strcmp(argv[i], "--password"))
			cfg.password = argv[i + 1];
		else if (!strcmp(argv[i], "--threads"))
			nthreads = atoi(argv[i + 1]);
		else
			break;
	}
	if (argc - i != 2 || nthreads < 1 || nthreads > MAX_THREADS || !cap) {
		fprintf(stderr, "usage: xcap_get [--etag E] [--auid A] [--file F] [--cap N] "
				"[--timeout-ms N] [--user U --password P] [--threads N] ROOT AOR\n");
		return 2;
	}
	cfg.root = argv[i];
	cpm_xml_init();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < nthreads; k++) {
		jobs[k] = (struct job){.cfg = &cfg, .aor = argv[i + 1], .etag_in = etag_in, .cap = cap};
		if (!(jobs[k].body = malloc(cap)) || pthread_create(&th[k], NULL, run, &jobs[k])) {
			perror("xcap_get");
			return 2;
		}
	}
	for (int k = 0; k < nthreads; k++)
		pthread_join(th[k], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int k = 1; k < nthreads; k++)
		if (jobs[k].r != jobs[0].r || jobs[k].len != jobs[0].len ||
		    memcmp(jobs[k].body, jobs[0].body, jobs[0].len) || strcmp(jobs[k].etag, jobs[0].etag)) {
			printf("thread-mismatch %d\n", k);
			rc = 1;
		}
	printf("result %s\n", xcap_result_name(jobs[0].r));
	if (jobs[0].r == XCAP_FETCHED) {
		printf("etag %s\n", or_unset(jobs[0].etag));
		rc |= print_doc(jobs[0].body, jobs[0].len);
	} else if (jobs[0].r == XCAP_ERROR) {
		printf("why %s\n", jobs[0].why);
	}
	printf("ms %ld\n", (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	for (int k = 0; k < nthreads; k++)
		free(jobs[k].body);
	return rc;
}
