/* The endpoints of the admin API (docs/internals/admin.md). Reads of the store go through the
 * HTTP thread's own read-only connection; anything of pf's (live transfers, sessions, actions
 * on items) is a loop_call that runs on the loop and answers (pf/pf_admin.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin/admin_int.h"
#include "common/metrics.h"
#include "net/loop_call.h"
#include "pf/pf_admin.h"
#include "store/store_reader.h"

#define ADMIN_LIST_MAX 256 /* live transfers or sessions in one answer */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The store's totals (the metrics' gauges). Counting a queue of 1,000,000 items takes ~0.5 s
 * of the HTTP thread's CPU; scraped every second that would take half a core from the relays.
 * So a count is reused for 20 times what it cost (at most a minute): a small store is counted
 * at every scrape (exact), a huge one every ~10 s (the gauges lag by that much). */
static int admin_totals(struct admin *a, struct store_totals *t)
{
	int64_t t0 = now_ms();
	if (a->totals_at_ms && t0 - a->totals_at_ms < a->totals_ttl_ms) {
		*t = a->totals;
		return 0;
	}
	int rc = store_reader_totals(a->reader, t0, t);
	if (rc)
		return rc;
	int64_t cost = now_ms() - t0;
	a->totals = *t;
	a->totals_at_ms = t0;
	a->totals_ttl_ms = cost * 20 > 60000 ? 60000 : cost * 20;
	return 0;
}

/* A loop_call failure as an HTTP answer. */
static void loop_failed(struct admin_resp *r, int err)
{
	if (err == -ETIMEDOUT)
		admin_error(r, 503, "cpmd's event loop did not answer in time");
	else if (err == -ESHUTDOWN)
		admin_error(r, 503, "cpmd is shutting down");
	else if (err == -EAGAIN)
		admin_error(r, 503, "too many requests waiting");
	else
		admin_error(r, 500, strerror(-err));
}

/* ---- the calls the loop runs (pf_admin.h) */

struct ping {
	int unused;
};

static void do_ping(struct loop_call *c, void *data)
{
	loop_call_answer(c, 0);
}

struct counts {
	struct pf *pf;
	uint64_t transfers, sessions;
};

static void do_counts(struct loop_call *c, void *data)
{
	struct counts *k = data;
	pf_admin_counts(k->pf, &k->transfers, &k->sessions);
	loop_call_answer(c, 0);
}

struct xfers {
	struct pf *pf;
	size_t n;
	struct pf_admin_transfer t[ADMIN_LIST_MAX];
};

static void do_transfers(struct loop_call *c, void *data)
{
	struct xfers *x = data;
	x->n = pf_admin_transfers(x->pf, x->t, ADMIN_LIST_MAX);
	loop_call_answer(c, 0);
}

struct sessions {
	struct pf *pf;
	size_t n;
	struct pf_admin_session s[ADMIN_LIST_MAX];
};

static void do_sessions(struct loop_call *c, void *data)
{
	struct sessions *x = data;
	x->n = pf_admin_sessions(x->pf, x->s, ADMIN_LIST_MAX);
	loop_call_answer(c, 0);
}

enum item_action { IA_PURGE, IA_RETRY, IA_EXPIRE, IA_TERMINATE };
struct action {
	struct pf *pf;
	enum item_action what;
	char id[ADMIN_ARG_MAX + 1];
	int64_t expires_ms;
};

static void committed(void *arg, int err)
{
	loop_call_answer(arg, err);
}

static void do_action(struct loop_call *c, void *data)
{
	struct action *x = data;
	int rc;
	switch (x->what) {
	case IA_PURGE:
		rc = pf_admin_purge(x->pf, x->id, committed, c);
		break;
	case IA_EXPIRE:
		rc = pf_admin_set_expiry(x->pf, x->id, x->expires_ms, committed, c);
		break;
	case IA_RETRY:
		loop_call_answer(c, pf_admin_retry(x->pf, x->id));
		return;
	default:
		loop_call_answer(c, pf_admin_terminate(x->pf, x->id));
		return;
	}
	if (rc) /* else the commit answers */
		loop_call_answer(c, rc);
}

/* ---- JSON of the store's records */

