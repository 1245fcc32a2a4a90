/* The MSRP hub: the listening socket, the session table, the timeout lists
 * of connections that are not (or no longer) bound, and the work queues that
 * keep callbacks from re-entering each other (see net/msrp_transport.h).
 *
 * Timeouts of unbound and draining connections use two FIFO lists: every
 * entry of one list has the same delay, so the list is ordered by deadline
 * and the hub timer only ever looks at the heads. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/msrp_tls.h"
#include "common/str_hash.h"
#include "net/msrp_transport.h"

#include "net/msrp_hub_priv.h"

/* ---------------------------------------------------------------- misc */

su_root_t *hub_root(struct msrp_hub *h) { return h->root; }
const char *hub_advertise(const struct msrp_hub *h) { return h->advertise; }
int hub_session_uri(struct msrp_hub *h, struct msrp_session *s, bool secure, char *uri, size_t cap)
{
	char id[MSRP_SESSION_ID_LEN + 1];
	uint16_t tls = msrp_hub_tls_port(h);

	memcpy(id, s->id, sizeof id); /* (gcc's -Wrestrict cannot tell the two apart) */
	s->secure = secure && tls;
	snprintf(uri, cap, "%s://%s:%u/%s;tcp", s->secure ? "msrps" : "msrp", h->advertise, s->secure ? tls : h->port,
		 id);
	return secure && !tls ? -ENOTSUP : 0;
}

uint16_t msrp_hub_tls_port(const struct msrp_hub *h) { return h->tls ? hub_tls_port(h->tls) : 0; }
struct hub_tls *hub_tls_of(struct msrp_hub *h) { return h->tls; }
const char *msrp_hub_fingerprint(const struct msrp_hub *h) { return h->tls ? hub_tls_fingerprint(h->tls) : ""; }
size_t hub_high_water(const struct msrp_hub *h) { return h->high_water; }
unsigned hub_bind_timeout_ms(const struct msrp_hub *h) { return h->bind_timeout_ms; }
unsigned hub_txn_timeout_ms(const struct msrp_hub *h) { return h->txn_timeout_ms; }
void hub_count_relayed(struct msrp_hub *h, uint64_t n) { HUB_STAT_ADD(h, bytes_relayed, n); }
uint16_t msrp_hub_port(const struct msrp_hub *h) { return h->port; }

static void stats_add(struct msrp_hub_stats *st, const struct msrp_hub *h)
{
	st->connections_open += __atomic_load_n(&h->stats.connections_open, __ATOMIC_RELAXED);
	st->sessions_open += __atomic_load_n(&h->stats.sessions_open, __ATOMIC_RELAXED);
	st->bytes_relayed += __atomic_load_n(&h->stats.bytes_relayed, __ATOMIC_RELAXED);
}

/* The main hub's numbers include its workers' (each written by its own thread). */
void msrp_hub_stats(const struct msrp_hub *h, struct msrp_hub_stats *st)
{
	memset(st, 0, sizeof *st);
	stats_add(st, h);
	for (unsigned k = 1; k <= hub_worker_count(h); k++)
		stats_add(st, hub_worker(h, k));
}

/* ---------------------------------------------------------------- sessions */

static size_t id_hash(const char *id, size_t len)
{
	/* Keys are our own random ids; a peer only chooses lookup keys, which cannot lengthen
	 * chains. */
	return (size_t)mem_hash(id, len);
}

