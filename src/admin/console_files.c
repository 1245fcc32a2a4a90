/* console_files — the request paths of the operator console (see console_files.h). */
#include "admin/console_files.h"

#include <string.h>

static const struct console_file files[] = {
	{"/", "index.html", "text/html; charset=utf-8"},
	{"/index.html", "index.html", "text/html; charset=utf-8"},
	{"/app.js", "app.js", "text/javascript; charset=utf-8"},
	{"/style.css", "style.css", "text/css; charset=utf-8"},
};

const struct console_file *console_file_lookup(const char *path)
{
	if (!path)
		return NULL;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (strcmp(path, files[i].path) == 0)
			return &files[i];
	return NULL;
}

const struct console_file *console_files(size_t *n)
{
	*n = sizeof files / sizeof files[0];
	return files;
}
