/* Reading the SNI from a ClientHello: see client_hello.h.
 *
 * The handshake bytes are read straight out of the TLS records through a
 * reader that steps over record headers as it goes, so a hello split across
 * records needs no reassembly buffer.  Every field is read in wire order and
 * checked against its enclosing length before its bytes are waited for, which
 * is what makes a prefix of the input answer MORE or the final verdict. */
#include "client_hello.h"

#include <stdbool.h>
#include <string.h>

/* Internal: the bytes ran out (mapped to CLIENT_HELLO_MORE at the top). */
#define CH_NEED (-100)

#define CH_RECORD_HANDSHAKE 22
#define CH_RECORD_MAX (16384 + 2048)
#define CH_HEADER 5
#define CH_HANDSHAKE_CLIENT_HELLO 1
#define CH_EXT_SERVER_NAME 0
#define CH_NAME_TYPE_HOST 0
#define CH_HOST_MAX 253
/* No client sends more; the bound keeps the duplicate check cheap. */
#define CH_EXTENSIONS_MAX 128

struct ch_reader {
	const uint8_t *p, *end; /* raw record bytes not yet read */
	size_t frag_left;       /* handshake bytes left in the current record */
};

/* Read n handshake bytes into out (NULL: skip them), crossing records. */
static int ch_read(struct ch_reader *r, uint8_t *out, size_t n)
{
	size_t take, len, avail;

	while (n) {
		if (!r->frag_left) {
			/* Judge a partial header too: a client that is not
			 * speaking TLS is told so without waiting for 5 bytes. */
			avail = (size_t)(r->end - r->p);
			if ((avail > 0 && r->p[0] != CH_RECORD_HANDSHAKE) ||
			    (avail > 1 && r->p[1] != 3) ||
			    (avail > 2 && (r->p[2] < 1 || r->p[2] > 4)))
				return CLIENT_HELLO_EINVAL;
			if (avail < CH_HEADER)
				return CH_NEED;
			len = (size_t)r->p[3] << 8 | r->p[4];
			/* Empty handshake records are forbidden (RFC 8446 5.1). */
			if (len == 0 || len > CH_RECORD_MAX)
				return CLIENT_HELLO_EINVAL;
			r->p += CH_HEADER;
			r->frag_left = len;
		}
		take = n < r->frag_left ? n : r->frag_left;
		if ((size_t)(r->end - r->p) < take)
			take = (size_t)(r->end - r->p);
		if (!take)
			return CH_NEED;
		if (out) {
			memcpy(out, r->p, take);
			out += take;
		}
		r->p += take;
		r->frag_left -= take;
		n -= take;
	}
	return 0;
}

/* Read n bytes of a field inside a container with *left bytes remaining:
 * a field longer than its container is `err` before any byte is awaited. */
static int ch_take(struct ch_reader *r, size_t *left, uint8_t *out, size_t n, int err)
{
	if (n > *left)
		return err;
	*left -= n;
	return ch_read(r, out, n);
}

static int ch_u8(struct ch_reader *r, size_t *left, size_t *v, int err)
{
	uint8_t b[1] = { 0 };
	int ret = ch_take(r, left, b, 1, err);

	*v = b[0];
	return ret;
}

static int ch_u16(struct ch_reader *r, size_t *left, size_t *v, int err)
{
	uint8_t b[2] = { 0 };
	int ret = ch_take(r, left, b, 2, err);

	*v = (size_t)b[0] << 8 | b[1];
	return ret;
}

static bool ch_host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Labels of 1..63 host characters separated by single dots; no leading or
 * trailing dot.  Writes the lower-cased name to out (len + 1 bytes). */
static int ch_host_name(const uint8_t *name, size_t len, char *out)
{
	size_t i, label = 0;

	for (i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (!label)
				return CLIENT_HELLO_ESNI;
			label = 0;
		} else if (ch_host_char(name[i])) {
			if (++label > 63)
				return CLIENT_HELLO_ESNI;
		} else {
			return CLIENT_HELLO_ESNI;
		}
		out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	}
	if (!label)
		return CLIENT_HELLO_ESNI;
	out[len] = '\0';
	return 0;
}

/* The server_name extension body (ext_left bytes): exactly one host_name. */
static int ch_server_name(struct ch_reader *r, size_t ext_left, char *host)
{
	uint8_t name[CH_HOST_MAX];
	size_t list_len, type, len;
	int ret;

	ret = ch_u16(r, &ext_left, &list_len, CLIENT_HELLO_ESNI);
	if (ret)
		return ret;
	if (list_len != ext_left || list_len == 0)
		return CLIENT_HELLO_ESNI;
	ret = ch_u8(r, &list_len, &type, CLIENT_HELLO_ESNI);
	if (ret)
		return ret;
	ret = ch_u16(r, &list_len, &len, CLIENT_HELLO_ESNI);
	if (ret)
		return ret;
	/* Like OpenSSL and BoringSSL: a single entry, and a host_name. */
	if (type != CH_NAME_TYPE_HOST || len != list_len || len == 0 || len > CH_HOST_MAX)
		return CLIENT_HELLO_ESNI;
	ret = ch_read(r, name, len);
	if (ret)
		return ret;
	return ch_host_name(name, len, host);
}

