/* A small layer over libyaml for the project's config loaders.
 *
 * Load one YAML document, then walk it with typed getters that check what
 * they read.  Every error message names where the problem is, as
 * `file:line:col: message` (1-based, from the node's start mark), and is kept
 * in the struct for the caller to print.  Getters return 0 or a negative
 * errno (-EINVAL for a bad document, -ENOMEM, or the errno of a failed open
 * or read); nothing here exits or prints.
 *
 * Unknown keys are errors: config_yaml_check_keys() names the key and the
 * keys allowed there.  Scalars are read as written: libyaml applies no
 * schema, so `1`, `"1"` and `true` are all strings until a getter parses
 * them.  Values of env-like keys may be secrets: the getters put a scalar's
 * text in a message only when it failed to parse as a number, duration or
 * boolean, never a string's value.
 *
 *     struct config_yaml cy;
 *     config_yaml_init(&cy);
 *     if (config_yaml_load_file(&cy, path) < 0 ||
 *         config_yaml_check_keys(&cy, config_yaml_root(&cy), "config", keys) < 0)
 *             fprintf(stderr, "%s\n", config_yaml_message(&cy));
 *     config_yaml_release(&cy);
 */
#ifndef BOTTLE_CONFIG_YAML_H
#define BOTTLE_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#define CONFIG_YAML_MAX_FILE (1024 * 1024) /* bytes: a config, not a data set */

struct config_yaml {
	yaml_document_t doc;
	bool loaded;
	char *name;         /* the file's path (or a label), used in messages */
	char message[1024]; /* the last error, "" when none */
};

void config_yaml_init(struct config_yaml *cy);
void config_yaml_release(struct config_yaml *cy);

/* Load the single document of a file, or of a string named `name` in
 * messages.  An empty file, a second document or a syntax error is an
 * error with its position. */
int config_yaml_load_file(struct config_yaml *cy, const char *path);
int config_yaml_load_string(struct config_yaml *cy, const char *name,
			    const char *text, size_t len);

/* Name a value for messages, e.g. "routes[0].matches[2].path", as the
 * loaders pass it to the getters below.  Truncation only shortens a
 * message (a plain snprintf here would trip -Wformat-truncation). */
void config_yaml_describe(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The last error message; "" if there was none. */
const char *config_yaml_message(const struct config_yaml *cy);

/* Record "file:line:col: <message>" for `node` (NULL: the file alone) and
 * return -EINVAL, so a loader can report its own semantic errors:
 *     return config_yaml_error(cy, node, "duplicate name '%s'", name); */
int config_yaml_error(struct config_yaml *cy, const yaml_node_t *node,
		      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* 1-based position of a node, for messages such as "first at line 4". */
unsigned long config_yaml_line(const yaml_node_t *node);
unsigned long config_yaml_column(const yaml_node_t *node);

yaml_node_t *config_yaml_root(struct config_yaml *cy);

/* Type checks; `what` names the value in the message ("daemons[0].env"). */
int config_yaml_expect_mapping(struct config_yaml *cy, const yaml_node_t *node,
			       const char *what);
int config_yaml_expect_sequence(struct config_yaml *cy, const yaml_node_t *node,
				const char *what);

/* Fail on any key of `mapping` not in the NULL-terminated `allowed`, on a key
 * that is not a scalar, and on a key given twice. */
int config_yaml_check_keys(struct config_yaml *cy, const yaml_node_t *mapping,
			   const char *what, const char *const *allowed);
/* Fail unless `mapping` has `key`; the error points at the mapping. */
int config_yaml_require_key(struct config_yaml *cy, const yaml_node_t *mapping,
			    const char *what, const char *key);

/* The value of `key` in `mapping`, or NULL if absent (or not a mapping). */
yaml_node_t *config_yaml_get(struct config_yaml *cy, const yaml_node_t *mapping,
			     const char *key);

/* Sequences and mappings by index, for loops; NULL past the end. */
size_t config_yaml_length(const yaml_node_t *node);
yaml_node_t *config_yaml_item(struct config_yaml *cy, const yaml_node_t *sequence,
			      size_t index);
int config_yaml_pair(struct config_yaml *cy, const yaml_node_t *mapping, size_t index,
		     yaml_node_t **key, yaml_node_t **value);

/* Scalars.  The string stays owned by the document: copy it to keep it. */
int config_yaml_string(struct config_yaml *cy, const yaml_node_t *node,
		       const char *what, const char **out);
/* A non-empty string without NUL bytes. */
int config_yaml_nonempty_string(struct config_yaml *cy, const yaml_node_t *node,
				const char *what, const char **out);
int config_yaml_integer(struct config_yaml *cy, const yaml_node_t *node,
			const char *what, long long min, long long max, long long *out);
/* "500ms", "10s", "2m", "1h", or a plain integer of seconds; in ms. */
int config_yaml_duration_ms(struct config_yaml *cy, const yaml_node_t *node,
			    const char *what, uint64_t min_ms, uint64_t max_ms,
			    uint64_t *out);
/* true or false. */
int config_yaml_boolean(struct config_yaml *cy, const yaml_node_t *node,
			const char *what, bool *out);

/* The text parsers underneath, for other callers and tests: 0 or -EINVAL
 * (bad syntax) or -ERANGE (does not fit). */
int config_parse_integer(const char *text, long long *out);
int config_parse_duration_ms(const char *text, uint64_t *out);
int config_parse_boolean(const char *text, bool *out);
/* "1.5s", "200ms", "2m", "1h30m": for messages about durations. */
void config_format_duration(uint64_t ms, char *out, size_t size);

#endif
