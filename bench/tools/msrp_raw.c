/* msrp_raw: the benchmark's raw MSRP endpoints (issue 12, bench/speed_bench.sh). They speak
 * MSRP and nothing else, without hashing or writing a file, so that a transfer through cpmd
 * measures cpmd and not its clients (cpm send hashes and reads, cpm receive writes and
 * hashes). The SIP dialog that sets the transfer up is bench/raw_ua.py's.
 *
 *   msrp_raw send HOST PORT TO-PATH FROM-PATH FILE CHUNK
 *       Connects to HOST:PORT (cpmd's a=path), sends FILE as one MSRP message in CHUNK-byte
 *       SENDs (Failure-Report: no, Success-Report: yes: no per-chunk responses to read,
 *       one REPORT at the end, the way a sender that trusts TCP does it), the file mmap()ed and
 *       each chunk written with one writev (head, body, end-line). Waits for the REPORT.
 *   msrp_raw sink HOST PORT TO-PATH FROM-PATH
 *       Connects, binds with an empty SEND, then parses what comes (lib/msrp's parser, the one
 *       cpmd uses) into a 256 KiB buffer and throws the bodies away; answers every SEND that
 *       asks for a response, and the '$' chunk's Success-Report with a REPORT of the whole
 *       message. Exits after that.
 *
 * Both print "msrp_raw MODE BYTES SECONDS STATUS" (SECONDS from connect to the end, STATUS
 * the REPORT's code for send) and exit 0 on success. Built by CMake (target msrp_raw) with
 * the project's parser and builders. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cpm/msrp.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(const char *host, const char *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 || connect(fd, (void *)&sa, sizeof sa)) {
		perror("msrp_raw: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void write_all_v(int fd, struct iovec *iov, int n)
{
	while (n) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("msrp_raw: write");
			exit(1);
		}
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

static void write_all(int fd, const void *p, size_t n)
{
	struct iovec v = {(void *)p, n};
	write_all_v(fd, &v, 1);
}

/* Reads and parses until want(ev) says stop; the parser's events go to `on`. */
typedef int on_event_f(int fd, const struct msrp_event *ev, void *arg);
static uint64_t pump_events(int fd, on_event_f *on, void *arg)
{
	static char buf[256 * 1024 + MSRP_MAX_HEADER_BYTES];
	static struct msrp_parser p;
	size_t len = 0, off = 0;
	uint64_t body = 0;

	msrp_parser_init(&p);
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof buf - len);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			fprintf(stderr, "msrp_raw: connection ended before the end (%s)\n", r ? strerror(errno) : "EOF");
			exit(1);
		}
		len += (size_t)r;
		for (;;) {
			struct msrp_event ev;
			size_t used = 0;
			enum msrp_ev t = msrp_parse(&p, buf + off, len - off, &used, &ev);

			off += used;
			if (t == MSRP_EV_NEED_MORE)
				break;
			if (t == MSRP_EV_ERROR && ev.fatal) {
				fprintf(stderr, "msrp_raw: unparseable stream: %s\n", msrp_strerror(ev.error));
				exit(1);
			}
			if (t == MSRP_EV_BODY)
				body += ev.body.len;
			if (on(fd, &ev, arg))
				return body;
		}
		/* keep the unparsed tail (a header block at most) at the start */
		memmove(buf, buf + off, len - off);
		len -= off;
		off = 0;
	}
}

struct send_state {
	int status;
};

static int send_on_event(int fd, const struct msrp_event *ev, void *arg)
{
	struct send_state *s = arg;

	(void)fd;
	if (ev->type == MSRP_EV_MSG && ev->msg->method == MSRP_METHOD_NONE && ev->msg->status >= 300) {
		fprintf(stderr, "msrp_raw: error response %d\n", ev->msg->status);
		exit(1);
	}
	if (ev->type == MSRP_EV_END && ev->msg && ev->msg->method == MSRP_METHOD_REPORT) {
		s->status = ev->msg->has_status ? ev->msg->status_code : 0;
		return 1;
	}
	return 0;
}

