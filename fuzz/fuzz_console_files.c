/* libFuzzer driver for console_file_lookup (src/admin/console_files.c), which maps a request
 * path of the admin port to a console file: whatever the path (dot segments, encoded slashes,
 * NULs cut it short, very long), the answer is NULL or an entry of the fixed list, and the
 * file name it gives is a plain name (no '/', no "..") that admin_static opens under the
 * console directory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/console_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 1); /* exact size + NUL: ASan sees a read past it */
	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	const struct console_file *f = console_file_lookup(path);
	if (f) {
		size_t n, i;
		const struct console_file *all = console_files(&n);
		for (i = 0; i < n && &all[i] != f; i++)
			;
		if (i == n || strcmp(f->path, path) != 0 || strchr(f->name, '/') || strstr(f->name, "..") || !f->type)
			abort();
	}
	free(path);
	return 0;
}
