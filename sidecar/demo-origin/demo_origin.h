/* sidecar demo-origin: the stand-in for "the internet" that `bottle-host
 * start demo` runs next to the bundle, on the bundle's egress network
 * (docs/demo.md).  It serves, over TLS with a certificate of the demo's
 * own CA:
 *
 * - the web port: every request is answered 200 with one line naming the
 *   method and target it received, so a request that got through egress
 *   shows that it arrived, and a denied one never appears;
 * - the git port: TLS terminated and the bytes passed on to a plain
 *   `sidecar gitgate` on loopback that serves one repository, `demo`,
 *   without upstream: the bottle's git gate mirrors it over https and
 *   forwards the agent's pushes to it.
 *
 * demo_origin_main.c seeds the repository, starts that gate and the
 * listeners; demo_origin.c serves one connection and never exits. */
#ifndef SIDECAR_DEMO_ORIGIN_H
#define SIDECAR_DEMO_ORIGIN_H

#include <mbedtls/ssl.h>

/* What a connection thread needs; shared read-only by every thread. */
struct demo_origin {
	mbedtls_ssl_config tls;
	char backend_host[64]; /* the loopback gate's address */
	int backend_port;
};

enum demo_origin_kind { DEMO_ORIGIN_WEB, DEMO_ORIGIN_GIT };

/* Serve one accepted connection (closes fd). */
void demo_origin_serve(const struct demo_origin *o, enum demo_origin_kind kind, int fd);

#endif
