/* The users' preferences from XDM (issue 11 §3; docs/internals/xdm.md "The cache in cpmd").
 * A bounded cache per user (AOR key): the document's settings (struct pf_xdm_settings), its
 * lists (blocked senders, accepted and denied types), its ETag and when the XDMS last
 * answered. A decision reads the cache and never waits: an entry that is missing or older
 * than --xdms-refresh starts one conditional GET (xcap_fetch) on a worker thread, and its
 * answer replaces the entry on the loop (stale-while-revalidate). A device registering is the
 * exception the registrar's hook makes: what its arrival starts waits for the answer
 * (pf_xdm_prefetch), since pushes and the pull list depend on the user's method.
 * Answers: 200 parsed whole or not at all (a refused document keeps the last good settings
 * and its ETag, so the next refresh fetches it again); 304 keeps the entry; 404 = no
 * document (all unset); an error keeps the last good entry and is retried at the next
 * refresh. Each user's state changes are logged once (not every retry). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/str_hash.h"
#include "net/workq.h"
#include "pf/pf_int.h"
#include "xdm/xcap_client.h"

#define XDM_MAX_USERS 100000 /* entries cached; beyond, the least recently used goes */
#define XDM_BUCKETS 65536    /* power of two */
#define XDM_THREADS 2        /* fetches at once: each is one short HTTP request */
#define XDM_MAX_QUEUED 4096  /* fetches waiting; beyond, a user is retried at the next use */

enum xdm_state { XS_NEW = 0, XS_DOC, XS_NO_DOC, XS_BAD_DOC, XS_ERROR };

/* The document's lists, one allocation: the pointer arrays, then the strings. */
struct xdm_lists {
	bool has_accept;
	size_t nblocked, naccept, ndeny;
	const char **blocked, **accept, **deny;
};

struct xdm_waiter {
	struct xdm_waiter *next;
	pf_xdm_then_fn *then;
	bool fresh;
	char instance[LOC_MAX_INSTANCE];
};

struct xdm_job;

struct xdm_entry {
	struct xdm_entry *hnext;      /* hash chain */
	struct xdm_entry *prev, *next; /* LRU: head = most recently used */
	struct pf_xdm_settings set;
	struct xdm_lists *lists;       /* NULL: the document has none */
	char etag[XCAP_ETAG_MAX + 1];  /* of the settings held ("": none) */
	int64_t answered_ms;           /* the XDMS's last answer (any kind); 0: none yet */
	enum xdm_state state;          /* of the last answer: logged when it changes */
	struct xdm_job *job;           /* the fetch in flight */
	struct xdm_waiter *waiters;    /* registrations waiting for that fetch */
	char aor[];                    /* the key, "user@host" */
};

struct xdm_job {
	struct pf_xdm *x;
	struct xdm_entry *e;
	char xui[LOC_MAX_AOR + 8];     /* sip:user@host */
	char etag_in[XCAP_ETAG_MAX + 1];
	/* filled by the worker */
	enum xcap_result res;
	int perr;
	char etag[XCAP_ETAG_MAX + 1];
	char why[XCAP_WHY_MAX];
	struct prefs_doc *doc;         /* parsed on the worker (25 KiB: never on the loop's stack) */
	char buf[PREFS_MAX_BYTES];
};

struct pf_xdm {
	struct pf *pf;
	struct workq *q;
	struct xcap_cfg cfg;           /* points into pf->cfg; read by the workers only */
	int64_t refresh_ms;
	size_t n;
	struct xdm_entry *head, *tail;
	struct xdm_entry *buckets[XDM_BUCKETS];
};

static unsigned hash_of(const char *s)
{
	return (unsigned)(str_hash(s) & (XDM_BUCKETS - 1));
}

static void lru_unlink(struct pf_xdm *x, struct xdm_entry *e)
{
	*(e->prev ? &e->prev->next : &x->head) = e->next;
	*(e->next ? &e->next->prev : &x->tail) = e->prev;
	e->prev = e->next = NULL;
}

static void lru_front(struct pf_xdm *x, struct xdm_entry *e)
{
	e->next = x->head;
	if (x->head)
		x->head->prev = e;
	x->head = e;
	if (!x->tail)
		x->tail = e;
}

