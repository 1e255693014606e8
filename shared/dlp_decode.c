/* Compressed request bodies, decoded only to be scanned: zlib for gzip and
 * deflate, into one fixed batch buffer, with a bound on the total so a
 * zip bomb costs a finding, not memory.  There is no brotli decoder in the
 * sysroot: br is reported undecodable (dlp_scan_begin). */
#include "dlp_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define DLP_DECODE_BATCH 16384

struct dlp_decoder {
	z_stream z;
	bool started, ended, initialised;
	bool have_first;     /* deflate: first byte held until the second arrives */
	unsigned char first;
	enum dlp_encoding enc;
	uint64_t max, total;
	unsigned char out[DLP_DECODE_BATCH];
};

int dlp_decoder_new(struct dlp_decoder **out, enum dlp_encoding enc, uint64_t max)
{
	struct dlp_decoder *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->enc = enc;
	d->max = max;
	*out = d;
	return 0;
}

void dlp_decoder_free(struct dlp_decoder *d)
{
	if (!d)
		return;
	if (d->initialised)
		inflateEnd(&d->z);
	free(d);
}

/* "deflate" is meant to be zlib-wrapped (RFC 9110) but some clients send a
 * raw stream: tell them apart by the zlib header check. */
static int decoder_start(struct dlp_decoder *d, unsigned char first, unsigned char second)
{
	int bits = 15 + 16; /* gzip */

	if (d->enc == DLP_ENCODING_DEFLATE)
		bits = ((first & 0x0f) == 8 && ((unsigned)first << 8 | second) % 31 == 0) ? 15 : -15;
	if (inflateInit2(&d->z, bits) != Z_OK)
		return -ENOMEM;
	d->initialised = true;
	d->started = true;
	return 0;
}

int dlp_decoder_feed(struct dlp_decoder *d, const char *p, size_t len,
		     int (*sink)(void *ctx, const char *p, size_t len), void *ctx)
{
	int ret;

	if (len == 0)
		return 0;
	if (d->ended)
		return -EBADMSG; /* bytes after the end of the compressed stream */
	if (!d->started) {
		/* Telling zlib from raw deflate takes two bytes. */
		if (d->enc == DLP_ENCODING_DEFLATE && !d->have_first && len == 1) {
			d->first = (unsigned char)p[0];
			d->have_first = true;
			return 0;
		}
		ret = d->have_first ? decoder_start(d, d->first, (unsigned char)p[0]) :
				      decoder_start(d, (unsigned char)p[0],
						    len > 1 ? (unsigned char)p[1] : 0);
		if (ret < 0)
			return ret;
		if (d->have_first) {
			d->have_first = false;
			if ((ret = dlp_decoder_feed(d, (const char *)&d->first, 1, sink, ctx)) < 0)
				return ret;
			if (d->ended)
				return -EBADMSG;
		}
	}
	while (len) {
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
		int zr;

		d->z.next_in = (unsigned char *)(uintptr_t)p;
		d->z.avail_in = chunk;
		do {
			size_t got;
			bool over;

			d->z.next_out = d->out;
			d->z.avail_out = sizeof(d->out);
			zr = inflate(&d->z, Z_NO_FLUSH);
			got = sizeof(d->out) - d->z.avail_out;
			over = got > d->max - d->total;
			if (over)
				got = (size_t)(d->max - d->total);
			d->total += got;
			/* What came out before an error is scanned too (a bad
			 * checksum is only seen after the last bytes). */
			if (got && (ret = sink(ctx, (const char *)d->out, got)) < 0)
				return ret;
			if (over)
				return -EMSGSIZE;
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
				return zr == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
			if (zr == Z_STREAM_END) {
				d->ended = true;
				if (d->z.avail_in || chunk < len)
					return -EBADMSG;
				return 0;
			}
			if (zr == Z_BUF_ERROR && got == 0)
				break;
		} while (d->z.avail_in || d->z.avail_out == 0);
		p += chunk;
		len -= chunk;
	}
	return 0;
}

size_t dlp_decoder_memory(void)
{
	/* zlib's inflate state is about 7 KiB plus a 32 KiB window. */
	return sizeof(struct dlp_decoder) + 7 * 1024 + 32 * 1024;
}

int dlp_decoder_finish(struct dlp_decoder *d)
{
	return (d->started && !d->ended) || d->have_first ? -EBADMSG : 0;
}
