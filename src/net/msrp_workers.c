/* Issue 12: more than one core for many transfers. The worker loops of the MSRP hub, the
 * mailboxes between threads, and the hand-off of a connection to the loop that owns its
 * session (net/msrp_transport.h "threads"; docs/ARCHITECTURE.md "Threads").
 *
 * Why this shape: a relay's per-chunk work (parse, re-frame, tee, hash, send) must never
 * cross threads or take a lock, so each relay lives wholly on one loop with both its
 * connections. Only the edges cross: pf's calls into a relay (hub_call: a closure run on the
 * owner loop while pf waits, a few per transfer), the relay's done/event back to pf
 * (hub_post to the main loop), and the one moment a connection accepted by the main hub's
 * listener turns out to belong to a worker's session (hub_handoff: fd, SSL*, unread bytes).
 * The session-id's first character names the hub, so no thread consults a shared registry.
 *
 * A hub's mailbox is net/mailbox.h's (an eventfd its loop watches, a list under a mutex). The
 * owner takes one job at a time (mailbox_take): a job may purge later jobs of the same key
 * (ft_relay_destroy run by a done() callback), and those must not be in a private batch. A
 * synchronous job's caller waits on the hub mailbox's own condition variable. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "net/msrp_hub_priv.h"

struct hub_mbox {
	struct mailbox mb;
	int widx;
	pthread_mutex_t mu; /* the done flags of synchronous jobs */
	pthread_cond_t cv;  /* a synchronous job is done */
};

struct wthread {
	struct hub_workers *ws;
	unsigned index;
	pthread_t tid;
	bool started;
	struct hub_job stop; /* posted, not called: the worker frees its mailbox on the way out */
	su_root_t *root;
	struct msrp_hub *hub;
};

struct hub_workers {
	struct msrp_hub *main;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a worker is up (or failed) */
	unsigned up;
	int failed;
	unsigned n;
	struct wthread t[];
};

