/* The smallest HTTP server that runs `git http-backend` as a CGI, so the
 * benchmark can measure git's own smart-HTTP server (this machine has nginx
 * but no fcgiwrap, and Python's CGI handler passes neither the Git-Protocol
 * header nor chunked request bodies).
 *
 *   cgi_server PORT PROGRAM
 *
 * Listens on 127.0.0.1:PORT, prints "ready" on stdout, and serves each
 * connection in a child process: one request, then close.  The request's
 * path becomes PATH_INFO; Content-Length, Content-Type, Content-Encoding
 * and Git-Protocol are passed the CGI way; a chunked body is de-chunked
 * and given to the program without CONTENT_LENGTH (git http-backend then
 * reads to the end).  The program's environment is ours plus those, so
 * GIT_PROJECT_ROOT and GIT_HTTP_EXPORT_ALL come from the caller.  The
 * response is close-delimited.  A benchmark peer on loopback, not a web
 * server: malformed requests get a 400 and nothing is hardened. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEAD_MAX 65536

static int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A reader over the socket that first hands out what was read past the
 * request head. */
struct input {
	int fd;
	const char *pending;
	size_t pending_len;
};

static ssize_t input_read(struct input *in, char *p, size_t len)
{
	if (in->pending_len) {
		size_t n = in->pending_len < len ? in->pending_len : len;

		memcpy(p, in->pending, n);
		in->pending += n;
		in->pending_len -= n;
		return (ssize_t)n;
	}
	return read(in->fd, p, len);
}

