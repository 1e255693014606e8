#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Empty buffers point here so p is never NULL and always a C string. */
static char buf_empty[1];

void buf_init(struct buf *b, size_t max)
{
	b->p = buf_empty;
	b->len = 0;
	b->cap = 0;
	/* Room for the terminating NUL must stay representable. */
	b->max = max < SIZE_MAX ? max : SIZE_MAX - 1;
}

void buf_release(struct buf *b)
{
	if (b->cap)
		free(b->p);
	buf_init(b, b->max);
}

void buf_clear(struct buf *b)
{
	b->len = 0;
	if (b->cap)
		b->p[0] = '\0';
}

int buf_grow(struct buf *b, size_t extra)
{
	size_t want, new_cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return -EMSGSIZE;
	want = b->len + extra + 1;
	if (want <= b->cap)
		return 0;
	new_cap = b->cap ? b->cap : 64;
	while (new_cap < want)
		new_cap = new_cap > ((size_t)-1) / 2 ? want : new_cap * 2;
	if (new_cap > b->max + 1)
		new_cap = b->max + 1;
	p = realloc(b->cap ? b->p : NULL, new_cap);
	if (!p)
		return -ENOMEM;
	if (!b->cap)
		p[0] = '\0';
	b->p = p;
	b->cap = new_cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	int ret = buf_grow(b, len);

	if (ret < 0)
		return ret;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_vappendf(struct buf *b, const char *fmt, va_list args)
{
	va_list copy;
	int needed, ret;

	va_copy(copy, args);
	needed = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (needed < 0)
		return -EINVAL;
	ret = buf_grow(b, (size_t)needed);
	if (ret < 0)
		return ret;
	vsnprintf(b->p + b->len, (size_t)needed + 1, fmt, args);
	b->len += (size_t)needed;
	return 0;
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list args;
	int ret;

	va_start(args, fmt);
	ret = buf_vappendf(b, fmt, args);
	va_end(args);
	return ret;
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p;

	if (!b->cap) {
		p = calloc(1, 1);
		if (!p)
			return NULL;
	} else {
		p = b->p;
	}
	if (len)
		*len = b->len;
	buf_init(b, b->max);
	return p;
}

struct str str_from_cstr(const char *s)
{
	return (struct str){ s, strlen(s) };
}

int str_equal(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int str_equal_cstr(struct str a, const char *s)
{
	return str_equal(a, str_from_cstr(s));
}

int buf_read_fd(struct buf *b, int fd)
{
	char chunk[16384];
	ssize_t n;
	int ret;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		ret = buf_append(b, chunk, (size_t)n);
		if (ret < 0)
			return ret;
	}
}
