/* pkt-line framing (pkt_line.h). */
#include "pkt_line.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gitgate.h"
#include "../../shared/log.h"

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pkt_parse(const char **p, const char *end, struct pkt *out, char *err, size_t err_len)
{
	const char *at = *p;
	size_t length = 0;

	if (end - at < 4)
		return -EAGAIN;
	for (int i = 0; i < 4; i++) {
		int digit = hex_digit(at[i]);
		if (digit < 0) {
			error_format(err, err_len, "bad pkt-line length: a non-hex byte 0x%02x",
				     (unsigned char)at[i]);
			return -EPROTO;
		}
		length = length * 16 + (size_t)digit;
	}
	if (length < 4) {
		out->kind = length == 0 ? PKT_FLUSH : length == 1 ? PKT_DELIM :
			    length == 2 ? PKT_RESPONSE_END : PKT_DATA;
		if (out->kind == PKT_DATA) {
			error_format(err, err_len, "bad pkt-line length 0003");
			return -EPROTO;
		}
		out->data = (struct str){ at + 4, 0 };
		*p = at + 4;
		return 0;
	}
	if (length > PKT_LINE_MAX) {
		error_format(err, err_len, "pkt-line of %zu bytes, over the %d-byte limit", length,
			     PKT_LINE_MAX);
		return -EPROTO;
	}
	if ((size_t)(end - at) < length)
		return -EAGAIN;
	out->kind = PKT_DATA;
	out->data = (struct str){ at + 4, length - 4 };
	*p = at + length;
	return 0;
}

struct str pkt_chomp(struct str data)
{
	if (data.len > 0 && data.p[data.len - 1] == '\n')
		data.len--;
	return data;
}

void pkt_reader_init(struct pkt_reader *r, struct gitgate_io *io)
{
	r->io = io;
	r->start = r->len = 0;
	r->eof = false;
	r->err[0] = '\0';
}

/* Read more into the buffer, after moving what is unread to its start. */
static int reader_fill(struct pkt_reader *r)
{
	ssize_t got;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->len);
		r->start = 0;
	}
	if (r->len == sizeof(r->buf))
		return -EPROTO; /* cannot happen: a packet fits the buffer */
	got = r->io->read(r->io->ctx, r->buf + r->len, sizeof(r->buf) - r->len);
	if (got < 0) {
		error_format(r->err, sizeof(r->err), "reading from the client: %s",
			     strerror((int)-got));
		return (int)got;
	}
	if (got == 0)
		r->eof = true;
	r->len += (size_t)got;
	return 0;
}

int pkt_read(struct pkt_reader *r, struct pkt *out)
{
	for (;;) {
		const char *p = r->buf + r->start, *end = p + r->len;
		int ret = pkt_parse(&p, end, out, r->err, sizeof(r->err));

		if (ret == 0) {
			size_t used = (size_t)(p - (r->buf + r->start));
			r->start += used;
			r->len -= used;
			return 0;
		}
		if (ret != -EAGAIN)
			return ret;
		if (r->eof) {
			if (r->len == 0)
				return -ENODATA;
			error_format(r->err, sizeof(r->err),
				     "the client's input ended inside a pkt-line");
			return -EPROTO;
		}
		ret = reader_fill(r);
		if (ret < 0)
			return ret;
	}
}

ssize_t pkt_reader_read_raw(struct pkt_reader *r, void *p, size_t len)
{
	if (r->len > 0) {
		size_t n = len < r->len ? len : r->len;
		memcpy(p, r->buf + r->start, n);
		r->start += n;
		r->len -= n;
		return (ssize_t)n;
	}
	if (r->eof)
		return 0;
	return r->io->read(r->io->ctx, p, len);
}

int pkt_write(struct gitgate_io *io, const void *data, size_t len)
{
	char prefix[5];
	int ret;

	if (len > PKT_DATA_MAX)
		return -EMSGSIZE;
	snprintf(prefix, sizeof(prefix), "%04zx", len + 4);
	ret = io->write(io->ctx, prefix, 4);
	if (ret < 0 || len == 0)
		return ret;
	return io->write(io->ctx, data, len);
}

int pkt_writef(struct gitgate_io *io, const char *fmt, ...)
{
	char small[1024];
	va_list args;
	int n;

	va_start(args, fmt);
	n = vsnprintf(small, sizeof(small), fmt, args);
	va_end(args);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(small))
		return pkt_write(io, small, (size_t)n);

	struct buf big;
	int ret;
	buf_init(&big, PKT_DATA_MAX);
	va_start(args, fmt);
	ret = buf_vappendf(&big, fmt, args);
	va_end(args);
	if (ret == 0)
		ret = pkt_write(io, big.p, big.len);
	buf_release(&big);
	return ret;
}

int pkt_write_flush(struct gitgate_io *io)
{
	return io->write(io->ctx, "0000", 4);
}

int pkt_write_delim(struct gitgate_io *io)
{
	return io->write(io->ctx, "0001", 4);
}

int pkt_write_response_end(struct gitgate_io *io)
{
	return io->write(io->ctx, "0002", 4);
}

int pkt_write_sideband(struct gitgate_io *io, int band, const void *data, size_t len,
		       size_t max_data)
{
	const char *p = data;
	char prefix[6];
	int ret = 0;

	if (band < 1 || band > 3 || max_data == 0 || max_data > PKT_SIDEBAND_MAX)
		return -EINVAL;
	while (len > 0) {
		size_t n = len < max_data ? len : max_data;
		snprintf(prefix, sizeof(prefix), "%04zx", n + 5);
		prefix[4] = (char)band;
		ret = io->write(io->ctx, prefix, 5);
		if (ret < 0)
			return ret;
		ret = io->write(io->ctx, p, n);
		if (ret < 0)
			return ret;
		p += n;
		len -= n;
	}
	return ret;
}

bool capability_find(struct str list, const char *name, struct str *value)
{
	size_t name_len = strlen(name);
	const char *p = list.p, *end = list.p + list.len;

	while (p < end) {
		const char *word_end = memchr(p, ' ', (size_t)(end - p));
		if (!word_end)
			word_end = end;
		size_t word_len = (size_t)(word_end - p);
		if (word_len >= name_len && memcmp(p, name, name_len) == 0) {
			if (word_len == name_len) {
				if (value)
					*value = (struct str){ word_end, 0 };
				return true;
			}
			if (p[name_len] == '=') {
				if (value)
					*value = (struct str){ p + name_len + 1,
							       word_len - name_len - 1 };
				return true;
			}
		}
		p = word_end + 1;
	}
	return false;
}
