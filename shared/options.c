/* Start-up option values (options.h). */
#include "options.h"

#include <stdlib.h>
#include <string.h>

#include "config_yaml.h"
#include "exit_codes.h"
#include "log.h"
#include "queue.h"

uint64_t option_duration_ms(const char *name, const char *text, uint64_t max_ms)
{
	uint64_t ms;

	if (config_parse_duration_ms(text, &ms) < 0 || ms == 0 || ms > max_ms)
		die(EXIT_USAGE, "--%s: invalid duration '%s' (e.g. 500ms, 30s, 5m)", name, text);
	return ms;
}

unsigned option_count(const char *name, const char *text, long long min, long long max)
{
	long long n;

	if (config_parse_integer(text, &n) < 0 || n < min || n > max)
		die(EXIT_USAGE, "--%s: expected an integer from %lld to %lld, got '%s'", name, min, max,
		    text);
	return (unsigned)n;
}

void option_list_add(const char ***list, size_t *n, const char *name)
{
	const char **grown = realloc(*list, (*n + 2) * sizeof(**list));

	if (!grown)
		die(EXIT_SYSTEM, "out of memory");
	grown[(*n)++] = name;
	grown[*n] = NULL;
	*list = grown;
}

const char *option_bottle_name(const char *queue_dir, const char *bottle)
{
	if (!queue_dir)
		return bottle;
	if (!bottle) {
		const char *slash = strrchr(queue_dir, '/');

		bottle = slash && slash[1] ? slash + 1 : queue_dir;
	}
	if (!queue_bottle_valid(bottle))
		die(EXIT_USAGE, "--bottle: '%s' is not a bottle name ([A-Za-z0-9_.-], 1-63)", bottle);
	return bottle;
}
