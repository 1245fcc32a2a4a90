/* The MSS objects (src/mss/mss_object.c, mss_header.c, mss_record.c, mss_resp.c): the size
 * announced before the first byte is exactly what the reader gives for every base64 tail
 * length and read size, Message-IDs are stable and safe, folders, peer values cannot add
 * a header, and the IMAP response readers. The real-server tests are tests/mss/. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "mss/mss_object.h"
#include "mss/mss_resp.h"
#include "unit.h"

/* The whole object through reads of `step` bytes (NUL-terminated, malloc'ed). */
static char *read_all(struct mss_reader *r, size_t step, size_t *len)
{
	size_t cap = (size_t)mss_reader_size(r) + 64, n = 0;
	char *buf = malloc(cap + 1);
	ssize_t k;

	while ((k = mss_reader_read(r, buf + n, cap - n < step ? cap - n : step)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	*len = k < 0 ? (size_t)-1 : n;
	return buf;
}

static int temp_file(size_t n)
{
	char path[] = "/tmp/test_mss_XXXXXX";
	int fd = mkstemp(path);

	unlink(path);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)(i * 7 + 3);
		if (write(fd, &c, 1) != 1)
			return -1;
	}
	return fd;
}

UNIT_TEST(mss_size_is_exact)
{
	static const size_t sizes[] = {0, 1, 2, 3, 56, 57, 58, 114, 3647, 3648, 3649, 10000};
	static const size_t steps[] = {1, 7, 4096, 1 << 20};

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		int fd = temp_file(sizes[i]);
		struct mss_meta m = {.kind = MSS_FT_HISTORY, .item_id = "i1", .file = {NULL, fd, UINT64_MAX},
				     .file_name = "f", .thumb_type = "image/png", .thumb = {"abcd", -1, 4}};
		struct mss_reader *r;

		CHECK(fd >= 0);
		CHECK_EQ_INT(mss_object_open(&m, &r), 0);
		for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
			size_t len;
			char *all;

			mss_reader_rewind(r);
			all = read_all(r, steps[s], &len);
			CHECK_EQ_INT(len, mss_reader_size(r));
			CHECK(strstr(all, "X-CPM-File-Size: ") != NULL);
			CHECK(strstr(all, "\r\n--=_cpm_part_=--\r\n") == all + len - 20);
			free(all);
		}
		mss_reader_free(r);
		close(fd);
	}
}

UNIT_TEST(mss_file_shrank)
{
	int fd = temp_file(1000);
	struct mss_meta m = {.kind = MSS_FT_HISTORY, .item_id = "i2", .file = {NULL, fd, UINT64_MAX}};
	struct mss_reader *r;
	size_t len;

	CHECK_EQ_INT(mss_object_open(&m, &r), 0);
	CHECK_EQ_INT(ftruncate(fd, 10), 0);
	free(read_all(r, 4096, &len));
	CHECK(len == (size_t)-1); /* an error, never a short object under the announced size */
	mss_reader_free(r);
	close(fd);
}

UNIT_TEST(mss_message_ids)
{
	char a[MSS_MESSAGE_ID_MAX], b[MSS_MESSAGE_ID_MAX];

	CHECK_EQ_INT(mss_message_id(a, sizeof a, MSS_FT_HISTORY, "abc-1"), 0);
	CHECK_STR(a, "<ft-history.abc-1@cpm.mss>");
	CHECK_EQ_INT(mss_message_id(b, sizeof b, MSS_KEPT_FILE, "abc-1"), 0);
	CHECK_STR(b, "<kept-file.abc-1@cpm.mss>");
	/* anything else is hashed: stable, and no '"', CR or '>' reaches SEARCH */
	CHECK_EQ_INT(mss_message_id(a, sizeof a, MSS_SESSION_HISTORY, "a\"b\r\n>"), 0);
	CHECK_EQ_INT(mss_message_id(b, sizeof b, MSS_SESSION_HISTORY, "a\"b\r\n>"), 0);
	CHECK_STR(a, b);
	CHECK(strncmp(a, "<session-history.x.", 19) == 0 && strlen(a) == 19 + 40 + 9);
	CHECK_EQ_INT(mss_message_id(a, sizeof a, MSS_FT_HISTORY, ""), -1);
	CHECK_EQ_INT(mss_message_id(a, 10, MSS_FT_HISTORY, "abc"), -1);
}

