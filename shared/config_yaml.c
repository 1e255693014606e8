#include "config_yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

/* Longest piece of a scalar quoted in a message. */
#define QUOTE_MAX 40

void config_yaml_init(struct config_yaml *cy)
{
	memset(&cy->doc, 0, sizeof(cy->doc));
	cy->loaded = false;
	cy->name = NULL;
	cy->message[0] = '\0';
}

void config_yaml_release(struct config_yaml *cy)
{
	if (cy->loaded)
		yaml_document_delete(&cy->doc);
	free(cy->name);
	config_yaml_init(cy);
}

const char *config_yaml_message(const struct config_yaml *cy)
{
	return cy->message;
}

unsigned long config_yaml_line(const yaml_node_t *node)
{
	return node ? (unsigned long)node->start_mark.line + 1 : 0;
}

unsigned long config_yaml_column(const yaml_node_t *node)
{
	return node ? (unsigned long)node->start_mark.column + 1 : 0;
}

static int config_yaml_verror(struct config_yaml *cy, const yaml_mark_t *mark,
			      const char *fmt, va_list args)
{
	const char *name = cy->name ? cy->name : "<config>";
	size_t len = 0;
	int n;

	if (mark)
		n = snprintf(cy->message, sizeof(cy->message), "%s:%lu:%lu: ", name,
			     (unsigned long)mark->line + 1, (unsigned long)mark->column + 1);
	else
		n = snprintf(cy->message, sizeof(cy->message), "%s: ", name);
	if (n > 0)
		len = (size_t)n < sizeof(cy->message) ? (size_t)n : sizeof(cy->message) - 1;
	vsnprintf(cy->message + len, sizeof(cy->message) - len, fmt, args);
	return -EINVAL;
}

static int config_yaml_error_at(struct config_yaml *cy, const yaml_mark_t *mark,
				const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int config_yaml_error_at(struct config_yaml *cy, const yaml_mark_t *mark,
				const char *fmt, ...)
{
	va_list args;
	int ret;

	va_start(args, fmt);
	ret = config_yaml_verror(cy, mark, fmt, args);
	va_end(args);
	return ret;
}

void config_yaml_describe(char *out, size_t size, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(out, size, fmt, args);
	va_end(args);
}

int config_yaml_error(struct config_yaml *cy, const yaml_node_t *node, const char *fmt, ...)
{
	va_list args;
	int ret;

	va_start(args, fmt);
	ret = config_yaml_verror(cy, node ? &node->start_mark : NULL, fmt, args);
	va_end(args);
	return ret;
}

/* Quote a scalar for a message, shortened and with control bytes replaced,
 * so a hostile file cannot forge log lines. */
static const char *config_yaml_quote(const yaml_node_t *node, char *out, size_t size)
{
	size_t i, len = node->data.scalar.length, n = 0;
	const unsigned char *p = node->data.scalar.value;

	for (i = 0; i < len && n + 4 < size && i < QUOTE_MAX; i++)
		out[n++] = (p[i] < 0x20 || p[i] == 0x7f) ? '?' : (char)p[i];
	if (i < len && n + 4 < size) {
		out[n++] = '.';
		out[n++] = '.';
		out[n++] = '.';
	}
	out[n] = '\0';
	return out;
}

static const char *node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static int config_yaml_parse(struct config_yaml *cy, const unsigned char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int ret = -EINVAL;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, text, len);
	if (!yaml_parser_load(&parser, &cy->doc)) {
		if (parser.error == YAML_MEMORY_ERROR) {
			ret = -ENOMEM;
			config_yaml_error_at(cy, NULL, "out of memory");
		} else if (parser.context) {
			config_yaml_error_at(cy, &parser.problem_mark, "%s %s", parser.problem,
					     parser.context);
		} else {
			config_yaml_error_at(cy, &parser.problem_mark, "%s",
					     parser.problem ? parser.problem : "invalid YAML");
		}
		goto out;
	}
	cy->loaded = true;
	if (!yaml_document_get_root_node(&cy->doc)) {
		yaml_mark_t start = { 0, 0, 0 };

		config_yaml_error_at(cy, &start, "empty document");
		goto out;
	}
	/* A second document would be silently ignored: refuse it. */
	if (!yaml_parser_load(&parser, &extra)) {
		config_yaml_error_at(cy, &parser.problem_mark, "%s",
				     parser.problem ? parser.problem : "invalid YAML");
		goto out;
	}
	if (yaml_document_get_root_node(&extra)) {
		yaml_mark_t mark = yaml_document_get_root_node(&extra)->start_mark;

		yaml_document_delete(&extra);
		config_yaml_error_at(cy, &mark, "a second YAML document; only one is allowed");
		goto out;
	}
	yaml_document_delete(&extra);
	ret = 0;
out:
	yaml_parser_delete(&parser);
	return ret;
}

