/* loop_call.h: a mutex-guarded queue of calls, an eventfd the loop watches, and one condition
 * variable the callers wait on (with a monotonic deadline). A call has two references: its
 * caller's (until it returns) and the loop's (until the answer). */
#include "net/loop_call.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "net/loop.h"

struct loop_call {
	struct loop_call *next; /* queued, then in progress */
	struct loop_inbox *ib;
	loop_call_fn *fn;
	int status;
	int refs;
	bool answered;
	size_t len;
	unsigned char data[]; /* the caller's bytes, copied */
};

struct loop_inbox {
	struct loop *loop;
	int efd, watch;
	unsigned max_queued;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: */
	struct loop_call *queue, *running; /* waiting for the loop; given to fn, not answered */
	unsigned queued;
	bool closed;
};

static void unref(struct loop_call *c) /* under mu */
{
	if (--c->refs == 0)
		free(c);
}

static void unlink_running(struct loop_inbox *ib, struct loop_call *c) /* under mu */
{
	for (struct loop_call **pp = &ib->running; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

static void settle(struct loop_call *c, int status) /* under mu: the caller may return */
{
	c->status = status;
	c->answered = true;
	pthread_cond_broadcast(&c->ib->cv);
}

void loop_call_answer(struct loop_call *c, int status)
{
	struct loop_inbox *ib = c->ib;
	pthread_mutex_lock(&ib->mu);
	if (!c->answered) {
		unlink_running(ib, c);
		settle(c, status);
	}
	unref(c);
	pthread_mutex_unlock(&ib->mu);
}

static void on_ready(void *arg)
{
	struct loop_inbox *ib = arg;
	uint64_t v;
	if (read(ib->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_error("loop_call: eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&ib->mu);
	struct loop_call *list = ib->queue;
	ib->queue = NULL;
	ib->queued = 0;
	pthread_mutex_unlock(&ib->mu);
	/* oldest first: the queue is kept in arrival order */
	while (list) {
		struct loop_call *c = list;
		list = c->next;
		pthread_mutex_lock(&ib->mu);
		bool gone = c->answered; /* closed meanwhile, or the caller timed out: not run */
		if (!gone) {
			c->next = ib->running;
			ib->running = c;
		}
		pthread_mutex_unlock(&ib->mu);
		if (gone) {
			pthread_mutex_lock(&ib->mu);
			unref(c);
			pthread_mutex_unlock(&ib->mu);
		} else {
			c->fn(c, c->data);
		}
	}
}

int loop_inbox_create(struct loop_inbox **out, struct loop *loop, unsigned max_queued)
{
	struct loop_inbox *ib = calloc(1, sizeof *ib);
	if (!ib)
		return -ENOMEM;
	ib->loop = loop;
	ib->max_queued = max_queued ? max_queued : 1;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ib->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&ib->mu, NULL);
	ib->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ib->efd < 0 || (ib->watch = loop_watch(loop, ib->efd, on_ready, ib)) < 0) {
		int err = ib->efd < 0 ? -errno : ib->watch;
		if (ib->efd >= 0)
			close(ib->efd);
		pthread_cond_destroy(&ib->cv);
		pthread_mutex_destroy(&ib->mu);
		free(ib);
		return err;
	}
	*out = ib;
	return 0;
}

void loop_inbox_close(struct loop_inbox *ib)
{
	if (!ib)
		return;
	pthread_mutex_lock(&ib->mu);
	ib->closed = true;
	for (struct loop_call *c = ib->queue; c; c = c->next)
		settle(c, -ESHUTDOWN); /* freed by on_ready or destroy (the loop's reference) */
	for (struct loop_call *c = ib->running; c; c = c->next)
		settle(c, -ESHUTDOWN); /* the later answer only drops its reference */
	ib->running = NULL;
	pthread_mutex_unlock(&ib->mu);
}

void loop_inbox_destroy(struct loop_inbox *ib)
{
	if (!ib)
		return;
	loop_inbox_close(ib);
	loop_unwatch(ib->loop, ib->watch);
	pthread_mutex_lock(&ib->mu);
	while (ib->queue) {
		struct loop_call *c = ib->queue;
		ib->queue = c->next;
		unref(c);
	}
	pthread_mutex_unlock(&ib->mu);
	close(ib->efd);
	pthread_cond_destroy(&ib->cv);
	pthread_mutex_destroy(&ib->mu);
	free(ib);
}

int loop_call(struct loop_inbox *ib, loop_call_fn *fn, void *data, size_t len, unsigned timeout_ms)
{
	struct loop_call *c = calloc(1, sizeof *c + len);
	if (!c)
		return -ENOMEM;
	c->ib = ib;
	c->fn = fn;
	c->len = len;
	c->refs = 2;
	if (len)
		memcpy(c->data, data, len);
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ib->mu);
	if (ib->closed || ib->queued >= ib->max_queued) {
		int err = ib->closed ? -ESHUTDOWN : -EAGAIN;
		pthread_mutex_unlock(&ib->mu);
		free(c);
		return err;
	}
	/* append: the loop runs calls in arrival order */
	struct loop_call **pp = &ib->queue;
	while (*pp)
		pp = &(*pp)->next;
	*pp = c;
	ib->queued++;
	pthread_mutex_unlock(&ib->mu);
	uint64_t one = 1;
	if (write(ib->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_error("loop_call: eventfd write: %s", strerror(errno));
	pthread_mutex_lock(&ib->mu);
	int rc = 0;
	while (!c->answered && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&ib->cv, &ib->mu, &dl);
	int status;
	if (c->answered) {
		status = c->status;
		if (len && status != -ESHUTDOWN)
			memcpy(data, c->data, len);
	} else {
		/* the loop is late: this call is abandoned; if it has not run yet it never will */
		settle(c, -ETIMEDOUT);
		if (ib->running) /* running: its answer will find it settled and only unref */
			unlink_running(ib, c);
		status = -ETIMEDOUT;
	}
	unref(c);
	pthread_mutex_unlock(&ib->mu);
	return status;
}
