/* src/common/disk_ring.c, the write + sha-1 worker that cpmd's relay and cpm receive share:
 * a producer that pauses when told and waits on the eventfd as a loop would, over a real file
 * in a fresh temporary directory. A file of random bytes whose sha-1 and contents are checked;
 * a disk slower than the producer (the producer is paused, the file arrives whole); a write
 * error mid-file (the file cut back to what the worker wrote, ENOSPC reported as a write
 * error); a cancel with data in flight (the worker leaves, stop() reports what it wrote); a
 * resume (the prefix hashed first) and a prefix shorter than it should be; a wake-up once
 * given bytes are written; hash only; O_DIRECT writes (aligned and not, a slow disk, an error).
 * Every
 * test waits for its worker threads (disk_ring_wait_all), as TSan wants. */
#include "common/disk_ring.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define CHUNK (64 * 1024 + 123) /* not a divisor of the ring: pushes wrap */
#define LOW_ROOM (CHUNK + 1)

static char dir[64];
static char *data;
static size_t data_len;

static int open_file(const char *name)
{
	char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static void sha1(const char *p, size_t n, uint8_t out[20])
{
	unsigned len = 0;
	EVP_Digest(p, n, out, &len, EVP_sha1(), NULL);
}

/* Wait for the eventfd (as a loop would) and read the state. */
static bool wait_wakeup(struct disk_ring *d, struct disk_ring_result *res, int ms)
{
	struct pollfd pfd = {.fd = disk_ring_efd(d), .events = POLLIN};
	if (poll(&pfd, 1, ms) != 1)
		return false;
	disk_ring_poll(d, res);
	return true;
}

/* Push data[from, len) in CHUNK pieces, pausing when told; *pauses counts them. Returns 0, or
 * the worker's error seen while paused. */
static int produce(struct disk_ring *d, size_t from, size_t len, unsigned *pauses)
{
	struct disk_ring_result res;
	size_t off = from;
	while (off < len) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;
		int rc = disk_ring_push(d, data + off, n);
		if (rc < 0)
			return rc;
		off += n;
		while (rc == 1) {
			if (pauses)
				(*pauses)++;
			if (!wait_wakeup(d, &res, 10000))
				return -ETIMEDOUT;
			if (res.finished)
				return res.err ? res.err : -EPROTO;
			if (disk_ring_has_room(d))
				rc = 0;
		}
	}
	return 0;
}

static bool file_is(int fd, const char *p, size_t n)
{
	struct stat st;
	char *buf;
	bool same;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != n)
		return false;
	buf = malloc(n ? n : 1);
	same = buf && pread(fd, buf, n, 0) == (ssize_t)n && memcmp(buf, p, n) == 0;
	free(buf);
	return same;
}

static void whole_file(unsigned delay_us, unsigned *pauses)
{
	struct disk_ring *d;
	struct disk_ring_result res;
	uint8_t want[20];
	int fd = open_file("whole");

	CHECK(fd >= 0);
	disk_ring_test_hooks(delay_us, 0);
	CHECK_EQ_INT(disk_ring_create(&d, 0, LOW_ROOM), 0);
	CHECK_EQ_INT(disk_ring_start(d, fd), 0);
	CHECK_EQ_INT(produce(d, 0, data_len, pauses), 0);
	disk_ring_finish(d);
	do
		CHECK(wait_wakeup(d, &res, 10000));
	while (!res.finished);
	CHECK_EQ_INT(res.err, 0);
	sha1(data, data_len, want);
	CHECK(memcmp(res.digest, want, 20) == 0);
	CHECK_EQ_INT(disk_ring_written(d), data_len);
	CHECK(disk_ring_stop(d) == UINT64_MAX); /* finished cleanly: everything is in the file */
	CHECK(file_is(fd, data, data_len));
	close(fd);
	disk_ring_test_hooks(0, 0);
	CHECK(disk_ring_wait_all(5000));
}

UNIT_TEST(test_whole_file)
{
	unsigned pauses = 0;
	whole_file(0, &pauses);
}