static int config_yaml_set_name(struct config_yaml *cy, const char *name)
{
	free(cy->name);
	cy->name = strdup(name);
	if (!cy->name) {
		snprintf(cy->message, sizeof(cy->message), "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int config_yaml_load_string(struct config_yaml *cy, const char *name, const char *text,
			    size_t len)
{
	int ret;

	config_yaml_release(cy);
	ret = config_yaml_set_name(cy, name);
	if (ret < 0)
		return ret;
	return config_yaml_parse(cy, (const unsigned char *)text, len);
}

int config_yaml_load_file(struct config_yaml *cy, const char *path)
{
	struct buf content;
	struct stat st;
	int fd = -1, ret;

	buf_init(&content, CONFIG_YAML_MAX_FILE);
	config_yaml_release(cy);
	ret = config_yaml_set_name(cy, path);
	if (ret < 0)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(cy->message, sizeof(cy->message), "unable to open '%s': %s", path,
			 strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(cy->message, sizeof(cy->message), "'%s' is not a regular file", path);
		goto out;
	}
	ret = buf_read_fd(&content, fd);
	if (ret == -EMSGSIZE || ret == -ENOMEM) {
		snprintf(cy->message, sizeof(cy->message), "'%s' is %s", path,
			 ret == -EMSGSIZE ? "larger than 1 MiB" : "too large for memory");
		goto out;
	}
	if (ret < 0) {
		snprintf(cy->message, sizeof(cy->message), "unable to read '%s': %s", path,
			 strerror(-ret));
		goto out;
	}
	ret = config_yaml_parse(cy, (const unsigned char *)content.p, content.len);
out:
	if (fd >= 0)
		close(fd);
	buf_release(&content);
	return ret;
}

yaml_node_t *config_yaml_root(struct config_yaml *cy)
{
	return cy->loaded ? yaml_document_get_root_node(&cy->doc) : NULL;
}

int config_yaml_expect_mapping(struct config_yaml *cy, const yaml_node_t *node,
			       const char *what)
{
	if (node && node->type == YAML_MAPPING_NODE)
		return 0;
	if (!node)
		return config_yaml_error(cy, NULL, "%s: expected a mapping", what);
	return config_yaml_error(cy, node, "%s: expected a mapping, got %s", what,
				 node_kind(node));
}

int config_yaml_expect_sequence(struct config_yaml *cy, const yaml_node_t *node,
				const char *what)
{
	if (node && node->type == YAML_SEQUENCE_NODE)
		return 0;
	if (!node)
		return config_yaml_error(cy, NULL, "%s: expected a sequence", what);
	return config_yaml_error(cy, node, "%s: expected a sequence, got %s", what,
				 node_kind(node));
}

static bool scalar_equals(const yaml_node_t *node, const char *s)
{
	size_t len = strlen(s);

	return node->type == YAML_SCALAR_NODE && node->data.scalar.length == len &&
	       memcmp(node->data.scalar.value, s, len) == 0;
}

size_t config_yaml_length(const yaml_node_t *node)
{
	if (!node)
		return 0;
	if (node->type == YAML_SEQUENCE_NODE)
		return (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	if (node->type == YAML_MAPPING_NODE)
		return (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
	return 0;
}

yaml_node_t *config_yaml_item(struct config_yaml *cy, const yaml_node_t *sequence,
			      size_t index)
{
	if (!sequence || sequence->type != YAML_SEQUENCE_NODE ||
	    index >= config_yaml_length(sequence))
		return NULL;
	return yaml_document_get_node(&cy->doc, sequence->data.sequence.items.start[index]);
}

int config_yaml_pair(struct config_yaml *cy, const yaml_node_t *mapping, size_t index,
		     yaml_node_t **key, yaml_node_t **value)
{
	yaml_node_pair_t *pair;

	if (!mapping || mapping->type != YAML_MAPPING_NODE ||
	    index >= config_yaml_length(mapping))
		return -ENOENT;
	pair = &mapping->data.mapping.pairs.start[index];
	*key = yaml_document_get_node(&cy->doc, pair->key);
	*value = yaml_document_get_node(&cy->doc, pair->value);
	return *key && *value ? 0 : -ENOENT;
}

int config_yaml_check_keys(struct config_yaml *cy, const yaml_node_t *mapping,
			   const char *what, const char *const *allowed)
{
	yaml_node_t *key, *value, *other_key, *other_value;
	struct buf list;
	size_t i, j, n;
	int ret;

	ret = config_yaml_expect_mapping(cy, mapping, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(mapping);
	for (i = 0; i < n; i++) {
		if (config_yaml_pair(cy, mapping, i, &key, &value) < 0)
			return config_yaml_error(cy, mapping, "%s: malformed mapping", what);
		if (key->type != YAML_SCALAR_NODE)
			return config_yaml_error(cy, key, "%s: a key must be a scalar, got %s",
						 what, node_kind(key));
		for (j = 0; allowed[j]; j++)
			if (scalar_equals(key, allowed[j]))
				break;
		if (!allowed[j]) {
			char quoted[QUOTE_MAX + 8];

			buf_init(&list, 512);
			for (j = 0; allowed[j]; j++)
				buf_appendf(&list, "%s%s", j ? ", " : "", allowed[j]);
			ret = config_yaml_error(cy, key, "%s: unknown key '%s' (allowed: %s)",
						what, config_yaml_quote(key, quoted, sizeof(quoted)),
						list.p);
			buf_release(&list);
			return ret;
		}
		/* The key matched an allowed name, so its text is that name. */
		for (j = 0; j < i; j++) {
			if (config_yaml_pair(cy, mapping, j, &other_key, &other_value) == 0 &&
			    scalar_equals(other_key, (const char *)key->data.scalar.value))
				break;
		}
		if (j < i)
			return config_yaml_error(cy, key, "%s: key '%s' given twice (first at line %lu)",
						 what, (const char *)key->data.scalar.value,
						 config_yaml_line(other_key));
	}
	return 0;
}

yaml_node_t *config_yaml_get(struct config_yaml *cy, const yaml_node_t *mapping,
			     const char *key)
{
	yaml_node_t *k, *v;
	size_t i, n = config_yaml_length(mapping);

	if (!mapping || mapping->type != YAML_MAPPING_NODE)
		return NULL;
	for (i = 0; i < n; i++)
		if (config_yaml_pair(cy, mapping, i, &k, &v) == 0 && scalar_equals(k, key))
			return v;
	return NULL;
}

int config_yaml_require_key(struct config_yaml *cy, const yaml_node_t *mapping,
			    const char *what, const char *key)
{
	if (config_yaml_get(cy, mapping, key))
		return 0;
	return config_yaml_error(cy, mapping, "%s: missing key '%s'", what, key);
}

int config_yaml_string(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		       const char **out)
{
	if (!node)
		return config_yaml_error(cy, NULL, "%s: missing", what);
	if (node->type != YAML_SCALAR_NODE)
		return config_yaml_error(cy, node, "%s: expected a scalar, got %s", what,
					 node_kind(node));
	if (memchr(node->data.scalar.value, '\0', node->data.scalar.length))
		return config_yaml_error(cy, node, "%s: contains a NUL byte", what);
	*out = (const char *)node->data.scalar.value;
	return 0;
}

int config_yaml_nonempty_string(struct config_yaml *cy, const yaml_node_t *node,
				const char *what, const char **out)
{
	int ret = config_yaml_string(cy, node, what, out);

	if (ret < 0)
		return ret;
	if (!**out)
		return config_yaml_error(cy, node, "%s: must not be empty", what);
	return 0;
}

int config_yaml_integer(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			long long min, long long max, long long *out)
{
	char quoted[QUOTE_MAX + 8];
	const char *text;
	long long value;
	int ret;

	ret = config_yaml_string(cy, node, what, &text);
	if (ret < 0)
		return ret;
	ret = config_parse_integer(text, &value);
	if (ret == -EINVAL)
		return config_yaml_error(cy, node, "%s: expected an integer, got '%s'", what,
					 config_yaml_quote(node, quoted, sizeof(quoted)));
	if (ret < 0 || value < min || value > max)
		return config_yaml_error(cy, node, "%s: %s is out of range (%lld to %lld)", what,
					 config_yaml_quote(node, quoted, sizeof(quoted)), min, max);
	*out = value;
	return 0;
}

int config_yaml_duration_ms(struct config_yaml *cy, const yaml_node_t *node,
			    const char *what, uint64_t min_ms, uint64_t max_ms, uint64_t *out)
{
	char quoted[QUOTE_MAX + 8], low[32], high[32];
	const char *text;
	uint64_t value;
	int ret;

	ret = config_yaml_string(cy, node, what, &text);
	if (ret < 0)
		return ret;
	ret = config_parse_duration_ms(text, &value);
	if (ret == -EINVAL)
		return config_yaml_error(cy, node,
					 "%s: expected a duration such as 500ms, 10s, 2m or 1h, got '%s'",
					 what, config_yaml_quote(node, quoted, sizeof(quoted)));
	if (ret < 0 || value < min_ms || value > max_ms) {
		config_format_duration(min_ms, low, sizeof(low));
		config_format_duration(max_ms, high, sizeof(high));
		return config_yaml_error(cy, node, "%s: %s is out of range (%s to %s)", what,
					 config_yaml_quote(node, quoted, sizeof(quoted)), low, high);
	}
	*out = value;
	return 0;
}

int config_yaml_boolean(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			bool *out)
{
	char quoted[QUOTE_MAX + 8];
	const char *text;
	int ret;

	ret = config_yaml_string(cy, node, what, &text);
	if (ret < 0)
		return ret;
	if (config_parse_boolean(text, out) < 0)
		return config_yaml_error(cy, node, "%s: expected true or false, got '%s'", what,
					 config_yaml_quote(node, quoted, sizeof(quoted)));
	return 0;
}

int config_parse_integer(const char *text, long long *out)
{
	const char *p = text;
	bool negative = false;
	unsigned long long value = 0, limit;

	if (*p == '-') {
		negative = true;
		p++;
	}
	if (*p < '0' || *p > '9')
		return -EINVAL;
	limit = negative ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (value > (limit - digit) / 10) {
			/* Keep scanning: "12x" with an overflow is still a syntax error. */
			while (*p >= '0' && *p <= '9')
				p++;
			return *p ? -EINVAL : -ERANGE;
		}
		value = value * 10 + digit;
	}
	if (*p)
		return -EINVAL;
	if (negative)
		*out = value == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)value;
	else
		*out = (long long)value;
	return 0;
}

int config_parse_duration_ms(const char *text, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 60 * 60 * 1000 }, { "", 1000 },
	};
	const char *p = text;
	uint64_t value = 0;
	size_t i;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (value > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		value = value * 10 + (uint64_t)(*p - '0');
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].suffix) == 0) {
			if (value > UINT64_MAX / units[i].ms)
				return -ERANGE;
			*out = value * units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}

int config_parse_boolean(const char *text, bool *out)
{
	if (strcmp(text, "true") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(text, "false") == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

void config_format_duration(uint64_t ms, char *out, size_t size)
{
	unsigned long long v = (unsigned long long)ms;

	if (v == 0)
		snprintf(out, size, "0s");
	else if (v % (60 * 60 * 1000) == 0)
		snprintf(out, size, "%lluh", v / (60 * 60 * 1000));
	else if (v % (60 * 1000) == 0)
		snprintf(out, size, "%llum", v / (60 * 1000));
	else if (v % 1000 == 0)
		snprintf(out, size, "%llus", v / 1000);
	else if (v < 1000)
		snprintf(out, size, "%llums", v);
	else if (v % 100 == 0)
		snprintf(out, size, "%llu.%llus", v / 1000, (v % 1000) / 100);
	else if (v % 10 == 0)
		snprintf(out, size, "%llu.%02llus", v / 1000, (v % 1000) / 10);
	else
		snprintf(out, size, "%llu.%03llus", v / 1000, v % 1000);
}
