/* Completion queue: the store worker (any thread) hands finished requests to the loop thread
 * through an eventfd registered in the su_root; their done callbacks run there.
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

struct store_cq {
	su_root_t *root;
	int efd;
	int widx;
	pthread_mutex_t mu;
	struct store_op *head, *tail;
};

static int cq_io(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct store_cq *cq = (struct store_cq *)arg;
	uint64_t v;

	(void)magic;
	(void)w;
	/* Drain the counter first: a post after this read makes the fd readable again. */
	if (read(cq->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("store: eventfd read: %s", strerror(errno));
	store_cq_run(cq);
	return 0;
}

int store_cq_create(struct store_cq **out, su_root_t *root)
{
	struct store_cq *cq = calloc(1, sizeof *cq);
	su_wait_t w;

	if (!cq)
		return -ENOMEM;
	cq->root = root;
	cq->widx = -1;
	pthread_mutex_init(&cq->mu, NULL);
	cq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cq->efd < 0) {
		int err = -errno;
		free(cq);
		return err;
	}
	if (su_wait_create(&w, cq->efd, SU_WAIT_IN)) {
		close(cq->efd);
		free(cq);
		return -ENOMEM;
	}
	cq->widx = su_root_register(root, &w, cq_io, (su_wakeup_arg_t *)cq, 0);
	if (cq->widx < 0) {
		su_wait_destroy(&w);
		close(cq->efd);
		free(cq);
		return -ENOMEM;
	}
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
	if (cq->widx >= 0)
		su_root_deregister(cq->root, cq->widx);
	close(cq->efd);
	pthread_mutex_destroy(&cq->mu);
	free(cq);
}
