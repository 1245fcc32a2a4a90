/* sink PORT READYFILE: the benchmark's TCP receiver.
 *
 * Listens on 127.0.0.1:PORT, writes READYFILE once listening, accepts one
 * connection and read()s it into a 256 KiB buffer until EOF, then closes.
 * Prints "sink BYTES SECONDS" on stdout, SECONDS measured from accept() to
 * EOF. Compiled by bench/run.sh with cc -O2. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
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
	if (argc < 3) {
		fprintf(stderr, "usage: sink PORT READYFILE\n");
		return 2;
	}
	static char buf[256 * 1024];
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 4) < 0) {
		perror("sink: listen");
		return 1;
	}
	FILE *r = fopen(argv[2], "w");
	if (!r) {
		perror("sink: ready file");
		return 1;
	}
	fclose(r);
	int c = accept(l, NULL, NULL);
	if (c < 0) {
		perror("sink: accept");
		return 1;
	}
	double t0 = now();
	unsigned long long total = 0;
	for (;;) {
		ssize_t n = read(c, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("sink: read");
			return 1;
		}
		if (n == 0)
			break;
		total += (unsigned long long)n;
	}
	double t = now() - t0;
	close(c);
	printf("sink %llu %.6f\n", total, t);
	return 0;
}
