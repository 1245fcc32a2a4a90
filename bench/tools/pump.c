/* pump HOST PORT FILE [BUFSIZE]: the benchmark's TCP sender.
 *
 * Connects to HOST:PORT, then read()s FILE (expected to be in the page cache)
 * into one buffer of BUFSIZE bytes (default 1 MiB) and write()s every byte to
 * the socket; then shuts the write side down and waits for the peer to close,
 * so that it returns only once the sink has seen EOF. Prints
 * "pump BYTES SECONDS" on stdout (connect to peer close).
 *
 * read()+write() rather than sendfile(): it does the same work as a
 * normal application (and as `cpm send`), one copy into user space and one
 * into the socket. Compiled by bench/run.sh with cc -O2. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: pump HOST PORT FILE [BUFSIZE]\n");
		return 2;
	}
	size_t bs = argc > 4 ? strtoul(argv[4], NULL, 10) : 1u << 20;
	char *buf = malloc(bs);
	int fd = open(argv[3], O_RDONLY);
	if (!buf || fd < 0) {
		perror("pump: open");
		return 1;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "pump: bad address %s\n", argv[1]);
		return 2;
	}
	int s = socket(AF_INET, SOCK_STREAM, 0);
	double t0 = now();
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("pump: connect");
		return 1;
	}
	unsigned long long total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, bs);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("pump: read");
			return 1;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(s, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				perror("pump: write");
				return 1;
			}
			off += w;
		}
		total += (unsigned long long)n;
	}
	shutdown(s, SHUT_WR);
	char tmp[4096];
	while (read(s, tmp, sizeof tmp) > 0)
		;
	printf("pump %llu %.6f\n", total, now() - t0);
	return 0;
}