static void entry_free(struct pf_xdm *x, struct xdm_entry *e)
{
	struct xdm_entry **pp = &x->buckets[hash_of(e->aor)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(x, e);
	x->n--;
	free(e->lists);
	free(e);
}

/* The least recently used entry without a fetch or a waiter goes: those belong to a job. */
static bool evict_one(struct pf_xdm *x)
{
	for (struct xdm_entry *e = x->tail; e; e = e->prev)
		if (!e->job && !e->waiters) {
			entry_free(x, e);
			return true;
		}
	return false;
}

/* The entry of aor_key, made (empty: all unset) if missing; NULL when it cannot be. */
static struct xdm_entry *entry_get(struct pf_xdm *x, const char *aor_key)
{
	unsigned h = hash_of(aor_key);
	for (struct xdm_entry *e = x->buckets[h]; e; e = e->hnext)
		if (!strcmp(e->aor, aor_key)) {
			lru_unlink(x, e);
			lru_front(x, e);
			return e;
		}
	size_t len = strlen(aor_key);
	if (len >= LOC_MAX_AOR || (x->n >= XDM_MAX_USERS && !evict_one(x)))
		return NULL;
	struct xdm_entry *e = calloc(1, sizeof *e + len + 1);
	if (!e)
		return NULL;
	memcpy(e->aor, aor_key, len + 1);
	e->hnext = x->buckets[h];
	x->buckets[h] = e;
	lru_front(x, e);
	x->n++;
	return e;
}

/* ---- the fetch, on a worker ---------------------------------------------------------------- */

static void fetch_work(void *arg)
{
	struct xdm_job *j = arg;
	size_t len = 0;
	j->res = xcap_fetch(&j->x->cfg, j->xui, j->etag_in, j->buf, sizeof j->buf, &len, j->etag, j->why);
	if (j->res == XCAP_FETCHED) {
		j->doc = malloc(sizeof *j->doc);
		j->perr = j->doc ? prefs_doc_parse(j->buf, len, j->doc) : PREFS_E_MEMORY;
	}
}

/* ---- the answer, on the loop --------------------------------------------------------------- */

static struct xdm_lists *lists_of(const struct prefs_doc *d)
{
	if (!d->has_blocked && !d->has_accept_types && !d->has_deny_types)
		return NULL;
	size_t n = d->nblocked + d->naccept + d->ndeny, bytes = 0;
	for (size_t i = 0; i < d->nblocked; i++)
		bytes += strlen(d->blocked[i]) + 1;
	for (size_t i = 0; i < d->naccept; i++)
		bytes += strlen(d->accept_types[i]) + 1;
	for (size_t i = 0; i < d->ndeny; i++)
		bytes += strlen(d->deny_types[i]) + 1;
	struct xdm_lists *l = calloc(1, sizeof *l + n * sizeof(char *) + bytes);
	if (!l)
		return NULL;
	const char **ptrs = (const char **)(l + 1);
	char *p = (char *)(ptrs + n);
	l->has_accept = d->has_accept_types;
	l->blocked = ptrs;
	l->accept = ptrs + d->nblocked;
	l->deny = l->accept + d->naccept;
	l->nblocked = d->nblocked, l->naccept = d->naccept, l->ndeny = d->ndeny;
#define XDM_COPY(dst, src)                                                                             \
	do {                                                                                           \
		size_t sl = strlen(src) + 1;                                                           \
		memcpy(p, (src), sl);                                                                  \
		(dst) = p;                                                                             \
		p += sl;                                                                               \
	} while (0)
	for (size_t i = 0; i < d->nblocked; i++)
		XDM_COPY(l->blocked[i], d->blocked[i]);
	for (size_t i = 0; i < d->naccept; i++)
		XDM_COPY(l->accept[i], d->accept_types[i]);
	for (size_t i = 0; i < d->ndeny; i++)
		XDM_COPY(l->deny[i], d->deny_types[i]);
#undef XDM_COPY
	return l;
}

static const char *or_unset(const char *s)
{
	return *s ? s : "unset";
}

static void took_document(struct xdm_entry *e, const struct xdm_job *j)
{
	struct xdm_lists *l = lists_of(j->doc);
	const struct prefs_doc *d = j->doc;
	if (!l && (d->has_blocked || d->has_accept_types || d->has_deny_types)) {
		/* without its lists the document could let through what the user refused */
		log_warn("xdm: %s: out of memory for the document's lists: keeping the last preferences", e->aor);
		return;
	}
	policy_xdm_settings(d, &e->set);
	free(e->lists);
	e->lists = l;
	snprintf(e->etag, sizeof e->etag, "%s", j->etag);
	e->state = XS_DOC;
	char max[24] = "unset";
	if (d->has_max_file_size)
		snprintf(max, sizeof max, "%llu", (unsigned long long)d->max_file_size);
	/* a 200 comes only for a document that changed: one line each time */
	log_info("xdm: preferences of %s (ETag %s): defer=%s delivery=%s keep-files=%s on-expiry=%s histories=%s "
		 "screening=%s max-file-size=%s blocked=%zu accept-types=%zu deny-types=%zu",
		 e->aor, or_unset(e->etag), or_unset(prefs_bool_name(d->defer)),
		 or_unset(prefs_delivery_name(d->delivery)), or_unset(prefs_keep_name(d->keep_files)),
		 or_unset(prefs_expiry_name(d->on_expiry)), or_unset(prefs_bool_name(d->histories)),
		 or_unset(prefs_bool_name(d->screening)), max, d->nblocked, d->naccept, d->ndeny);
}

static void took_answer(struct xdm_entry *e, const struct xdm_job *j)
{
	enum xdm_state was = e->state;
	switch (j->res) {
	case XCAP_FETCHED:
		if (j->perr == PREFS_OK) {
			took_document(e, j);
			return;
		}
		e->state = XS_BAD_DOC;
		if (was != XS_BAD_DOC)
			log_warn("xdm: %s: the preferences document (ETag %s) is refused: %s; keeping the last "
				 "preferences",
				 e->aor, or_unset(j->etag), prefs_strerror(j->perr));
		return;
	case XCAP_NOT_MODIFIED:
		e->state = XS_DOC;
		if (was == XS_ERROR)
			log_info("xdm: %s: the XDMS answers again (ETag %s unchanged)", e->aor, e->etag);
		return;
	case XCAP_NO_DOC:
		memset(&e->set, 0, sizeof e->set);
		free(e->lists);
		e->lists = NULL;
		e->etag[0] = '\0';
		e->state = XS_NO_DOC;
		if (was != XS_NO_DOC)
			log_info("xdm: %s has no preferences document: the operator's defaults apply", e->aor);
		return;
	case XCAP_ERROR:
		e->state = XS_ERROR;
		if (was != XS_ERROR)
			log_warn("xdm: %s: fetching the preferences failed: %s; %s, retried every %lld s", e->aor,
				 j->why, e->etag[0] || was == XS_NO_DOC ? "keeping the last known ones" : "defaults meanwhile",
				 (long long)(j->x->refresh_ms / 1000));
		return;
	}
}

static void fetch_done(void *arg, int err)
{
	struct xdm_job *j = arg;
	struct pf_xdm *x = j->x;
	struct xdm_entry *e = j->e;
	e->job = NULL;
	if (!err) {
		took_answer(e, j);
		e->answered_ms = pf_now_ms();
	}
	free(j->doc);
	free(j);
	/* The waiting registrations go on (an error too: with what is cached). Copies: then()
	 * may make entries and so evict this one. */
	struct xdm_waiter *w = e->waiters;
	char aor[LOC_MAX_AOR];
	snprintf(aor, sizeof aor, "%s", e->aor);
	e->waiters = NULL;
	while (w) {
		struct xdm_waiter *next = w->next;
		if (!err && !x->pf->stopping)
			w->then(x->pf, aor, w->instance, w->fresh);
		free(w);
		w = next;
	}
}

static bool stale(const struct pf_xdm *x, const struct xdm_entry *e)
{
	return e->answered_ms == 0 || pf_now_ms() - e->answered_ms >= x->refresh_ms;
}

/* Starts the entry's fetch unless one is in flight. false: none could start. */
static bool fetch_start(struct pf_xdm *x, struct xdm_entry *e)
{
	if (e->job)
		return true;
	struct xdm_job *j = malloc(sizeof *j);
	if (!j)
		return false;
	memset(j, 0, offsetof(struct xdm_job, buf));
	j->x = x;
	j->e = e;
	pf_uri_of_key(e->aor, j->xui, sizeof j->xui);
	snprintf(j->etag_in, sizeof j->etag_in, "%s", e->etag);
	int rc = workq_submit(x->q, fetch_work, fetch_done, j);
	if (rc) {
		log_debug("xdm: %s: fetch not queued (%s): retried at the next use", e->aor, strerror(-rc));
		free(j);
		return false;
	}
	e->job = j;
	return true;
}

/* The entry to decide with, its refresh started when due; NULL: none (all unset). */
static struct xdm_entry *lookup(struct pf *pf, const char *aor_key)
{
	struct pf_xdm *x = pf->xdm;
	if (!x)
		return NULL;
	struct xdm_entry *e = entry_get(x, aor_key);
	if (e && stale(x, e) && !pf->stopping) /* shutting down: what is cached, no new fetch */
		fetch_start(x, e);
	return e;
}

void pf_xdm_settings(struct pf *pf, const char *aor_key, struct pf_xdm_settings *out)
{
	struct xdm_entry *e = lookup(pf, aor_key);
	if (e)
		*out = e->set;
	else
		memset(out, 0, sizeof *out);
}

bool pf_xdm_blocks(struct pf *pf, const char *aor_key, const char *sender_key)
{
	struct xdm_entry *e = lookup(pf, aor_key);
	return e && e->lists && policy_sender_blocked(e->lists->blocked, e->lists->nblocked, sender_key);
}

bool pf_xdm_type_ok(struct pf *pf, const char *aor_key, const char *mime_type)
{
	struct xdm_entry *e = lookup(pf, aor_key);
	if (!e || !e->lists)
		return true;
	const struct xdm_lists *l = e->lists;
	return policy_type_accepted(l->accept, l->naccept, l->has_accept, l->deny, l->ndeny, mime_type);
}

bool pf_xdm_prefetch(struct pf *pf, const char *aor_key, const char *instance, bool fresh, pf_xdm_then_fn *then)
{
	struct pf_xdm *x = pf->xdm;
	if (!x || pf->stopping)
		return false;
	struct xdm_entry *e = entry_get(x, aor_key);
	if (!e || !stale(x, e))
		return false;
	struct xdm_waiter *w = calloc(1, sizeof *w);
	if (!w)
		return false;
	if (!fetch_start(x, e)) {
		free(w);
		return false;
	}
	w->then = then;
	w->fresh = fresh;
	snprintf(w->instance, sizeof w->instance, "%s", instance ? instance : "");
	w->next = e->waiters;
	e->waiters = w;
	return true;
}

int pf_xdm_create(struct pf *pf)
{
	const struct pf_config *c = &pf->cfg;
	if (!c->xdms[0])
		return 0;
	struct pf_xdm *x = calloc(1, sizeof *x);
	if (!x)
		return -1;
	x->pf = pf;
	x->refresh_ms = (int64_t)(c->xdms_refresh ? c->xdms_refresh : 300) * 1000;
	x->cfg.root = c->xdms;
	x->cfg.auid = c->xdms_auid[0] ? c->xdms_auid : NULL;
	x->cfg.ca_file = c->xdms_ca[0] ? c->xdms_ca : NULL;
	x->cfg.user = c->xdms_user[0] ? c->xdms_user : NULL;
	x->cfg.password = c->xdms_user[0] ? c->xdms_password : NULL;
	int rc = workq_create(&x->q, pf->loop, "xdm", XDM_THREADS, XDM_MAX_QUEUED);
	if (rc) {
		log_error("xdm: cannot start the fetch threads: %s", strerror(-rc));
		free(x);
		return -1;
	}
	pf->xdm = x;
	log_info("xdm: users' preferences from %s (AUID %s), refreshed after %u s", c->xdms,
		 c->xdms_auid[0] ? c->xdms_auid : PREFS_AUID, (unsigned)(x->refresh_ms / 1000));
	return 0;
}

void pf_xdm_destroy(struct pf *pf)
{
	struct pf_xdm *x = pf->xdm;
	if (!x)
		return;
	workq_destroy(x->q); /* every job's done runs here: no entry is referenced after */
	while (x->head)
		entry_free(x, x->head);
	free(x);
	pf->xdm = NULL;
}
