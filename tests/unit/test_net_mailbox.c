/* mailbox (src/net/mailbox.h): four producer threads post to a loop that takes as it is woken;
 * every node arrives exactly once, each producer's in its order; the bound answers -EAGAIN,
 * a closed mailbox -ESHUTDOWN; take_match unlinks the oldest match (head, middle, tail), and
 * a chain is appended at once. Runs under ThreadSanitizer too (scripts/test.sh). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "net/loop.h"
#include "net/mailbox.h"
#include "unit.h"

#define PRODUCERS 4
#define PER_PRODUCER 20000

struct msg {
	struct mailbox_node link;
	int producer, seq;
};

struct ctx {
	struct mailbox mb;
	struct loop *loop;
	int next[PRODUCERS]; /* the seq each producer's next message must have */
	int got, out_of_order, wakeups;
	struct msg *msgs[PRODUCERS];
};

struct producer {
	struct ctx *c;
	int index;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	for (int i = 0; i < PER_PRODUCER; i++) {
		struct msg *m = &p->c->msgs[p->index][i];
		m->producer = p->index;
		m->seq = i;
		if (mailbox_put(&p->c->mb, &m->link))
			abort(); /* unbounded, open: cannot fail */
	}
	return NULL;
}

static void on_mail(void *arg)
{
	struct ctx *c = arg;
	c->wakeups++;
	mailbox_ack(&c->mb);
	for (struct mailbox_node *n = mailbox_take_all(&c->mb), *next; n; n = next) {
		struct msg *m = MAILBOX_ENTRY(n, struct msg, link);
		next = n->next;
		if (m->seq != c->next[m->producer])
			c->out_of_order++;
		c->next[m->producer] = m->seq + 1;
		c->got++;
	}
}

UNIT_TEST(t_producers_to_loop)
{
	struct ctx c = {0};
	pthread_t t[PRODUCERS];
	struct producer p[PRODUCERS];

	CHECK_EQ_INT(loop_create(&c.loop), 0);
	CHECK_EQ_INT(mailbox_init(&c.mb, "test", 0), 0);
	int w = loop_watch(c.loop, mailbox_fd(&c.mb), on_mail, &c);
	CHECK(w > 0);
	for (int i = 0; i < PRODUCERS; i++) {
		c.msgs[i] = calloc(PER_PRODUCER, sizeof *c.msgs[i]);
		p[i] = (struct producer){.c = &c, .index = i};
		CHECK_EQ_INT(pthread_create(&t[i], NULL, produce, &p[i]), 0);
	}
	for (int turns = 0; c.got < PRODUCERS * PER_PRODUCER && turns < 100000; turns++)
		loop_step(c.loop, 10);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_INT(c.got, PRODUCERS * PER_PRODUCER);
	CHECK_EQ_INT(c.out_of_order, 0);
	CHECK(c.wakeups >= 1);
	CHECK(mailbox_take_all(&c.mb) == NULL);
	loop_unwatch(c.loop, w);
	mailbox_fini(&c.mb);
	loop_destroy(c.loop);
	for (int i = 0; i < PRODUCERS; i++)
		free(c.msgs[i]);
}

static bool seq_is(const struct mailbox_node *n, const void *key)
{
	return MAILBOX_ENTRY(n, const struct msg, link)->seq == *(const int *)key;
}

UNIT_TEST(t_bound_close_match_chain)
{
	struct mailbox mb;
	struct msg m[6] = {{.seq = 0}, {.seq = 1}, {.seq = 2}, {.seq = 3}, {.seq = 4}, {.seq = 5}};
	int k;

	CHECK_EQ_INT(mailbox_init(&mb, "test", 3), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(mailbox_put(&mb, &m[i].link), 0);
	CHECK_EQ_INT(mailbox_put(&mb, &m[3].link), -EAGAIN);
	k = 1; /* middle */
	CHECK(mailbox_take_match(&mb, seq_is, &k) == &m[1].link);
	k = 2; /* tail: a put after it must link behind m[0] */
	CHECK(mailbox_take_match(&mb, seq_is, &k) == &m[2].link);
	k = 9;
	CHECK(mailbox_take_match(&mb, seq_is, &k) == NULL);
	CHECK_EQ_INT(mailbox_put(&mb, &m[3].link), 0);
	/* a chain of two, appended at once (the store's batches) */
	m[4].link.next = &m[5].link;
	mailbox_put_chain(&mb, &m[4].link, &m[5].link);
	k = 0; /* head */
	CHECK(mailbox_take_match(&mb, seq_is, &k) == &m[0].link);
	CHECK(mailbox_take(&mb) == &m[3].link);
	struct mailbox_node *all = mailbox_take_all(&mb);
	CHECK(all == &m[4].link && all->next == &m[5].link && m[5].link.next == NULL);
	CHECK(mailbox_take(&mb) == NULL);
	mailbox_close(&mb);
	CHECK_EQ_INT(mailbox_put(&mb, &m[0].link), -ESHUTDOWN);
	mailbox_fini(&mb);
}

UNIT_MAIN(T(t_producers_to_loop), T(t_bound_close_match_chain))
