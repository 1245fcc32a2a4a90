/* A file written and SHA-1-hashed off the event loop (issue 12 §2 and §4): a bounded ring the
 * loop fills, one worker thread that pwrite()s and hashes what it finds there, and an eventfd
 * that wakes the loop. Shared by cpmd's relay (relay/relay_tee_worker.c: the blob of a
 * transfer) and cpm receive (client/msrp_in_disk.c: the part file); it knows no relay, store,
 * MSRP or event loop: the owner registers disk_ring_efd() in its own loop.
 *
 * Threads: the owner's loop thread is the only producer (push, finish, drain, poll, stop); the
 * worker is the only consumer. The bytes are written sequentially from file offset `base`
 * (the file already holds [0, base): a resume, hashed first by pread()). The loop is woken
 * (eventfd readable) when the worker freed half the ring for a producer told to pause, when
 * it finished, and on an error; it then calls disk_ring_poll().
 *
 * Lifetime: the owner and the worker each hold a reference; disk_ring_stop() drops the
 * owner's and cancels the worker (seen within one piece), which frees everything if it is the
 * last. The owner never joins the thread (a loop must not wait for a disk);
 * disk_ring_wait_all() waits for every worker still alive before the process exits (none may
 * be inside libcrypto then). */
#ifndef CPM_COMMON_DISK_RING_H
#define CPM_COMMON_DISK_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The ring's capacity: the memory of one transfer is bounded whatever the file size. */
#define DISK_RING_SIZE (2u << 20)
/* Below this a file is cheaper to write and hash inline than to start a thread for
 * (docs/internals/relay.md, "The tee worker"; the owner decides). */
#define DISK_RING_MIN_FILE (256u * 1024)

struct disk_ring;

struct disk_ring_result {
	bool finished;     /* the worker is done (ok, error or cancelled) */
	int err;           /* 0 or -errno (-EIO: the prefix is shorter than base) */
	bool write_err;    /* err came from writing the file (not from reading the prefix) */
	bool hashed;       /* digest is valid: finished without err, and not a lazy worker never asked */
	uint8_t digest[20]; /* sha-1 of [0, base + pushed), when hashed */
	uint64_t direct_bytes; /* of them written with O_DIRECT (disk_ring_direct), when finished */
};

/* The ring and its eventfd, no thread yet: the owner registers disk_ring_efd() and then calls
 * disk_ring_start() or disk_ring_fail(). low_room: disk_ring_push() asks the producer to pause
 * when less than this is free (the largest push it may make next; < DISK_RING_SIZE / 2).
 * 0 or -errno. */
int disk_ring_create(struct disk_ring **out, uint64_t base, size_t low_room);
int disk_ring_efd(const struct disk_ring *d);
/* The worker thread, on its own dup of fd (-1: hash only, write nothing). It takes no signal.
 * 0 or -errno (then there is no thread: the owner stops the ring and works inline). */
int disk_ring_start(struct disk_ring *d, int fd);
/* Before disk_ring_start(), with a file open for reading too: the worker writes without hashing
 * until disk_ring_want_hash(), then hashes [0, what it wrote) back by pread() and goes on as an
 * eager worker. A result without a want_hash has no digest (hashed false). */
void disk_ring_lazy_hash(struct disk_ring *d);
/* The owner needs the digest after all (a lazy ring; otherwise nothing). Wakes a sleeping
 * worker so that it catches up on the prefix at once. A worker already finished without the
 * hash stays without it (the owner hashes the file again with a ring of base = its size). */
void disk_ring_want_hash(struct disk_ring *d);
/* Before disk_ring_start(): the worker writes whole aligned blocks with O_DIRECT (no copy into
 * the page cache; the head and tail that are not whole blocks go buffered), if the file system
 * allows it. With disk_ring_lazy_hash() (a file that may be deleted unread: a live relay's
 * tee), only while the disk keeps up: once the ring has been over half full for a while, the
 * next blocks go buffered (disk_ring.c, DR_BEHIND_MS), so a slow disk does not set the
 * producer's pace. Not with disk_ring_wake_at(): a
 * direct worker waits for a whole block before it writes, except at the file's end. */
void disk_ring_direct(struct disk_ring *d);
/* No thread: the result is err, reported through the eventfd like a worker's. */
void disk_ring_fail(struct disk_ring *d, int err);
/* Copy n bytes in (the file's next bytes). -ENOBUFS: no room (a producer that pauses when
 * told never sees it); 1: the producer must pause until a wake-up finds disk_ring_has_room();
 * 0: go on. */
int disk_ring_push(struct disk_ring *d, const char *p, size_t n);
bool disk_ring_has_room(const struct disk_ring *d);
/* true: the file holds `written` bytes (base included) already. false: the loop is woken once
 * it does (one mark at a time: a new call replaces the last one). For an owner that may
 * acknowledge bytes only once they are written (cpm receive: the peer resumes from there).
 * kick: also wake a worker asleep with fewer bytes than wake it by themselves (the owner
 * will push nothing more until its acknowledgements went out); without, the mark waits for
 * the next push, finish or kick. */
bool disk_ring_wake_at(struct disk_ring *d, uint64_t written, bool kick);
/* The file ends at what was pushed: the worker writes and hashes the rest, finishes the digest
 * and wakes the loop. */
void disk_ring_finish(struct disk_ring *d);
/* An ended transfer: let the worker write what the ring still holds (no digest wanted), if
 * there is anything and a file. true: a wake-up follows when it is written. */
bool disk_ring_drain(struct disk_ring *d);
/* On a wake-up of the eventfd: consume it and read the worker's state. */
void disk_ring_poll(struct disk_ring *d, struct disk_ring_result *res);
/* base + the bytes the worker has written (and hashed) so far. */
uint64_t disk_ring_written(const struct disk_ring *d);
/* Cancel the worker and drop the owner's reference (d is gone). Returns what the file holds
 * for sure: base + written when the worker did not finish cleanly (bytes still in the ring
 * are lost; a tail the worker may still write is the resumer's to cut), UINT64_MAX when it
 * did (everything pushed is in the file). */
uint64_t disk_ring_stop(struct disk_ring *d);
/* Wait up to ms for every worker thread of the process to leave. true: none is left. */
bool disk_ring_wait_all(unsigned ms);

/* Tests: every worker sleeps delay_us before each write (a disk slower than the network);
 * fail_at > 0: the write that reaches that file offset fails ENOSPC after writing up to it. */
void disk_ring_test_hooks(unsigned delay_us, uint64_t fail_at);

#endif