static const char marks[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

char hub_index_mark(unsigned index) { return marks[index % (sizeof marks - 1)]; }

int hub_mark_index(char c)
{
	const char *p = c ? strchr(marks, c) : NULL;
	return p ? (int)(p - marks) : -1;
}

bool hub_is_mine(const struct msrp_hub *h) { return !h->main->workers || pthread_equal(pthread_self(), h->owner); }
struct msrp_hub *hub_main_of(struct msrp_hub *h) { return h->main; }
unsigned hub_worker_count(const struct msrp_hub *h) { return h->workers ? h->workers->n : 0; }
struct msrp_hub *hub_worker(const struct msrp_hub *h, unsigned k) { return h->workers->t[k - 1].hub; }

/* ---------------------------------------------------------------- mailboxes */

static struct hub_job *job_of(struct mailbox_node *n) { return n ? MAILBOX_ENTRY(n, struct hub_job, link) : NULL; }

static int mbox_cb(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct hub_mbox *mb = ((struct msrp_hub *)arg)->mbox;
	struct hub_job *j;

	mailbox_ack(&mb->mb);
	while ((j = job_of(mailbox_take(&mb->mb)))) {
		bool sync = j->sync; /* an async job is freed by its fn */

		j->fn(j, true);
		if (sync) {
			pthread_mutex_lock(&mb->mu);
			j->done = true;
			pthread_cond_broadcast(&mb->cv);
			pthread_mutex_unlock(&mb->mu);
		}
	}
	return 0;
}

int hub_mbox_open(struct msrp_hub *h)
{
	struct hub_mbox *mb = calloc(1, sizeof *mb);
	su_wait_t w;

	if (!mb)
		return -ENOMEM;
	if (mailbox_init(&mb->mb, "msrp hub mailbox", 0)) {
		free(mb);
		return -ENOMEM;
	}
	if (su_wait_create(&w, mailbox_fd(&mb->mb), SU_WAIT_IN)) {
		mailbox_fini(&mb->mb);
		free(mb);
		return -ENOMEM;
	}
	mb->widx = su_root_register(h->root, &w, mbox_cb, h, 0);
	if (mb->widx <= 0) {
		su_wait_destroy(&w);
		mailbox_fini(&mb->mb);
		free(mb);
		return -EIO;
	}
	pthread_mutex_init(&mb->mu, NULL);
	pthread_cond_init(&mb->cv, NULL);
	h->mbox = mb;
	return 0;
}

void hub_mbox_close(struct msrp_hub *h)
{
	struct hub_mbox *mb = h->mbox;
	struct hub_job *j;

	if (!mb)
		return;
	su_root_deregister(h->root, mb->widx);
	while ((j = job_of(mailbox_take(&mb->mb))))
		j->fn(j, false);
	mailbox_fini(&mb->mb);
	pthread_mutex_destroy(&mb->mu);
	pthread_cond_destroy(&mb->cv);
	free(mb);
	h->mbox = NULL;
}

void hub_post(struct msrp_hub *h, struct hub_job *j)
{
	j->sync = false;
	mailbox_put(&h->mbox->mb, &j->link); /* unbounded, never closed: cannot fail */
}

void hub_call(struct msrp_hub *h, struct hub_job *j)
{
	struct hub_mbox *mb = h->mbox;

	if (hub_is_mine(h)) {
		j->fn(j, true);
		return;
	}
	j->sync = true;
	j->done = false;
	mailbox_put(&mb->mb, &j->link);
	pthread_mutex_lock(&mb->mu);
	while (!j->done)
		pthread_cond_wait(&mb->cv, &mb->mu);
	pthread_mutex_unlock(&mb->mu);
}

static bool job_has_key(const struct mailbox_node *n, const void *key)
{
	return MAILBOX_ENTRY(n, const struct hub_job, link)->key == key;
}

struct hub_job *hub_take(struct msrp_hub *h, const void *key)
{
	return h->mbox ? job_of(mailbox_take_match(&h->mbox->mb, job_has_key, key)) : NULL;
}

void hub_purge(struct msrp_hub *h, const void *key)
{
	struct hub_job *j;

	while ((j = hub_take(h, key)))
		j->fn(j, false);
}

/* ---------------------------------------------------------------- placement */

struct msrp_hub *hub_pick(struct msrp_hub *h, uint64_t size)
{
	struct msrp_hub *best = h;

	if (!h->workers || size < HUB_WORKER_MIN_SIZE)
		return h;
	for (unsigned k = 0; k < h->workers->n; k++) {
		struct msrp_hub *w = h->workers->t[k].hub;

		if (best == h || w->load < best->load)
			best = w;
	}
	return best;
}

void hub_load(struct msrp_hub *h, int delta) { h->load = (unsigned)((int)h->load + delta); }

/* ---------------------------------------------------------------- hand-off */

struct handoff {
	struct hub_job job; /* first: the job is the hand-off */
	struct msrp_hub *to;
	int fd;
	SSL *ssl;
	bool tls_want_read;
	char peer[64];
	unsigned char addr[16];
	unsigned char addr_len;
	size_t n;
	char bytes[]; /* from the start of the first request */
};

/* On the target's thread: the connection as if it had been accepted here with these bytes
 * read; conn_run (from hub_leave) parses them from the request's start and binds. */
static void adopt(struct hub_job *j, bool run)
{
	struct handoff *ho = (struct handoff *)j;
	struct msrp_hub *h = ho->to;
	struct msrp_conn *c;

	if (run) {
		hub_enter(h);
		if (conn_create(h, ho->fd, ho->peer, &c) == 0) {
			memcpy(c->addr, ho->addr, sizeof c->addr);
			c->addr_len = ho->addr_len;
			c->ssl = ho->ssl;
			c->tls_want_read = ho->tls_want_read;
			memcpy(c->rbuf, ho->bytes, ho->n);
			c->roff = 0;
			c->rlen = ho->n;
			hub_conn_runnable(h, c);
			ho->fd = -1;
			ho->ssl = NULL;
		} else {
			msrp_log("%s: hand-off to worker %u: out of memory", ho->peer, h->index);
		}
		hub_leave(h);
	}
	if (ho->ssl)
		SSL_free(ho->ssl);
	if (ho->fd >= 0)
		close(ho->fd);
	free(ho);
}

bool hub_handoff(struct msrp_conn *c, const char *id, size_t id_len, size_t off)
{
	struct msrp_hub *h = c->hub;
	int k = id_len == MSRP_SESSION_ID_LEN ? hub_mark_index(id[0]) : -1;
	struct handoff *ho;

	if (!h->workers || k < 1 || (unsigned)k > h->workers->n)
		return false;
	/* Only a connection with nothing of ours in flight moves (an earlier request's answer
	 * would be lost), and only from a message start the parser saw. */
	if (off > c->rlen || c->rlen - off < 5 || memcmp(c->rbuf + off, "MSRP ", 5) || sendq_len(&c->q) ||
	    c->g.len)
		return false;
	ho = malloc(sizeof *ho + (c->rlen - off));
	if (!ho)
		return false;
	memset(ho, 0, sizeof *ho);
	ho->job.fn = adopt;
	ho->to = h->workers->t[k - 1].hub;
	ho->fd = c->fd;
	ho->ssl = c->ssl;
	ho->tls_want_read = c->tls_want_read;
	memcpy(ho->peer, c->peer, sizeof ho->peer);
	memcpy(ho->addr, c->addr, sizeof ho->addr);
	ho->addr_len = c->addr_len;
	ho->n = c->rlen - off;
	memcpy(ho->bytes, c->rbuf + off, ho->n);
	/* closed here without closing the socket or freeing the TLS state: they moved */
	su_root_deregister(hub_root(h), c->widx);
	c->fd = -1;
	c->ssl = NULL;
	c->state = CONN_CLOSED;
	hub_conn_gone(h, c);
	msrp_log("%s: session %.*s is on worker %d: connection handed over", ho->peer, (int)id_len, id, k);
	hub_post(ho->to, &ho->job);
	return true;
}

/* ---------------------------------------------------------------- worker threads */

static void *worker_main(void *arg)
{
	struct wthread *t = arg;
	struct hub_workers *ws = t->ws;
	int rc = -ENOMEM;

	t->root = su_root_create(NULL);
	if (t->root)
		rc = hub_create_worker(&t->hub, t->root, ws->main, t->index);
	pthread_mutex_lock(&ws->mu);
	if (rc)
		ws->failed = rc;
	ws->up++;
	pthread_cond_broadcast(&ws->cv);
	pthread_mutex_unlock(&ws->mu);
	if (rc) {
		if (t->root)
			su_root_destroy(t->root);
		return NULL;
	}
	su_root_run(t->root);
	msrp_hub_destroy(t->hub);
	su_root_destroy(t->root);
	return NULL;
}

static void stop_fn(struct hub_job *j, bool run)
{
	if (run)
		su_root_break(((struct wthread *)(void *)j->key)->root);
}

void hub_workers_stop(struct msrp_hub *h)
{
	struct hub_workers *ws = h->workers;

	if (!ws)
		return;
	for (unsigned k = 0; k < ws->n; k++) {
		struct wthread *t = &ws->t[k];

		if (!t->started)
			continue;
		/* Not hub_call: its caller relocks the mailbox's mutex after the job ran, and the
		 * stopping worker destroys that mailbox. */
		t->stop = (struct hub_job){.fn = stop_fn, .key = t};
		if (t->hub)
			hub_post(t->hub, &t->stop);
		pthread_join(t->tid, NULL);
	}
	pthread_mutex_destroy(&ws->mu);
	pthread_cond_destroy(&ws->cv);
	free(ws);
	h->workers = NULL;
}

int msrp_hub_start_workers(struct msrp_hub *h, unsigned n)
{
	struct hub_workers *ws;
	int rc;

	if (n <= 1)
		return 0;
	if (n > MSRP_MAX_WORKERS || h->workers || h->main != h)
		return -EINVAL;
	ws = calloc(1, sizeof *ws + n * sizeof ws->t[0]);
	if (!ws)
		return -ENOMEM;
	ws->main = h;
	ws->n = n;
	pthread_mutex_init(&ws->mu, NULL);
	pthread_cond_init(&ws->cv, NULL);
	rc = hub_mbox_open(h); /* the workers' done/event callbacks come back through it */
	if (rc) {
		free(ws);
		return rc;
	}
	h->workers = ws; /* before any thread runs: hub_is_mine reads it */
	for (unsigned k = 0; k < n; k++) {
		ws->t[k].ws = ws;
		ws->t[k].index = k + 1;
		/* signals stay with the main loop (its signalfd): the workers block them all */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		int prc = pthread_create(&ws->t[k].tid, NULL, worker_main, &ws->t[k]);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (prc != 0) {
			ws->failed = -EAGAIN;
			break;
		}
		ws->t[k].started = true;
		pthread_mutex_lock(&ws->mu);
		while (ws->up < k + 1)
			pthread_cond_wait(&ws->cv, &ws->mu);
		pthread_mutex_unlock(&ws->mu);
		if (ws->failed)
			break;
	}
	if (ws->failed) {
		rc = ws->failed;
		hub_workers_stop(h);
		return rc;
	}
	msrp_log("%u worker loops for the relays of transfers of %u bytes or more", n, HUB_WORKER_MIN_SIZE);
	return 0;
}
