/* store_bench: durable state changes per second through the store (issue #3 target:
 * >= 20,000/s with group commit).
 *
 *   store_bench [DIR] [N] [N_SERIAL]
 *
 * DIR (default: a new directory under $TMPDIR or /tmp) must be on the disk you want to measure;
 * a tmpfs makes fsync free and the numbers meaningless.
 * 1. group commit: N (default 100000) small updates (delivery rows: attempts, next attempt,
 *    acked bytes) submitted at once, as many concurrent transfers would; the rate is
 *    N / (time from the first submit to the last done callback). Every done(0) is durable.
 * 2. closed loop: 1000 concurrent "transfers", each submitting its next update only when the
 *    previous one is durable (its done ran), N updates in all. This is the realistic shape:
 *    no one has 100k writes in hand at once, many have one each.
 * 3. one transaction per write: N_SERIAL (default 2000) updates, each submitted only after
 *    the previous one's done: what a store without group commit would do. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sofia-sip/su_wait.h>

#include "store/store.h"

static unsigned pending, failed;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void done(void *arg, int err)
{
	(void)arg;
	pending--;
	if (err)
		failed++;
}

/* closed loop: each done submits that client's next update */
#define CLIENTS 1000
static struct store *cl_store;
static unsigned cl_next, cl_total;
static void dlv(struct store_delivery *d, unsigned i);

static void cl_done(void *arg, int err)
{
	struct store_delivery d;

	pending--;
	if (err)
		failed++;
	if (cl_next < cl_total) {
		dlv(&d, cl_next++);
		if (store_delivery_put(cl_store, &d, cl_done, arg) == 0)
			pending++;
		else
			failed++;
	}
}

static void dlv(struct store_delivery *d, unsigned i)
{
	memset(d, 0, sizeof *d);
	snprintf(d->item_id, sizeof d->item_id, "item%05u", i % 5000);
	snprintf(d->instance, sizeof d->instance, "<urn:uuid:00000000-0000-0000-0000-%012u>", i % 20);
	d->attempts = i;
	d->next_attempt_at_ms = 1700000000000 + i;
	d->bytes_acked = (uint64_t)i * 4096;
	d->state = STORE_DLV_ACTIVE;
}

int main(int argc, char **argv)
{
	char tmpl[512], path[600];
	const char *dir = argc > 1 ? argv[1] : NULL;
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 100000;
	unsigned n_serial = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 2000;
	struct store_delivery d;
	struct store_stats st;
	struct store *s;
	su_root_t *root;
	double t0, t1;
	int err;

	if (!dir) {
		const char *t = getenv("TMPDIR");
		snprintf(tmpl, sizeof tmpl, "%s/store_bench.XXXXXX", t && *t ? t : "/tmp");
		if (!(dir = mkdtemp(tmpl))) {
			perror("mkdtemp");
			return 1;
		}
	}
	snprintf(path, sizeof path, "%s/bench.db", dir);
	unlink(path);
	su_init();
	root = su_root_create(NULL);
	if ((err = store_sqlite_open(&s, root, path))) {
		fprintf(stderr, "store_bench: open %s: %s\n", path, strerror(-err));
		return 1;
	}

	/* 1. group commit */
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		dlv(&d, i);
		if ((err = store_delivery_put(s, &d, done, NULL))) {
			fprintf(stderr, "store_bench: submit: %s\n", strerror(-err));
			return 1;
		}
		pending++;
	}
	while (pending)
		su_root_step(root, 100);
	t1 = now_s();
	store_stats_get(s, &st);
	printf("group commit:        %u durable updates in %.3f s = %.0f/s (%" PRIu64 " transactions, "
	       "max %" PRIu64 " writes per transaction, %u failed)\n",
	       n, t1 - t0, n / (t1 - t0), st.transactions, st.max_batch, failed);

	/* 2. closed loop */
	uint64_t tx0 = st.transactions;
	cl_store = s;
	cl_total = n;
	cl_next = 0;
	t0 = now_s();
	for (unsigned c = 0; c < CLIENTS && cl_next < cl_total; c++) {
		dlv(&d, cl_next++);
		if (store_delivery_put(s, &d, cl_done, NULL))
			return 1;
		pending++;
	}
	while (pending)
		su_root_step(root, 100);
	t1 = now_s();
	store_stats_get(s, &st);
	printf("closed loop x%u:    %u durable updates in %.3f s = %.0f/s (%" PRIu64 " transactions, %u failed)\n",
	       CLIENTS, n, t1 - t0, n / (t1 - t0), st.transactions - tx0, failed);

	/* 3. one transaction per write */
	tx0 = st.transactions;
	t0 = now_s();
	for (unsigned i = 0; i < n_serial; i++) {
		dlv(&d, n + i);
		if (store_delivery_put(s, &d, done, NULL))
			return 1;
		pending++;
		while (pending)
			su_root_step(root, 100);
	}
	t1 = now_s();
	store_stats_get(s, &st);
	printf("one tx per write:    %u durable updates in %.3f s = %.0f/s (%" PRIu64 " transactions)\n", n_serial,
	       t1 - t0, n_serial / (t1 - t0), st.transactions - tx0);
	store_close(s);
	if (argc <= 1) { /* our own temporary directory: leave nothing behind */
		static const char *const sfx[] = {"", "-wal", "-shm"};
		char f[700];
		for (unsigned i = 0; i < 3; i++) {
			snprintf(f, sizeof f, "%s%s", path, sfx[i]);
			unlink(f);
		}
		rmdir(dir);
	} else
		printf("database: %s\n", path);
	su_root_destroy(root);
	su_deinit();
	return failed ? 1 : 0;
}
