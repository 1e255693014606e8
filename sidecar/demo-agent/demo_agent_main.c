/* sidecar demo-agent: the steps, each with the decision it expects from
 * the sidecar, and the summary that decides the exit status. */
#include "demo_agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>
#include <yyjson.h>

#include "../applet.h"
#include "../../shared/exit_codes.h"

static const char demo_agent_usage[] =
	"usage: sidecar demo-agent [--origin HOST] [--web-port N] [--git-port N]\n"
	"\n"
	"The agent of `bottle-host start demo` (docs/demo.md).  Inside a bottle it\n"
	"asks the sidecar for one thing per rule and prints what it decided:\n"
	"\n"
	"  allowed   GET https://HOST:WEB/docs/welcome      egress lets it through (200)\n"
	"  denied    GET https://HOST:WEB/admin             no route allows the path (403)\n"
	"  no route  CONNECT example.org:443                no route names the host (403)\n"
	"  canary    GET https://HOST:WEB/docs/search?q=$BOTTLE_CANARY   DLP stops it (403)\n"
	"  clone     https://HOST:GIT/demo.git              git's rewrite sends it to the gate\n"
	"  push      a commit on main                       the gate scans it, forwards it\n"
	"  push canary  a commit holding the canary         the gate's scan refuses it\n"
	"  mcp       tools/call list-egress-routes          supervise lists the live routes\n"
	"\n"
	"HOST defaults to origin.demo.test, WEB to 8443, GIT to 9443.  It uses only\n"
	"what the launcher gives every agent: HTTPS_PROXY, SSL_CERT_FILE,\n"
	"BOTTLE_CANARY, GIT_CONFIG_*, GIT_AUTHOR_*, BOTTLE_MCP_URL, BOTTLE_NAME.\n"
	"\n"
	"Exit status: 0 when every decision was the expected one, 1 otherwise.\n";

#define CLONE_DIR "/tmp/demo-agent/demo"
#define MCP_VERSION "2025-06-18"

struct run {
	const char *origin;
	int web_port, git_port;
	const char *proxy, *ca_file;
	int steps, expected;
};

