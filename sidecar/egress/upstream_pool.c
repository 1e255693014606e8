/* Idle upstream connections shared by all client connections.
 *
 * Without it, every client connection holds its own upstream while it
 * waits for the agent's next request, and every new CONNECT pays a full
 * upstream TCP + TLS handshake.  With it, a finished exchange hands its
 * upstream back here and the next request for the same host, port and
 * scheme (from any client connection) takes it: an idle agent connection
 * costs only its own side, and a new CONNECT costs only the agent-side
 * handshake.
 *
 * An entry remembers the route, and the routes table holding it, that
 * allowed its address: it is only taken for a request decided by that same
 * route (two routes for one host may allow different addresses).  The
 * entry holds a reference on the table, so neither pointer can be reused
 * by a later table: after a reload, connections made under the old routes
 * are never reused, and egress_upstream_pool_flush closes them. */
#include "egress.h"
#include "egress_tls.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct upstream_pool_entry {
	struct upstream_pool_entry *next;
	struct routes *routes;        /* a reference: the table holding route */
	const struct route *route;    /* the route that allowed its address */
	struct stream stream;
	struct egress_tls_client *tls_client;
	char host[256];
	uint16_t port;
	bool tls;
	char address[64];
	uint64_t idle_since_ms;
};

void upstream_pool_init(struct upstream_pool *pool, unsigned max_idle, int idle_timeout_ms)
{
	memset(pool, 0, sizeof(*pool));
	pthread_mutex_init(&pool->lock, NULL);
	pool->max_idle = max_idle;
	pool->idle_timeout_ms = idle_timeout_ms;
}

static void entry_close(struct upstream_pool_entry *e)
{
	if (e->tls_client) {
		egress_tls_client_release(e->tls_client);
		free(e->tls_client);
	}
	stream_release(&e->stream);
	close(e->stream.fd);
	routes_unref(e->routes);
	free(e);
}

/* Unlink the entries for which drop() says so, into *closing (closed by
 * the caller outside the lock: closing can take a while). */
static void pool_unlink_if(struct upstream_pool *pool, struct upstream_pool_entry **closing,
			   bool (*drop)(const struct upstream_pool_entry *, const void *),
			   const void *arg)
{
	struct upstream_pool_entry **link = &pool->head;

	while (*link) {
		struct upstream_pool_entry *e = *link;

		if (drop(e, arg)) {
			*link = e->next;
			e->next = *closing;
			*closing = e;
			pool->count--;
		} else {
			link = &e->next;
		}
	}
}

static void close_all(struct upstream_pool_entry *list)
{
	if (!list)
		return;
	while (list) {
		struct upstream_pool_entry *next = list->next;

		entry_close(list);
		list = next;
	}
	/* The signal thread closes expired entries and never idles: keep
	 * nothing cached there. */
	egress_tls_memory_thread_release();
}

static bool entry_expired(const struct upstream_pool_entry *e, const void *arg)
{
	const struct upstream_pool *pool = arg;

	return egress_start_clock() - e->idle_since_ms >= (uint64_t)pool->idle_timeout_ms;
}

/* An idle upstream that has something to say (it closed, or sent bytes
 * nobody asked for) cannot carry a request. */
