/* workq (src/net/workq.h): jobs run on worker threads, each done runs once on the loop thread,
 * the queue bound answers -EAGAIN, and destroy finishes what runs and cancels what waits. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "net/loop.h"
#include "net/workq.h"
#include "unit.h"

struct job {
	pthread_t loop_thread, work_thread, done_thread;
	unsigned sleep_ms;
	int done_err;
	int dones;
	atomic_int *running;
	atomic_int *max_running;
};

static void work(void *arg)
{
	struct job *j = arg;
	j->work_thread = pthread_self();
	int now = atomic_fetch_add(j->running, 1) + 1;
	int seen = atomic_load(j->max_running);
	while (now > seen && !atomic_compare_exchange_weak(j->max_running, &seen, now))
		;
	usleep(j->sleep_ms * 1000);
	atomic_fetch_sub(j->running, 1);
}

static void done(void *arg, int err)
{
	struct job *j = arg;
	j->done_thread = pthread_self();
	j->done_err = err;
	j->dones++;
}

static int all_done(struct job *js, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!js[i].dones)
			return 0;
	return 1;
}

UNIT_TEST(t_runs_off_loop_and_completes_on_it)
{
	struct loop *l;
	struct workq *q;
	atomic_int running = 0, max_running = 0;
	struct job js[8] = {0};

	CHECK_EQ_INT(loop_create(&l), 0);
	CHECK_EQ_INT(workq_create(&q, l, "test", 2, 16), 0);
	for (unsigned i = 0; i < 8; i++) {
		js[i] = (struct job){.sleep_ms = 20, .running = &running, .max_running = &max_running};
		CHECK_EQ_INT(workq_submit(q, work, done, &js[i]), 0);
	}
	CHECK_EQ_INT(workq_pending(q), 8);
	for (int t = 0; t < 500 && !all_done(js, 8); t++)
		loop_step(l, 10);
	CHECK(all_done(js, 8));
	CHECK_EQ_INT(workq_pending(q), 0);
	for (unsigned i = 0; i < 8; i++) {
		CHECK_EQ_INT(js[i].dones, 1);
		CHECK_EQ_INT(js[i].done_err, 0);
		CHECK(pthread_equal(js[i].done_thread, pthread_self()));  /* done: the loop thread */
		CHECK(!pthread_equal(js[i].work_thread, pthread_self())); /* work: a worker */
	}
	CHECK_EQ_INT(atomic_load(&max_running), 2); /* both threads worked at once */
	workq_destroy(q);
	loop_destroy(l);
}

UNIT_TEST(t_bound_and_destroy)
{
	struct loop *l;
	struct workq *q;
	atomic_int running = 0, max_running = 0;
	struct job js[4] = {0}, extra = {0};

	CHECK_EQ_INT(loop_create(&l), 0);
	CHECK_EQ_INT(workq_create(&q, l, "test", 1, 3), 0);
	for (unsigned i = 0; i < 4; i++) {
		js[i] = (struct job){.sleep_ms = 100, .running = &running, .max_running = &max_running};
		CHECK_EQ_INT(workq_submit(q, work, done, &js[i]), 0);
		if (i == 0)
			while (!atomic_load(&running)) /* the first one is taken: 3 may wait */
				usleep(1000);
	}
	extra = (struct job){.running = &running, .max_running = &max_running};
	CHECK_EQ_INT(workq_submit(q, work, done, &extra), -EAGAIN);
	workq_destroy(q); /* the running one finishes; three never start */
	CHECK_EQ_INT(js[0].dones, 1);
	CHECK_EQ_INT(js[0].done_err, 0);
	for (unsigned i = 1; i < 4; i++) {
		CHECK_EQ_INT(js[i].dones, 1);
		CHECK_EQ_INT(js[i].done_err, -ECANCELED);
	}
	CHECK_EQ_INT(extra.dones, 0);
	CHECK_EQ_INT(workq_create(&q, l, "test", 0, 3), -EINVAL);
	loop_destroy(l);
}

UNIT_MAIN(T(t_runs_off_loop_and_completes_on_it), T(t_bound_and_destroy))
