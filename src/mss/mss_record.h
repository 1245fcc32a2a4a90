/* Session record files (internal to src/mss): every record written by
 * mss_record_append starts with REC_PREFIX and its own total size in
 * REC_DIGITS decimal digits, so the session history can take the complete
 * records of a file and leave out one torn by a crash mid-write. */
#ifndef CPM_MSS_RECORD_H
#define CPM_MSS_RECORD_H

#include <stdint.h>

#define REC_PREFIX "--=_cpm_part_=\r\nX-CPM-Record-Size: "
#define REC_DIGITS 10

/* The length of the complete records at the start of fd's first `size`
 * bytes (reads one record head per record); 0, or -1 if pread failed. */
int mss_records_complete(int fd, uint64_t size, uint64_t *len);

#endif