/* A disk slower than the network: the producer is told to pause, the file arrives whole. */
UNIT_TEST(test_slow_writer)
{
	unsigned pauses = 0;
	whole_file(3000, &pauses);
	CHECK(pauses > 0);
}

/* The disk fills up mid-file: ENOSPC as a write error, the file cut back to the end of the
 * last piece the worker wrote, disk_ring_written() and stop() say how much that is. direct: the
 * same contract for a worker that writes with O_DIRECT. */
static void write_error(bool direct, uint64_t fail_at)
{
	struct disk_ring *d;
	struct disk_ring_result res;
	uint64_t held;
	struct stat st;
	int fd = open_file(direct ? "direct" : "enospc"), rc;

	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 0) == 0);
	disk_ring_test_hooks(0, fail_at);
	CHECK_EQ_INT(disk_ring_create(&d, 0, LOW_ROOM), 0);
	if (direct)
		disk_ring_direct(d);
	CHECK_EQ_INT(disk_ring_start(d, fd), 0);
	rc = produce(d, 0, data_len, NULL);
	if (rc == 0) {
		disk_ring_finish(d);
		do
			CHECK(wait_wakeup(d, &res, 10000));
		while (!res.finished);
	} else {
		disk_ring_poll(d, &res);
	}
	CHECK(res.finished);
	CHECK_EQ_INT(res.err, -ENOSPC);
	CHECK(res.write_err);
	CHECK(disk_ring_written(d) < fail_at);
	CHECK(fstat(fd, &st) == 0);
	CHECK_EQ_INT((uint64_t)st.st_size, disk_ring_written(d)); /* no torn tail */
	CHECK(file_is(fd, data, (size_t)st.st_size));
	held = disk_ring_stop(d);
	CHECK_EQ_INT(held, (uint64_t)st.st_size);
	close(fd);
	disk_ring_test_hooks(0, 0);
	CHECK(disk_ring_wait_all(5000));
}

UNIT_TEST(test_write_error_mid_file) { write_error(false, 3 * 1024 * 1024 + 4321); }

/* The owner stops with bytes still in the ring: the worker leaves within one piece, without
 * waking the owner, and stop() reports only what was written. */
UNIT_TEST(test_cancel_in_flight)
{
	struct disk_ring *d;
	uint64_t pushed = 0, held;
	int fd = open_file("cancel");

	CHECK(fd >= 0);
	disk_ring_test_hooks(50000, 0); /* 50 ms per piece */
	CHECK_EQ_INT(disk_ring_create(&d, 0, LOW_ROOM), 0);
	CHECK_EQ_INT(disk_ring_start(d, fd), 0);
	while (pushed + CHUNK <= DISK_RING_SIZE - LOW_ROOM) {
		CHECK(disk_ring_push(d, data + pushed, CHUNK) >= 0);
		pushed += CHUNK;
	}
	held = disk_ring_stop(d); /* d is gone */
	CHECK(held < pushed);
	CHECK(disk_ring_wait_all(5000));
	close(fd);
	disk_ring_test_hooks(0, 0);
}

/* A resume: the file holds [0, base); the worker hashes it first, then writes the rest. */
UNIT_TEST(test_resume_prefix)
{
	struct disk_ring *d;
	struct disk_ring_result res;
	uint8_t want[20];
	size_t base = 700 * 1024 + 7;
	int fd = open_file("resume");

	CHECK(fd >= 0);
	CHECK(pwrite(fd, data, base, 0) == (ssize_t)base);
	CHECK_EQ_INT(disk_ring_create(&d, base, LOW_ROOM), 0);
	CHECK_EQ_INT(disk_ring_start(d, fd), 0);
	CHECK_EQ_INT(produce(d, base, data_len, NULL), 0);
	disk_ring_finish(d);
	do
		CHECK(wait_wakeup(d, &res, 10000));
	while (!res.finished);
	CHECK_EQ_INT(res.err, 0);
	sha1(data, data_len, want);
	CHECK(memcmp(res.digest, want, 20) == 0);
	CHECK_EQ_INT(disk_ring_written(d), data_len);
	disk_ring_stop(d);
	CHECK(file_is(fd, data, data_len));
	close(fd);
	CHECK(disk_ring_wait_all(5000));
}

