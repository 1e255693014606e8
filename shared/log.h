/* One-line diagnostics on stderr, prefixed with the running program's name.
 *
 * Library code reports with log_error()/log_warn() and returns an error;
 * only start-up and CLI code calls die(), which exits. */
#ifndef BOTTLE_LOG_H
#define BOTTLE_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdnoreturn.h>

#define PRINTF_LIKE(fmt_index, args_index) \
	__attribute__((format(printf, fmt_index, args_index)))

/* Name printed before every message ("init", "bottle-host", ...). */
void log_set_program(const char *name);
const char *log_program(void);

/* Lifecycle and progress lines: "init: egress started (pid 12)". */
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* "init: warning: ..." */
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* "init: error: ..." */
void log_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* log_error() with ": <strerror(errno)>" appended. */
void log_error_errno(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* "init: fatal: ..." then exit(exit_code). Start-up and CLI code only. */
/* Library code reports an error into its caller's buffer, never to stderr:
 * one line, truncated to err_len (nothing when err is NULL or err_len 0). */
void error_format(char *err, size_t err_len, const char *fmt, ...) PRINTF_LIKE(3, 4);

noreturn void die(int exit_code, const char *fmt, ...) PRINTF_LIKE(2, 3);
noreturn void die_errno(int exit_code, const char *fmt, ...) PRINTF_LIKE(2, 3);

#endif
