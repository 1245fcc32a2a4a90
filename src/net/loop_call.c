/* loop_call.h: the calls cross to the loop in a mailbox (net/mailbox.h, bounded: -EAGAIN past
 * max_queued); their states (answered, status, references) are under the inbox's own mutex,
 * with one condition variable the callers wait on (with a monotonic deadline). A call has two
 * references: its caller's (until it returns) and the loop's (until the answer). Lock order:
 * the inbox's mutex, then the mailbox's (mailbox calls under mu take only the latter). */
#include "net/loop_call.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/loop.h"
#include "net/mailbox.h"

struct loop_call {
	struct mailbox_node link; /* queued (in the mailbox) */
	struct loop_call *next;   /* in progress (running) */
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
	int watch;
	struct mailbox calls; /* waiting for the loop */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: */
	struct loop_call *running; /* given to fn, not answered */
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
	mailbox_ack(&ib->calls);
	/* oldest first: the mailbox keeps arrival order */
	struct mailbox_node *n = mailbox_take_all(&ib->calls), *next;
	for (; n; n = next) {
		struct loop_call *c = MAILBOX_ENTRY(n, struct loop_call, link);
		next = n->next;
		pthread_mutex_lock(&ib->mu);
		bool gone = c->answered; /* closed meanwhile, or the caller timed out: not run */
		if (gone)
			unref(c);
		else {
			c->next = ib->running;
			ib->running = c;
		}
		pthread_mutex_unlock(&ib->mu);
		if (!gone)
			c->fn(c, c->data);
	}
}

int loop_inbox_create(struct loop_inbox **out, struct loop *loop, unsigned max_queued)
{
	struct loop_inbox *ib = calloc(1, sizeof *ib);
	if (!ib)
		return -ENOMEM;
	ib->loop = loop;
	int err = mailbox_init(&ib->calls, "loop_call", max_queued ? max_queued : 1);
	if (err) {
		free(ib);
		return err;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ib->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&ib->mu, NULL);
	if ((ib->watch = loop_watch(loop, mailbox_fd(&ib->calls), on_ready, ib)) < 0) {
		err = ib->watch;
		mailbox_fini(&ib->calls);
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
	mailbox_close(&ib->calls); /* later calls: -ESHUTDOWN */
	/* the queued ones will never run: answered here, and the loop's reference dropped */
	struct mailbox_node *n = mailbox_take_all(&ib->calls), *next;
	for (; n; n = next) {
		struct loop_call *c = MAILBOX_ENTRY(n, struct loop_call, link);
		next = n->next;
		if (!c->answered)
			settle(c, -ESHUTDOWN);
		unref(c);
	}
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
	mailbox_fini(&ib->calls); /* empty: close took what was queued, later calls were refused */
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
	int err = mailbox_put(&ib->calls, &c->link); /* -ESHUTDOWN once closed, -EAGAIN when full */
	if (err) {
		free(c);
		return err;
	}
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
