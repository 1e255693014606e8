/* The project's one owning buffer and one borrowed slice.
 *
 * struct buf owns its bytes.  Invariants (after buf_init): p is never NULL,
 * p[len] == '\0', len < cap unless cap == 0 (then p points at a shared empty
 * string), and len never exceeds max: a buffer fed by the network cannot be
 * grown past the cap its owner chose.  Growing functions return 0 or a
 * negative errno (-ENOMEM, -EMSGSIZE when the cap would be exceeded) and leave
 * the buffer unchanged on failure.
 *
 * struct str borrows: it never frees and is valid only while its owner is. */
#ifndef BOTTLE_BUF_H
#define BOTTLE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *p;
	size_t len, cap, max;
};

struct str {
	const char *p;
	size_t len;
};

#define STR_LITERAL(s) ((struct str){ (s), sizeof(s) - 1 })

void buf_init(struct buf *b, size_t max);
/* Free the bytes and return to the state buf_init() left. */
void buf_release(struct buf *b);
/* Keep the allocation, drop the contents. */
void buf_clear(struct buf *b);
/* Make room for `extra` more bytes (plus the terminating NUL). */
int buf_grow(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vappendf(struct buf *b, const char *fmt, va_list args);
/* Append what fd has, until its end: 0, -EMSGSIZE once past the cap (the
 * rest is not read), -ENOMEM, or read()'s negative errno. */
int buf_read_fd(struct buf *b, int fd);
/* Hand the bytes to the caller (who frees them) and reset the buffer. */
char *buf_detach(struct buf *b, size_t *len);

static inline struct str buf_str(const struct buf *b)
{
	return (struct str){ b->p, b->len };
}

struct str str_from_cstr(const char *s);
int str_equal(struct str a, struct str b);
int str_equal_cstr(struct str a, const char *s);

#endif
