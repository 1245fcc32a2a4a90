/* Bounded send queue: a ring buffer that grows by doubling, up to a hard
 * maximum. Only what a socket did not accept lands here, so in the steady
 * state of a fast reader it stays empty and the buffer is never allocated. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "net/msrp_transport.h"

/* First allocation: big enough for a few responses and end-lines. */
#define SENDQ_MIN_CAP (16 * 1024)

void sendq_init(struct sendq *q, size_t max)
{
	memset(q, 0, sizeof *q);
	q->max = max;
}

void sendq_free(struct sendq *q)
{
	free(q->buf);
	memset(q, 0, sizeof *q);
}

/* Make room for `need` more bytes, keeping the queued bytes in order. */
static int sendq_reserve(struct sendq *q, size_t need)
{
	size_t want = q->len + need, ncap;
	char *nb;

	if (need > q->max || want > q->max)
		return -ENOBUFS;
	if (want <= q->cap)
		return 0;
	ncap = q->cap ? q->cap : SENDQ_MIN_CAP;
	while (ncap < want)
		ncap *= 2;
	if (ncap > q->max)
		ncap = q->max;
	nb = malloc(ncap);
	if (!nb)
		return -ENOMEM;
	if (q->len) {
		size_t first = q->cap - q->head;

		if (first > q->len)
			first = q->len;
		memcpy(nb, q->buf + q->head, first);
		memcpy(nb + first, q->buf, q->len - first);
	}
	free(q->buf);
	q->buf = nb;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

int sendq_append(struct sendq *q, const void *p, size_t n)
{
	size_t tail, first;
	int rc;

	if (n == 0)
		return 0;
	rc = sendq_reserve(q, n);
	if (rc)
		return rc;
	tail = q->head + q->len;
	if (tail >= q->cap)
		tail -= q->cap;
	first = q->cap - tail;
	if (first > n)
		first = n;
	memcpy(q->buf + tail, p, first);
	memcpy(q->buf, (const char *)p + first, n - first);
	q->len += n;
	return 0;
}

int sendq_iov(const struct sendq *q, struct iovec *iov)
{
	size_t first;

	if (q->len == 0)
		return 0;
	first = q->cap - q->head;
	if (first >= q->len) {
		iov[0].iov_base = q->buf + q->head;
		iov[0].iov_len = q->len;
		return 1;
	}
	iov[0].iov_base = q->buf + q->head;
	iov[0].iov_len = first;
	iov[1].iov_base = q->buf;
	iov[1].iov_len = q->len - first;
	return 2;
}

void sendq_consume(struct sendq *q, size_t n)
{
	if (n >= q->len) {
		q->len = 0;
		q->head = 0;
		return;
	}
	q->head += n;
	if (q->head >= q->cap)
		q->head -= q->cap;
	q->len -= n;
}

bool gather_ref(struct gather *g, const void *p, size_t n)
{
	if (g->n == GATHER_IOV)
		return false;
	g->iov[g->n].iov_base = (void *)p;
	g->iov[g->n].iov_len = n;
	g->n++;
	g->len += n;
	return true;
}

bool gather_copy(struct gather *g, const void *p, size_t n)
{
	char *dst = g->stage + g->slen;

	if (n > GATHER_STAGE - g->slen)
		return false;
	/* a copy right behind the previous one extends its piece */
	if (g->n && (char *)g->iov[g->n - 1].iov_base >= g->stage &&
	    (char *)g->iov[g->n - 1].iov_base + g->iov[g->n - 1].iov_len == dst) {
		memcpy(dst, p, n);
		g->iov[g->n - 1].iov_len += n;
		g->slen += n;
		g->len += n;
		return true;
	}
	if (g->n == GATHER_IOV)
		return false;
	memcpy(dst, p, n);
	g->slen += n;
	return gather_ref(g, dst, n);
}

int gather_spill(struct gather *g, size_t done, struct sendq *q)
{
	int rc = 0;

	for (int i = 0; i < g->n && !rc; i++) {
		size_t l = g->iov[i].iov_len;

		if (done >= l) {
			done -= l;
			continue;
		}
		rc = sendq_append(q, (const char *)g->iov[i].iov_base + done, l - done);
		done = 0;
	}
	gather_clear(g);
	return rc;
}
