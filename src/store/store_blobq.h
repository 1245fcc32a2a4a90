/* store_blobq — the store's hands on the blob files: every open, commit, removal and move of a
 * file under DATA_DIR goes through here (pf and the relay never name a path: they get file
 * descriptors keyed by item id), and nothing that fsyncs, unlinks or renames runs on the loop.
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
 *   store_blob_remove(q, id, partial, done, arg)  — (blob thread) unlink blobs/tmp/<id>
 *     (partial) or blobs/<id>; done(arg, 0 | -ENOENT | -errno) on the loop. Not made durable
 *     (no directory fsync): IF THE PROCESS DIES BEFORE THE REMOVAL RUNS (or before it reaches
 *     the disk), the file stays, and the start-up reconcile (store_reconcile) removes it then:
 *     it removes every blobs/<id> without a STORED/DELIVERING item and every blobs/tmp/<id>
 *     without a live RECEIVING item or partial row. So a caller asks for a removal only once
 *     the rows that would keep the file are gone (or their delete is queued first).
 *   store_blob_move_to_mss(q, id, done, arg)  — (blob thread) rename blobs/<id> → mss/<id>
 *     (the message-store hand-off of --on-expiry keep), fsync both directories; done(arg, err).
 *
 *   store_item_to_mss(q, &item, done, arg)  — the same hand-off for any item: its blob is moved
 *     as above, or (an inline body, store_item_put_body) the body is read from the row on the
 *     loop and written as mss/<id> on the blob thread (blob_write_mss: through blobs/tmp/, fsync,
 *     rename, fsync of both directories).
 *
 *   store_item_put_linked(q, from_id, &item, thumb, done, arg)  — a second item (with its own
 *     copy of the thumbnail, or none: thumb NULL) sharing the bytes of
 *     from_id's complete blob (a history for the other party, issue 11): (blob thread) a hard
 *     link blobs/<from_id> → blobs/<item.id>, the directory fsynced; (loop thread)
 *     store_item_put(item); done once that put is committed. Either file name may then be
 *     removed alone. A crash between the two leaves a link no item claims: reconcile removes
 *     it (nothing was promised for it yet).
 *
 *   store_blob_open_partial(q, id, fresh, &fd, &size)  — the item's partial, O_RDWR, for the
 *     relay's tee (blob_partial_open_rw: fresh = a new upload, created or emptied; else a
 *     resume: must exist). store_blob_open_read(q, id, offset, &fd, &size) — the complete blob,
 *     read-only, for a delivery (blob_open_read). Both are ONE openat + fstat (+ O_TRUNC of a
 *     fresh partial, which is empty or nearly so): quick, so they run synchronously ON THE LOOP
 *     thread; nothing here fsyncs on the loop. The fd is the caller's (hand it to the relay:
 *     docs/internals/relay.md, "File descriptors").
 *   store_item_open_read(q, &item, offset, &fd, &size)  — an item's bytes for a delivery,
 *     read-only at offset, whatever holds them: its blob (store_blob_open_read), or, for an
 *     inline body, a memfd the store fills from the row (at most STORE_MSG_INLINE_MAX bytes:
 *     one read and one write in memory, on the loop). The store owns every stored byte: pf
 *     gets a descriptor either way.
 *
 * THREADING: create, every call, drain and destroy from the loop thread. Requests run in
 * submission order on one thread (a removal queued after a commit of the same id runs after
 * it), but done callbacks are not ordered with each other (a commit that fails at step 1
 * answers before an earlier one whose item update is still being committed).
 * ERRORS: a call returning < 0 queued nothing and will not call done; -EINVAL for an id that
 * fails store_id_valid() (or a negative fd), -ESHUTDOWN once destroy began.
 * OWNERSHIP: store_blobq_commit takes the fd (closed after step 1, also on failure) unless it
 * returns < 0. Destroy before closing the store and the blob_dir: it finishes every queued
 * request and submits their updates (their done callbacks run inside destroy). */
#ifndef CPM_STORE_BLOBQ_H
#define CPM_STORE_BLOBQ_H

#include "store/store.h"

struct store_blobq;
/* bd: the store's (store_blob_dir(s)) or, in tests, one from blob_dir_open. */
int store_blobq_create(struct store_blobq **out, struct store *s, struct blob_dir *bd);
int store_blobq_commit(struct store_blobq *q, int fd, const struct store_item *it, store_done_fn *done, void *arg);
int store_blobq_checkpoint(struct store_blobq *q, int fd, const struct store_partial *p, store_done_fn *done,
			   void *arg);
int store_blob_remove(struct store_blobq *q, const char *id, bool partial, store_done_fn *done, void *arg);
int store_blob_move_to_mss(struct store_blobq *q, const char *id, store_done_fn *done, void *arg);
int store_blob_open_partial(struct store_blobq *q, const char *id, bool fresh, int *fd, uint64_t *size);
int store_blob_open_read(struct store_blobq *q, const char *id, uint64_t offset, int *fd, uint64_t *size);
int store_item_open_read(struct store_blobq *q, const struct store_item *it, uint64_t offset, int *fd,
			 uint64_t *size);
int store_item_to_mss(struct store_blobq *q, const struct store_item *it, store_done_fn *done, void *arg);
int store_item_put_linked(struct store_blobq *q, const char *from_id, const struct store_item *it,
			  const struct store_thumb *thumb, store_done_fn *done, void *arg);
/* Runs the loop (loop_step) until every request queued so far has answered: its done ran (for
 * a commit or checkpoint: its store write is submitted; wait for that with store_sync). For
 * shutdown: afterwards no callback of an earlier request is pending here, while the queue
 * stays usable (e.g. for the removals of the transfers freed next). Blocks. */
void store_blobq_drain(struct store_blobq *q);
void store_blobq_destroy(struct store_blobq *q);

#endif
