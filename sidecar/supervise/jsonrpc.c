/* JSON-RPC 2.0 framing for MCP: one message per POST body (batches were
 * removed in 2025-06-18), ids that are strings or integers (MCP forbids
 * null), and error objects built without a JSON library so they cannot fail
 * halfway. */
#include "supervise.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Nesting deeper than this is refused before yyjson builds it: nothing MCP
 * sends needs more, and it bounds the work of walking a hostile body. */
#define JSONRPC_MAX_DEPTH 64

/* Depth of [p, end) counted on brackets outside strings; -1 if over max. */
static int json_depth_ok(const char *p, const char *end)
{
	int depth = 0;
	bool in_string = false;

	for (; p < end; p++) {
		if (in_string) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_string = false;
			continue;
		}
		if (*p == '"') {
			in_string = true;
		} else if (*p == '[' || *p == '{') {
			if (++depth > JSONRPC_MAX_DEPTH)
				return -1;
		} else if (*p == ']' || *p == '}') {
			depth--;
		}
	}
	return 0;
}

int jsonrpc_id_text(yyjson_val *id, char *out, size_t out_len)
{
	struct buf b;
	int ret = -EINVAL;

	if (!id || out_len == 0)
		return -EINVAL;
	buf_init(&b, out_len - 1);
	if (yyjson_is_str(id))
		ret = json_append_string(&b, yyjson_get_str(id), yyjson_get_len(id));
	else if (yyjson_is_sint(id))
		ret = buf_appendf(&b, "%" PRId64, yyjson_get_sint(id));
	else if (yyjson_is_uint(id))
		ret = buf_appendf(&b, "%" PRIu64, yyjson_get_uint(id));
	if (ret == 0)
		snprintf(out, out_len, "%s", b.p);
	buf_release(&b);
	return ret;
}

static bool id_valid(yyjson_val *id)
{
	return yyjson_is_str(id) || yyjson_is_int(id);
}

int jsonrpc_parse(const char *p, const char *end, struct jsonrpc_message *msg, char *err,
		  size_t err_len, char *id_text, size_t id_text_len)
{
	yyjson_read_err rerr;
	yyjson_val *root, *v, *id;
	int ret = JSONRPC_PARSE_ERROR;

	memset(msg, 0, sizeof(*msg));
	snprintf(id_text, id_text_len, "null");
	if (json_depth_ok(p, end) < 0) {
		snprintf(err, err_len, "parse error: nesting deeper than %d", JSONRPC_MAX_DEPTH);
		goto out;
	}
	/* yyjson reads a const buffer without YYJSON_READ_INSITU. */
	msg->doc = yyjson_read_opts((char *)(uintptr_t)p, (size_t)(end - p), 0, NULL, &rerr);
	if (!msg->doc) {
		snprintf(err, err_len, "parse error at byte %zu: %s", rerr.pos,
			 rerr.msg ? rerr.msg : "invalid JSON");
		goto out;
	}
	ret = JSONRPC_INVALID_REQUEST;
	root = yyjson_doc_get_root(msg->doc);
	if (yyjson_is_arr(root)) {
		snprintf(err, err_len, "batches are not supported: send one JSON-RPC message per POST");
		goto out;
	}
	if (!yyjson_is_obj(root)) {
		snprintf(err, err_len, "a JSON-RPC message must be an object");
		goto out;
	}
	id = yyjson_obj_get(root, "id");
	if (id && id_valid(id))
		(void)jsonrpc_id_text(id, id_text, id_text_len);
	v = yyjson_obj_get(root, "jsonrpc");
	if (!yyjson_equals_str(v, "2.0")) {
		snprintf(err, err_len, "\"jsonrpc\" must be \"2.0\"");
		goto out;
	}
	if (id && !id_valid(id)) {
		snprintf(err, err_len, "\"id\" must be a string or an integer");
		goto out;
	}
	v = yyjson_obj_get(root, "method");
	if (v) {
		if (!yyjson_is_str(v) || yyjson_get_len(v) == 0 ||
		    strlen(yyjson_get_str(v)) != yyjson_get_len(v)) {
			snprintf(err, err_len, "\"method\" must be a non-empty string");
			goto out;
		}
		msg->method = yyjson_get_str(v);
		msg->params = yyjson_obj_get(root, "params");
		if (msg->params && !yyjson_is_obj(msg->params)) {
			snprintf(err, err_len, "\"params\" must be an object");
			goto out;
		}
		msg->kind = id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
		msg->id = id;
		return 0;
	}
	if (id && (yyjson_obj_get(root, "result") != NULL) != (yyjson_obj_get(root, "error") != NULL)) {
		msg->kind = JSONRPC_RESPONSE;
		msg->id = id;
		return 0;
	}
	snprintf(err, err_len, "not a request, notification or response: \"method\" is missing");
out:
	jsonrpc_release(msg);
	return ret;
}

void jsonrpc_release(struct jsonrpc_message *msg)
{
	if (msg->doc)
		yyjson_doc_free(msg->doc);
	memset(msg, 0, sizeof(*msg));
}

/* Length of the valid UTF-8 sequence at s[0..left), or 0 (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_sequence(const unsigned char *s, size_t left)
{
	size_t n, i;
	unsigned cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (n > left)
		return 0;
	cp = s[0] & (0xff >> (n + 1));
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* Header values may hold any obs-text: bytes that are not UTF-8 become
 * U+FFFD, so the reply stays valid JSON. */
int json_append_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	int ret;

	if ((ret = buf_append(out, "\"", 1)) < 0)
		return ret;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = "\\u00";

		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			ret = buf_append(out, esc, 2);
		} else if (c == '\n') {
			ret = buf_append(out, "\\n", 2);
		} else if (c == '\t') {
			ret = buf_append(out, "\\t", 2);
		} else if (c < 0x20 || c == 0x7f) {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			ret = buf_append(out, esc, 6);
		} else if (c >= 0x80) {
			size_t n = utf8_sequence((const unsigned char *)s + i, len - i);

			if (n == 0) {
				ret = buf_append(out, "\\ufffd", 6);
			} else {
				ret = buf_append(out, &s[i], n);
				i += n - 1;
			}
		} else {
			ret = buf_append(out, &s[i], 1);
		}
		if (ret < 0)
			return ret;
	}
	return buf_append(out, "\"", 1);
}

int jsonrpc_error_json(struct buf *out, const char *id_text, int code, const char *message,
		       const char *data_json)
{
	int ret;

	ret = buf_appendf(out, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,\"message\":",
			  id_text ? id_text : "null", code);
	if (ret == 0)
		ret = json_append_string(out, message, strlen(message));
	if (ret == 0 && data_json)
		ret = buf_appendf(out, ",\"data\":%s", data_json);
	if (ret == 0)
		ret = buf_append_str(out, "}}");
	return ret;
}

int jsonrpc_result_json(struct buf *out, const char *id_text, const char *result_json)
{
	return buf_appendf(out, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}", id_text, result_json);
}
