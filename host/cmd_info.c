/* bottle-host info: an agent's fully resolved bottle, as `start` would run
 * it.  Environment values are never printed, only names and whether each
 * reference is set in the operator's environment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"
#include "manifest.h"
#include "../shared/exit_codes.h"

static const char info_usage[] =
	"usage: bottle-host info [--routes] <agent>\n"
	"       bottle-host info --bottle <bottle>\n"
	"\n"
	"Print the fully resolved bottle an agent runs in: the agent's provider,\n"
	"the bottles folded by `extends`, supervise, the image override, the\n"
	"environment (names only: a literal, or ${VAR} from your environment and\n"
	"whether VAR is set now; never a value), git identity and repositories,\n"
	"and the egress routes in the order egress tries them, the provider's API\n"
	"route with its injected key first.\n"
	"\n"
	"  --routes         print the rendered routes.yaml instead (what egress loads)\n"
	"  --bottle NAME    resolve a bottle alone, without an agent\n"
	"\n"
	"Manifests are Markdown files with YAML frontmatter, looked up per file\n"
	"name in ./.bottle/ first, then ~/.bottle/:\n"
	"  agents/<agent>.md     bottle: NAME, provider: claude | codex | {image, command}\n"
	"  bottles/<bottle>.md   extends, env, egress, git, supervise, image, containerfile\n"
	"Names are 1 to 64 of a-z, 0-9 and '-'.  Format and merge rules:\n"
	"docs/manifests.md.\n"
	"\n"
	"Exit status: 0 resolved; 3 a manifest is missing or invalid (one line,\n"
	"file:line:col: key: message); 2 bad arguments; 1 anything else.\n";

static const char *set_word(const char *var)
{
	return getenv(var) ? "set" : "NOT SET";
}

static void print_origin(const struct manifest_origin *o)
{
	printf("  (%s:%lu)\n", o->path, o->line);
}

static void print_env(const struct manifest_bottle *b)
{
	size_t i;

	printf("env         %zu variable%s\n", b->nenv, b->nenv == 1 ? "" : "s");
	for (i = 0; i < b->nenv; i++) {
		const struct manifest_env *e = &b->env[i];

		if (e->host_var)
			printf("  %-24s from $%s (%s)", e->name, e->host_var, set_word(e->host_var));
		else
			printf("  %-24s literal", e->name);
		print_origin(&e->origin);
	}
}

/* "exists" or "MISSING" for a host path written absolute or ~/. */
static const char *host_file_word(const char *path)
{
	char expanded[4096];
	const char *home = getenv("HOME");
	struct stat st;

	snprintf(expanded, sizeof(expanded), "%s%s", path[0] == '~' ? (home ? home : "") : "",
		 path + (path[0] == '~'));
	return stat(expanded, &st) == 0 && S_ISREG(st.st_mode) ? "exists" : "MISSING";
}

static void print_git(const struct manifest_bottle *b)
{
	const struct manifest_repo *r;
	size_t i;

	printf("git user    %s <%s>\n", b->git_user_name ? b->git_user_name : "(unset)",
	       b->git_user_email ? b->git_user_email : "(unset)");
	printf("git repos   %zu\n", b->nrepos);
	for (i = 0; i < b->nrepos; i++) {
		r = &b->repos[i];
		printf("  %s  %s", r->name, r->upstream);
		if (r->token_env) {
			printf("  token from $%s (%s)", r->token_env, set_word(r->token_env));
		} else {
			printf("  deploy key %s (%s)", r->deploy_key, host_file_word(r->deploy_key));
			if (r->known_hosts)
				printf("  host keys %s (%s)", r->known_hosts,
				       host_file_word(r->known_hosts));
		}
		print_origin(&r->origin);
	}
}

static void print_route(const struct route *route, const char *from)
{
	size_t i;

	printf("  %s%s", route->wildcard ? "*." : "", route->host);
	if (route->nports) {
		printf(" port%s ", route->nports == 1 ? "" : "s");
		for (i = 0; i < route->nports; i++)
			printf("%s%u", i ? "," : "", route->ports[i]);
	}
	if (route->tls_passthrough)
		printf(" tls_passthrough");
	if (route->websocket)
		printf(" websocket");
	if (route->nmatches)
		printf(" %zu match%s", route->nmatches, route->nmatches == 1 ? "" : "es");
	if (route->outbound_set)
		printf(" outbound_on_match %s", route_outbound_name(route->outbound_on_match));
	if (route->naddresses)
		printf(" %zu address%s", route->naddresses, route->naddresses == 1 ? "" : "es");
	if (route->auth)
		printf(" auth %s: %s%s$%s (%s)", route->auth->header,
		       route->auth->scheme ? route->auth->scheme : "", route->auth->scheme ? " " : "",
		       route->auth->env, set_word(route->auth->env));
	printf("  (%s)\n", from);
}

/* Render, load the result with egress's own loader, and print that: what
 * is shown is what egress would enforce. */