static int ch_extensions(struct ch_reader *r, size_t left, char *host)
{
	uint16_t seen[CH_EXTENSIONS_MAX];
	size_t nseen = 0, type, len, i;
	int ret;

	while (left) {
		ret = ch_u16(r, &left, &type, CLIENT_HELLO_EINVAL);
		if (ret)
			return ret;
		ret = ch_u16(r, &left, &len, CLIENT_HELLO_EINVAL);
		if (ret)
			return ret;
		if (len > left || nseen == CH_EXTENSIONS_MAX)
			return CLIENT_HELLO_EINVAL;
		/* A second server_name could tell the origin another name. */
		for (i = 0; i < nseen; i++)
			if (seen[i] == type)
				return CLIENT_HELLO_EINVAL;
		seen[nseen++] = (uint16_t)type;
		left -= len;
		if (type == CH_EXT_SERVER_NAME)
			ret = ch_server_name(r, len, host);
		else
			ret = ch_read(r, NULL, len);
		if (ret)
			return ret;
	}
	return 0;
}

static int ch_parse(struct ch_reader *r, char *host)
{
	uint8_t head[4], version[2];
	size_t left, n;
	int ret;

	ret = ch_read(r, head, sizeof(head));
	if (ret)
		return ret;
	if (head[0] != CH_HANDSHAKE_CLIENT_HELLO)
		return CLIENT_HELLO_EINVAL;
	left = (size_t)head[1] << 16 | (size_t)head[2] << 8 | head[3];
	/* It comes after at least one record header in the caller's buffer. */
	if (CH_HEADER + sizeof(head) + left > CLIENT_HELLO_MAX)
		return CLIENT_HELLO_ETOOBIG;

	ret = ch_take(r, &left, version, sizeof(version), CLIENT_HELLO_EINVAL);
	if (ret)
		return ret;
	if (version[0] != 3 || version[1] < 1 || version[1] > 4)
		return CLIENT_HELLO_EINVAL;
	ret = ch_take(r, &left, NULL, 32, CLIENT_HELLO_EINVAL); /* random */
	if (ret)
		return ret;
	ret = ch_u8(r, &left, &n, CLIENT_HELLO_EINVAL);
	if (ret)
		return ret;
	if (n > 32)
		return CLIENT_HELLO_EINVAL;
	ret = ch_take(r, &left, NULL, n, CLIENT_HELLO_EINVAL); /* session id */
	if (ret)
		return ret;
	ret = ch_u16(r, &left, &n, CLIENT_HELLO_EINVAL);
	if (ret)
		return ret;
	if (n < 2 || n % 2)
		return CLIENT_HELLO_EINVAL;
	ret = ch_take(r, &left, NULL, n, CLIENT_HELLO_EINVAL); /* cipher suites */
	if (ret)
		return ret;
	ret = ch_u8(r, &left, &n, CLIENT_HELLO_EINVAL);
	if (ret)
		return ret;
	if (n < 1)
		return CLIENT_HELLO_EINVAL;
	ret = ch_take(r, &left, NULL, n, CLIENT_HELLO_EINVAL); /* compression methods */
	if (ret)
		return ret;
	if (!left)
		return CLIENT_HELLO_DONE; /* a pre-extensions client: no name */
	ret = ch_u16(r, &left, &n, CLIENT_HELLO_EINVAL);
	if (ret)
		return ret;
	/* Nothing may follow the extensions inside the message. */
	if (n != left)
		return CLIENT_HELLO_EINVAL;
	ret = ch_extensions(r, left, host);
	return ret ? ret : CLIENT_HELLO_DONE;
}

int client_hello_sni(const uint8_t *p, const uint8_t *end, char *sni, size_t sni_len)
{
	struct ch_reader r = { .p = p, .end = end, .frag_left = 0 };
	char host[CH_HOST_MAX + 1];
	int ret;

	if (sni && sni_len)
		sni[0] = '\0';
	if (!p || end < p || !sni || !sni_len)
		return CLIENT_HELLO_EINVAL;
	/* The verdict depends on the first CLIENT_HELLO_MAX bytes only. */
	if ((size_t)(end - p) > CLIENT_HELLO_MAX)
		r.end = p + CLIENT_HELLO_MAX;
	host[0] = '\0';
	ret = ch_parse(&r, host);
	if (ret == CH_NEED)
		return (size_t)(r.end - p) == CLIENT_HELLO_MAX ? CLIENT_HELLO_ETOOBIG
							       : CLIENT_HELLO_MORE;
	if (ret != CLIENT_HELLO_DONE)
		return ret;
	if (strlen(host) >= sni_len)
		return CLIENT_HELLO_ESNI;
	memcpy(sni, host, strlen(host) + 1);
	return CLIENT_HELLO_DONE;
}
