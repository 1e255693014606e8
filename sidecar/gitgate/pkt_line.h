/* pkt-line: git's framing for every protocol the gate speaks
 * (gitprotocol-common(5)).  A packet is four lowercase-or-uppercase hex
 * digits giving its whole length, then the data; "0000" is a flush,
 * "0001" a delimiter and "0002" a response end (protocol v2).  Lengths 1..3
 * are malformed, and so is anything over PKT_LINE_MAX.
 *
 * The parser takes a (p, end) cursor and never reads past end; the reader
 * pulls from a struct gitgate_io and keeps one packet's worth of bytes. */
#ifndef SIDECAR_GITGATE_PKT_LINE_H
#define SIDECAR_GITGATE_PKT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../../shared/buf.h"

struct gitgate_io;

#define PKT_LINE_MAX 65520                  /* whole packet, prefix included */
#define PKT_DATA_MAX (PKT_LINE_MAX - 4)     /* 65516 */
#define PKT_SIDEBAND_MAX (PKT_DATA_MAX - 1) /* side-band-64k: one byte of band */
#define PKT_SIDEBAND_SMALL_MAX (1000 - 5)   /* plain side-band: 1000-byte packets */

enum pkt_kind {
	PKT_DATA = 0,
	PKT_FLUSH,        /* 0000 */
	PKT_DELIM,        /* 0001, protocol v2 */
	PKT_RESPONSE_END, /* 0002, protocol v2 */
};

struct pkt {
	enum pkt_kind kind;
	struct str data; /* PKT_DATA only; borrowed, LF kept */
};

/* One packet at *p.  0 and *p moved past it; -EAGAIN when the bytes end
 * inside it (nothing consumed); -EPROTO when malformed, err saying how. */
int pkt_parse(const char **p, const char *end, struct pkt *out, char *err, size_t err_len);

/* Drop one trailing LF, if any. */
struct str pkt_chomp(struct str data);

struct pkt_reader {
	struct gitgate_io *io;
	char buf[PKT_LINE_MAX];
	size_t start, len; /* unread bytes are buf[start .. start+len) */
	bool eof;
	char err[160];     /* why pkt_read failed, for the client and the log */
};

void pkt_reader_init(struct pkt_reader *r, struct gitgate_io *io);
/* The next packet: 0; -ENODATA when the input ended cleanly between
 * packets; -EPROTO (malformed or cut short: r->err says which) or the io's
 * negative errno.  out->data is valid until the next call. */
int pkt_read(struct pkt_reader *r, struct pkt *out);
/* Bytes after the packets (a pack): buffered ones first, then the io.
 * Count read, 0 at end of input, or a negative errno. */
ssize_t pkt_reader_read_raw(struct pkt_reader *r, void *p, size_t len);

/* Writers.  Data longer than PKT_DATA_MAX is -EMSGSIZE. */
int pkt_write(struct gitgate_io *io, const void *data, size_t len);
int pkt_writef(struct gitgate_io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pkt_write_flush(struct gitgate_io *io);
int pkt_write_delim(struct gitgate_io *io);
int pkt_write_response_end(struct gitgate_io *io);
/* `len` bytes on side-band `band` (1 pack data, 2 progress, 3 fatal
 * error), split into packets of at most `max_data` bytes of payload
 * (PKT_SIDEBAND_MAX or PKT_SIDEBAND_SMALL_MAX). */
int pkt_write_sideband(struct gitgate_io *io, int band, const void *data, size_t len,
		       size_t max_data);

/* Capability lists ("ofs-delta side-band-64k agent=git/2.39"), as sent
 * after a NUL in v0/v1 or one per line in v2.  Whether `name` is in the
 * space-separated `list`; with value non-NULL, "name=value" sets it (and
 * a bare "name" sets it empty). */
bool capability_find(struct str list, const char *name, struct str *value);

#endif