static int do_send(char **a)
{
	const char *to = a[2], *from = a[3];
	size_t chunk = (size_t)strtoull(a[5], NULL, 10);
	int ffd = open(a[4], O_RDONLY), fd;
	struct stat st;
	char msgid[17], tid[17], head[2048], end[64];
	struct send_state s = {0};
	double t0;

	if (ffd < 0 || fstat(ffd, &st) || !chunk) {
		perror("msrp_raw: file");
		return 2;
	}
	uint64_t total = (uint64_t)st.st_size;
	const char *map = total ? mmap(NULL, total, PROT_READ, MAP_SHARED | MAP_POPULATE, ffd, 0) : "";
	if (map == MAP_FAILED) {
		perror("msrp_raw: mmap");
		return 1;
	}
	msrp_random_ident(msgid, 16);
	fd = dial(a[0], a[1]);
	t0 = now();
	for (uint64_t off = 0; off < total || !total; off += chunk) {
		size_t n = total - off < chunk ? (size_t)(total - off) : chunk;
		struct msrp_byte_range br = {off + 1, off + n, total};
		struct msrp_request_head h = {
			.tid = tid, .method = MSRP_METHOD_SEND, .to_path = cpm_str_c(to),
			.from_path = cpm_str_c(from), .message_id = cpm_str_c(msgid), .range = &br,
			.success_report = MSRP_REPORT_YES, .failure_report = MSRP_REPORT_NO,
			.content_type = cpm_str_c("application/octet-stream"),
		};
		msrp_random_ident(tid, 16);
		int hn = msrp_build_request_head(head, sizeof head, &h);
		int en = msrp_build_end(end, sizeof end, tid, off + n >= total ? MSRP_FLAG_END : MSRP_FLAG_MORE, true);
		if (hn < 0 || en < 0) {
			fprintf(stderr, "msrp_raw: cannot frame a chunk\n");
			return 1;
		}
		struct iovec iov[3] = {{head, (size_t)hn}, {(void *)(map + off), n}, {end, (size_t)en}};
		write_all_v(fd, iov, 3);
		if (!total)
			break;
	}
	pump_events(fd, send_on_event, &s);
	printf("msrp_raw send %llu %.3f %d\n", (unsigned long long)total, now() - t0, s.status);
	close(fd);
	return s.status == 200 ? 0 : 1;
}

struct sink_state {
	const char *our;
	int done;
};

static int sink_on_event(int fd, const struct msrp_event *ev, void *arg)
{
	struct sink_state *s = arg;
	char out[4096];
	int n;

	if (ev->type != MSRP_EV_END || !ev->msg || ev->msg->method != MSRP_METHOD_SEND)
		return 0;
	const struct msrp_msg *m = ev->msg;
	struct cpm_str back = msrp_path_first(m->from_path);
	if (m->failure_report == MSRP_REPORT_YES || m->failure_report == MSRP_REPORT_DEFAULT) {
		n = msrp_build_response(out, sizeof out, m->tid, 200, "OK", back, cpm_str_c(s->our));
		if (n > 0)
			write_all(fd, out, (size_t)n);
	}
	if (ev->flag == MSRP_FLAG_END && m->has_byte_range && m->range.total != MSRP_RANGE_STAR &&
	    m->range.total == m->range.end) {
		if (m->success_report == MSRP_REPORT_YES) {
			struct msrp_byte_range br = {1, m->range.total, m->range.total};
			char tid[17];
			struct msrp_request_head h = {
				.tid = tid, .method = MSRP_METHOD_REPORT, .to_path = m->from_path,
				.from_path = cpm_str_c(s->our), .message_id = m->message_id, .range = &br,
				.status_code = 200, .status_comment = "OK",
			};
			msrp_random_ident(tid, 16);
			n = msrp_build_request_head(out, sizeof out, &h);
			int en = n > 0 ? msrp_build_end(out + n, sizeof out - (size_t)n, tid, MSRP_FLAG_END, false) : -1;
			if (en > 0)
				write_all(fd, out, (size_t)(n + en));
		}
		s->done = 1;
		return 1;
	}
	return 0;
}

static int do_sink(char **a)
{
	struct sink_state s = {.our = a[3]};
	char tid[17], msgid[17], head[2048], end[64];
	double t0;
	int fd = dial(a[0], a[1]);

	t0 = now();
	/* bind the connection: an empty SEND (RFC 4975 §7.1), no response wanted */
	msrp_random_ident(tid, 16);
	msrp_random_ident(msgid, 16);
	struct msrp_request_head h = {
		.tid = tid, .method = MSRP_METHOD_SEND, .to_path = cpm_str_c(a[2]), .from_path = cpm_str_c(a[3]),
		.message_id = cpm_str_c(msgid), .failure_report = MSRP_REPORT_NO,
	};
	int hn = msrp_build_request_head(head, sizeof head, &h);
	int en = hn > 0 ? msrp_build_end(end, sizeof end, tid, MSRP_FLAG_END, false) : -1;
	if (en < 0)
		return 1;
	write_all(fd, head, (size_t)hn);
	write_all(fd, end, (size_t)en);
	uint64_t bytes = pump_events(fd, sink_on_event, &s);
	/* the REPORT is out; the sender's BYE closes the connection */
	printf("msrp_raw sink %llu %.3f %d\n", (unsigned long long)bytes, now() - t0, s.done ? 200 : 0);
	fflush(stdout);
	char c;
	shutdown(fd, SHUT_WR);
	while (read(fd, &c, 1) > 0)
		;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 8 && !strcmp(argv[1], "send"))
		return do_send(argv + 2);
	if (argc == 6 && !strcmp(argv[1], "sink"))
		return do_sink(argv + 2);
	fprintf(stderr, "usage: msrp_raw send HOST PORT TO-PATH FROM-PATH FILE CHUNK\n"
			"       msrp_raw sink HOST PORT TO-PATH FROM-PATH\n");
	return 2;
}
