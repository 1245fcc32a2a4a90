/* loop_call (src/net/loop_call.h): a thread's call runs on the loop thread and its answer (and
 * the data the loop wrote) comes back; a late answer after the caller's timeout is dropped;
 * close answers waiting callers -ESHUTDOWN; the queue bound answers -EAGAIN. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "net/loop.h"
#include "net/loop_call.h"
#include "unit.h"

static pthread_t loop_thread;
static struct loop_call *held; /* a call fn did not answer yet */

struct data {
	int x;
	int on_loop;
};

static void fn_answer(struct loop_call *c, void *d)
{
	struct data *v = d;
	v->x++;
	v->on_loop = pthread_equal(pthread_self(), loop_thread);
	loop_call_answer(c, 7);
}

static void fn_hold(struct loop_call *c, void *d)
{
	held = c;
}

struct caller {
	struct loop_inbox *ib;
	loop_call_fn *fn;
	unsigned timeout_ms;
	struct data d;
	int rc;
	atomic_int finished;
};

static void *call_thread(void *arg)
{
	struct caller *k = arg;
	k->rc = loop_call(k->ib, k->fn, &k->d, sizeof k->d, k->timeout_ms);
	atomic_store(&k->finished, 1);
	return NULL;
}

static void run_until(struct loop *l, atomic_int *flag)
{
	for (int i = 0; i < 500 && !atomic_load(flag); i++)
		loop_step(l, 10);
}

UNIT_TEST(t_call_runs_on_loop_and_answers)
{
	struct loop *l;
	struct loop_inbox *ib;
	pthread_t t;
	CHECK_EQ_INT(loop_create(&l), 0);
	loop_thread = pthread_self();
	CHECK_EQ_INT(loop_inbox_create(&ib, l, 4), 0);
	struct caller k = {.ib = ib, .fn = fn_answer, .timeout_ms = 5000, .d = {.x = 41}};
	pthread_create(&t, NULL, call_thread, &k);
	run_until(l, &k.finished);
	pthread_join(t, NULL);
	CHECK_EQ_INT(k.rc, 7);
	CHECK_EQ_INT(k.d.x, 42);
	CHECK_EQ_INT(k.d.on_loop, 1);
	loop_inbox_destroy(ib);
	loop_destroy(l);
}

UNIT_TEST(t_timeout_then_late_answer_is_dropped)
{
	struct loop *l;
	struct loop_inbox *ib;
	pthread_t t;
	CHECK_EQ_INT(loop_create(&l), 0);
	CHECK_EQ_INT(loop_inbox_create(&ib, l, 4), 0);
	held = NULL;
	struct caller k = {.ib = ib, .fn = fn_hold, .timeout_ms = 100, .d = {.x = 1}};
	pthread_create(&t, NULL, call_thread, &k);
	run_until(l, &k.finished);
	pthread_join(t, NULL);
	CHECK_EQ_INT(k.rc, -ETIMEDOUT);
	CHECK(held != NULL);
	loop_call_answer(held, 0); /* late: only frees the call */
	CHECK_EQ_INT(k.d.x, 1);
	loop_inbox_destroy(ib);
	loop_destroy(l);
}

UNIT_TEST(t_close_answers_waiting_callers)
{
	struct loop *l;
	struct loop_inbox *ib;
	pthread_t t;
	CHECK_EQ_INT(loop_create(&l), 0);
	CHECK_EQ_INT(loop_inbox_create(&ib, l, 4), 0);
	held = NULL;
	struct caller k = {.ib = ib, .fn = fn_hold, .timeout_ms = 10000};
	pthread_create(&t, NULL, call_thread, &k);
	for (int i = 0; i < 500 && !held; i++)
		loop_step(l, 10);
	CHECK(held != NULL);
	loop_inbox_close(ib);
	pthread_join(t, NULL);
	CHECK_EQ_INT(k.rc, -ESHUTDOWN);
	struct data d = {0};
	CHECK_EQ_INT(loop_call(ib, fn_answer, &d, sizeof d, 100), -ESHUTDOWN);
	loop_call_answer(held, 0); /* the owner's answer after close: dropped */
	loop_inbox_destroy(ib);
	loop_destroy(l);
}

UNIT_TEST(t_queue_bound)
{
	struct loop *l;
	struct loop_inbox *ib;
	pthread_t t;
	CHECK_EQ_INT(loop_create(&l), 0);
	CHECK_EQ_INT(loop_inbox_create(&ib, l, 1), 0);
	/* the loop does not run: the first call waits in the queue, the second finds it full */
	struct caller k = {.ib = ib, .fn = fn_answer, .timeout_ms = 300};
	pthread_create(&t, NULL, call_thread, &k);
	usleep(50000);
	struct data d = {0};
	CHECK_EQ_INT(loop_call(ib, fn_answer, &d, sizeof d, 100), -EAGAIN);
	pthread_join(t, NULL);
	CHECK_EQ_INT(k.rc, -ETIMEDOUT);
	loop_step(l, 10); /* the abandoned call is dropped, not run */
	loop_inbox_destroy(ib);
	loop_destroy(l);
}

UNIT_MAIN(T(t_call_runs_on_loop_and_answers), T(t_timeout_then_late_answer_is_dropped),
	  T(t_close_answers_waiting_callers), T(t_queue_bound))