static int table_grow(struct msrp_hub *h)
{
	size_t n = h->nbuckets ? h->nbuckets * 2 : 256;
	struct msrp_session **b = calloc(n, sizeof *b);

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < h->nbuckets; i++) {
		struct msrp_session *s = h->buckets[i], *next;

		for (; s; s = next) {
			size_t k = id_hash(s->id, MSRP_SESSION_ID_LEN) & (n - 1);

			next = s->hnext;
			s->hnext = b[k];
			b[k] = s;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = n;
	return 0;
}

struct msrp_session *hub_session_find(struct msrp_hub *h, const char *id, size_t len)
{
	struct msrp_session *s;

	if (len != MSRP_SESSION_ID_LEN || !h->nbuckets)
		return NULL;
	s = h->buckets[id_hash(id, len) & (h->nbuckets - 1)];
	for (; s; s = s->hnext)
		if (memcmp(s->id, id, len) == 0) /* session-ids are case-sensitive */
			return s;
	return NULL;
}

int hub_session_add(struct msrp_hub *h, struct msrp_session *s)
{
	size_t k;

	if (h->nsessions >= h->nbuckets && table_grow(h))
		return -ENOMEM;
	do {
		msrp_random_ident(s->id, MSRP_SESSION_ID_LEN);
		/* With worker loops the first character names the hub (19 random ones stay: ~113
		 * bits): the main hub's listener hands a connection over by it, no shared table. */
		if (h->main->workers)
			s->id[0] = hub_index_mark(h->index);
	} while (hub_session_find(h, s->id, MSRP_SESSION_ID_LEN));
	k = id_hash(s->id, MSRP_SESSION_ID_LEN) & (h->nbuckets - 1);
	s->hnext = h->buckets[k];
	h->buckets[k] = s;
	h->nsessions++;
	HUB_STAT_ADD(h, sessions_open, 1);
	return 0;
}

void hub_session_del(struct msrp_hub *h, struct msrp_session *s)
{
	struct msrp_session **pp;

	if (!h->nbuckets)
		return;
	pp = &h->buckets[id_hash(s->id, MSRP_SESSION_ID_LEN) & (h->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			s->hnext = NULL;
			h->nsessions--;
			HUB_STAT_SUB(h, sessions_open, 1);
			return;
		}
	}
}

/* ---------------------------------------------------------------- timers */

static void hub_timer_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg);

static void hub_arm(struct msrp_hub *h)
{
	uint64_t at = 0, now;

	for (int i = TLIST_UNBOUND; i <= TLIST_DRAINING; i++)
		if (h->tl[i].head && (!at || h->tl[i].head->deadline < at))
			at = h->tl[i].head->deadline;
	if (h->accept_paused && (!at || h->accept_resume < at))
		at = h->accept_resume;
	if (!at || (h->timer_armed && h->timer_at <= at))
		return;
	now = msrp_now_ms();
	h->timer_armed = true;
	h->timer_at = at;
	su_timer_set_interval(h->timer, hub_timer_cb, h, at > now ? (su_duration_t)(at - now) : 1);
}

static void tlist_del(struct msrp_hub *h, struct msrp_conn *c)
{
	struct tlist *l;

	if (c->tlist == TLIST_NONE)
		return;
	l = &h->tl[c->tlist];
	if (c->tprev)
		c->tprev->tnext = c->tnext;
	else
		l->head = c->tnext;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	else
		l->tail = c->tprev;
	c->tnext = c->tprev = NULL;
	c->tlist = TLIST_NONE;
}

static void tlist_add(struct msrp_hub *h, struct msrp_conn *c, int which, unsigned delay_ms)
{
	struct tlist *l = &h->tl[which];

	tlist_del(h, c);
	c->deadline = msrp_now_ms() + delay_ms;
	c->tlist = which;
	c->tprev = l->tail;
	c->tnext = NULL;
	if (l->tail)
		l->tail->tnext = c;
	else
		l->head = c;
	l->tail = c;
	hub_arm(h);
}

static void hub_timer_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct msrp_hub *h = arg;
	uint64_t now = msrp_now_ms();
	struct msrp_conn *c;

	hub_enter(h);
	h->timer_armed = false;
	while ((c = h->tl[TLIST_UNBOUND].head) && c->deadline <= now) {
		msrp_log("%s: no complete request in %u s (msrp-idle-timeout), closing", c->peer,
			 h->bind_timeout_ms / 1000);
		conn_close(c, ETIMEDOUT);
	}
	while ((c = h->tl[TLIST_DRAINING].head) && c->deadline <= now)
		conn_close(c, 0);
	if (h->accept_paused && h->accept_resume <= now) {
		h->accept_paused = false;
		su_root_eventmask(h->root, h->lidx, h->lfd, SU_WAIT_ACCEPT);
	}
	hub_arm(h);
	hub_leave(h);
}

/* ---------------------------------------------------------------- connections */

void hub_conn_opened(struct msrp_hub *h, struct msrp_conn *c)
{
	c->anext = h->all;
	c->aprev = NULL;
	if (h->all)
		h->all->aprev = c;
	h->all = c;
	HUB_STAT_ADD(h, connections_open, 1);
	tlist_add(h, c, TLIST_UNBOUND, h->bind_timeout_ms);
}

