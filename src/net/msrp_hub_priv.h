/* The hub's state, shared by the two files that implement it: msrp_hub.c (listener, sessions,
 * timeouts, the bracket) and msrp_workers.c (issue 12: the worker loops, the mailboxes between
 * threads, the hand-off of a connection to the loop that owns its session). Nothing else
 * includes this. */
#ifndef CPMD_NET_MSRP_HUB_PRIV_H
#define CPMD_NET_MSRP_HUB_PRIV_H

#include <pthread.h>

#include "net/msrp_transport.h"

#define HUB_DEFAULT_HIGH_WATER (1024 * 1024)
#define HUB_DEFAULT_BIND_TIMEOUT 30
#define HUB_DEFAULT_TXN_TIMEOUT_MS 30000
#define HUB_DEFAULT_MAX_CONNS 4096
#define HUB_DEFAULT_MAX_CONNS_PER_ADDR 1024
#define HUB_BACKLOG 1024
/* After EMFILE/ENFILE the listener is paused this long instead of spinning
 * on a level-triggered accept event it cannot serve. */
#define HUB_ACCEPT_PAUSE_MS 1000
#define HUB_HOST_MAX 64

enum { TLIST_NONE = 0, TLIST_UNBOUND, TLIST_DRAINING };

struct tlist {
	struct msrp_conn *head, *tail;
};

struct msrp_hub {
	su_root_t *root;
	char host[HUB_HOST_MAX];
	char advertise[HUB_HOST_MAX + 2]; /* IPv6 gets brackets */
	uint16_t port;
	size_t high_water;
	unsigned bind_timeout_ms;
	unsigned txn_timeout_ms;
	unsigned max_conns;
	unsigned max_conns_per_addr;

	int lfd;
	int lidx;
	bool accept_paused;
	uint64_t accept_resume;
	uint64_t refused, refused_logged;
	uint64_t refused_addr, refused_addr_logged;

	su_timer_t *timer;
	bool timer_armed;
	uint64_t timer_at;

	/* session table: chained hash, power-of-two buckets, grows at load 1 */
	struct msrp_session **buckets;
	size_t nbuckets;
	size_t nsessions;

	struct msrp_conn *all;
	struct tlist tl[3];

	unsigned depth;
	struct msrp_conn *runq, *runq_tail;
	struct msrp_conn *failq;
	struct msrp_conn *gatherq; /* connections with gathered output (conn_send_ref) */
	struct msrp_conn *reap;
	struct hub_defer *defer;

	/* written by the hub's own thread, read by the main thread (msrp_hub_stats): relaxed
	 * atomics (HUB_STAT_ADD), never a lock */
	struct msrp_hub_stats stats;
	struct hub_tls *tls; /* the --msrp-tls listener, or NULL */

	/* issue 12 (msrp_workers.c; docs/ARCHITECTURE.md "Threads") */
	unsigned index;              /* 0: the main hub; k >= 1: worker k */
	pthread_t owner;             /* the thread whose loop runs this hub */
	bool tls_borrowed;           /* a worker uses the main hub's TLS contexts, does not free them */
	struct hub_mbox *mbox;       /* jobs posted by other threads, or NULL (no workers) */
	struct msrp_hub *main;       /* the main hub (itself for the main hub) */
	struct hub_workers *workers; /* main hub with --workers N > 1: the worker loops, else NULL */
	unsigned load;               /* relays placed here (main thread only: hub_pick, hub_load) */
};

#define HUB_STAT_ADD(h, field, n) __atomic_fetch_add(&(h)->stats.field, (uint64_t)(n), __ATOMIC_RELAXED)
#define HUB_STAT_SUB(h, field, n) __atomic_fetch_sub(&(h)->stats.field, (uint64_t)(n), __ATOMIC_RELAXED)

/* msrp_hub.c, for msrp_workers.c: a worker's hub, made on the worker's thread */
int hub_create_worker(struct msrp_hub **hp, su_root_t *root, struct msrp_hub *main, unsigned index);

/* msrp_workers.c, for msrp_hub.c */
int hub_mbox_open(struct msrp_hub *h);
void hub_mbox_close(struct msrp_hub *h); /* queued jobs are discarded (fn(j, false)) */
void hub_workers_stop(struct msrp_hub *h); /* main hub: stop and join the worker loops */
/* The first character of the session-ids of hub `index` when there are workers. */
char hub_index_mark(unsigned index);
/* The hub index a session-id names, or -1. */
int hub_mark_index(char c);

#endif