UNIT_TEST(mss_folders)
{
	char f[MSS_FOLDER_MAX];

	CHECK_EQ_INT(mss_folder(f, sizeof f, MSS_FT_HISTORY, "c0nv.1_x"), 0);
	CHECK_STR(f, "CPM/Conversations/c0nv.1_x");
	CHECK_EQ_INT(mss_folder(f, sizeof f, MSS_SESSION_HISTORY, NULL), 0);
	CHECK_STR(f, "CPM/History");
	CHECK_EQ_INT(mss_folder(f, sizeof f, MSS_EXPIRED_FILE, "c"), 0);
	CHECK_STR(f, "CPM/Files");
	CHECK_EQ_INT(mss_folder(f, sizeof f, MSS_FT_HISTORY, "../x"), 0);
	CHECK(strncmp(f, "CPM/Conversations/x-", 20) == 0 && strlen(f) == 20 + 40);
	CHECK_EQ_INT(mss_folder(f, sizeof f, MSS_FT_HISTORY, "x-abc"), 0); /* the hashed form's prefix */
	CHECK(strlen(f) == 20 + 40);
}

UNIT_TEST(mss_no_header_injection)
{
	const char *to[] = {"sip:b@x\r\nBcc: v@x"};
	struct mss_meta m = {.kind = MSS_MESSAGE_HISTORY, .item_id = "m", .sender = "sip:a@x>\nX: y",
			     .recipients = to, .nrecipients = 1, .conversation_id = "c\r\nBcc: w",
			     .contribution_id = "\xff\xfe\r\n", .disposition = "deliv\r\nered",
			     .body_type = "text/plain\r\nBcc: z", .body = {"hi", -1, 2}};
	struct mss_reader *r;
	size_t len;
	char *all;

	CHECK_EQ_INT(mss_object_open(&m, &r), 0);
	all = read_all(r, 4096, &len);
	CHECK(strstr(all, "\nBcc") == NULL && strstr(all, "\nX:") == NULL);
	CHECK(strstr(all, "X-CPM-Disposition: delivered\r\n") != NULL);
	CHECK(strstr(all, "Contribution-ID: ??  \r\n") != NULL);
	free(all);
	mss_reader_free(r);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* a record torn by a crash (the file cut inside the last one) is left out */
UNIT_TEST(mss_session_torn_record)
{
	int fd = temp_file(0);
	struct mss_record rec = {.kind = MSS_REC_MESSAGE, .from = "sip:a@x", .to = "sip:b@x",
				 .imdn_id = "i", .content_type = "message/cpim", .body = "hello", .body_len = 5};
	struct mss_meta m = {.kind = MSS_SESSION_HISTORY, .item_id = "s", .records_fd = fd};
	struct mss_reader *r;
	size_t len;
	char *all;
	off_t end;

	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(mss_record_append(fd, &rec), 0);
	end = lseek(fd, 0, SEEK_END);
	CHECK_EQ_INT(mss_object_open(&m, &r), 0);
	all = read_all(r, 4096, &len);
	CHECK_EQ_INT(count(all, "X-CPM-Record: message"), 3);
	free(all);
	mss_reader_free(r);
	CHECK_EQ_INT(ftruncate(fd, end - 10), 0);
	CHECK_EQ_INT(mss_object_open(&m, &r), 0);
	all = read_all(r, 4096, &len);
	CHECK_EQ_INT(len, mss_reader_size(r));
	CHECK_EQ_INT(count(all, "X-CPM-Record: message"), 2);
	CHECK(strstr(all, "\r\n--=_cpm_part_=--\r\n") == all + len - 20);
	free(all);
	mss_reader_free(r);
	close(fd);
}

UNIT_TEST(mss_resp_readers)
{
	uint32_t uid;

	CHECK_EQ_INT(mss_search_parse("* SEARCH\r\n", 10, &uid), 0);
	CHECK_EQ_INT(mss_search_parse("* SEARCH 42 7\r\n", 15, &uid), 2);
	CHECK_EQ_INT(uid, 42);
	CHECK_EQ_INT(mss_search_parse("* SEARCH 4x\r\n", 13, &uid), -1);
	CHECK_EQ_INT(mss_search_parse("* SEARCH 0\r\n", 12, &uid), -1);
	CHECK_EQ_INT(mss_search_parse("* SEARCH 4294967296\r\n", 21, &uid), -1);
	CHECK_EQ_INT(mss_search_parse("* OK x\r\n", 8, &uid), 0);
	CHECK_EQ_INT(mss_resp_class("A1 NO [LIMIT] too big", 21), -2);
	CHECK_EQ_INT(mss_resp_class("A1 NO [OVERQUOTA] full", 22), -2);
	CHECK_EQ_INT(mss_resp_class("A1 NO [UNAVAILABLE] later", 25), -1);
	CHECK_EQ_INT(mss_resp_class("A1 OK [LIMIT]", 13), -1);
}

UNIT_MAIN(T(mss_size_is_exact), T(mss_file_shrank), T(mss_message_ids), T(mss_folders),
	  T(mss_no_header_injection), T(mss_session_torn_record), T(mss_resp_readers))
