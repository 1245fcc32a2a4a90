/* See net_peer.h. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <time.h>
#include "cpm/msrp.h"

#include "net_peer.h"

su_root_t *root;

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct rx *rx_cur(struct peer *pe)
{
	return &pe->rx[(pe->n - 1) % MAX_RX];
}

static void copy_str(char *out, size_t cap, struct cpm_str s)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;

	if (n)
		memcpy(out, s.p, n);
	out[n] = '\0';
}

static bool msrp_defined(struct cpm_str name)
{
	static const char *const own[] = {"To-Path", "From-Path", "Message-ID", "Byte-Range",
					  "Success-Report", "Failure-Report", "Status", "Use-Path",
					  "Expires", "Min-Expires", "Max-Expires"};

	if (name.len >= 8 && strncasecmp(name.p, "Content-", 8) == 0)
		return true;
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		if (cpm_str_caseeq(name, own[i]))
			return true;
	return false;
}

static void note_ext(struct rx *x, const struct msrp_msg *m)
{
	for (size_t i = 0; i < m->nheaders; i++) {
		const struct msrp_header *hd = &m->headers[i];

		if (msrp_defined(hd->name))
			continue;
		if (!x->ext_count++) {
			copy_str(x->ext_name, sizeof x->ext_name, hd->name);
			copy_str(x->ext_value, sizeof x->ext_value, hd->value);
		}
	}
}

static void peer_event(struct peer *pe, const struct msrp_event *ev)
{
	const struct msrp_msg *m = ev->msg;
	struct rx *x;
	struct cpm_str v;

	switch (ev->type) {
	case MSRP_EV_MSG:
		pe->n++;
		x = rx_cur(pe);
		memset(x, 0, sizeof *x);
		strcpy(x->tid, m->tid);
		x->method = m->method;
		x->status = m->status;
		copy_str(x->to, sizeof x->to, m->to_path);
		copy_str(x->from, sizeof x->from, m->from_path);
		copy_str(x->msgid, sizeof x->msgid, m->message_id);
		copy_str(x->ctype, sizeof x->ctype, m->content_type);
		copy_str(x->comment, sizeof x->comment, m->comment);
		x->has_range = m->has_byte_range;
		x->range = m->range;
		x->report_status = m->has_status ? m->status_code : 0;
		x->has_disposition = msrp_msg_header(m, "Content-Disposition", &v);
		x->sr = m->success_report;
		x->fr = m->failure_report;
		note_ext(x, m);
		break;
	case MSRP_EV_BODY:
		x = rx_cur(pe);
		x->body_len += ev->body.len;
		pe->body_total += ev->body.len;
		if (pe->body && pe->body_len + ev->body.len <= pe->body_cap) {
			memcpy(pe->body + pe->body_len, ev->body.p, ev->body.len);
			pe->body_len += ev->body.len;
		}
		break;
	case MSRP_EV_END:
		rx_cur(pe)->flag = ev->flag;
		pe->ends++;
		break;
	default:
		fprintf(stderr, "  peer: parse error %s\n", msrp_strerror(ev->error));
		break;
	}
}

/* Read what is there (within the budget) and parse it. */
void peer_poll(struct peer *pe)
{
	size_t got = 0;

	while (!pe->eof && (!pe->read_budget || got < pe->read_budget)) {
		size_t room = sizeof pe->buf - pe->len;
		size_t off = 0;
		ssize_t n;

		if (pe->read_budget && room > pe->read_budget - got)
			room = pe->read_budget - got;
		n = recv(pe->fd, pe->buf + pe->len, room, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			pe->eof = true;
			break;
		}
		if (n < 0)
			break;
		pe->len += (size_t)n;
		got += (size_t)n;
		for (;;) {
			struct msrp_event ev;
			size_t used = 0;
			enum msrp_ev t = msrp_parse(&pe->p, pe->buf + off, pe->len - off, &used, &ev);

			off += used;
			if (t == MSRP_EV_NEED_MORE)
				break;
			peer_event(pe, &ev);
			if (t == MSRP_EV_ERROR && ev.fatal) {
				pe->eof = true;
				break;
			}
		}
		memmove(pe->buf, pe->buf + off, pe->len - off);
		pe->len -= off;
	}
}

