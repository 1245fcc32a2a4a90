/* metrics — cpmd's counters, gauges and histograms for Prometheus (/metrics, src/admin).
 * One process-wide set (there is one cpmd per process), because the code that counts lives in
 * every layer (pf, the relay, the store's writer thread) and the code that reads runs on the
 * admin HTTP thread: passing a handle through every layer for a few integers would touch every
 * constructor for nothing.
 *
 * THREADING: every value is a C11 atomic updated with relaxed ordering: a scrape needs each
 * number to be whole, not the numbers to be consistent with each other, and relaxed adds cost
 * no fence on the relay's hot path (the relays may run on several threads). Any thread may
 * count; any thread may read (metrics_format). */
#ifndef CPMD_COMMON_METRICS_H
#define CPMD_COMMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Labelled counters: one enum per metric, its label values in metrics.c. */
enum metrics_transfer { MT_DELIVERED, MT_STORED, MT_FAILED, MT_REJECTED, MT_N };
enum metrics_message { MM_DELIVERED, MM_STORED, MM_REJECTED, MM_FAILED, MM_N };
enum metrics_session { MS_ENDED, MS_MISSED, MS_REJECTED, MS_N };
enum metrics_method { MD_PUSH, MD_PULL, MD_NMETHOD };
enum metrics_result { MR_DELIVERED, MR_FAILED, MR_DECLINED, MR_N };
enum metrics_error { ME_STORE_WRITE, ME_STORE_QUEUE, ME_RELAY, ME_ADMIN, ME_N };

void metrics_transfer(enum metrics_transfer o);
void metrics_message(enum metrics_message o);
void metrics_session(enum metrics_session o);
void metrics_delivery(enum metrics_method m, enum metrics_result r);
void metrics_expiry(void);
void metrics_error(enum metrics_error e);
void metrics_relayed_bytes(uint64_t n);
void metrics_stored_bytes(uint64_t n);
/* One store transaction took us microseconds (BEGIN to COMMIT, fsync included). */
void metrics_store_commit(uint64_t us);
/* One transfer moved bytes in ms milliseconds (its mean throughput goes in the histogram). */
void metrics_relay_throughput(uint64_t bytes, uint64_t ms);

/* The state a scrape reads from elsewhere (the store, the loop), given by the caller. */
struct metrics_gauges {
	uint64_t deferred_items, deferred_bytes; /* live items in the store and their sizes */
	uint64_t notifications_pending;
	uint64_t registrations;                  /* bindings */
	uint64_t live_transfers, live_sessions;
};

/* Appends the exposition text (Prometheus text format 0.0.4) to buf (cap bytes): the length
 * written, or -1 when cap is too small. */
long metrics_format(char *buf, size_t cap, const struct metrics_gauges *g);
/* Tests and benchmarks: the counters back to zero. */
void metrics_reset(void);

#endif
