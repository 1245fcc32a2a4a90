/* mailbox — the one way a thread hands work to a loop of this process: a FIFO of intrusive
 * nodes under a mutex (held for a pointer operation only) and an eventfd the owner's loop
 * watches. Every cross-thread queue toward a loop is one of these: the store's completions
 * (store_cq.c), the worker threads' finished jobs (workq.c), the admin threads' calls
 * (loop_call.c), and the MSRP hubs' jobs between the main loop and the worker loops
 * (msrp_workers.c). What they do with a node stays theirs; how it crosses is here, once.
 *
 * Why an eventfd: one fd, one counter, nothing to fill however many posts wait while the loop
 * is busy; the owner reads it (mailbox_ack) BEFORE it takes the nodes, so a post that comes
 * after the read makes the fd readable again and is never missed.
 *
 * THREADING: mailbox_put*, mailbox_take*, mailbox_close from any thread; mailbox_ack from the
 * owner's fd callback; mailbox_init and mailbox_fini by the owner, with no other thread using
 * it. The owner registers mailbox_fd() with its loop (net/loop.h loop_watch, or su_root for a
 * worker loop) and removes the watch before mailbox_fini.
 * OWNERSHIP: the mailbox is embedded in its owner; nodes are embedded in the posters' objects
 * and belong to whoever takes them (mailbox_fini leaves the ones still queued untouched:
 * take them first). */
#ifndef CPMD_NET_MAILBOX_H
#define CPMD_NET_MAILBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct mailbox_node {
	struct mailbox_node *next;
};

struct mailbox {
	pthread_mutex_t mu;
	int efd;
	unsigned count, max; /* max 0: unbounded */
	bool closed;
	struct mailbox_node *head, *tail;
	const char *name; /* for the log */
};

/* max: posts beyond max waiting nodes get -EAGAIN (0: unbounded). 0 or a negative errno. */
int mailbox_init(struct mailbox *mb, const char *name, unsigned max);
void mailbox_fini(struct mailbox *mb);
int mailbox_fd(const struct mailbox *mb);

/* Appends and wakes the owner: 0, -EAGAIN (full), -ESHUTDOWN (closed). */
int mailbox_put(struct mailbox *mb, struct mailbox_node *n);
/* A chain first..last (linked by next), appended at once; never refused (unbounded owners). */
void mailbox_put_chain(struct mailbox *mb, struct mailbox_node *first, struct mailbox_node *last);
/* Later puts get -ESHUTDOWN; what is queued stays (take it). */
void mailbox_close(struct mailbox *mb);

/* Owner's fd callback, first: resets the eventfd's counter. */
void mailbox_ack(struct mailbox *mb);
/* The oldest node, or NULL. One at a time, for owners whose nodes may remove later ones. */
struct mailbox_node *mailbox_take(struct mailbox *mb);
/* The whole FIFO (oldest first, linked by next), or NULL. */
struct mailbox_node *mailbox_take_all(struct mailbox *mb);
/* The oldest node for which match(node, key) is true, unlinked, or NULL. */
typedef bool mailbox_match_fn(const struct mailbox_node *n, const void *key);
struct mailbox_node *mailbox_take_match(struct mailbox *mb, mailbox_match_fn *match, const void *key);

#define MAILBOX_ENTRY(node, type, member) ((type *)(void *)((char *)(node) - offsetof(type, member)))

#endif