static json_t *item_json(const struct store_item *it)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:I}", "id", it->id, "sender",
			      it->sender, "recipient", it->recipient, "kind", store_item_kind_name(it->kind), "name",
			      it->kind == STORE_KIND_MESSAGE ? "message" : it->sel.name, "size", (json_int_t)it->sel.size,
			      "type", it->sel.type, "state", store_item_state_name(it->state), "created",
			      (json_int_t)(it->created_at_ms / 1000), "expires", (json_int_t)(it->expires_at_ms / 1000),
			      "bytes_received", (json_int_t)it->bytes_received);
	if (j && it->ft_id[0])
		json_object_set_new(j, "file_transfer_id", json_string(it->ft_id));
	return j;
}

static int add_item(void *arg, const struct store_item *it)
{
	json_array_append_new(arg, item_json(it));
	return 0;
}

static int add_delivery(void *arg, const struct store_delivery *d)
{
	static const char *const st[] = {"pending", "active", "done", "failed"};
	json_array_append_new(arg, json_pack("{s:s, s:i, s:I, s:I, s:s}", "device", d->instance, "attempts",
					     (int)d->attempts, "next_attempt", (json_int_t)(d->next_attempt_at_ms / 1000),
					     "bytes_acked", (json_int_t)d->bytes_acked,
					     "state", (unsigned)d->state < 4 ? st[d->state] : "?"));
	return 0;
}

/* "stored" → STORE_ITEM_STORED (the names the store gives, any case); -1 when unknown */
static int state_of(const char *s)
{
	for (int i = 0; i <= STORE_ITEM_TO_MSS; i++)
		if (!strcasecmp(s, store_item_state_name((enum store_item_state)i)))
			return i;
	return -1;
}

/* ---- endpoints */

static void ep_health(const struct admin_req *q, struct admin_resp *r, bool ready)
{
	struct ping p = {0};
	/* alive = the event loop turns (a wedged loop is what an operator must learn of) */
	int err = loop_call(q->a->inbox, do_ping, &p, sizeof p, 2000);
	struct store_totals t;
	int serr = ready ? admin_totals(q->a, &t) : 0;
	if (err || serr) {
		r->status = 503;
		r->json = json_pack("{s:s, s:s, s:s}", "status", "unavailable", "loop", err ? "not answering" : "ok", "store",
				    serr ? "not readable" : "ok");
		return;
	}
	r->json = ready ? json_pack("{s:s, s:b}", "status", "ok", "ready", 1) : json_pack("{s:s}", "status", "ok");
}

static void ep_metrics(const struct admin_req *q, struct admin_resp *r)
{
	struct metrics_gauges g = {0};
	struct store_totals t;
	struct counts k = {.pf = q->a->pf};
	if (admin_totals(q->a, &t) == 0) {
		g.deferred_items = t.items;
		g.deferred_bytes = t.bytes;
		g.notifications_pending = t.notifs;
		g.registrations = t.regs;
	}
	if (loop_call(q->a->inbox, do_counts, &k, sizeof k, ADMIN_LOOP_TIMEOUT_MS) == 0) {
		g.live_transfers = k.transfers;
		g.live_sessions = k.sessions;
	}
	size_t cap = 16384;
	char *buf = malloc(cap);
	long n = buf ? metrics_format(buf, cap, &g) : -1;
	if (n < 0) {
		free(buf);
		admin_error(r, 500, "metrics do not fit");
		return;
	}
	r->text = buf;
	r->text_len = (size_t)n;
	r->ctype = "text/plain; version=0.0.4; charset=utf-8";
}

