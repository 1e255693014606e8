/* A listening TCP socket from a daemon's --listen option. */
#ifndef BOTTLE_LISTEN_H
#define BOTTLE_LISTEN_H

#include <stddef.h>

/* Listen on spec: "[HOST]:PORT", "HOST:PORT" or ":PORT", HOST an IPv4 or
 * IPv6 literal; an empty host is every address (IPv6 dual-stack, or IPv4
 * when the kernel has no IPv6).  Returns a close-on-exec, blocking socket,
 * or -EINVAL (spec is malformed) or another negative errno, with one line
 * in err naming spec. */
int listen_tcp(const char *spec, int backlog, char *err, size_t err_len);

#endif
