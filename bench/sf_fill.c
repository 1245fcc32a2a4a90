/* sf_fill: fills a cpmd data directory with stored items for bench/sf_bench.sh (issue #3:
 * REGISTER -> first delivery INVITE with 1,000,000 stored items).
 *
 *   sf_fill DATA_DIR N_ITEMS N_RECIPIENTS DOMAIN TEST_USER TEST_ITEMS TEST_SIZE [file|message]
 *
 * KIND message (issue 8): every item is a stored pager-mode message instead (kind MESSAGE, a
 * ~250-byte message/cpim body inline in its row, no blob file), ids "m%031u" / "u%031u".
 *
 * - N_ITEMS items in state STORED for users bulk0..bulk{N_RECIPIENTS-1}@DOMAIN (round robin),
 *   ids "b%031u" (never clash with pf's 32-hex-digit ids), expiring in a year. Each gets an
 *   EMPTY file blobs/<id>: cpmd's start-up reconcile marks a STORED item whose blob file is
 *   missing FAILED, so the files must exist; their content is never read (nobody registers as
 *   those users). Skipped when DATA_DIR/.sf_fill_N_R exists (the bulk is cached).
 * - TEST_ITEMS items for TEST_USER@DOMAIN with REAL blobs of TEST_SIZE random bytes and the
 *   right sha-1: checked on every run (missing item, other state or wrong blob -> recreated),
 *   so a benchmark that delivered one by accident is repaired.
 * Writes go through the store library (group commit), as cpmd's own writes do. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include "net/loop.h"

#include "store/store.h"

static unsigned pending, failed;
static struct loop *loop;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void done(void *arg, int err)
{
	(void)arg;
	pending--;
	if (err && err != -EEXIST)
		failed++;
}

static void drain(unsigned below)
{
	while (pending > below)
		loop_step(loop, 100);
}

static void base_item(struct store_item *it, const char *id, const char *recipient, unsigned i, int64_t now)
{
	memset(it, 0, sizeof *it);
	snprintf(it->id, sizeof it->id, "%s", id);
	snprintf(it->sender, sizeof it->sender, "sip:sender%u@bench.test", i % 977); /* a URI, as pf stores From */
	snprintf(it->recipient, sizeof it->recipient, "%s", recipient);
	snprintf(it->sel.name, sizeof it->sel.name, "IMG_%07u.jpg", i);
	snprintf(it->sel.type, sizeof it->sel.type, "image/jpeg");
	snprintf(it->ft_id, sizeof it->ft_id, "ft%u", i);
	snprintf(it->conv_id, sizeof it->conv_id, "c0a80101-0000-4000-8000-%012u", i);
	snprintf(it->contrib_id, sizeof it->contrib_id, "c0a80101-0000-4000-9000-%012u", i);
	snprintf(it->imdn_msgid, sizeof it->imdn_msgid, "ft%u", i);
	it->imdn_disp = STORE_IMDN_POSITIVE | STORE_IMDN_NEGATIVE;
	it->created_at_ms = now - 3600000 + (int64_t)(i % 3600000);
	it->expires_at_ms = now + 365LL * 86400000;
	it->state = STORE_ITEM_STORED;
}

static int touch(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* a blob of `size` random bytes; its sha-1 in out */
static int make_blob(int dfd, const char *name, uint64_t size, uint8_t out[20])
{
	static unsigned char buf[1 << 16];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	unsigned len = 20;

	if (fd < 0 || !md || !EVP_DigestInit_ex(md, EVP_sha1(), NULL))
		return -1;
	for (uint64_t left = size; left;) {
		size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)rand();
		if (write(fd, buf, n) != (ssize_t)n)
			return -1;
		EVP_DigestUpdate(md, buf, n);
		left -= n;
	}
	EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
	fsync(fd);
	close(fd);
	return 0;
}

