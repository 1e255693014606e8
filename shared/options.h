/* The daemons' start-up option values: durations, counts and repeatable
 * names.  Start-up code only: a bad value is a usage error that exits
 * (die, EXIT_USAGE) naming the option and what it takes. */
#ifndef BOTTLE_OPTIONS_H
#define BOTTLE_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#define OPTION_DAY_MS (24ULL * 3600 * 1000)

/* "500ms", "30s", "5m" ... in milliseconds, from 1 to max_ms. */
uint64_t option_duration_ms(const char *name, const char *text, uint64_t max_ms);
/* An integer from min to max. */
unsigned option_count(const char *name, const char *text, long long min, long long max);
/* Append name to a NULL-terminated list (a repeatable option). */
void option_list_add(const char ***list, size_t *n, const char *name);

/* The bottle named in proposals: --bottle, else the queue directory's last
 * component (the launcher names it after the bottle).  NULL without a
 * queue.  A name queue_bottle_valid() refuses is a usage error. */
const char *option_bottle_name(const char *queue_dir, const char *bottle);

#endif