static void report(struct run *run, bool expected, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void report(struct run *run, bool expected, const char *step, const char *fmt, ...)
{
	va_list ap;

	run->steps++;
	run->expected += expected;
	printf("%-12s %-12s ", expected ? "[expected]" : "[UNEXPECTED]", step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* One HTTPS request through egress and the status it should get; a 403
 * must also carry egress's own mark. */
static void https_step(struct run *run, const char *step, const char *host, int port,
		       const char *target, const char *shown, int want)
{
	struct demo_answer a;
	bool expected;

	demo_answer_init(&a);
	if (demo_https_get(run->proxy, run->ca_file, host, port, target, &a) < 0) {
		report(run, false, step, "GET https://%s:%d%s -> no answer: %s", host, port, shown,
		       a.error);
	} else if (a.status == 0) {
		report(run, false, step, "GET https://%s:%d%s -> %s", host, port, shown, a.error);
	} else if (a.connect_refused) {
		/* Refused at the CONNECT: no TLS, no request line. */
		expected = a.status == want && strcmp(a.egress, "denied") == 0;
		report(run, expected, step, "CONNECT %s:%d -> %d, X-Bottle-Egress: %s, \"%s\"", host,
		       port, a.status, a.egress, a.line);
	} else {
		expected = a.status == want && (want != 403 || strcmp(a.egress, "denied") == 0);
		report(run, expected, step, "GET https://%s:%d%s -> %d%s%s, \"%s\"", host, port, shown,
		       a.status, a.egress[0] ? ", X-Bottle-Egress: " : "", a.egress, a.line);
	}
	demo_answer_release(&a);
}

static void git_steps(struct run *run)
{
	struct demo_git_result r;
	char upstream[512], note[512];
	const char *canary = getenv("BOTTLE_CANARY");
	const char *name = getenv("BOTTLE_NAME");

	snprintf(upstream, sizeof(upstream), "https://%s:%d/demo.git", run->origin, run->git_port);
	if (demo_git_clone(upstream, CLONE_DIR, &r) < 0) {
		report(run, false, "clone", "%s -> %s", upstream, r.detail);
		return;
	}
	/* Expected: the agent never reached the upstream itself. */
	report(run, strncmp(r.url, upstream, strlen(upstream)) != 0, "clone",
	       "%s (git sent it to %s) -> %s", upstream, r.url, r.detail);

	snprintf(note, sizeof(note), "a change pushed by the demo agent of bottle %s\n",
		 name ? name : "?");
	demo_git_commit_push(CLONE_DIR, "main", "AGENT.md", note, &r);
	if (r.ok)
		report(run, true, "push", "main to %s -> accepted by the gate and the upstream: %s",
		       r.url, r.detail);
	else
		report(run, false, "push", "main to %s -> refused: %s %s", r.url, r.refused,
		       r.detail);

	snprintf(note, sizeof(note), "debug token: %s\n", canary ? canary : "(no BOTTLE_CANARY)");
	demo_git_commit_push(CLONE_DIR, "demo-canary", "LEAK.md", note, &r);
	r.detail[strcspn(r.detail, "\n")] = '\0';
	report(run, !r.ok && r.refused[0] && canary, "push canary",
	       "demo-canary holding $BOTTLE_CANARY -> %s: %s%s%s", r.ok ? "accepted" : "refused",
	       r.ok ? r.detail : r.refused, r.ok ? "" : " / ", r.ok ? "" : r.detail);
}

/* The three messages of a Streamable HTTP client: initialize, the
 * initialized notification, then the tool call. */
static void mcp_step(struct run *run)
{
	const char *url = getenv("BOTTLE_MCP_URL");
	struct demo_answer a;
	yyjson_doc *doc = NULL, *routes = NULL;
	yyjson_val *result, *text, *list;
	char session[128] = "", summary[256] = "";
	const char *json;
	bool expected = false;
	size_t i, n;

	demo_answer_init(&a);
	if (!url) {
		report(run, false, "mcp", "BOTTLE_MCP_URL is not set (is supervise off?)");
		goto out;
	}
	if (demo_mcp_post(url, NULL, NULL,
			  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
			  "\"protocolVersion\":\"" MCP_VERSION "\",\"capabilities\":{},"
			  "\"clientInfo\":{\"name\":\"bottle-demo-agent\",\"version\":\"1\"}}}",
			  &a) < 0 ||
	    a.status != 200) {
		report(run, false, "mcp", "initialize at %s -> %d %s%s", url, a.status, a.error, a.line);
		goto out;
	}
	snprintf(session, sizeof(session), "%s", a.session);
	demo_answer_release(&a);
	demo_answer_init(&a);
	demo_mcp_post(url, session, MCP_VERSION,
		      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &a);
	demo_answer_release(&a);
	demo_answer_init(&a);
	if (demo_mcp_post(url, session, MCP_VERSION,
			  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{"
			  "\"name\":\"list-egress-routes\",\"arguments\":{}}}",
			  &a) < 0 ||
	    a.status != 200) {
		report(run, false, "mcp", "tools/call list-egress-routes -> %d %s%s", a.status,
		       a.error, a.line);
		goto out;
	}
	doc = yyjson_read(a.body.p, a.body.len, 0);
	result = yyjson_obj_get(yyjson_doc_get_root(doc), "result");
	text = yyjson_obj_get(yyjson_arr_get(yyjson_obj_get(result, "content"), 0), "text");
	if (yyjson_get_bool(yyjson_obj_get(result, "isError")) || !yyjson_is_str(text)) {
		report(run, false, "mcp", "tools/call list-egress-routes -> an error: %.200s",
		       yyjson_is_str(text) ? yyjson_get_str(text) : a.line);
		goto out;
	}
	/* A sentence for the model, then the routes as JSON. */
	json = strchr(yyjson_get_str(text), '\n');
	routes = json ? yyjson_read(json + 1, strlen(json + 1), 0) : NULL;
	list = yyjson_obj_get(yyjson_doc_get_root(routes), "routes");
	n = yyjson_arr_size(list);
	for (i = 0; i < n && strlen(summary) + 80 < sizeof(summary); i++) {
		const char *host = yyjson_get_str(yyjson_obj_get(yyjson_arr_get(list, i), "host"));

		if (host && strcmp(host, run->origin) == 0)
			expected = true;
		snprintf(summary + strlen(summary), sizeof(summary) - strlen(summary), "%s%s",
			 i ? ", " : "", host ? host : "?");
	}
	report(run, expected, "mcp", "tools/call list-egress-routes -> %zu route%s: %s", n,
	       n == 1 ? "" : "s", summary);
out:
	yyjson_doc_free(routes);
	yyjson_doc_free(doc);
	demo_answer_release(&a);
}

int demo_agent_main(int argc, char **argv)
{
	struct run run = { .origin = "origin.demo.test", .web_port = 8443, .git_port = 9443 };
	const char *canary = getenv("BOTTLE_CANARY");
	char target[256];
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(demo_agent_usage, stdout);
			return EXIT_OK;
		}
		if (i + 1 >= argc)
			goto usage;
		if (strcmp(argv[i], "--origin") == 0)
			run.origin = argv[i + 1];
		else if (strcmp(argv[i], "--web-port") == 0)
			run.web_port = (int)strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--git-port") == 0)
			run.git_port = (int)strtol(argv[i + 1], NULL, 10);
		else
			goto usage;
		i++;
	}
	run.proxy = getenv("HTTPS_PROXY");
	run.ca_file = getenv("SSL_CERT_FILE") ? getenv("SSL_CERT_FILE")
					      : "/etc/ssl/certs/ca-certificates.crt";
	if (git_libgit2_init() < 0) {
		fprintf(stderr, "demo-agent: cannot initialise libgit2\n");
		return EXIT_SYSTEM;
	}
	printf("demo-agent: in bottle %s; proxy %s; what the sidecar decided:\n",
	       getenv("BOTTLE_NAME") ? getenv("BOTTLE_NAME") : "?", run.proxy ? run.proxy : "none");
	https_step(&run, "allowed", run.origin, run.web_port, "/docs/welcome", "/docs/welcome",
		   200);
	https_step(&run, "denied", run.origin, run.web_port, "/admin", "/admin", 403);
	https_step(&run, "no route", "example.org", 443, "/", "/", 403);
	snprintf(target, sizeof(target), "/docs/search?q=%s", canary ? canary : "");
	https_step(&run, "canary", run.origin, run.web_port, target,
		   "/docs/search?q=$BOTTLE_CANARY", canary ? 403 : 0);
	git_steps(&run);
	mcp_step(&run);
	printf("demo-agent: %d of %d decisions as expected\n", run.expected, run.steps);
	git_libgit2_shutdown();
	return run.expected == run.steps ? EXIT_OK : EXIT_FAILURE_GENERIC;

usage:
	fputs(demo_agent_usage, stderr);
	return EXIT_USAGE;
}