static int print_egress(const struct manifest_agent *a)
{
	const struct manifest_bottle *b = &a->bottle;
	struct manifest_provider_route api;
	struct routes *r = NULL;
	struct buf text;
	char err[1024];
	size_t i, layer = 0, left;
	int ret;

	buf_init(&text, (size_t)-1);
	ret = render_routes(a, &text);
	if (ret == 0)
		ret = routes_load_string("rendered routes.yaml", text.p, text.len, &r, err,
					 sizeof(err));
	buf_release(&text);
	if (ret < 0) {
		fprintf(stderr, "bottle-host: info: %s\n",
			ret == -ENOMEM ? "out of memory" : err);
		return EXIT_FAILURE_GENERIC;
	}
	manifest_provider_route(a->provider, &api);
	printf("egress      log %s, %zu route%s\n", routes_log_name(r->log), r->n,
	       r->n == 1 ? "" : "s");
	i = 0;
	if (api.host)
		print_route(&r->v[i++], "provider");
	left = layer < b->negress ? b->egress[layer].routes->n : 0;
	for (; i < r->n; i++) {
		while (left == 0 && layer + 1 < b->negress)
			left = b->egress[++layer].routes->n;
		print_route(&r->v[i], layer < b->negress ? b->egress[layer].bottle : "?");
		left--;
	}
	routes_unref(r);
	return EXIT_OK;
}

static void print_bottle(const struct manifest_bottle *b)
{
	size_t i;

	printf("bottle      %s  (%s)\n", b->name, b->path);
	printf("folds       ");
	for (i = 0; b->chain && b->chain[i]; i++)
		printf("%s%s", i ? ", " : "", b->chain[i]);
	printf("\nsupervise   %s\n", b->supervise ? "true" : "false");
	if (b->image)
		printf("image       %s\n", b->image);
	else if (b->containerfile)
		printf("image       built from %s\n", b->containerfile);
	else
		printf("image       the provider's default\n");
	print_env(b);
	print_git(b);
}

static void print_agent(const struct manifest_agent *a)
{
	struct manifest_provider_route api;
	size_t i;

	manifest_provider_route(a->provider, &api);
	printf("agent       %s  (%s)\n", a->name, a->path);
	if (api.host) {
		printf("provider    %s (key for %s from $%s: %s)\n",
		       manifest_provider_name(a->provider), api.host, api.env, set_word(api.env));
	} else {
		printf("provider    custom image %s", a->provider_image);
		for (i = 0; a->provider_command && a->provider_command[i]; i++)
			printf("%s%s", i ? " " : " command ", a->provider_command[i]);
		printf("\n");
	}
	printf("prompt      %zu bytes\n", a->prompt_len);
}

/* Only the egress tables of a lone bottle: no provider route. */
static void print_bottle_routes(const struct manifest_bottle *b)
{
	size_t i, j, n = 0;

	for (i = 0; i < b->negress; i++)
		n += b->egress[i].routes->n;
	printf("egress      log %s, %zu route%s\n", routes_log_name(b->log), n, n == 1 ? "" : "s");
	for (i = 0; i < b->negress; i++)
		for (j = 0; j < b->egress[i].routes->n; j++)
			print_route(&b->egress[i].routes->v[j], b->egress[i].bottle);
}

int cmd_info(int argc, char **argv)
{
	struct manifest_agent agent;
	struct manifest_bottle bottle;
	const char *name = NULL;
	bool routes = false, lone_bottle = false;
	char err[2048];
	struct buf text;
	int i, status;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(info_usage, stdout);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--routes") == 0) {
			routes = true;
		} else if (strcmp(argv[i], "--bottle") == 0) {
			lone_bottle = true;
		} else if (argv[i][0] == '-' || name) {
			fputs(info_usage, stderr);
			return EXIT_USAGE;
		} else {
			name = argv[i];
		}
	}
	if (!name || (routes && lone_bottle)) {
		fputs(info_usage, stderr);
		return EXIT_USAGE;
	}
	if (lone_bottle) {
		if (manifest_bottle_load(NULL, name, &bottle, err, sizeof(err)) < 0) {
			fprintf(stderr, "bottle-host: info: %s\n", err);
			return EXIT_CONFIG;
		}
		print_bottle(&bottle);
		print_bottle_routes(&bottle);
		manifest_bottle_release(&bottle);
		return EXIT_OK;
	}
	if (manifest_agent_load(NULL, name, &agent, err, sizeof(err)) < 0) {
		fprintf(stderr, "bottle-host: info: %s\n", err);
		return EXIT_CONFIG;
	}
	if (routes) {
		buf_init(&text, (size_t)-1);
		status = render_routes(&agent, &text) < 0 ? EXIT_FAILURE_GENERIC : EXIT_OK;
		if (status == EXIT_OK)
			fwrite(text.p, 1, text.len, stdout);
		else
			fprintf(stderr, "bottle-host: info: out of memory\n");
		buf_release(&text);
	} else {
		print_agent(&agent);
		print_bottle(&agent.bottle);
		status = print_egress(&agent);
	}
	manifest_agent_release(&agent);
	return status;
}
