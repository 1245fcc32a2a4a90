/* Completion queue: the store worker (any thread) hands finished requests to the loop thread
 * through an eventfd the loop watches (net/loop.h: loop_watch); their done callbacks run there.
 * Why an eventfd: one fd, one counter, no pipe buffer to fill however many batches finish
 * while the loop is busy; the list itself is under a mutex held for a pointer swap only. */
#include "store/store_backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "net/loop.h"

struct store_cq {
	struct loop *loop;
	int efd;
	int watch; /* loop_watch id, 0: none */
	pthread_mutex_t mu;
	struct store_op *head, *tail;
};

static void cq_io(void *arg)
{
	struct store_cq *cq = arg;
	uint64_t v;

	/* Drain the counter first: a post after this read makes the fd readable again. */
	if (read(cq->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("store: eventfd read: %s", strerror(errno));
	store_cq_run(cq);
}

int store_cq_create(struct store_cq **out, struct loop *loop)
{
	struct store_cq *cq;
	int err;

	if (!loop)
		return -EINVAL;
	if (!(cq = calloc(1, sizeof *cq)))
		return -ENOMEM;
	cq->loop = loop;
	cq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cq->efd < 0) {
		err = -errno;
		free(cq);
		return err;
	}
	err = loop_watch(loop, cq->efd, cq_io, cq);
	if (err < 0) {
		close(cq->efd);
		free(cq);
		return err;
	}
	cq->watch = err;
	pthread_mutex_init(&cq->mu, NULL);
	*out = cq;
	return 0;
}

void store_cq_post(struct store_cq *cq, struct store_op *head, struct store_op *tail)
{
	uint64_t one = 1;

	if (!head)
		return;
	tail->next = NULL;
	pthread_mutex_lock(&cq->mu);
	if (cq->tail)
		cq->tail->next = head;
	else
		cq->head = head;
	cq->tail = tail;
	pthread_mutex_unlock(&cq->mu);
	/* Only fails if the counter would overflow (2^64-2 posts unread): cannot happen. */
	if (write(cq->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_error("store: eventfd write: %s", strerror(errno));
}

void store_cq_run(struct store_cq *cq)
{
	struct store_op *op, *next;

	pthread_mutex_lock(&cq->mu);
	op = cq->head;
	cq->head = cq->tail = NULL;
	pthread_mutex_unlock(&cq->mu);
	for (; op; op = next) {
		next = op->next;
		if (op->done)
			op->done(op->arg, op->err);
		free(op);
	}
}

void store_cq_destroy(struct store_cq *cq)
{
	if (!cq)
		return;
	store_cq_run(cq);
	if (cq->watch > 0)
		loop_unwatch(cq->loop, cq->watch);
	close(cq->efd);
	pthread_mutex_destroy(&cq->mu);
	free(cq);
}
