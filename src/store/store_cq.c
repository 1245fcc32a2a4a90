/* Completion queue: the store's worker threads hand finished requests to the loop thread
 * through a mailbox (net/mailbox.h) the loop watches; their done callbacks run there. */
#include "store/store_backend.h"

#include <errno.h>
#include <stdlib.h>

#include "net/loop.h"

struct store_cq {
	struct loop *loop;
	int watch; /* loop_watch id, 0: none */
	struct mailbox mb;
};

static void cq_io(void *arg)
{
	struct store_cq *cq = arg;

	mailbox_ack(&cq->mb);
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
	if ((err = mailbox_init(&cq->mb, "store", 0))) {
		free(cq);
		return err;
	}
	err = loop_watch(loop, mailbox_fd(&cq->mb), cq_io, cq);
	if (err < 0) {
		mailbox_fini(&cq->mb);
		free(cq);
		return err;
	}
	cq->watch = err;
	*out = cq;
	return 0;
}

void store_cq_post(struct store_cq *cq, struct store_op *head, struct store_op *tail)
{
	if (!head)
		return;
	/* the batch is linked by next (the writer's order); the mailbox links by done_link */
	for (struct store_op *op = head; op != tail; op = op->next)
		op->done_link.next = &op->next->done_link;
	mailbox_put_chain(&cq->mb, &head->done_link, &tail->done_link);
}

void store_cq_run(struct store_cq *cq)
{
	struct mailbox_node *n = mailbox_take_all(&cq->mb), *next;

	for (; n; n = next) {
		struct store_op *op = MAILBOX_ENTRY(n, struct store_op, done_link);
		next = n->next;
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
	mailbox_fini(&cq->mb);
	free(cq);
}
