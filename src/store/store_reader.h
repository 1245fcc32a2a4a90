/* store_reader — a read-only view of the store for ONE thread other than the loop's: the admin
 * API (src/admin) lists the deferred queue, users and totals on its HTTP thread with it, so a
 * listing never runs on the event loop. It opens its own SQLite connection on the data
 * directory's database: in WAL mode (which the store checks at open) a reader never waits for
 * the writer and sees committed state only, like the store's own reads.
 *
 * THREADING: one reader per thread (SQLite connections are opened NOMUTEX); any thread but
 * the loop's is fine. Writes stay with the loop (store.h).
 * PAGING: keyset, never OFFSET: a page is the items whose id is greater than the last id of
 * the page before ("after"), in id order, so each page is one index seek (item_admin_rcpt,
 * item_admin_sender, or the primary key) whatever the size of the queue. */
#ifndef CPM_STORE_READER_H
#define CPM_STORE_READER_H

#include "store/store.h"

struct store_reader;

/* The store of data_dir (created by cpmd's store_open_dir, which must have run). 0 or -errno. */
int store_reader_open(struct store_reader **out, const char *data_dir);
void store_reader_close(struct store_reader *r); /* NULL is fine */

#define STORE_READER_PAGE_MAX 1000
struct store_item_filter {
	const char *recipient, *sender; /* exact AOR ("user@host"), NULL: any */
	int kind;                       /* enum store_item_kind, -1: any */
	int state;                      /* enum store_item_state, -1: any */
	const char *after;              /* the last id of the previous page, NULL: the first page */
	unsigned limit;                 /* 1..STORE_READER_PAGE_MAX */
};
/* The page of items that match, in id order: the count given to cb, or -errno. */
int store_reader_items(struct store_reader *r, const struct store_item_filter *f, store_item_cb *cb, void *arg);
int store_reader_item(struct store_reader *r, const char *id, struct store_item *out);
int store_reader_deliveries(struct store_reader *r, const char *item_id, store_delivery_cb *cb, void *arg);

/* What the metrics show of the store. */
struct store_totals {
	uint64_t items, bytes; /* live items (receiving, stored, delivering) and their declared sizes */
	uint64_t notifs;       /* notifications waiting for their target */
	uint64_t regs;         /* bindings not expired at now_ms */
};
int store_reader_totals(struct store_reader *r, int64_t now_ms, struct store_totals *out);

/* Users known to the store (a binding or preferences), in AOR order after `after` ("" for the
 * first), at most limit: cb(arg, aor) per user; the count or -errno. */
typedef int store_user_cb(void *arg, const char *aor);
int store_reader_users(struct store_reader *r, const char *after, unsigned limit, store_user_cb *cb, void *arg);
int store_reader_regs(struct store_reader *r, const char *aor, store_reg_cb *cb, void *arg);
int store_reader_prefs(struct store_reader *r, const char *aor, struct store_prefs *out);

#endif
