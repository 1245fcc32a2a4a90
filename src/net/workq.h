/* workq — worker threads for the blocking calls of the services around the PF (an IMAP APPEND
 * to the message store, a clamd scan, an XCAP fetch), whose results come back to the loop.
 * The loop never blocks on them: it submits a job, a worker runs work(arg), and done(arg, 0)
 * runs on the loop thread afterwards (through an eventfd the loop watches, as the store's
 * completions do).
 *
 * THREADING: create, submit, pending and destroy on the loop thread. work() runs on a worker
 * thread and must touch nothing of the loop's (it works on what arg carries); done() runs on
 * the loop thread.
 * OWNERSHIP: arg is the submitter's; the queue only carries it. A job accepted by submit gets
 * exactly one done: err 0 after its work ran, -ECANCELED when destroy found it not started
 * (its work never ran). Queue bounded (max_queued): submit says -EAGAIN rather than grow. */
#ifndef CPMD_NET_WORKQ_H
#define CPMD_NET_WORKQ_H

struct loop;
struct workq;

typedef void workq_work_fn(void *arg);
typedef void workq_done_fn(void *arg, int err);

/* threads 1..64, max_queued >= 1; name is for the log. 0 or a negative errno. */
int workq_create(struct workq **out, struct loop *loop, const char *name, unsigned threads, unsigned max_queued);
/* 0, -EAGAIN (max_queued jobs wait already), -ESHUTDOWN (destroy began), -EINVAL. */
int workq_submit(struct workq *q, workq_work_fn *work, workq_done_fn *done, void *arg);
/* Jobs submitted whose done has not run yet. */
unsigned workq_pending(const struct workq *q);
/* Lets running jobs finish (their done runs here), cancels the queued ones (done with
 * -ECANCELED), joins the threads, frees. NULL is fine. */
void workq_destroy(struct workq *q);

#endif