int peer_connect(struct peer *pe, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1;

	memset(pe, 0, sizeof *pe);
	msrp_parser_init(&pe->p);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pe->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (pe->fd < 0 || connect(pe->fd, (struct sockaddr *)&a, sizeof a))
		return -1;
	setsockopt(pe->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fcntl(pe->fd, F_SETFL, O_NONBLOCK);
	return 0;
}

void peer_close(struct peer *pe)
{
	if (pe->fd >= 0)
		close(pe->fd);
	pe->fd = -1;
	free(pe->body);
	pe->body = NULL;
}

/* Send everything, stepping the loop whenever the socket is full. */
int peer_send(struct peer *pe, const void *p, size_t n, struct peer *other)
{
	const char *c = p;
	uint64_t spins = 0;

	while (n) {
		ssize_t w = send(pe->fd, c, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			c += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		su_root_step(root, 1);
		if (other)
			peer_poll(other);
		peer_poll(pe);
		if (++spins > 200000)
			return -1;
	}
	return 0;
}

int peer_sendf(struct peer *pe, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return peer_send(pe, buf, (size_t)n, NULL);
}

/* Step the loop and poll the peers until cond() or the time limit. */

bool run_until(cond_f *cond, void *arg, struct peer *a, struct peer *b, int limit_ms)
{
	uint64_t end = now_ms() + (uint64_t)limit_ms;

	while (now_ms() < end) {
		if (cond(arg))
			return true;
		su_root_step(root, 1);
		if (a)
			peer_poll(a);
		if (b)
			peer_poll(b);
	}
	return cond(arg);
}


/* ---------------------------------------------------------------- helpers both tests use */

int send_bind(struct peer *pe, const char *to, const char *from, const char *tid)
{
	return peer_sendf(pe, "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: bind%s\r\n"
			      "Byte-Range: 1-0/0\r\n-------%s$\r\n", tid, to, from, tid, tid);
}

int device_respond(struct peer *dev, const struct rx *x, int status, const char *phrase)
{
	return peer_sendf(dev, "MSRP %s %d %s\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n", x->tid,
			  status, phrase, x->from, DEVICE_PATH, x->tid);
}

int device_report(struct peer *dev, const struct rx *x, uint64_t size)
{
	return peer_sendf(dev, "MSRP rep%s REPORT\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
			       "Byte-Range: 1-%llu/%llu\r\nStatus: 000 200 OK\r\n-------rep%s$\r\n",
			  x->tid, x->from, DEVICE_PATH, x->msgid, (unsigned long long)size,
			  (unsigned long long)size, x->tid);
}

/* Find the message with this tid (or, with tid NULL, the first SEND or
 * REPORT whose ...). */
const struct rx *find_tid(const struct peer *pe, const char *tid)
{
	unsigned first = pe->n > MAX_RX ? pe->n - MAX_RX : 0;

	for (unsigned i = first; i < pe->n; i++)
		if (strcmp(pe->rx[i % MAX_RX].tid, tid) == 0)
			return &pe->rx[i % MAX_RX];
	return NULL;
}

const struct rx *find_method(const struct peer *pe, enum msrp_method m, unsigned nth)
{
	unsigned first = pe->n > MAX_RX ? pe->n - MAX_RX : 0;

	for (unsigned i = first; i < pe->n; i++)
		if (pe->rx[i % MAX_RX].method == m && nth-- == 0)
			return &pe->rx[i % MAX_RX];
	return NULL;
}

bool peer_has(void *arg)
{
	struct want *w = arg;

	return w->pe->n >= w->n && w->pe->ends >= w->ends;
}

bool peer_eof(void *arg)
{
	return ((struct peer *)arg)->eof;
}

int blob_fd_new(const char *path)
{
	return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

int blob_fd_resume(const char *path)
{
	return open(path, O_RDWR | O_CLOEXEC);
}

int blob_fd_read(const char *path)
{
	return open(path, O_RDONLY | O_CLOEXEC);
}

char *read_file(const char *path, size_t *len)
{
	struct stat st;
	char *b;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	b = malloc((size_t)st.st_size + 1);
	*len = (size_t)read(fd, b, (size_t)st.st_size);
	close(fd);
	return b;
}

void sha1_of(const void *p, size_t n, uint8_t out[20])
{
	unsigned len = 20;

	EVP_Digest(p, n, out, &len, EVP_sha1(), NULL);
}
