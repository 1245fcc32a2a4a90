/* loop — the event loop as the layers above net see it: timers, "this fd is readable",
 * and running the loop for a bounded time. No sofia-sip type appears here, so pf and
 * store can use the loop without knowing the SIP stack (docs/ARCHITECTURE.md, layer
 * rules). Underneath is sofia-sip's su_root (src/net/loop.c), because SIP transactions,
 * MSRP sockets, timers and worker completions must all run in ONE loop on ONE thread.
 *
 * THREADING: every function here is for the loop thread only. A worker thread reaches the
 * loop by writing to an eventfd that the loop watches (loop_watch).
 * OWNERSHIP: cpmd (main) creates the loop and destroys it last. A timer belongs to whoever
 * started it; loop_timer_stop() frees it (also after it fired: one-shot timers are not
 * freed by firing). A watch belongs to whoever added it (loop_unwatch). */
#ifndef CPMD_NET_LOOP_H
#define CPMD_NET_LOOP_H

#include <stdbool.h>

struct loop;
struct loop_timer;

int loop_create(struct loop **lp);
void loop_destroy(struct loop *l);
/* Runs until loop_break(). */
void loop_run(struct loop *l);
void loop_break(struct loop *l);
/* Runs the loop once, waiting at most ms for something to happen (used to drain
 * completions at shutdown and start-up). */
void loop_step(struct loop *l, unsigned ms);

typedef void loop_timer_fn(void *arg);
/* Starts a timer that calls fn(arg) once after ms (0: at the next turn of the loop).
 * Returns NULL only when out of memory. */
struct loop_timer *loop_timer_once(struct loop *l, unsigned ms, loop_timer_fn *fn, void *arg);
/* Calls fn(arg) every ms until stopped. */
struct loop_timer *loop_timer_every(struct loop *l, unsigned ms, loop_timer_fn *fn, void *arg);
/* Stops and frees the timer (NULL is fine). Call it from inside fn to stop a repeating
 * timer, or after a one-shot timer fired to free it. */
void loop_timer_stop(struct loop_timer *t);

/* Calls fn(arg) on the loop thread whenever fd is readable (level-triggered). Returns a
 * positive watch id, or a negative errno. */
typedef void loop_fd_fn(void *arg);
int loop_watch(struct loop *l, int fd, loop_fd_fn *fn, void *arg);
void loop_unwatch(struct loop *l, int id);

#endif
