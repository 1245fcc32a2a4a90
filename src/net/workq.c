/* workq (workq.h): a mutex-guarded FIFO of jobs, N threads taking from it, and a finished
 * list handed to the loop through one eventfd. The mutex is held for list operations only,
 * never while a job works. */
#include "net/workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "net/loop.h"

#define WORKQ_THREADS_MAX 64

struct job {
	struct job *next;
	workq_work_fn *work;
	workq_done_fn *done;
	void *arg;
	int err;
};

struct workq {
	struct loop *loop;
	char name[32];
	int efd;
	int watch;
	unsigned nthreads, max_queued;
	pthread_t threads[WORKQ_THREADS_MAX];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: */
	struct job *qhead, *qtail; /* waiting for a worker */
	unsigned queued;
	struct job *fhead, *ftail; /* finished, waiting for the loop */
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
	uint64_t one = 1;

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
		pthread_mutex_lock(&q->mu);
		push(&q->fhead, &q->ftail, j);
		/* cannot fail short of 2^64-2 unread posts */
		if (write(q->efd, &one, sizeof one) < 0 && errno != EAGAIN)
			log_error("%s: eventfd write: %s", q->name, strerror(errno));
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void run_finished(struct workq *q)
{
	pthread_mutex_lock(&q->mu);
	struct job *j = q->fhead;
	q->fhead = q->ftail = NULL;
	pthread_mutex_unlock(&q->mu);
	while (j) {
		struct job *next = j->next;
		q->pending--;
		if (j->done)
			j->done(j->arg, j->err);
		free(j);
		j = next;
	}
}

static void on_efd(void *arg)
{
	struct workq *q = arg;
	uint64_t v;
	/* drain the counter first: a post after this read makes the fd readable again */
	if (read(q->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("%s: eventfd read: %s", q->name, strerror(errno));
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
	q->efd = -1;
	snprintf(q->name, sizeof q->name, "%s", name ? name : "workq");
	q->max_queued = max_queued;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		err = -errno;
		goto fail;
	}
	if ((err = loop_watch(loop, q->efd, on_efd, q)) < 0)
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
	if (q->efd >= 0)
		close(q->efd);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
