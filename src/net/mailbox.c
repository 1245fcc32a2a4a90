/* mailbox.h: a mutex-guarded intrusive FIFO and an eventfd. */
#include "net/mailbox.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"

int mailbox_init(struct mailbox *mb, const char *name, unsigned max)
{
	memset(mb, 0, sizeof *mb);
	mb->name = name ? name : "mailbox";
	mb->max = max;
	mb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mb->efd < 0)
		return -errno;
	pthread_mutex_init(&mb->mu, NULL);
	return 0;
}

void mailbox_fini(struct mailbox *mb)
{
	if (mb->efd < 0)
		return;
	close(mb->efd);
	mb->efd = -1;
	pthread_mutex_destroy(&mb->mu);
}

int mailbox_fd(const struct mailbox *mb) { return mb->efd; }

static void wake(struct mailbox *mb)
{
	uint64_t one = 1;
	/* fails only if the counter would pass 2^64-2 unread posts: the owner reads it at every
	 * wake-up, so it cannot */
	if (write(mb->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_error("%s: eventfd write: %s", mb->name, strerror(errno));
}

static void append(struct mailbox *mb, struct mailbox_node *first, struct mailbox_node *last, unsigned n)
{
	last->next = NULL;
	if (mb->tail)
		mb->tail->next = first;
	else
		mb->head = first;
	mb->tail = last;
	mb->count += n;
}

int mailbox_put(struct mailbox *mb, struct mailbox_node *n)
{
	pthread_mutex_lock(&mb->mu);
	int err = mb->closed ? -ESHUTDOWN : mb->max && mb->count >= mb->max ? -EAGAIN : 0;
	if (!err)
		append(mb, n, n, 1);
	pthread_mutex_unlock(&mb->mu);
	if (!err)
		wake(mb);
	return err;
}

void mailbox_put_chain(struct mailbox *mb, struct mailbox_node *first, struct mailbox_node *last)
{
	unsigned n = 1;
	if (!first)
		return;
	for (struct mailbox_node *p = first; p != last; p = p->next)
		n++;
	pthread_mutex_lock(&mb->mu);
	append(mb, first, last, n);
	pthread_mutex_unlock(&mb->mu);
	wake(mb);
}

void mailbox_close(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->mu);
	mb->closed = true;
	pthread_mutex_unlock(&mb->mu);
}

void mailbox_ack(struct mailbox *mb)
{
	uint64_t v;
	if (read(mb->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("%s: eventfd read: %s", mb->name, strerror(errno));
}

struct mailbox_node *mailbox_take(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->mu);
	struct mailbox_node *n = mb->head;
	if (n) {
		mb->head = n->next;
		if (!mb->head)
			mb->tail = NULL;
		mb->count--;
		n->next = NULL;
	}
	pthread_mutex_unlock(&mb->mu);
	return n;
}

struct mailbox_node *mailbox_take_all(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->mu);
	struct mailbox_node *n = mb->head;
	mb->head = mb->tail = NULL;
	mb->count = 0;
	pthread_mutex_unlock(&mb->mu);
	return n;
}

struct mailbox_node *mailbox_take_match(struct mailbox *mb, mailbox_match_fn *match, const void *key)
{
	struct mailbox_node **pp, *n, *prev = NULL;
	pthread_mutex_lock(&mb->mu);
	for (pp = &mb->head; (n = *pp); prev = n, pp = &n->next)
		if (match(n, key)) {
			*pp = n->next;
			if (mb->tail == n)
				mb->tail = prev;
			mb->count--;
			n->next = NULL;
			break;
		}
	pthread_mutex_unlock(&mb->mu);
	return n;
}