void hub_conn_bound(struct msrp_hub *h, struct msrp_conn *c)
{
	tlist_del(h, c);
}

void hub_conn_draining(struct msrp_hub *h, struct msrp_conn *c)
{
	tlist_add(h, c, TLIST_DRAINING, MSRP_DRAIN_MS);
}

void hub_conn_gone(struct msrp_hub *h, struct msrp_conn *c)
{
	tlist_del(h, c);
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		h->all = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	c->anext = c->aprev = NULL;
	HUB_STAT_SUB(h, connections_open, 1);
	/* Not freed here: a caller up the stack may still hold it, and it
	 * may still be on the run or fail queue (both skip closed ones).
	 * hub_leave() frees it once both queues are empty. */
	c->reapnext = h->reap;
	h->reap = c;
}

void hub_conn_runnable(struct msrp_hub *h, struct msrp_conn *c)
{
	if (c->on_runq || c->state == CONN_CLOSED)
		return;
	c->on_runq = true;
	c->qnext = NULL;
	if (h->runq_tail)
		h->runq_tail->qnext = c;
	else
		h->runq = c;
	h->runq_tail = c;
}

void hub_conn_failed(struct msrp_hub *h, struct msrp_conn *c)
{
	if (c->on_failq)
		return;
	/* Its own link: a failed connection may also sit on the run queue,
	 * where conn_run() skips it. */
	c->on_failq = true;
	c->failnext = h->failq;
	h->failq = c;
}

void hub_conn_gathered(struct msrp_hub *h, struct msrp_conn *c)
{
	if (c->on_gatherq)
		return;
	c->on_gatherq = true;
	c->gnext = h->gatherq;
	h->gatherq = c;
}

bool hub_in_bracket(const struct msrp_hub *h)
{
	return h->depth > 0;
}

void hub_flush_gathered(struct msrp_hub *h)
{
	struct msrp_conn *c;

	while ((c = h->gatherq)) {
		h->gatherq = c->gnext;
		c->gnext = NULL;
		c->on_gatherq = false;
		conn_flush_gather(c); /* a closed one only drops its list */
	}
}

/* ---------------------------------------------------------------- the bracket */

void hub_enter(struct msrp_hub *h)
{
	h->depth++;
}

void hub_defer(struct msrp_hub *h, struct hub_defer *d)
{
	d->next = h->defer;
	h->defer = d;
}

static bool hub_work(struct msrp_hub *h)
{
	struct msrp_conn *c;
	bool did = false;

	while ((c = h->failq)) {
		h->failq = c->failnext;
		c->failnext = NULL;
		c->on_failq = false;
		conn_close(c, c->fail_err);
		did = true;
	}
	while ((c = h->runq)) {
		h->runq = c->qnext;
		if (!h->runq)
			h->runq_tail = NULL;
		c->qnext = NULL;
		c->on_runq = false;
		conn_run(c);
		did = true;
		if (h->failq)
			break;
	}
	return did;
}

void hub_leave(struct msrp_hub *h)
{
	if (h->depth > 1) {
		h->depth--;
		return;
	}
	/* Still at depth 1 while the queues are worked off, so that anything
	 * they trigger is queued again rather than nested. */
	/* (gathered output points into receive buffers: written before any is freed) */
	for (;;) {
		while (hub_work(h))
			;
		if (!h->gatherq)
			break;
		hub_flush_gathered(h);
	}
	h->depth = 0;
	while (h->reap) {
		struct msrp_conn *c = h->reap;

		h->reap = c->reapnext;
		conn_free(c);
	}
	while (h->defer) {
		struct hub_defer *d = h->defer;

		h->defer = d->next;
		d->fn(d);
	}
}

/* ---------------------------------------------------------------- listener */

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		port = ntohs(a->sin6_port);
	}
	snprintf(out, cap, "%s:%u", ip, port);
}

/* The IP of a peer, as the bytes the per-address cap compares (port left out). */
static size_t peer_addr(const struct sockaddr_storage *ss, unsigned char out[16])
{
	if (ss->ss_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, 4);
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr, 16);
		return 16;
	}
	return 0;
}

/* Connections open from this address. A walk of the open connections (at most max_conns,
 * 4096 by default: microseconds per accept) rather than a table to keep in step. */
