/* fresh_pages: what writing into memory the kernel has to hand out anew costs on this machine
 * (the page cache a live relay's tee fills is such memory). Maps GIB GiB of anonymous memory,
 * writes every byte once (memset), unmaps it, waits PAUSE seconds, and does it again; prints
 * the seconds of CPU per GiB of each pass and, as the reference, of a memset over memory that
 * is already mapped and touched (a third pass over the same mapping).
 *
 *   cc -O2 -o fresh_pages bench/tools/fresh_pages.c && ./fresh_pages 4 0 && ./fresh_pages 4 10
 *
 * On a VM whose balloon device has free page reporting (virtio-balloon feature bit 5), the
 * guest hands freed memory back to the host after a short delay, and touching it again faults
 * in the host too: the second pass after a pause costs what the first did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static double pass(size_t bytes, int keep, char **keep_p)
{
	double t0 = cpu_s();
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(p, 1, bytes);
	double t = cpu_s() - t0;
	if (keep)
		*keep_p = p;
	else
		munmap(p, bytes);
	return t;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fresh_pages GIB PAUSE_SECONDS\n");
		return 2;
	}
	size_t gib = (size_t)atoi(argv[1]), bytes = gib << 30;
	char *p = NULL;
	double first = pass(bytes, 0, NULL);
	sleep((unsigned)atoi(argv[2]));
	double second = pass(bytes, 1, &p);
	double t0 = cpu_s();
	memset(p, 2, bytes);
	double touched = cpu_s() - t0;
	printf("fresh_pages %zu GiB, pause %s s: first %.2f, again %.2f, already mapped %.2f CPU s/GiB\n", gib,
	       argv[2], first / gib, second / gib, touched / gib);
	return 0;
}
