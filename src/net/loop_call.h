/* loop_call — another thread asks the loop to run a function and waits for its answer, with a
 * timeout. The reverse of workq.h (which runs blocking work off the loop): here a thread that
 * must not touch the loop's objects (the admin HTTP threads, src/admin) has pf or the store act
 * for it. The request's data is COPIED into the call, so a caller that gave up waiting (timeout)
 * leaves nothing the loop could write into; its answer is then dropped.
 *
 * THREADING: create, close and destroy on the loop thread; loop_call from any OTHER thread
 * (from the loop itself it would wait for itself); fn and loop_call_answer on the loop thread.
 * fn may answer at once or later (e.g. in a store completion), exactly once per call.
 * OWNERSHIP: the inbox is its creator's; a call is freed by whichever of the caller and the
 * answer comes last. */
#ifndef CPMD_NET_LOOP_CALL_H
#define CPMD_NET_LOOP_CALL_H

#include <stddef.h>

struct loop;
struct loop_inbox;
struct loop_call;

/* data: the call's copy of the caller's bytes (len as given), read and written by fn. */
typedef void loop_call_fn(struct loop_call *c, void *data);

/* max_queued >= 1: calls waiting for the loop beyond it get -EAGAIN. 0 or a negative errno. */
int loop_inbox_create(struct loop_inbox **out, struct loop *loop, unsigned max_queued);
/* Shutdown, first: calls queued or in progress are answered -ESHUTDOWN at once (their callers
 * stop waiting), later calls fail with -ESHUTDOWN. Answers that come afterwards are dropped. */
void loop_inbox_close(struct loop_inbox *ib);
/* Last: after every fn's answer has come (e.g. after the store closed). NULL is fine. */
void loop_inbox_destroy(struct loop_inbox *ib);

/* Runs fn(call, copy of data) on the loop and waits at most timeout_ms for its answer; the
 * copy is then written back to data. Returns the answer's status, or -ETIMEDOUT (data not
 * written), -EAGAIN (too many waiting), -ESHUTDOWN, -ENOMEM. */
int loop_call(struct loop_inbox *ib, loop_call_fn *fn, void *data, size_t len, unsigned timeout_ms);
/* fn's answer (loop thread): status is what loop_call returns. */
void loop_call_answer(struct loop_call *c, int status);

#endif
