/* loop over sofia-sip's su_root (see loop.h for why there is one loop). */
#include "net/loop.h"

#include <errno.h>
#include <stdlib.h>

#include <sofia-sip/su_wait.h>

#include "net/loop_su.h"

struct loop_watch_ctx {
	struct loop_watch_ctx *next;
	int id;
	loop_fd_fn *fn;
	void *arg;
};

struct loop {
	su_root_t *root;
	struct loop_watch_ctx *watches; /* few (store completions, signals): a list */
};

struct loop_timer {
	su_timer_t *t;
	loop_timer_fn *fn;
	void *arg;
};

int loop_create(struct loop **lp)
{
	struct loop *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	if (su_init() != 0) {
		free(l);
		return -EIO;
	}
	l->root = su_root_create(l);
	if (!l->root) {
		su_deinit();
		free(l);
		return -ENOMEM;
	}
	/* The stack runs in this thread: every callback of ours runs here. */
	su_root_threading(l->root, 0);
	*lp = l;
	return 0;
}

void loop_destroy(struct loop *l)
{
	if (!l)
		return;
	while (l->watches)
		loop_unwatch(l, l->watches->id);
	su_root_destroy(l->root);
	su_deinit();
	free(l);
}

su_root_t *loop_su_root(struct loop *l)
{
	return l->root;
}

void loop_run(struct loop *l)
{
	su_root_run(l->root);
}

void loop_break(struct loop *l)
{
	su_root_break(l->root);
}

void loop_step(struct loop *l, unsigned ms)
{
	su_root_step(l->root, ms);
}

static void timer_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct loop_timer *lt = arg;
	lt->fn(lt->arg);
}

static struct loop_timer *timer_start(struct loop *l, unsigned ms, loop_timer_fn *fn, void *arg, bool every)
{
	struct loop_timer *lt = calloc(1, sizeof *lt);
	if (!lt)
		return NULL;
	lt->fn = fn;
	lt->arg = arg;
	/* sofia asserts a positive duration (su_timer_queue): 0 ("the next turn") is 1 ms */
	lt->t = su_timer_create(su_root_task(l->root), ms ? ms : 1);
	if (!lt->t || (every ? su_timer_set_for_ever(lt->t, timer_cb, lt) : su_timer_set(lt->t, timer_cb, lt)) < 0) {
		if (lt->t)
			su_timer_destroy(lt->t);
		free(lt);
		return NULL;
	}
	return lt;
}

struct loop_timer *loop_timer_once(struct loop *l, unsigned ms, loop_timer_fn *fn, void *arg)
{
	return timer_start(l, ms, fn, arg, false);
}

struct loop_timer *loop_timer_every(struct loop *l, unsigned ms, loop_timer_fn *fn, void *arg)
{
	return timer_start(l, ms, fn, arg, true);
}

void loop_timer_stop(struct loop_timer *t)
{
	if (!t)
		return;
	su_timer_destroy(t->t);
	free(t);
}

static int watch_cb(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct loop_watch_ctx *c = (struct loop_watch_ctx *)arg;
	c->fn(c->arg);
	return 0;
}

int loop_watch(struct loop *l, int fd, loop_fd_fn *fn, void *arg)
{
	struct loop_watch_ctx *c = calloc(1, sizeof *c);
	su_wait_t w;
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->arg = arg;
	if (su_wait_create(&w, fd, SU_WAIT_IN)) {
		free(c);
		return -EIO;
	}
	int id = su_root_register(l->root, &w, watch_cb, (su_wakeup_arg_t *)c, 0);
	if (id <= 0) {
		su_wait_destroy(&w);
		free(c);
		return -EIO;
	}
	c->id = id;
	c->next = l->watches;
	l->watches = c;
	return id;
}

void loop_unwatch(struct loop *l, int id)
{
	for (struct loop_watch_ctx **pp = &l->watches; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			struct loop_watch_ctx *c = *pp;
			*pp = c->next;
			su_root_deregister(l->root, id);
			free(c);
			return;
		}
}