static unsigned conns_from(const struct msrp_hub *h, const unsigned char *a, size_t len)
{
	unsigned n = 0;
	for (const struct msrp_conn *c = h->all; c; c = c->anext)
		if (c->addr_len == len && !memcmp(c->addr, a, len))
			n++;
	return n;
}

void hub_accept_one(struct msrp_hub *h, int fd, const struct sockaddr_storage *ss, struct ssl_ctx_st *tls_ctx)
{
	char peer[64];
	struct msrp_conn *c;
	unsigned char addr[16];
	size_t alen = peer_addr(ss, addr);

	peer_name(ss, peer, sizeof peer);
	if (alen && conns_from(h, addr, alen) >= h->max_conns_per_addr) {
		uint64_t now = msrp_now_ms();

		/* Closed before any byte: there is no request to answer yet. The log names the
		 * limit, once a second at most. */
		if (now - h->refused_addr_logged >= 1000) {
			msrp_log("%s: refused: max-msrp-conns-per-addr (%u) reached for this address (%llu refused so far)",
				 peer, h->max_conns_per_addr, (unsigned long long)h->refused_addr + 1);
			h->refused_addr_logged = now;
		}
		h->refused_addr++;
		close(fd);
		return;
	}
	if (h->stats.connections_open >= h->max_conns) {
		uint64_t now = msrp_now_ms();

		/* A flood must not turn into a flood of log lines. */
		if (now - h->refused_logged >= 1000) {
			msrp_log("%s: refused, %u connections open (%llu refused so far)", peer,
				 h->max_conns, (unsigned long long)h->refused + 1);
			h->refused_logged = now;
		}
		h->refused++;
		close(fd);
		return;
	}
	if (conn_create(h, fd, peer, &c)) {
		msrp_log("%s: refused, out of memory", peer);
		close(fd);
		return;
	}
	memcpy(c->addr, addr, alen);
	c->addr_len = (unsigned char)alen;
	if (tls_ctx && conn_tls_accept(c, tls_ctx)) {
		msrp_log("%s: refused, no memory for TLS", peer);
		conn_close(c, ENOMEM);
		return;
	}
	msrp_log("%s: connected%s", peer, tls_ctx ? " (TLS)" : "");
}

static int hub_accept_cb(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct msrp_hub *h = arg;

	hub_enter(h);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(h->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			hub_accept_one(h, fd, &ss, NULL);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		msrp_log("accept: %s; pausing the listener for %d ms", strerror(errno),
			 HUB_ACCEPT_PAUSE_MS);
		h->accept_paused = true;
		h->accept_resume = msrp_now_ms() + HUB_ACCEPT_PAUSE_MS;
		su_root_eventmask(h->root, h->lidx, h->lfd, 0);
		hub_arm(h);
		break;
	}
	hub_leave(h);
	return 0;
}

int hub_listen_on(const char *host, uint16_t *port, int *fdout)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	int one = 1, fd;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(*port);
		slen = sizeof *a;
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(*port);
		slen = sizeof *a;
	} else {
		return -EINVAL; /* numeric addresses only: no DNS on the loop */
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&ss, slen) || listen(fd, HUB_BACKLOG) ||
	    getsockname(fd, (struct sockaddr *)&ss, &slen)) {
		int err = errno;

		close(fd);
		return -err;
	}
	*port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
					: ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	*fdout = fd;
	return 0;
}

static int hub_copy_cfg(struct msrp_hub *h, const struct msrp_hub_cfg *cfg)
{
	const char *adv;

	if (!cfg->host || strlen(cfg->host) >= sizeof h->host)
		return -EINVAL;
	strcpy(h->host, cfg->host);
	adv = cfg->advertise && *cfg->advertise ? cfg->advertise : cfg->host;
	if (strlen(adv) >= HUB_HOST_MAX)
		return -EINVAL;
	if (strchr(adv, ':'))
		snprintf(h->advertise, sizeof h->advertise, "[%s]", adv);
	else
		snprintf(h->advertise, sizeof h->advertise, "%s", adv);
	h->port = cfg->port;
	h->high_water = cfg->high_water ? cfg->high_water : HUB_DEFAULT_HIGH_WATER;
	h->bind_timeout_ms = 1000u * (cfg->bind_timeout ? cfg->bind_timeout : HUB_DEFAULT_BIND_TIMEOUT);
	h->txn_timeout_ms = cfg->txn_timeout_ms ? cfg->txn_timeout_ms : HUB_DEFAULT_TXN_TIMEOUT_MS;
	h->max_conns = cfg->max_conns ? cfg->max_conns : HUB_DEFAULT_MAX_CONNS;
	h->max_conns_per_addr = cfg->max_conns_per_addr ? cfg->max_conns_per_addr : HUB_DEFAULT_MAX_CONNS_PER_ADDR;
	return 0;
}