static bool entry_quiet(const struct upstream_pool_entry *e)
{
	struct pollfd pfd = { .fd = e->stream.fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 0 && !stream_has_buffered(&e->stream);
}

void egress_upstream_put(struct egress_connection *c, struct routes *routes,
			 const struct route *route)
{
	struct upstream_pool *pool = &c->egress->upstream_pool;
	struct upstream_pool_entry *e, *closing = NULL;

	if (c->upstream.fd < 0)
		return;
	e = calloc(1, sizeof(*e));
	if (!e || c->upstream_in.len > 0 || pool->max_idle == 0) {
		free(e);
		egress_upstream_close(c);
		return;
	}
	e->routes = routes_ref(routes);
	e->route = route;
	e->stream = c->upstream;
	/* The wait on its client was this exchange's, not the next one's. */
	e->stream.hangup_fd = -1;
	e->stream.hangup_seen = false;
	e->tls_client = c->tls_client;
	if (e->tls_client)
		stream_attach_tls(&e->stream, &e->tls_client->ssl); /* its BIO follows the stream */
	memcpy(e->host, c->upstream_host, sizeof(e->host));
	e->port = c->upstream_port;
	e->tls = c->upstream_tls;
	memcpy(e->address, c->upstream_address, sizeof(e->address));
	e->idle_since_ms = egress_start_clock();
	/* The connection no longer owns it. */
	c->tls_client = NULL;
	stream_init(&c->upstream, -1, 0);
	c->upstream_host[0] = '\0';

	pthread_mutex_lock(&pool->lock);
	pool_unlink_if(pool, &closing, entry_expired, pool);
	e->next = pool->head;
	pool->head = e;
	pool->count++;
	/* Over the cap: the oldest go (they are at the tail). */
	while (pool->count > pool->max_idle) {
		struct upstream_pool_entry **link = &pool->head;

		while ((*link)->next)
			link = &(*link)->next;
		(*link)->next = closing;
		closing = *link;
		*link = NULL;
		pool->count--;
	}
	pthread_mutex_unlock(&pool->lock);
	close_all(closing);
}

bool egress_upstream_take(struct egress_connection *c, const struct routes *routes,
			  const struct route *route, const char *host, uint16_t port, bool tls)
{
	struct upstream_pool *pool = &c->egress->upstream_pool;
	struct upstream_pool_entry **link, *found = NULL, *closing = NULL;

	pthread_mutex_lock(&pool->lock);
	pool_unlink_if(pool, &closing, entry_expired, pool);
	for (link = &pool->head; *link; link = &(*link)->next) {
		struct upstream_pool_entry *e = *link;

		if (e->routes == routes && e->route == route && e->port == port && e->tls == tls &&
		    strcmp(e->host, host) == 0) {
			*link = e->next;
			pool->count--;
			found = e;
			break;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	close_all(closing);
	if (!found)
		return false;
	if (!entry_quiet(found)) {
		entry_close(found);
		return false;
	}
	c->upstream = found->stream;
	c->tls_client = found->tls_client;
	if (c->tls_client)
		stream_attach_tls(&c->upstream, &c->tls_client->ssl);
	c->upstream.timeout_ms = c->egress->options.io_timeout_ms;
	memcpy(c->upstream_host, found->host, sizeof(c->upstream_host));
	c->upstream_port = found->port;
	c->upstream_tls = found->tls;
	memcpy(c->upstream_address, found->address, sizeof(c->upstream_address));
	found->tls_client = NULL;
	routes_unref(found->routes);
	free(found);
	return true;
}

static bool entry_not_under(const struct upstream_pool_entry *e, const void *routes)
{
	return e->routes != routes;
}

static bool entry_any(const struct upstream_pool_entry *e, const void *unused)
{
	(void)e;
	(void)unused;
	return true;
}

void egress_upstream_pool_expire(struct upstream_pool *pool)
{
	struct upstream_pool_entry *closing = NULL;

	pthread_mutex_lock(&pool->lock);
	pool_unlink_if(pool, &closing, entry_expired, pool);
	pthread_mutex_unlock(&pool->lock);
	close_all(closing);
}

void egress_upstream_pool_flush(struct upstream_pool *pool, const struct routes *keep)
{
	struct upstream_pool_entry *closing = NULL;

	pthread_mutex_lock(&pool->lock);
	if (keep)
		pool_unlink_if(pool, &closing, entry_not_under, keep);
	else
		pool_unlink_if(pool, &closing, entry_any, NULL);
	pthread_mutex_unlock(&pool->lock);
	close_all(closing);
}

void egress_upstream_close(struct egress_connection *c)
{
	if (c->tls_client) {
		egress_tls_client_release(c->tls_client);
		free(c->tls_client);
		c->tls_client = NULL;
	}
	if (c->upstream.fd >= 0)
		close(c->upstream.fd);
	stream_release(&c->upstream);
	stream_init(&c->upstream, -1, 0);
	/* upstream_out is left alone: it may hold the head of the request
	 * about to go to the next upstream. */
	buf_clear(&c->upstream_in);
	c->upstream_host[0] = '\0';
}
