/* The counters of metrics.h and their exposition text. Names follow the Prometheus
 * conventions: the cpmd_ prefix, _total for counters, base units (_seconds, _bytes), HELP and
 * TYPE before each family; docs/internals/admin.md lists them. */
#include "common/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define ADD(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)
#define GET(c) atomic_load_explicit(&(c), memory_order_relaxed)

/* Bucket upper bounds. Store commits: an fsync on an SSD takes 0.1..2 ms, on a disk ~10 ms.
 * Relay throughput: loopback reaches GB/s, a phone on a mobile network 10 kB/s..10 MB/s. */
static const double commit_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NCOMMIT (sizeof commit_le / sizeof commit_le[0])
static const double tput_le[] = {1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};
#define NTPUT (sizeof tput_le / sizeof tput_le[0])

static struct {
	_Atomic uint64_t transfers[MT_N], messages[MM_N], sessions[MS_N];
	_Atomic uint64_t deliveries[MD_NMETHOD][MR_N];
	_Atomic uint64_t expiries, errors[ME_N];
	_Atomic uint64_t relayed_bytes, stored_bytes;
	_Atomic uint64_t commit_b[NCOMMIT + 1], commit_count, commit_sum_us;
	_Atomic uint64_t tput_b[NTPUT + 1], tput_count, tput_sum;
} m;

static const char *const transfer_names[MT_N] = {"delivered", "stored", "failed", "rejected"};
static const char *const message_names[MM_N] = {"delivered", "stored", "rejected", "failed"};
static const char *const session_names[MS_N] = {"ended", "missed", "rejected"};
static const char *const method_names[MD_NMETHOD] = {"push", "pull"};
static const char *const result_names[MR_N] = {"delivered", "failed", "declined"};
static const char *const error_names[ME_N] = {"store_write", "store_queue", "relay", "admin"};

void metrics_transfer(enum metrics_transfer o) { ADD(m.transfers[o], 1); }
void metrics_message(enum metrics_message o) { ADD(m.messages[o], 1); }
void metrics_session(enum metrics_session o) { ADD(m.sessions[o], 1); }
void metrics_delivery(enum metrics_method md, enum metrics_result r) { ADD(m.deliveries[md][r], 1); }
void metrics_expiry(void) { ADD(m.expiries, 1); }
void metrics_error(enum metrics_error e) { ADD(m.errors[e], 1); }
void metrics_relayed_bytes(uint64_t n) { ADD(m.relayed_bytes, n); }
void metrics_stored_bytes(uint64_t n) { ADD(m.stored_bytes, n); }

void metrics_store_commit(uint64_t us)
{
	size_t i = 0;
	while (i < NCOMMIT && (double)us / 1e6 > commit_le[i])
		i++;
	ADD(m.commit_b[i], 1); /* one bucket only: the cumulative counts are summed at a scrape */
	ADD(m.commit_count, 1);
	ADD(m.commit_sum_us, us);
}

void metrics_relay_throughput(uint64_t bytes, uint64_t ms)
{
	uint64_t bps = bytes * 1000 / (ms ? ms : 1);
	size_t i = 0;
	while (i < NTPUT && (double)bps > tput_le[i])
		i++;
	ADD(m.tput_b[i], 1);
	ADD(m.tput_count, 1);
	ADD(m.tput_sum, bps);
}

void metrics_reset(void)
{
	memset(&m, 0, sizeof m);
}