int msrp_hub_create(struct msrp_hub **hp, su_root_t *root, const struct msrp_hub_cfg *cfg)
{
	struct msrp_hub *h;
	su_wait_t w;
	int rc;

	*hp = NULL;
	if (!root || !cfg)
		return -EINVAL;
	h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->root = root;
	h->lfd = -1;
	h->main = h;
	h->owner = pthread_self();
	rc = hub_copy_cfg(h, cfg);
	if (!rc)
		rc = table_grow(h);
	if (!rc)
		rc = hub_listen_on(h->host, &h->port, &h->lfd);
	if (!rc && cfg->tls_port) {
		char why[300];
		rc = hub_tls_start(h, cfg, &h->tls, why, sizeof why);
		if (rc)
			msrp_log("MSRP over TLS: %s", why);
	}
	if (rc)
		goto fail;
	h->timer = su_timer_create(su_root_task(root), 0);
	if (!h->timer || su_wait_create(&w, h->lfd, SU_WAIT_ACCEPT)) {
		rc = -ENOMEM;
		goto fail;
	}
	h->lidx = su_root_register(root, &w, hub_accept_cb, h, 0);
	if (h->lidx <= 0) {
		su_wait_destroy(&w);
		rc = -EIO;
		goto fail;
	}
	msrp_log("listening on %s:%u", h->host, h->port);
	*hp = h;
	return 0;
fail:
	hub_tls_stop(h->tls);
	if (h->timer)
		su_timer_destroy(h->timer);
	if (h->lfd >= 0)
		close(h->lfd);
	free(h->buckets);
	free(h);
	errno = -rc; /* for callers that log strerror(errno) */
	return rc;
}

/* A worker's hub (msrp_workers.c, on the worker's thread): the main hub's settings, no
 * listener (every connection is accepted by the main hub and handed over), the main hub's TLS
 * contexts for the connections we open (an SSL_CTX may be shared between threads). */
int hub_create_worker(struct msrp_hub **hp, su_root_t *root, struct msrp_hub *main, unsigned index)
{
	struct msrp_hub *h = calloc(1, sizeof *h);
	int rc;

	*hp = NULL;
	if (!h)
		return -ENOMEM;
	memcpy(h->host, main->host, sizeof h->host);
	memcpy(h->advertise, main->advertise, sizeof h->advertise);
	h->port = main->port;
	h->high_water = main->high_water;
	h->bind_timeout_ms = main->bind_timeout_ms;
	h->txn_timeout_ms = main->txn_timeout_ms;
	h->max_conns = main->max_conns;
	h->max_conns_per_addr = main->max_conns_per_addr;
	h->tls = main->tls;
	h->tls_borrowed = true;
	h->root = root;
	h->lfd = -1;
	h->main = main;
	h->index = index;
	h->owner = pthread_self();
	rc = table_grow(h);
	if (!rc && !(h->timer = su_timer_create(su_root_task(root), 0)))
		rc = -ENOMEM;
	if (!rc)
		rc = hub_mbox_open(h);
	if (rc) {
		if (h->timer)
			su_timer_destroy(h->timer);
		free(h->buckets);
		free(h);
		return rc;
	}
	*hp = h;
	return 0;
}

/* Relays must be destroyed first; a session still indexed here is only
 * detached from its connection. */
void msrp_hub_destroy(struct msrp_hub *h)
{
	if (!h)
		return;
	hub_workers_stop(h);
	hub_enter(h);
	while (h->all) {
		struct msrp_conn *c = h->all;

		if (c->session) {
			c->session->conn = NULL;
			c->session = NULL;
		}
		conn_close(c, 0);
	}
	hub_leave(h);
	hub_mbox_close(h);
	if (h->lfd >= 0) { /* (a worker hub has no listener) */
		su_root_deregister(h->root, h->lidx);
		close(h->lfd);
	}
	if (!h->tls_borrowed)
		hub_tls_stop(h->tls);
	su_timer_destroy(h->timer);
	free(h->buckets);
	free(h);
}