/* sha-1 and size of an existing blob; -1 if missing */
static int blob_sha1(int dfd, const char *name, uint64_t *size, uint8_t out[20])
{
	static unsigned char buf[1 << 16];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	unsigned len = 20;
	ssize_t n;

	*size = 0;
	if (fd < 0 || !md || !EVP_DigestInit_ex(md, EVP_sha1(), NULL)) {
		if (fd >= 0)
			close(fd);
		EVP_MD_CTX_free(md);
		return -1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
	close(fd);
	return 0;
}

/* The data dir's layout (blobs/, blobs/tmp/), the loop and the store on DATA_DIR/cpmd.db. */
static int open_store(const char *dir, struct store **s)
{
	char path[1200];
	int err;
	snprintf(path, sizeof path, "%s/blobs", dir);
	mkdir(dir, 0700);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/blobs/tmp", dir);
	mkdir(path, 0700);
	if (loop_create(&loop)) {
		fprintf(stderr, "sf_fill: cannot create the event loop\n");
		return -1;
	}
	snprintf(path, sizeof path, "%s/cpmd.db", dir);
	if ((err = store_sqlite_open(s, loop, path))) {
		fprintf(stderr, "sf_fill: open %s: %s\n", path, strerror(-err));
		return -1;
	}
	return 0;
}

/* A pager-mode message body (message/cpim) for item i. */
static size_t message_body(char *out, size_t cap, const char *sender, const char *recipient, unsigned i)
{
	int n = snprintf(out, cap,
			 "From: <sip:%s>\r\nTo: <sip:%s>\r\nNS: imdn <urn:ietf:params:imdn>\r\n"
			 "imdn.Message-ID: m%u\r\nDateTime: 2026-12-03T10:00:00.000Z\r\n"
			 "imdn.Disposition-Notification: positive-delivery\r\n\r\n"
			 "Content-Type: text/plain;charset=UTF-8\r\n\r\nbenchmark message number %u",
			 sender, recipient, i, i);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int put_message(struct store *s, const char *id, const char *recipient, unsigned i, int64_t now)
{
	struct store_item it;
	char body[1024];
	int err;
	base_item(&it, id, recipient, i, now);
	it.kind = STORE_KIND_MESSAGE;
	snprintf(it.sel.name, sizeof it.sel.name, "message");
	snprintf(it.sel.type, sizeof it.sel.type, "message/cpim");
	snprintf(it.imdn_msgid, sizeof it.imdn_msgid, "m%u", i);
	it.ft_id[0] = '\0';
	size_t len = message_body(body, sizeof body, it.sender, recipient, i);
	it.sel.size = len;
	it.bytes_received = len;
	while ((err = store_item_put_body(s, &it, body, len, done, NULL)) == -EAGAIN)
		loop_step(loop, 10);
	if (!err)
		pending++;
	return err;
}

/* KIND message: the bulk and the test user's items are stored pager messages. */
static int fill_messages(char **argv)
{
	const char *dir = argv[1];
	unsigned n = (unsigned)strtoul(argv[2], NULL, 10), nr = (unsigned)strtoul(argv[3], NULL, 10);
	const char *domain = argv[4], *tuser = argv[5];
	unsigned tn = (unsigned)strtoul(argv[6], NULL, 10);
	char stamp[1200], aor[300], id[STORE_ID_MAX + 1];
	struct store *s;
	int64_t now = wall_ms();
	int err;

	if (nr == 0)
		nr = 1;
	if (open_store(dir, &s))
		return 1;
	snprintf(stamp, sizeof stamp, "%s/.sf_fill_msg_%u_%u", dir, n, nr);
	if (n && access(stamp, F_OK) == 0) {
		printf("sf_fill: %u bulk messages over %u recipients already there (%s)\n", n, nr, stamp);
	} else if (n) {
		double t0 = now_s();
		for (unsigned i = 0; i < n; i++) {
			snprintf(id, sizeof id, "m%031u", i);
			snprintf(aor, sizeof aor, "bulk%u@%s", i % nr, domain);
			if ((err = put_message(s, id, aor, i, now))) {
				fprintf(stderr, "sf_fill: item_put_body: %s\n", strerror(-err));
				return 1;
			}
			if (pending > 50000)
				drain(10000);
		}
		drain(0);
		if (failed) {
			fprintf(stderr, "sf_fill: %u writes failed\n", failed);
			return 1;
		}
		printf("sf_fill: %u bulk messages (inline bodies, no blob files) over %u recipients in %.1f s\n", n, nr,
		       now_s() - t0);
		int fd = open(stamp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
	snprintf(aor, sizeof aor, "%s@%s", tuser, domain);
	char sender[STORE_AOR_MAX + 1];
	/* a URI, as pf stores From: a push carries it as From/Referred-By, and a core (Kamailio)
	 * rejects a From without a scheme; cached items of older runs are recreated */
	snprintf(sender, sizeof sender, "sip:alice@%s", domain);
	unsigned fixed = 0;
	for (unsigned i = 0; i < tn; i++) {
		struct store_item cur;
		snprintf(id, sizeof id, "u%031u", i);
		err = store_item_get(s, id, &cur);
		if (!err && cur.state == STORE_ITEM_STORED && cur.kind == STORE_KIND_MESSAGE && !strcmp(cur.recipient, aor))
			continue;
		if (!err) {
			pending++;
			if (store_item_del(s, id, done, NULL))
				return 1;
			drain(0);
		}
		if (put_message(s, id, aor, 5000000 + i, now - 7200000))
			return 1;
		drain(0);
		fixed++;
	}
	printf("sf_fill: %s has %u stored messages (%u (re)created)\n", aor, tn, fixed);
	store_close(s);
	loop_destroy(loop);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 8 && !(argc == 9 && (!strcmp(argv[8], "file") || !strcmp(argv[8], "message")))) {
		fprintf(stderr, "usage: sf_fill DATA_DIR N_ITEMS N_RECIPIENTS DOMAIN TEST_USER TEST_ITEMS TEST_SIZE [file|message]\n");
		return 2;
	}
	if (argc == 9 && !strcmp(argv[8], "message"))
		return fill_messages(argv);
	const char *dir = argv[1];
	unsigned n = (unsigned)strtoul(argv[2], NULL, 10), nr = (unsigned)strtoul(argv[3], NULL, 10);
	const char *domain = argv[4], *tuser = argv[5];
	unsigned tn = (unsigned)strtoul(argv[6], NULL, 10);
	uint64_t tsize = strtoull(argv[7], NULL, 10);
	char path[1200], stamp[1200], aor[300];
	struct store *s;
	struct store_item it;
	int64_t now = wall_ms();
	int err;

	if (nr == 0)
		nr = 1;
	if (open_store(dir, &s))
		return 1;
	snprintf(path, sizeof path, "%s/blobs", dir);
	int bfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		perror(path);
		return 1;
	}
	snprintf(stamp, sizeof stamp, "%s/.sf_fill_%u_%u", dir, n, nr);
	if (n && access(stamp, F_OK) == 0) {
		printf("sf_fill: %u bulk items over %u recipients already there (%s)\n", n, nr, stamp);
	} else if (n) {
		double t0 = now_s(), t1;
		for (unsigned i = 0; i < n; i++) {
			char id[STORE_ID_MAX + 1];
			snprintf(id, sizeof id, "b%031u", i);
			snprintf(aor, sizeof aor, "bulk%u@%s", i % nr, domain);
			base_item(&it, id, aor, i, now);
			it.sel.size = 100000 + i % 1000;
			it.bytes_received = it.sel.size;
			it.sel.has_hash = true;
			memcpy(it.sel.sha1, &i, sizeof i);
			if ((err = touch(bfd, id))) {
				fprintf(stderr, "sf_fill: create blobs/%s: %s\n", id, strerror(-err));
				return 1;
			}
			while ((err = store_item_put(s, &it, NULL, done, NULL)) == -EAGAIN)
				loop_step(loop, 10);
			if (err) {
				fprintf(stderr, "sf_fill: item_put: %s\n", strerror(-err));
				return 1;
			}
			pending++;
			if (pending > 50000)
				drain(10000);
		}
		drain(0);
		t1 = now_s();
		if (failed) {
			fprintf(stderr, "sf_fill: %u writes failed\n", failed);
			return 1;
		}
		printf("sf_fill: %u bulk items (+ %u empty blob files) over %u recipients in %.1f s\n", n, n, nr,
		       t1 - t0);
		int fd = open(stamp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
	/* the test user's items: real blobs, checked every run */
	snprintf(aor, sizeof aor, "%s@%s", tuser, domain);
	char sender[STORE_AOR_MAX + 1];
	/* a URI, as pf stores From: a push carries it as From/Referred-By, and a core (Kamailio)
	 * rejects a From without a scheme; cached items of older runs are recreated */
	snprintf(sender, sizeof sender, "sip:alice@%s", domain);
	unsigned fixed = 0;
	for (unsigned i = 0; i < tn; i++) {
		char id[STORE_ID_MAX + 1];
		uint8_t sha[20];
		uint64_t sz;
		struct store_item cur;
		snprintf(id, sizeof id, "t%031u", i);
		err = store_item_get(s, id, &cur);
		if (!err && cur.state == STORE_ITEM_STORED && cur.sel.size == tsize && !blob_sha1(bfd, id, &sz, sha) &&
		    sz == tsize && !memcmp(sha, cur.sel.sha1, 20) && !strcmp(cur.recipient, aor) &&
		    !strcmp(cur.sender, sender))
			continue;
		if (!err) {
			pending++;
			if (store_item_del(s, id, done, NULL))
				return 1;
			drain(0);
		}
		srand(i + 1);
		if (make_blob(bfd, id, tsize, sha)) {
			fprintf(stderr, "sf_fill: blob %s: %s\n", id, strerror(errno));
			return 1;
		}
		base_item(&it, id, aor, 5000000 + i, now - 7200000);
		it.sel.size = tsize;
		it.bytes_received = tsize;
		it.sel.has_hash = true;
		memcpy(it.sel.sha1, sha, 20);
		snprintf(it.sel.name, sizeof it.sel.name, "test_%u.bin", i);
		snprintf(it.sel.type, sizeof it.sel.type, "application/octet-stream");
		snprintf(it.sender, sizeof it.sender, "%s", sender);
		pending++;
		if (store_item_put(s, &it, NULL, done, NULL))
			return 1;
		drain(0);
		fixed++;
	}
	printf("sf_fill: %s has %u items with real %" PRIu64 "-byte blobs (%u (re)created)\n", aor, tn, tsize, fixed);
	store_close(s);
	close(bfd);
	loop_destroy(loop);
	return failed ? 1 : 0;
}
