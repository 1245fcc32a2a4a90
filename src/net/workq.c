/* workq (workq.h): a mutex-guarded FIFO of jobs, N threads taking from it, and the finished
 * jobs handed back to the loop through a mailbox (net/mailbox.h). The mutex is held for list
 * operations only, never while a job works. */
#include "net/workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "net/loop.h"
#include "net/mailbox.h"

#define WORKQ_THREADS_MAX 64

struct job {
	struct job *next;
	struct mailbox_node done_link; /* finished: on its way to the loop */
	workq_work_fn *work;
	workq_done_fn *done;
	void *arg;
	int err;
};

struct workq {
	struct loop *loop;
	char name[32];
	struct mailbox finished; /* ran, waiting for the loop to call done */
	int watch;
	unsigned nthreads, max_queued;
	pthread_t threads[WORKQ_THREADS_MAX];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: */
	struct job *qhead, *qtail; /* waiting for a worker */
	unsigned queued;
	bool stop;
	/* loop thread only: */
	unsigned pending;
};

static void push(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *worker(void *arg)
{
	struct workq *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->qhead && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->qhead)
			break; /* stopping, nothing left that was taken */
		struct job *j = q->qhead;
		q->qhead = j->next;
		if (!q->qhead)
			q->qtail = NULL;
		q->queued--;
		pthread_mutex_unlock(&q->mu);
		j->work(j->arg);
		mailbox_put(&q->finished, &j->done_link); /* unbounded, never closed: cannot fail */
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void run_finished(struct workq *q)
{
	struct mailbox_node *n = mailbox_take_all(&q->finished), *next;
	for (; n; n = next) {
		struct job *j = MAILBOX_ENTRY(n, struct job, done_link);
		next = n->next;
		q->pending--;
		if (j->done)
			j->done(j->arg, j->err);
		free(j);
	}
}

static void on_finished(void *arg)
{
	struct workq *q = arg;
	mailbox_ack(&q->finished);
	run_finished(q);
}

int workq_create(struct workq **out, struct loop *loop, const char *name, unsigned threads, unsigned max_queued)
{
	struct workq *q;
	int err;

	*out = NULL;
	if (!loop || threads < 1 || threads > WORKQ_THREADS_MAX || max_queued < 1)
		return -EINVAL;
	if (!(q = calloc(1, sizeof *q)))
		return -ENOMEM;
	q->loop = loop;
	snprintf(q->name, sizeof q->name, "%s", name ? name : "workq");
	q->max_queued = max_queued;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if ((err = mailbox_init(&q->finished, q->name, 0)))
		goto fail; /* (mailbox_init leaves efd -1: destroy's mailbox_fini skips it) */
	if ((err = loop_watch(loop, mailbox_fd(&q->finished), on_finished, q)) < 0)
		goto fail;
	q->watch = err;
	for (; q->nthreads < threads; q->nthreads++) {
		if ((err = -pthread_create(&q->threads[q->nthreads], NULL, worker, q)))
			goto fail;
	}
	*out = q;
	return 0;
fail:
	workq_destroy(q);
	return err;
}

int workq_submit(struct workq *q, workq_work_fn *work, workq_done_fn *done, void *arg)
{
	if (!q || !work)
		return -EINVAL;
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->mu);
	int err = q->stop ? -ESHUTDOWN : q->queued >= q->max_queued ? -EAGAIN : 0;
	if (!err) {
		push(&q->qhead, &q->qtail, j);
		q->queued++;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	if (err) {
		free(j);
		return err;
	}
	q->pending++;
	return 0;
}

unsigned workq_pending(const struct workq *q)
{
	return q ? q->pending : 0;
}

void workq_destroy(struct workq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	struct job *cancelled = q->qhead; /* never started: their work will not run */
	q->qhead = q->qtail = NULL;
	q->queued = 0;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	run_finished(q); /* what ran: its done, on this (the loop) thread */
	while (cancelled) {
		struct job *next = cancelled->next;
		q->pending--;
		if (cancelled->done)
			cancelled->done(cancelled->arg, -ECANCELED);
		free(cancelled);
		cancelled = next;
	}
	if (q->watch > 0)
		loop_unwatch(q->loop, q->watch);
	mailbox_fini(&q->finished);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
