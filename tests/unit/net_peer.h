/* The MSRP test peer shared by the event-loop tests of src/net
 * (test_net_relay.c, test_net_store_modes.c): a non-blocking socket driven
 * from the test's own thread, with its own MSRP parser, that records every
 * message it receives. */
#ifndef CPM_TEST_NET_PEER_H
#define CPM_TEST_NET_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/su_wait.h>

#include "cpm/msrp.h"

#define SENDER_PATH "msrp://127.0.0.1:9/senderSession01;tcp"
#define DEVICE_PATH "msrp://127.0.0.1:9/deviceSession01;tcp"
#define MAX_RX 64
#define STEP_LIMIT_MS 8000

/* ---------------------------------------------------------------- a test peer */

struct rx {
	char tid[MSRP_TID_MAX + 1];
	enum msrp_method method;
	int status;
	char to[256], from[256], msgid[64], ctype[64], comment[64];
	bool has_range;
	struct msrp_byte_range range;
	int report_status;
	bool has_disposition;
	enum msrp_report_mode sr, fr;
	uint64_t body_len;
	char flag; /* 0 until the end-line */
	/* the first header MSRP does not define (an extension header such
	 * as Cpm-Stored), name and value; "" if none */
	char ext_name[72], ext_value[208];
	unsigned ext_count; /* how many such headers */
};

struct peer {
	int fd;
	struct msrp_parser p;
	char buf[128 * 1024];
	size_t len;
	struct rx rx[MAX_RX];
	unsigned n;       /* messages seen (rx[] keeps the last MAX_RX) */
	unsigned ends;    /* end-lines seen */
	char *body;       /* all SEND body bytes, if body_cap */
	size_t body_len, body_cap;
	uint64_t body_total;
	bool eof;
	size_t read_budget; /* 0 = unlimited; else bytes per poll (slow reader) */
};

extern su_root_t *root; /* the loop every test steps */

uint64_t now_ms(void);
struct rx *rx_cur(struct peer *pe);
void peer_poll(struct peer *pe);
int peer_connect(struct peer *pe, uint16_t port);
void peer_close(struct peer *pe);
int peer_send(struct peer *pe, const void *p, size_t n, struct peer *other);
int peer_sendf(struct peer *pe, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Step the loop and poll the peers until cond() or the time limit. */
typedef bool cond_f(void *arg);
bool run_until(cond_f *cond, void *arg, struct peer *a, struct peer *b, int limit_ms);


/* Helpers both relay test programs use. */
int send_bind(struct peer *pe, const char *to, const char *from, const char *tid);
int device_respond(struct peer *dev, const struct rx *x, int status, const char *phrase);
int device_report(struct peer *dev, const struct rx *x, uint64_t size);
const struct rx *find_tid(const struct peer *pe, const char *tid);
const struct rx *find_method(const struct peer *pe, enum msrp_method m, unsigned nth);
/* run_until() conditions: pe has seen n messages and `ends` end-lines; pe saw EOF. */
struct want {
	struct peer *pe;
	unsigned n;
	unsigned ends;
};
bool peer_has(void *arg);
bool peer_eof(void *arg);
char *read_file(const char *path, size_t *len);
/* The blob descriptors a relay takes, opened the way the store opens them
 * (src/store/blob.c; the relay never opens a file): a new partial
 * (read-write, created empty), a kept partial (read-write, must exist: a
 * resume), a complete blob (read-only). -1 on error. Once
 * ft_relay_create*() returns 0 the relay owns the descriptor. */
int blob_fd_new(const char *path);
int blob_fd_resume(const char *path);
int blob_fd_read(const char *path);
void sha1_of(const void *p, size_t n, uint8_t out[20]);

#endif