/* A prefix shorter than base: -EIO, not a write error. And disk_ring_fail(): the same
 * result without a thread, through the eventfd. */
UNIT_TEST(test_short_prefix_and_fail)
{
	struct disk_ring *d;
	struct disk_ring_result res;
	int fd = open_file("short");

	CHECK(fd >= 0);
	CHECK(pwrite(fd, data, 1000, 0) == 1000);
	CHECK_EQ_INT(disk_ring_create(&d, 5000, LOW_ROOM), 0);
	CHECK_EQ_INT(disk_ring_start(d, fd), 0);
	CHECK(wait_wakeup(d, &res, 10000));
	CHECK(res.finished);
	CHECK_EQ_INT(res.err, -EIO);
	CHECK(!res.write_err);
	disk_ring_stop(d);
	close(fd);

	CHECK_EQ_INT(disk_ring_create(&d, 0, LOW_ROOM), 0);
	disk_ring_fail(d, -EIO);
	CHECK(wait_wakeup(d, &res, 1000));
	CHECK(res.finished);
	CHECK_EQ_INT(res.err, -EIO);
	disk_ring_stop(d);
	CHECK(disk_ring_wait_all(5000));
}

/* An owner that acknowledges only written bytes (cpm receive): wake_at() on a worker asleep
 * with fewer bytes than wake it by themselves gets them written and the loop woken. */
UNIT_TEST(test_wake_at)
{
	struct disk_ring *d;
	struct disk_ring_result res;
	size_t n = 100 * 1024;
	int fd = open_file("wake");

	CHECK(fd >= 0);
	CHECK_EQ_INT(disk_ring_create(&d, 0, LOW_ROOM), 0);
	CHECK_EQ_INT(disk_ring_start(d, fd), 0);
	usleep(20000); /* let the worker fall asleep */
	CHECK(disk_ring_wake_at(d, 0, true));
	CHECK_EQ_INT(disk_ring_push(d, data, n), 0);
	usleep(20000);
	CHECK(disk_ring_written(d) == 0); /* fewer than DR_WAKE bytes: the worker sleeps on */
	CHECK(!disk_ring_wake_at(d, n, false)); /* armed, not kicked */
	if (!disk_ring_wake_at(d, n, true)) {
		CHECK(wait_wakeup(d, &res, 10000));
		CHECK(!res.finished);
	}
	CHECK(disk_ring_written(d) >= n);
	CHECK(disk_ring_wake_at(d, n, false));
	disk_ring_stop(d);
	CHECK(file_is(fd, data, n));
	close(fd);
	CHECK(disk_ring_wait_all(5000));
}

/* No file (fd -1): the bytes are only hashed; drain() has nothing to write for. */
UNIT_TEST(test_hash_only)
{
	struct disk_ring *d;
	struct disk_ring_result res;
	uint8_t want[20];

	CHECK_EQ_INT(disk_ring_create(&d, 0, LOW_ROOM), 0);
	CHECK_EQ_INT(disk_ring_start(d, -1), 0);
	CHECK_EQ_INT(produce(d, 0, 1024 * 1024, NULL), 0);
	CHECK(!disk_ring_drain(d));
	disk_ring_finish(d);
	do
		CHECK(wait_wakeup(d, &res, 10000));
	while (!res.finished);
	CHECK_EQ_INT(res.err, 0);
	sha1(data, 1024 * 1024, want);
	CHECK(memcmp(res.digest, want, 20) == 0);
	disk_ring_stop(d);
	CHECK(disk_ring_wait_all(5000));
}

/* A lazy ring (a live relay's): asked for the hash after `ask` bytes (or never), it hashes
 * back what it wrote and ends with the whole file's digest; never asked, it has none. */
