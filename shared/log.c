#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *program_name = "bottle";

void log_set_program(const char *name)
{
	program_name = name;
}

const char *log_program(void)
{
	return program_name;
}

/* Format the whole line first and write it with one write(2), so lines from
 * several processes sharing stderr never interleave mid-line. */
static void log_line(const char *level, const char *fmt, va_list args, int errnum)
{
	char line[2048];
	size_t len = 0;
	int n;

	n = snprintf(line, sizeof(line), "%s: %s", program_name, level);
	if (n > 0)
		len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, args);
	if (n > 0)
		len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	if (errnum && len < sizeof(line) - 3) {
		n = snprintf(line + len, sizeof(line) - len, ": %s", strerror(errnum));
		if (n > 0)
			len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	}
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2; /* truncated: keep room for the newline */
	line[len++] = '\n';
	while (write(STDERR_FILENO, line, len) < 0 && errno == EINTR)
		;
}

void log_info(const char *fmt, ...)
{
	va_list args;
	int saved_errno = errno;

	va_start(args, fmt);
	log_line("", fmt, args, 0);
	va_end(args);
	errno = saved_errno;
}

void log_warn(const char *fmt, ...)
{
	va_list args;
	int saved_errno = errno;

	va_start(args, fmt);
	log_line("warning: ", fmt, args, 0);
	va_end(args);
	errno = saved_errno;
}

void error_format(char *err, size_t err_len, const char *fmt, ...)
{
	va_list args;

	if (err == NULL || err_len == 0)
		return;
	va_start(args, fmt);
	vsnprintf(err, err_len, fmt, args);
	va_end(args);
}

void log_error(const char *fmt, ...)
{
	va_list args;
	int saved_errno = errno;

	va_start(args, fmt);
	log_line("error: ", fmt, args, 0);
	va_end(args);
	errno = saved_errno;
}

void log_error_errno(const char *fmt, ...)
{
	va_list args;
	int saved_errno = errno;

	va_start(args, fmt);
	log_line("error: ", fmt, args, saved_errno);
	va_end(args);
	errno = saved_errno;
}

void die(int exit_code, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("fatal: ", fmt, args, 0);
	va_end(args);
	exit(exit_code);
}

void die_errno(int exit_code, const char *fmt, ...)
{
	va_list args;
	int saved_errno = errno;

	va_start(args, fmt);
	log_line("fatal: ", fmt, args, saved_errno);
	va_end(args);
	exit(exit_code);
}
