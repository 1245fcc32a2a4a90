/* blob — crash-safe file storage for FT items (src/store/blob.c).
 *
 * Layout: DATA_DIR/blobs/<id> (complete, durable), DATA_DIR/blobs/tmp/<id> (partial, being
 * received; kept for resume) and DATA_DIR/mss/<id> (expired with --on-expiry keep: handed to
 * the message store, outside what reconcile looks at). A name on disk is always one of our ids
 * (store_id_valid(): [A-Za-z0-9_-], 1..STORE_ID_MAX), never anything a peer sent: every call
 * refuses other names with -EINVAL, and paths are never built from strings: we open the three
 * directories once and use openat()/renameat()/unlinkat() relative to them. Nothing outside
 * src/store names a path under DATA_DIR: pf and the relay get file descriptors (store_blobq.h).
 *
 * Durability: blob_commit() = fsync(file) + rename(tmp/<id> → <id>) + fsync(blobs/) (and
 * fsync(tmp/) so the unlink side of the rename is durable too). After it returns 0, the
 * complete file survives a crash or power loss.
 *
 * THREADING: the opens (blob_partial_open_rw, blob_open_read) and
 * blob_append() are quick syscalls (an openat, a write into the page cache): they may run on the
 * loop. blob_commit(), blob_partial_sync(), blob_move_to_mss() and blob_dir_open() call fsync
 * and may take milliseconds; blob_remove() unlinks (a big file's blocks are freed then): run
 * them on the blob worker (store_blobq.c), NEVER on the loop thread. blob_scan() and the
 * start-up reconcile run before the loop serves.
 * A struct blob_dir is immutable after open and may be shared by threads.
 *
 * OWNERSHIP: blob_dir_open's caller owns the dir (blob_dir_close). File descriptors returned
 * by blob_partial_open_rw/blob_open_read belong to the caller (close them). */
#ifndef CPM_STORE_BLOB_H
#define CPM_STORE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blob_dir;

/* Opens (creating if needed) data_dir/blobs, data_dir/blobs/tmp and data_dir/mss. data_dir
 * must exist. */
int blob_dir_open(struct blob_dir **out, const char *data_dir);
void blob_dir_close(struct blob_dir *bd);

/* The relay's tee: blobs/tmp/<id> open read-write (O_RDWR, no O_APPEND: the relay writes with
 * pwrite() at its own count, and a resumed upload's hasher reads the prefix back through a dup).
 * fresh: a new upload: created, or cut to 0 bytes if it exists (a live transfer that becomes a
 * deferred one starts its store relay on the same partial); otherwise it must exist (-ENOENT):
 * a resume. *size = its size (0 when fresh). */
int blob_partial_open_rw(struct blob_dir *bd, const char *id, bool fresh, int *fd, uint64_t *size);
/* Cuts a reopened partial back to the contiguous byte count the store has recorded (bytes
 * beyond it were written but never made durable/acknowledged). */
int blob_partial_truncate(int fd, uint64_t size);
/* Writes all of buf (retries short writes and EINTR). */
int blob_append(int fd, const void *buf, size_t len);
/* fdatasync of a partial (so that a recorded byte count is backed by the bytes). */
int blob_partial_sync(int fd);
/* fsync(fd) + rename tmp/<id> → <id> + fsync of both directories. Does not close fd. */
int blob_commit(struct blob_dir *bd, const char *id, int fd);
/* Opens blobs/<id> read-only positioned at offset (resume of a delivery); *size = file size.
 * -ENOENT if absent, -EINVAL if offset > size. */
int blob_open_read(struct blob_dir *bd, const char *id, uint64_t offset, int *fd, uint64_t *size);
/* Removes blobs/<id> (partial = false) or blobs/tmp/<id> (partial = true). -ENOENT if absent. */
int blob_remove(struct blob_dir *bd, const char *id, bool partial);
/* Moves the complete blobs/<id> to mss/<id> (the message-store hand-off), then fsyncs both
 * directories. -ENOENT if absent. */
int blob_move_to_mss(struct blob_dir *bd, const char *id);
/* A hard link blobs/<from> → blobs/<to> (two names of one complete blob), the directory
 * fsynced. -EEXIST when <to> exists. */
int blob_link(struct blob_dir *bd, const char *from, const char *to);
/* Writes len bytes as the message-store hand-off mss/<id>, crash-safe: written to
 * blobs/tmp/<id> (a partial reconcile removes if we die here), fsynced, renamed into mss/,
 * both directories fsynced. For an item whose body has no blob (an inline message). */
int blob_write_mss(struct blob_dir *bd, const char *id, const void *data, size_t len);
/* 0 if the file exists, -ENOENT if not. */
int blob_exists(struct blob_dir *bd, const char *id, bool partial);
/* Calls cb for every regular file in blobs/ (partial = false) or blobs/tmp/; `valid` says
 * whether the name is one of our ids (only then may cb act on it). Stops if cb returns
 * non-zero. Returns 0 or a negative errno. Removing the current entry from cb is allowed. */
typedef int blob_scan_cb(void *arg, const char *name, bool valid);
int blob_scan(struct blob_dir *bd, bool partial, blob_scan_cb *cb, void *arg);

#endif