/* One line (up to CRLF) of a chunked body into line[]. */
static int input_line(struct input *in, char *line, size_t max)
{
	size_t len = 0;

	for (;;) {
		char c;

		if (input_read(in, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		if (len + 1 < max)
			line[len++] = c;
	}
	if (len && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	return 0;
}

static int copy_n(struct input *in, int to, unsigned long long n)
{
	char buf[65536];

	while (n) {
		ssize_t got = input_read(in, buf, n < sizeof(buf) ? (size_t)n : sizeof(buf));

		if (got <= 0 || write_all(to, buf, (size_t)got) < 0)
			return -1;
		n -= (unsigned long long)got;
	}
	return 0;
}

/* The request body into the program's stdin. */
static int feed_body(struct input *in, int to, const char *content_length, int chunked)
{
	char line[256];

	if (!chunked)
		return content_length ? copy_n(in, to, strtoull(content_length, NULL, 10)) : 0;
	for (;;) {
		unsigned long long size;

		if (input_line(in, line, sizeof(line)) < 0)
			return -1;
		size = strtoull(line, NULL, 16);
		if (size == 0)
			return input_line(in, line, sizeof(line)); /* the last CRLF */
		if (copy_n(in, to, size) < 0 || input_line(in, line, sizeof(line)) < 0)
			return -1;
	}
}

/* The program's output: CGI headers ("Status:" becomes the status line),
 * then the body as it comes. */
static void relay_response(int from, int to)
{
	char head[HEAD_MAX + 1], buf[65536], *end, *body, *line, *next;
	size_t len = 0;
	ssize_t n;
	const char *status = "200 OK";
	char out[HEAD_MAX + 256];
	size_t out_len = 0;

	for (;;) {
		n = read(from, head + len, HEAD_MAX - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		head[len] = '\0';
		if ((end = strstr(head, "\r\n\r\n"))) {
			body = end + 4;
			break;
		}
		if ((end = strstr(head, "\n\n"))) {
			body = end + 2;
			break;
		}
		if (len == HEAD_MAX)
			return;
	}
	*end = '\0';
	for (line = head; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (strncasecmp(line, "Status:", 7) == 0)
			status = line + 7 + strspn(line + 7, " ");
		else if (*line)
			out_len += (size_t)snprintf(out + out_len, sizeof(out) - out_len, "%s\r\n", line);
	}
	dprintf(to, "HTTP/1.1 %s\r\nConnection: close\r\n", status);
	if (write_all(to, out, out_len) < 0 || write_all(to, "\r\n", 2) < 0)
		return;
	if (write_all(to, body, len - (size_t)(body - head)) < 0)
		return;
	while ((n = read(from, buf, sizeof(buf))) > 0)
		if (write_all(to, buf, (size_t)n) < 0)
			return;
}

static void serve(int fd, const char *program)
{
	static char head[HEAD_MAX + 1];
	size_t len = 0;
	char *end, *line, *next, *method, *target, *query;
	const char *content_length = NULL;
	int chunked = 0, to_program[2], from_program[2];
	pid_t cgi, feeder;

	for (;;) {
		ssize_t n = read(fd, head + len, HEAD_MAX - len);

		if (n <= 0)
			return;
		len += (size_t)n;
		head[len] = '\0';
		if ((end = strstr(head, "\r\n\r\n")))
			break;
		if (len == HEAD_MAX)
			goto bad;
	}
	*end = '\0';
	struct input in = { .fd = fd, .pending = end + 4, .pending_len = len - (size_t)(end + 4 - head) };

	method = head;
	target = strchr(method, ' ');
	if (!target)
		goto bad;
	*target++ = '\0';
	next = strstr(target, "\r\n");
	if (!next || !strchr(target, ' '))
		goto bad;
	*strchr(target, ' ') = '\0';
	query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	setenv("GATEWAY_INTERFACE", "CGI/1.1", 1);
	setenv("SERVER_PROTOCOL", "HTTP/1.1", 1);
	setenv("REMOTE_ADDR", "127.0.0.1", 1);
	setenv("REQUEST_METHOD", method, 1);
	setenv("PATH_INFO", target, 1);
	setenv("QUERY_STRING", query ? query : "", 1);
	for (line = next + 2; *line; line = next) {
		char *value;

		next = strstr(line, "\r\n");
		if (next) {
			*next = '\0';
			next += 2;
		} else {
			next = line + strlen(line);
		}
		value = strchr(line, ':');
		if (!value)
			goto bad;
		*value++ = '\0';
		value += strspn(value, " \t");
		if (strcasecmp(line, "Content-Length") == 0) {
			content_length = value;
			setenv("CONTENT_LENGTH", value, 1);
		} else if (strcasecmp(line, "Content-Type") == 0) {
			setenv("CONTENT_TYPE", value, 1);
		} else if (strcasecmp(line, "Content-Encoding") == 0) {
			setenv("HTTP_CONTENT_ENCODING", value, 1);
		} else if (strcasecmp(line, "Git-Protocol") == 0) {
			setenv("HTTP_GIT_PROTOCOL", value, 1);
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			chunked = strcasecmp(value, "chunked") == 0;
		}
	}
	if (pipe(to_program) < 0 || pipe(from_program) < 0)
		return;
	cgi = fork();
	if (cgi == 0) {
		dup2(to_program[0], 0);
		dup2(from_program[1], 1);
		close(to_program[0]);
		close(to_program[1]);
		close(from_program[0]);
		close(from_program[1]);
		close(fd);
		execl(program, program, (char *)NULL);
		_exit(127);
	}
	close(to_program[0]);
	close(from_program[1]);
	/* A separate writer: the program may answer before it read it all. */
	feeder = fork();
	if (feeder == 0) {
		close(from_program[0]);
		_exit(feed_body(&in, to_program[1], content_length, chunked) < 0 ? 1 : 0);
	}
	close(to_program[1]);
	relay_response(from_program[0], fd);
	close(from_program[0]);
	waitpid(cgi, NULL, 0);
	waitpid(feeder, NULL, 0);
	return;
bad:
	dprintf(fd, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int listener, one = 1;
	struct sigaction ignore = { .sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT };

	if (argc != 3) {
		fprintf(stderr, "usage: cgi_server PORT PROGRAM\n");
		return 2;
	}
	addr.sin_port = htons((unsigned short)atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigaction(SIGCHLD, &ignore, NULL);
	signal(SIGPIPE, SIG_IGN);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(listener, 64) < 0) {
		perror("cgi_server: listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int fd = accept(listener, NULL, NULL);

		if (fd < 0)
			continue;
		if (fork() == 0) {
			struct sigaction deflt = { .sa_handler = SIG_DFL };

			/* waitpid() on the program needs SIGCHLD back. */
			sigaction(SIGCHLD, &deflt, NULL);
			close(listener);
			serve(fd, argv[2]);
			shutdown(fd, SHUT_WR);
			close(fd);
			_exit(0);
		}
		close(fd);
	}
}