static void lazy(size_t ask, bool never)
{
	struct disk_ring *d;
	struct disk_ring_result res;
	uint8_t want[20];
	int fd = open_file("lazy");

	CHECK(fd >= 0);
	CHECK_EQ_INT(disk_ring_create(&d, 0, LOW_ROOM), 0);
	disk_ring_lazy_hash(d);
	CHECK_EQ_INT(disk_ring_start(d, fd), 0);
	CHECK_EQ_INT(produce(d, 0, ask, NULL), 0);
	if (!never)
		disk_ring_want_hash(d);
	CHECK_EQ_INT(produce(d, ask, data_len, NULL), 0);
	disk_ring_finish(d);
	do
		CHECK(wait_wakeup(d, &res, 10000));
	while (!res.finished);
	CHECK_EQ_INT(res.err, 0);
	CHECK(res.hashed == !never);
	sha1(data, data_len, want);
	CHECK(never || memcmp(res.digest, want, 20) == 0);
	CHECK(disk_ring_stop(d) == UINT64_MAX);
	CHECK(file_is(fd, data, data_len));
	close(fd);
	CHECK(disk_ring_wait_all(5000));
}

UNIT_TEST(test_lazy_never_asked) { lazy(data_len, true); }
UNIT_TEST(test_lazy_asked_early) { lazy(CHUNK, false); }
UNIT_TEST(test_lazy_asked_late) { lazy(5 * 1024 * 1024, false); }
UNIT_TEST(test_lazy_asked_at_end) { lazy(data_len, false); }

