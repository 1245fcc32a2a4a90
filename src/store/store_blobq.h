/* store_blobq — "make this upload durable, then tell me", without blocking the loop.
 *
 *   store_blobq_commit(q, fd, &item, done, arg)
 *     1. (blob thread) blob_commit(bd, item.id, fd): fsync, rename blobs/tmp/<id> → blobs/<id>,
 *        fsync both directories; then close(fd);
 *     2. (loop thread) store_item_update(s, &item, ...) — the caller sets item.state = STORED,
 *        bytes_received = size;
 *     3. (loop thread) done(arg, 0) once that update is committed. Only then may pf send the
 *        sender the final MSRP 200 and the success REPORT (design §3).
 *   On a failure at step 1, done gets its error and the item is not updated; at step 2, done
 *   gets the store's error (the final blob then exists with no STORED item: the next
 *   reconcile removes it, which is right, since the sender was never acknowledged).
 *
 *   store_blobq_checkpoint(q, fd, &partial, done, arg)   — a resume point for an upload
 *     1. (blob thread) fdatasync(fd) — the fd stays the caller's and stays open: the caller
 *        must not close it before done, and partial.bytes must not exceed what it had written
 *        when it called (appending meanwhile is fine);
 *     2. (loop thread) store_partial_put(s, &partial, ...); 3. done(arg, err) when durable.
 *
 * THREADING: create, commit and destroy from the loop thread. Commits are processed in order
 * on one thread, but done callbacks are not ordered with each other (a commit that fails at
 * step 1 answers before an earlier one whose item update is still being committed). OWNERSHIP: store_blobq_commit takes the fd (closed after step 1, also on
 * failure) unless it returns < 0. Destroy before closing the store and the blob_dir: it
 * finishes every queued commit and submits their updates. */
#ifndef CPM_STORE_BLOBQ_H
#define CPM_STORE_BLOBQ_H

#include "store/store.h"

struct store_blobq;
int store_blobq_create(struct store_blobq **out, struct store *s, struct blob_dir *bd);
int store_blobq_commit(struct store_blobq *q, int fd, const struct store_item *it, store_done_fn *done, void *arg);
int store_blobq_checkpoint(struct store_blobq *q, int fd, const struct store_partial *p, store_done_fn *done,
			   void *arg);
void store_blobq_destroy(struct store_blobq *q);

#endif
