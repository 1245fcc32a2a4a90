/* store_bench: durable state changes per second through the store (issue #3 target:
 * >= 20,000/s with group commit).
 *
 *   store_bench [DIR] [N] [N_SERIAL] [ITEMS]
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
 *    the previous one's done: what a store without group commit would do.
 * 4. item state changes: UPD_ITEMS (10,000) items are put first (not timed), then N
 *    store_item_update (state STORED <-> DELIVERING, bytes_received, delivered_device: what pf
 *    writes when a delivery starts and ends) (a) all submitted at once and (b) in a closed loop
 *    of 1000 clients; rate = updates / (first submit -> last done), every one durable.
 * 5. (ITEMS > 0, e.g. 1000000) lookup latency with ITEMS stored items over ITEMS/10
 *    recipients: what a REGISTER costs the store before the first delivery INVITE
 *    (items_for_recipient, limit 16, random recipients), p50/p99/max, and the RSS. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/malloc_policy.h"
#include "net/loop.h"

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

/* ---- 4. item state updates ---- */
#define UPD_ITEMS 10000
static unsigned up_next, up_total;

static void upd_item(struct store_item *it, unsigned i)
{
	memset(it, 0, sizeof *it);
	snprintf(it->id, sizeof it->id, "upd%08u", i % UPD_ITEMS);
	snprintf(it->sender, sizeof it->sender, "sip:sender%u@example.com", i % 977);
	snprintf(it->recipient, sizeof it->recipient, "sip:rcpt%u@example.com", i % UPD_ITEMS % 1000);
	snprintf(it->sel.name, sizeof it->sel.name, "IMG_%06u.jpg", i % UPD_ITEMS);
	it->sel.size = 1000000;
	snprintf(it->sel.type, sizeof it->sel.type, "image/jpeg");
	it->created_at_ms = 1700000000000;
	it->expires_at_ms = 1700000000000 + 86400000 + i;
	it->state = (i / UPD_ITEMS) % 2 ? STORE_ITEM_DELIVERING : STORE_ITEM_STORED;
	it->bytes_received = it->sel.size;
	snprintf(it->delivered_device, sizeof it->delivered_device, "<urn:uuid:00000000-0000-0000-0000-%012u>",
		 i % 20);
}

static void up_done(void *arg, int err)
{
	struct store_item it;

	pending--;
	if (err)
		failed++;
	if (up_next < up_total) {
		upd_item(&it, up_next++);
		if (store_item_update(cl_store, &it, up_done, arg) == 0)
			pending++;
		else
			failed++;
	}
}

static void item_updates(struct store *s, struct loop *loop, unsigned n)
{
	struct store_item it;
	struct store_stats st;
	double t0, t1;
	uint64_t tx0;

	for (unsigned i = 0; i < UPD_ITEMS; i++) {
		upd_item(&it, i);
		if (store_item_put(s, &it, NULL, done, NULL))
			exit(1);
		pending++;
	}
	while (pending)
		loop_step(loop, 100);
	store_stats_get(s, &st);
	tx0 = st.transactions;
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		upd_item(&it, UPD_ITEMS + i);
		if (store_item_update(s, &it, done, NULL))
			exit(1);
		pending++;
	}
	while (pending)
		loop_step(loop, 100);
	t1 = now_s();
	store_stats_get(s, &st);
	printf("item updates, all in flight: %u durable store_item_update in %.3f s = %.0f/s (%" PRIu64
	       " transactions, over %u items, %u failed)\n",
	       n, t1 - t0, n / (t1 - t0), st.transactions - tx0, UPD_ITEMS, failed);
	tx0 = st.transactions;
	cl_store = s;
	up_total = UPD_ITEMS + 2 * n;
	up_next = UPD_ITEMS + n;
	t0 = now_s();
	for (unsigned c = 0; c < CLIENTS && up_next < up_total; c++) {
		upd_item(&it, up_next++);
		if (store_item_update(s, &it, up_done, NULL))
			exit(1);
		pending++;
	}
	while (pending)
		loop_step(loop, 100);
	t1 = now_s();
	store_stats_get(s, &st);
	printf("item updates, closed loop x%u: %u durable store_item_update in %.3f s = %.0f/s (%" PRIu64
	       " transactions, %u failed)\n",
	       CLIENTS, n, t1 - t0, n / (t1 - t0), st.transactions - tx0, failed);
}

/* ---- 5. lookups among many items ---- */
static unsigned it_next, it_total, it_found;

