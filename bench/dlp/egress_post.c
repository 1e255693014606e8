/* The egress small-POST benchmark's two ends (bench/dlp/egress.sh):
 *
 *   egress_post serve PORT
 *       a minimal HTTP/1.1 origin: reads each request's Content-Length
 *       body and answers 200 "ok", keep-alive, a thread per connection
 *   egress_post client PROXY-PORT ORIGIN-PORT SECONDS PATH
 *       one keep-alive connection to the proxy sending absolute-form
 *       POSTs of a 4 KiB JSON body to 127.0.0.1:ORIGIN-PORT/PATH, one
 *       after the other, for SECONDS; prints requests per second
 *   egress_post body
 *       writes that body to stdout (bench/dlp/body.sh times the engine
 *       on it alone)
 *
 * Not part of the build or the tests: a measuring tool. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BODY_SIZE 4096

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Read one message (head and Content-Length body) from fd into buf,
 * keeping bytes past it for the next call.  0 at end of stream. */
static int read_message(int fd, char *buf, size_t cap, size_t *have)
{
	for (;;) {
		char *end = memmem(buf, *have, "\r\n\r\n", 4);
		ssize_t n;

		if (end) {
			size_t head = (size_t)(end + 4 - buf), body = 0, total;
			char *cl = strcasestr(buf, "\r\ncontent-length:");

			if (cl && cl < end)
				body = strtoul(cl + 17, NULL, 10);
			total = head + body;
			while (*have < total) {
				n = read(fd, buf + *have, cap - *have);
				if (n <= 0)
					return 0;
				*have += (size_t)n;
			}
			memmove(buf, buf + total, *have - total);
			*have -= total;
			return 1;
		}
		if (*have == cap)
			return 0;
		n = read(fd, buf + *have, cap - *have);
		if (n <= 0)
			return 0;
		*have += (size_t)n;
	}
}

static void *serve_one(void *arg)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(65536);
	size_t have = 0;

	while (buf && read_message(fd, buf, 65536, &have))
		if (write(fd, ok, sizeof(ok) - 1) < 0)
			break;
	free(buf);
	close(fd);
	return NULL;
}

static int serve(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0) {
		perror("listen");
		return 1;
	}
	for (;;) {
		int c = accept(fd, NULL, NULL);
		pthread_t t;

		if (c < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_create(&t, NULL, serve_one, (void *)(intptr_t)c);
		pthread_detach(t);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A JSON body such as an agent sends to a model: prose, code, ids. */
static void fill_body(char *body)
{
	static const char words[] =
		"the function returns the parsed value; see src/parse.c line 120 for why "
		"{\"role\":\"user\",\"content\":\"fix the failing test in tests/unit\"} "
		"commit 3f786850e387550fdab836ed7e6dc881de23001b id 4b825dc6-42c4-4a0c ";
	size_t at = 0, n = sizeof(words) - 1;

	memcpy(body, "{\"messages\":\"", 13);
	at = 13;
	while (at < BODY_SIZE - 2) {
		size_t take = BODY_SIZE - 2 - at < n ? BODY_SIZE - 2 - at : n;

		memcpy(body + at, words, take);
		at += take;
	}
	for (size_t i = 13; i < at; i++)
		if (body[i] == '"')
			body[i] = '\'';
	memcpy(body + at, "\"}", 2);
}

static int client(int proxy, int origin, double seconds, const char *path)
{
	char head[512], *req, buf[65536];
	size_t head_len, have = 0;
	unsigned long count = 0;
	double start, elapsed;
	int fd = connect_to(proxy);

	head_len = (size_t)snprintf(head, sizeof(head),
				    "POST http://127.0.0.1:%d/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n",
				    origin, path, origin, BODY_SIZE);
	req = malloc(head_len + BODY_SIZE);
	memcpy(req, head, head_len);
	fill_body(req + head_len);
	start = now();
	do {
		if (write(fd, req, head_len + BODY_SIZE) < 0 || !read_message(fd, buf, sizeof(buf), &have)) {
			fprintf(stderr, "the proxy closed the connection after %lu requests\n", count);
			return 1;
		}
		if (strncmp(buf, "HTTP/1.1 200", 12) != 0 && count == 0) {
			fprintf(stderr, "not a 200: %.60s\n", buf);
			return 1;
		}
		count++;
		elapsed = now() - start;
	} while (elapsed < seconds);
	printf("%.0f\n", (double)count / elapsed);
	free(req);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(atoi(argv[2]));
	if (argc == 6 && strcmp(argv[1], "client") == 0)
		return client(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), argv[5]);
	if (argc == 2 && strcmp(argv[1], "body") == 0) {
		static char body[BODY_SIZE];

		fill_body(body);
		return fwrite(body, 1, sizeof(body), stdout) == sizeof(body) ? 0 : 1;
	}
	fprintf(stderr, "usage: egress_post serve PORT | client PROXY-PORT ORIGIN-PORT SECONDS PATH | "
			"body\n");
	return 2;
}
