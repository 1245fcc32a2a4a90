/* marker_search: the MSRP parser's end-line search (lib/msrp/msrp_parse.c find_marker, copied
 * here with a four-at-a-time variant) against glibc memmem over 64 MiB of random bytes in
 * 136 KiB reads (what one relay read holds), in wall seconds per GiB; then 20,000
 * random dash-dense buffers where all three must agree.  gcc -O2 -o ms marker_search.c && ./ms */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static const char *find_marker(const char *d, size_t off, size_t n, const char *marker, size_t L)
{
	if (n < L || off > n - L) return NULL;
	size_t last = n - L;
	for (size_t j = off + 8; j - 8 <= last; j += 7) {
		if (d[j] != '-') continue;
		size_t s = j - 8 < off ? off : j - 8, hi = j - 2 < last ? j - 2 : last;
		for (; s <= hi; s++) if (d[s] == '\r' && memcmp(d + s, marker, L) == 0) return d + s;
	}
	return NULL;
}
static const char *find_marker2(const char *d, size_t off, size_t n, const char *marker, size_t L)
{
	if (n < L || off > n - L) return NULL;
	size_t last = n - L, j = off + 8;
	for (;;) {
		/* four grid bytes per turn while all four are in range */
		while (j + 21 - 8 <= last && d[j] != '-' && d[j + 7] != '-' && d[j + 14] != '-' && d[j + 21] != '-')
			j += 28;
		if (j - 8 > last) return NULL;
		if (d[j] == '-') {
			size_t s = j - 8 < off ? off : j - 8, hi = j - 2 < last ? j - 2 : last;
			for (; s <= hi; s++) if (d[s] == '\r' && memcmp(d + s, marker, L) == 0) return d + s;
		}
		j += 7;
	}
}
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(void){
	size_t n = 64<<20, piece = 136*1024; char *d = malloc(n); FILE *f=fopen("/dev/urandom","r"); fread(d,1,n,f);
	const char *mk = "\r\n-------abcdefghijklmnop"; size_t L = strlen(mk); const char * volatile r; int reps=16;
	double t0=now(); for (int k=0;k<reps;k++) for (size_t o=0;o+piece<=n;o+=piece) r=memmem(d+o,piece,mk,L);
	double t1=now(); for (int k=0;k<reps;k++) for (size_t o=0;o+piece<=n;o+=piece) r=find_marker(d+o,0,piece,mk,L);
	double t2=now(); for (int k=0;k<reps;k++) for (size_t o=0;o+piece<=n;o+=piece) r=find_marker2(d+o,0,piece,mk,L);
	double t3=now(); (void)r;
	for (int k=0;k<20000;k++){ size_t len=rand()%600; char *b=malloc(len+40); for(size_t i=0;i<len+40;i++){int c=rand()%6; b[i]=c==0?'-':c==1?'\r':c==2?'\n':'a';} size_t pos=rand()%(len+1); memcpy(b+pos,mk,L); size_t off=rand()%(pos+1); if (find_marker(b,off,pos+L,mk,L)!=find_marker2(b,off,pos+L,mk,L) || find_marker(b,off,pos+L,mk,L)!=memmem(b+off,pos+L-off,mk,L)) {printf("MISMATCH\n");return 1;} free(b);}
	printf("memmem %.3f s/GiB, find_marker %.3f, unrolled %.3f\n",(t1-t0)/(reps*n/1073741824.0),(t2-t1)/(reps*n/1073741824.0),(t3-t2)/(reps*n/1073741824.0));
}
