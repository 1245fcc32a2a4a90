/* malloc_policy.h: three mallopt() calls, with the reasons in the header. */
#include "common/malloc_policy.h"

#include <malloc.h>

int cpm_malloc_policy(void)
{
	int ok = mallopt(M_TRIM_THRESHOLD, (int)CPM_TRIM_THRESHOLD) & mallopt(M_TOP_PAD, (int)CPM_TOP_PAD) &
		 mallopt(M_MMAP_THRESHOLD, (int)CPM_MMAP_THRESHOLD);
	return ok ? 0 : -1;
}
