/* malloc_policy — how cpmd's heap gives memory back to the kernel.
 *
 * glibc returns the top of a heap to the kernel (madvise/brk) on the free() that leaves more
 * than M_TRIM_THRESHOLD there; that threshold starts at 128 KiB. SQLite on the store's writer
 * thread allocates and frees a ~48 KiB cursor buffer per statement at the top of that thread's
 * arena, so every durable item update paid an madvise() and a dozen page faults: 41 % of
 * store_bench's samples were page faults and 9 % madvise (docs/BENCHMARKS.md, "Store item
 * updates: the heap trim"). cpmd therefore keeps up to CPM_TRIM_THRESHOLD free at the top of each
 * arena and grows a heap by CPM_TOP_PAD more than asked, and gives memory back on purpose when it
 * is quiet (malloc_trim in the sipua sweep) instead of on every free.
 *
 * Process-wide: called once by main() (cpmd, and the benchmarks that measure cpmd's store)
 * before any thread starts. */
#ifndef CPMD_COMMON_MALLOC_POLICY_H
#define CPMD_COMMON_MALLOC_POLICY_H

#define CPM_TRIM_THRESHOLD (64u << 20)
#define CPM_TOP_PAD (16u << 20)
/* Setting the trim threshold turns glibc's dynamic mmap threshold off: fixed here instead, so
 * that a relay's 2 MiB tee ring and the store's large buffers still come from (and go back to)
 * mmap, not from an arena they would pin. */
#define CPM_MMAP_THRESHOLD (1u << 20)

/* 0, or -1 if glibc refused a setting (then its defaults stay; logged by the caller). */
int cpm_malloc_policy(void);

#endif