static void fill(struct store_item *it, unsigned i)
{
	memset(it, 0, sizeof *it);
	snprintf(it->id, sizeof it->id, "%032x", i);
	snprintf(it->sender, sizeof it->sender, "sip:sender%u@example.com", i % 977);
	snprintf(it->recipient, sizeof it->recipient, "sip:user%u@example.com", i % (it_total / 10 + 1));
	snprintf(it->sel.name, sizeof it->sel.name, "IMG_%06u.jpg", i);
	it->sel.size = 1000000 + i;
	snprintf(it->sel.type, sizeof it->sel.type, "image/jpeg");
	it->sel.has_hash = true;
	memcpy(it->sel.sha1, &i, sizeof i);
	snprintf(it->ft_id, sizeof it->ft_id, "ft%u", i);
	snprintf(it->conv_id, sizeof it->conv_id, "c0a80101-0000-4000-8000-%012u", i);
	snprintf(it->contrib_id, sizeof it->contrib_id, "c0a80101-0000-4000-9000-%012u", i);
	it->created_at_ms = 1700000000000 + i;
	it->expires_at_ms = 1700000000000 + 86400000 + i;
	/* one in five is already delivered: those must cost the scheduler nothing */
	it->state = i % 5 == 0 ? STORE_ITEM_DELIVERED : STORE_ITEM_STORED;
	it->bytes_received = it->sel.size;
}

static struct store *it_store;

static void it_done(void *arg, int err)
{
	struct store_item it;

	pending--;
	if (err)
		failed++;
	if (it_next < it_total) {
		fill(&it, it_next++);
		if (store_item_put(it_store, &it, NULL, it_done, arg) == 0)
			pending++;
		else
			failed++;
	}
}

static int count_cb(void *arg, const struct store_item *it)
{
	(void)arg;
	(void)it;
	it_found++;
	return 0;
}

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void lookups(struct store *s, struct loop *loop, unsigned items)
{
	enum { LOOKUPS = 10000 };
	static double lat[LOOKUPS];
	struct store_item it;
	long rss0 = rss_kib();
	double t0 = now_s(), t1;

	it_store = s;
	it_total = items;
	it_next = 0;
	for (unsigned c = 0; c < 10000 && it_next < it_total; c++) {
		fill(&it, it_next++);
		if (store_item_put(s, &it, NULL, it_done, NULL))
			exit(1);
		pending++;
	}
	while (pending)
		loop_step(loop, 100);
	t1 = now_s();
	printf("fill:                %u items in %.1f s = %.0f/s (%u failed), RSS %ld -> %ld KiB\n", items, t1 - t0,
	       items / (t1 - t0), failed, rss0, rss_kib());
	srand(1);
	for (unsigned i = 0; i < LOOKUPS; i++) {
		char aor[64];
		snprintf(aor, sizeof aor, "sip:user%u@example.com", (unsigned)rand() % (items / 10 + 1));
		t0 = now_s();
		if (store_items_for_recipient(s, aor, 16, count_cb, NULL) < 0)
			exit(1);
		lat[i] = (now_s() - t0) * 1e6;
	}
	qsort(lat, LOOKUPS, sizeof lat[0], cmp_d);
	printf("items_for_recipient: %u lookups among %u items: p50 %.0f us, p99 %.0f us, max %.0f us "
	       "(%.1f items each), RSS %ld KiB\n",
	       LOOKUPS, items, lat[LOOKUPS / 2], lat[LOOKUPS * 99 / 100], lat[LOOKUPS - 1],
	       (double)it_found / LOOKUPS, rss_kib());
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
	unsigned items = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 0;
	struct store_delivery d;
	struct store_stats st;
	struct store *s;
	struct loop *loop;
	double t0, t1;
	int err;

	/* cpmd's heap policy, unless STORE_BENCH_GLIBC_DEFAULTS=1 (to compare both in one run) */
	const char *defaults = getenv("STORE_BENCH_GLIBC_DEFAULTS");
	bool policy = !(defaults && !strcmp(defaults, "1"));
	if (policy && cpm_malloc_policy())
		fprintf(stderr, "store_bench: glibc refused the malloc policy\n");
	printf("malloc policy: %s\n", policy ? "cpmd's (common/malloc_policy.h)" : "glibc defaults");

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
	if (loop_create(&loop)) {
		fprintf(stderr, "store_bench: cannot create the event loop\n");
		return 1;
	}
	if ((err = store_sqlite_open(&s, loop, path))) {
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
		loop_step(loop, 100);
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
		loop_step(loop, 100);
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
			loop_step(loop, 100);
	}
	t1 = now_s();
	store_stats_get(s, &st);
	printf("one tx per write:    %u durable updates in %.3f s = %.0f/s (%" PRIu64 " transactions)\n", n_serial,
	       t1 - t0, n_serial / (t1 - t0), st.transactions - tx0);
	item_updates(s, loop, n);
	if (items)
		lookups(s, loop, items);
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
	loop_destroy(loop);
	return failed ? 1 : 0;
}