/* A bounded appender: once full, stays full (checked once at the end). */
struct out {
	char *p;
	size_t cap, len;
	int full;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = o->full ? 0 : vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = 1;
	else
		o->len += (size_t)n;
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void labelled(struct out *o, const char *name, const char *label, const char *const *values,
		     _Atomic uint64_t *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put(o, "%s{%s=\"%s\"} %llu\n", name, label, values[i], (unsigned long long)GET(c[i]));
}

static void histogram(struct out *o, const char *name, const double *le, size_t n, _Atomic uint64_t *b,
		      uint64_t count, double sum)
{
	uint64_t cum = 0;
	for (size_t i = 0; i < n; i++) {
		cum += GET(b[i]);
		put(o, "%s_bucket{le=\"%g\"} %llu\n", name, le[i], (unsigned long long)cum);
	}
	/* +Inf equals _count: both from the one count read (a bucket added meanwhile waits for the
	 * next scrape), so the histogram stays monotonic as promtool checks */
	if (cum > count)
		count = cum;
	put(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, (unsigned long long)count, name, sum,
	    name, (unsigned long long)count);
}

static void gauge(struct out *o, const char *name, const char *help, uint64_t v)
{
	family(o, name, "gauge", help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

long metrics_format(char *buf, size_t cap, const struct metrics_gauges *g)
{
	struct out o = {.p = buf, .cap = cap};
	if (!cap)
		return -1;
	family(&o, "cpmd_transfers_total", "counter", "File transfers ended, by outcome (stored: kept for an absent recipient).");
	labelled(&o, "cpmd_transfers_total", "outcome", transfer_names, m.transfers, MT_N);
	family(&o, "cpmd_messages_total", "counter", "Standalone messages (pager and large mode), by outcome.");
	labelled(&o, "cpmd_messages_total", "outcome", message_names, m.messages, MM_N);
	family(&o, "cpmd_sessions_total", "counter", "Chat sessions ended, by outcome.");
	labelled(&o, "cpmd_sessions_total", "outcome", session_names, m.sessions, MS_N);
	family(&o, "cpmd_deliveries_total", "counter", "Deliveries of stored items to devices, by method and result.");
	for (size_t i = 0; i < MD_NMETHOD; i++)
		for (size_t j = 0; j < MR_N; j++)
			put(&o, "cpmd_deliveries_total{method=\"%s\",result=\"%s\"} %llu\n", method_names[i], result_names[j],
			    (unsigned long long)GET(m.deliveries[i][j]));
	family(&o, "cpmd_expiries_total", "counter", "Stored items that expired undelivered.");
	put(&o, "cpmd_expiries_total %llu\n", (unsigned long long)GET(m.expiries));
	family(&o, "cpmd_errors_total", "counter", "Errors, by kind.");
	labelled(&o, "cpmd_errors_total", "kind", error_names, m.errors, ME_N);
	family(&o, "cpmd_relayed_bytes_total", "counter", "Bytes relayed to devices by transfers that completed live.");
	put(&o, "cpmd_relayed_bytes_total %llu\n", (unsigned long long)GET(m.relayed_bytes));
	family(&o, "cpmd_stored_bytes_total", "counter", "Bytes of files and messages taken into the store.");
	put(&o, "cpmd_stored_bytes_total %llu\n", (unsigned long long)GET(m.stored_bytes));
	gauge(&o, "cpmd_deferred_items", "Items held in the store (receiving, stored, delivering).", g->deferred_items);
	gauge(&o, "cpmd_deferred_bytes", "Declared size of the items held in the store.", g->deferred_bytes);
	gauge(&o, "cpmd_notifications_pending", "Delivery notifications waiting for their sender.", g->notifications_pending);
	gauge(&o, "cpmd_registrations", "Device bindings (registrations) known.", g->registrations);
	gauge(&o, "cpmd_live_transfers", "File transfers in progress.", g->live_transfers);
	gauge(&o, "cpmd_live_sessions", "Chat sessions in progress.", g->live_sessions);
	family(&o, "cpmd_store_commit_seconds", "histogram", "Time of one store transaction (group commit, fsync included).");
	uint64_t cc = GET(m.commit_count);
	histogram(&o, "cpmd_store_commit_seconds", commit_le, NCOMMIT, m.commit_b, cc, (double)GET(m.commit_sum_us) / 1e6);
	family(&o, "cpmd_relay_throughput_bytes_per_second", "histogram", "Mean throughput of each transfer that ended (bytes per second).");
	uint64_t tc = GET(m.tput_count);
	histogram(&o, "cpmd_relay_throughput_bytes_per_second", tput_le, NTPUT, m.tput_b, tc, (double)GET(m.tput_sum));
	return o.full ? -1 : (long)o.len;
}