static void ep_deferred(const struct admin_req *q, struct admin_resp *r)
{
	char rcpt[ADMIN_ARG_MAX + 8], sender[ADMIN_ARG_MAX + 8];
	struct store_item_filter f = {.kind = -1, .state = -1};
	const char *v;
	if (admin_parse_limit(admin_query(q, "limit"), 100, STORE_READER_PAGE_MAX, &f.limit))
		return admin_error(r, 400, "limit: 1..1000 expected");
	if ((v = admin_query(q, "recipient")) && *v) {
		if (admin_parse_aor(v, 0, rcpt, sizeof rcpt))
			return admin_error(r, 400, "recipient: user@host expected");
		f.recipient = rcpt;
	}
	if ((v = admin_query(q, "sender")) && *v) {
		if (admin_parse_aor(v, 1, sender, sizeof sender))
			return admin_error(r, 400, "sender: user@host expected");
		f.sender = sender;
	}
	if ((v = admin_query(q, "kind")) && *v) {
		f.kind = !strcmp(v, "file") ? STORE_KIND_FILE : !strcmp(v, "message") ? STORE_KIND_MESSAGE : -2;
		if (f.kind == -2)
			return admin_error(r, 400, "kind: file or message expected");
	}
	if ((v = admin_query(q, "state")) && *v && (f.state = state_of(v)) < 0)
		return admin_error(r, 400, "state: receiving, stored, delivering, ... expected");
	if ((v = admin_query(q, "after")) && *v) {
		if (!store_id_valid(v))
			return admin_error(r, 400, "after: an item id expected");
		f.after = v;
	}
	json_t *items = json_array();
	int n = store_reader_items(q->a->reader, &f, add_item, items);
	if (n < 0) {
		json_decref(items);
		return admin_error(r, 500, "the store cannot be read");
	}
	json_t *last = json_array_size(items) ? json_object_get(json_array_get(items, json_array_size(items) - 1), "id")
					       : NULL;
	/* a full page may have a next one: its key is the last id (keyset paging) */
	r->json = json_pack("{s:o, s:O}", "items", items, "next",
			    (unsigned)n == f.limit && last ? last : json_null());
}

static void ep_item(const struct admin_req *q, struct admin_resp *r)
{
	struct store_item it;
	if (store_reader_item(q->a->reader, q->path.arg, &it))
		return admin_error(r, 404, "no such item");
	json_t *j = item_json(&it), *d = json_array();
	store_reader_deliveries(q->a->reader, it.id, add_delivery, d);
	json_object_set_new(j, "deliveries", d);
	r->json = j;
}

static void ep_action(const struct admin_req *q, struct admin_resp *r, enum item_action what)
{
	struct action x = {.pf = q->a->pf, .what = what};
	snprintf(x.id, sizeof x.id, "%s", q->path.arg);
	if (what == IA_EXPIRE) {
		char why[160];
		int64_t s;
		if (admin_parse_expiry(q->body, q->body_len, &s, why, sizeof why))
			return admin_error(r, 400, why);
		x.expires_ms = s * 1000;
	}
	int err = loop_call(q->a->inbox, do_action, &x, sizeof x, ADMIN_LOOP_TIMEOUT_MS);
	if (err == -ENOENT)
		return admin_error(r, 404, what == IA_TERMINATE ? "no such transfer" : "no such item (or not waiting)");
	if (err == -EBUSY)
		return admin_error(r, 409, "the item is still being uploaded: terminate its transfer instead");
	if (err)
		return loop_failed(r, err);
	static const char *const done[] = {"purged", "retried", "expires_set", "terminated"};
	r->json = json_pack("{s:s}", done[what], q->path.arg);
	if (what == IA_EXPIRE)
		json_object_set_new(r->json, "expires", json_integer(x.expires_ms / 1000));
}

static void ep_transfers(const struct admin_req *q, struct admin_resp *r)
{
	struct xfers *x = malloc(sizeof *x);
	if (!x)
		return admin_error(r, 500, "out of memory");
	x->pf = q->a->pf;
	int err = loop_call(q->a->inbox, do_transfers, x, sizeof *x, ADMIN_LOOP_TIMEOUT_MS);
	if (err) {
		free(x);
		return loop_failed(r, err);
	}
	json_t *a = json_array();
	for (size_t i = 0; i < x->n; i++) {
		const struct pf_admin_transfer *t = &x->t[i];
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "id", t->id, "sender", t->sender, "recipient",
				      t->recipient, "name", t->name, "size", (json_int_t)t->size, "bytes",
				      (json_int_t)t->bytes, "mode", t->mode);
		if (j && t->item_id[0])
			json_object_set_new(j, "item", json_string(t->item_id));
		json_array_append_new(a, j);
	}
	free(x);
	r->json = json_pack("{s:o}", "transfers", a);
}

static void ep_sessions(const struct admin_req *q, struct admin_resp *r)
{
	struct sessions *x = malloc(sizeof *x);
	if (!x)
		return admin_error(r, 500, "out of memory");
	x->pf = q->a->pf;
	int err = loop_call(q->a->inbox, do_sessions, x, sizeof *x, ADMIN_LOOP_TIMEOUT_MS);
	if (err) {
		free(x);
		return loop_failed(r, err);
	}
	json_t *a = json_array();
	for (size_t i = 0; i < x->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "id", x->s[i].id, "sender", x->s[i].sender,
						   "recipient", x->s[i].recipient, "state", x->s[i].state));
	free(x);
	r->json = json_pack("{s:o}", "sessions", a);
}