/* Can the test directory take O_DIRECT? (tmpfs since Linux 6.6, ext4, xfs: yes.) */
static bool direct_works(void)
{
	char p[128];
	snprintf(p, sizeof p, "%s/probe", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	unlink(p);
	return fd >= 0;
}

/* disk_ring_direct(): whole 4 KiB blocks written with O_DIRECT, the unaligned head (a resume
 * from an unaligned base) and the last partial block through the page cache; the file and
 * its sha-1 are the same as a buffered worker's, and a slow disk still pauses the producer.
 * expect_direct: the bytes between the first aligned offset at or after base and the last
 * aligned offset at or before the end, exactly. */
static void direct(size_t base, unsigned delay_us)
{
	struct disk_ring *d;
	struct disk_ring_result res;
	uint8_t want[20];
	unsigned pauses = 0;
	int fd = open_file("direct");
	uint64_t lo = (base + 4095) / 4096 * 4096, hi = data_len / 4096 * 4096;

	CHECK(fd >= 0);
	CHECK(pwrite(fd, data, base, 0) == (ssize_t)base);
	disk_ring_test_hooks(delay_us, 0);
	CHECK_EQ_INT(disk_ring_create(&d, base, LOW_ROOM), 0);
	disk_ring_direct(d);
	CHECK_EQ_INT(disk_ring_start(d, fd), 0);
	CHECK_EQ_INT(produce(d, base, data_len, &pauses), 0);
	disk_ring_finish(d);
	do
		CHECK(wait_wakeup(d, &res, 10000));
	while (!res.finished);
	CHECK_EQ_INT(res.err, 0);
	sha1(data, data_len, want);
	CHECK(memcmp(res.digest, want, 20) == 0);
	CHECK_EQ_INT(disk_ring_written(d), data_len);
	if (direct_works())
		CHECK_EQ_INT(res.direct_bytes, hi - lo);
	else
		fprintf(stderr, "note: %s takes no O_DIRECT: the buffered fallback was tested\n", dir);
	if (delay_us)
		CHECK(pauses > 0);
	CHECK(disk_ring_stop(d) == UINT64_MAX);
	CHECK(file_is(fd, data, data_len));
	close(fd);
	disk_ring_test_hooks(0, 0);
	CHECK(disk_ring_wait_all(5000));
}

UNIT_TEST(test_direct_whole) { direct(0, 0); }
UNIT_TEST(test_direct_resume_unaligned) { direct(700 * 1024 + 7, 0); }
UNIT_TEST(test_direct_slow_disk) { direct(4096, 3000); }

UNIT_TEST(test_direct_write_error) { write_error(true, 2 * 1024 * 1024 + 999); }

/* A live relay's tee (lazy + direct): O_DIRECT while the disk keeps up, the page cache while it
 * is behind, never a producer held to the disk's pace for a file that may be deleted unread.
 * behind = false: the producer pushes 256 KiB and waits until it is written (the ring never
 * fills: every whole block goes direct); true: each write takes 10 ms, the producer pushes
 * as fast as it can (the ring fills and stays full for more than DR_BEHIND_MS: the next
 * blocks go buffered, the first ones went direct). The file
 * is the same either way. */
static void lazy_direct(bool behind)
{
	struct disk_ring *d;
	struct disk_ring_result res;
	int fd = open_file("lazy");
	uint64_t hi = data_len / 4096 * 4096;
	size_t step = 256 * 1024;

	CHECK(fd >= 0);
	disk_ring_test_hooks(behind ? 10000 : 0, 0);
	CHECK_EQ_INT(disk_ring_create(&d, 0, LOW_ROOM), 0);
	disk_ring_lazy_hash(d);
	disk_ring_direct(d);
	CHECK_EQ_INT(disk_ring_start(d, fd), 0);
	if (behind) {
		CHECK_EQ_INT(produce(d, 0, data_len, NULL), 0);
	} else {
		for (size_t off = 0; off < data_len; off += step) {
			size_t end = off + step < data_len ? off + step : data_len;

			CHECK_EQ_INT(produce(d, off, end, NULL), 0);
			if (end == data_len)
				break; /* the partial last block waits for finish */
			while (!disk_ring_wake_at(d, end, true))
				CHECK(wait_wakeup(d, &res, 10000));
		}
	}
	disk_ring_finish(d);
	do
		CHECK(wait_wakeup(d, &res, 10000));
	while (!res.finished);
	CHECK_EQ_INT(res.err, 0);
	CHECK(!res.hashed);
	if (!direct_works())
		fprintf(stderr, "note: %s takes no O_DIRECT: the buffered fallback was tested\n", dir);
	else if (behind)
		CHECK(res.direct_bytes > 0 && res.direct_bytes < hi);
	else
		CHECK_EQ_INT(res.direct_bytes, hi);
	CHECK(disk_ring_stop(d) == UINT64_MAX);
	CHECK(file_is(fd, data, data_len));
	close(fd);
	disk_ring_test_hooks(0, 0);
	CHECK(disk_ring_wait_all(5000));
}

UNIT_TEST(test_lazy_direct_keeps_up) { lazy_direct(false); }
UNIT_TEST(test_lazy_direct_disk_behind) { lazy_direct(true); }

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/cpm-disk-ring.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	data_len = 6 * 1024 * 1024 + 555;
	data = malloc(data_len);
	if (!data || RAND_bytes((unsigned char *)data, (int)data_len) != 1)
		abort();
}

static void teardown(void)
{
	const char *names[] = {"whole", "enospc", "cancel", "resume", "short", "wake", "lazy", "direct"};
	char p[128];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	free(data);
}

int main(void)
{
	static const struct unit_test tests[] = {
		T(test_whole_file), T(test_slow_writer), T(test_write_error_mid_file), T(test_cancel_in_flight),
		T(test_resume_prefix), T(test_short_prefix_and_fail), T(test_wake_at), T(test_hash_only),
		T(test_lazy_never_asked), T(test_lazy_asked_early), T(test_lazy_asked_late), T(test_lazy_asked_at_end),
		T(test_direct_whole), T(test_direct_resume_unaligned), T(test_direct_slow_disk), T(test_direct_write_error),
		T(test_lazy_direct_keeps_up), T(test_lazy_direct_disk_behind),
	};
	int rc;
	setup();
	rc = unit_run(tests, sizeof tests / sizeof tests[0]);
	teardown();
	return rc;
}