struct users_ctx {
	struct store_reader *rd;
	json_t *a;
	int64_t now;
	int bindings; /* of the user being added */
};

static int count_binding(void *arg, const struct store_reg *reg)
{
	struct users_ctx *u = arg;
	u->bindings += reg->expires_at_ms > u->now;
	return 0;
}

static int add_user(void *arg, const char *aor)
{
	struct users_ctx *u = arg;
	u->bindings = 0;
	store_reader_regs(u->rd, aor, count_binding, u);
	json_array_append_new(u->a, json_pack("{s:s, s:i}", "aor", aor, "bindings", u->bindings));
	return 0;
}

static void ep_users(const struct admin_req *q, struct admin_resp *r)
{
	unsigned limit;
	const char *after = admin_query(q, "after");
	if (admin_parse_limit(admin_query(q, "limit"), 100, STORE_READER_PAGE_MAX, &limit))
		return admin_error(r, 400, "limit: 1..1000 expected");
	struct users_ctx u = {.rd = q->a->reader, .a = json_array(), .now = now_ms()};
	int n = store_reader_users(q->a->reader, after, limit, add_user, &u);
	if (n < 0) {
		json_decref(u.a);
		return admin_error(r, 500, "the store cannot be read");
	}
	json_t *last = json_array_size(u.a) ? json_object_get(json_array_get(u.a, json_array_size(u.a) - 1), "aor") : NULL;
	r->json = json_pack("{s:o, s:O}", "users", u.a, "next", (unsigned)n == limit && last ? last : json_null());
}

static int add_binding(void *arg, const struct store_reg *reg)
{
	json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:s, s:I}", "instance", reg->instance, "contact",
					     reg->contact, "flow", reg->flow, "transport", reg->tcp ? "tcp" : "udp",
					     "expires", (json_int_t)(reg->expires_at_ms / 1000)));
	return 0;
}

static void ep_user(const struct admin_req *q, struct admin_resp *r)
{
	char aor[ADMIN_ARG_MAX + 8];
	if (admin_parse_aor(q->path.arg, 0, aor, sizeof aor))
		return admin_error(r, 400, "user@host expected");
	json_t *b = json_array();
	int n = store_reader_regs(q->a->reader, aor, add_binding, b);
	struct store_prefs p;
	int prc = store_reader_prefs(q->a->reader, aor, &p);
	if (n <= 0 && prc) {
		json_decref(b);
		return admin_error(r, 404, "no such user (no binding, no preferences)");
	}
	json_t *prefs = json_null();
	if (!prc)
		prefs = json_pack("{s:b, s:s, s:s, s:b, s:b, s:I}", "defer", p.defer, "method",
				  p.method == STORE_METHOD_PULL ? "pull" : "push", "on_expiry",
				  p.on_expiry == STORE_EXPIRY_KEEP ? "keep" : "discard", "history", p.history, "screening",
				  p.screening, "max_size", (json_int_t)p.max_size);
	r->json = json_pack("{s:s, s:o, s:o}", "aor", aor, "bindings", b, "prefs", prefs);
}

void admin_api_dispatch(const struct admin_req *q, struct admin_resp *r)
{
	switch (q->path.route) {
	case AR_HEALTH:
		return ep_health(q, r, false);
	case AR_READY:
		return ep_health(q, r, true);
	case AR_METRICS:
		return ep_metrics(q, r);
	case AR_USERS:
		return ep_users(q, r);
	case AR_USER:
		return ep_user(q, r);
	case AR_DEFERRED:
		return ep_deferred(q, r);
	case AR_ITEM:
		if (q->method == AM_DELETE)
			return ep_action(q, r, IA_PURGE);
		if (q->method == AM_PATCH)
			return ep_action(q, r, IA_EXPIRE);
		return ep_item(q, r);
	case AR_RETRY:
		return ep_action(q, r, IA_RETRY);
	case AR_TRANSFERS:
		return ep_transfers(q, r);
	case AR_TRANSFER:
		return ep_action(q, r, IA_TERMINATE);
	case AR_SESSIONS:
		return ep_sessions(q, r);
	default:
		return admin_error(r, 404, "no such resource");
	}
}
