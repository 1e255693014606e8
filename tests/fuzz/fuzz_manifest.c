/* libFuzzer target: manifest_parse_agent(), manifest_parse_bottle(), the
 * merge and render_routes().
 *
 * Input: a whole manifest file, read both as an agent and as a bottle.
 * Invariants checked:
 * - a parse returns 0 with the result filled, or a negative errno with the
 *   result empty and a one-line message that starts with the file's name
 *   and holds no control byte;
 * - an agent names a valid bottle, a custom provider an image, and its
 *   prompt is the tail of the input;
 * - a bottle's env entries have valid, distinct names and exactly one of a
 *   literal and a reference; every repo has a name and at most one
 *   credential; every egress table is loaded;
 * - folding the bottle over an empty one keeps every entry, and the
 *   routes.yaml rendered for a claude agent in it loads with the routes
 *   loader, the API route first.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/manifest.h"
#include "fuzz.h"

static void check_message(const char *err)
{
	size_t i;

	CHECK(strncmp(err, "m.md", 4) == 0 || strcmp(err, "out of memory") == 0);
	for (i = 0; err[i]; i++)
		CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f);
}

static void check_agent(const char *text, size_t size)
{
	struct manifest_agent a;
	char err[1024];
	int ret = manifest_parse_agent("m", "m.md", text, size, &a, err, sizeof(err));

	if (ret < 0) {
		CHECK(!a.name && !a.bottle_name && !a.prompt);
		check_message(err);
		return;
	}
	CHECK(ret == 0 && err[0] == '\0');
	CHECK(manifest_name_valid(a.bottle_name));
	CHECK(a.provider != MANIFEST_PROVIDER_CUSTOM || a.provider_image);
	CHECK(a.prompt_len <= size && memcmp(a.prompt, text + size - a.prompt_len, a.prompt_len) == 0);
	manifest_agent_release(&a);
}

static void check_bottle(const char *text, size_t size)
{
	struct manifest_layer layer;
	struct manifest_agent a;
	struct routes *r = NULL;
	struct buf out;
	char err[1024];
	size_t i, j;
	int ret = manifest_parse_bottle("m", "m.md", text, size, &layer, err, sizeof(err));

	if (ret < 0) {
		CHECK(!layer.b.name && !layer.b.env && !layer.extends && !layer.b.egress);
		check_message(err);
		return;
	}
	CHECK(ret == 0 && err[0] == '\0');
	for (i = 0; i < layer.b.nenv; i++) {
		CHECK(layer.b.env[i].name[0]);
		CHECK(!layer.b.env[i].value != !layer.b.env[i].host_var);
		for (j = 0; j < i; j++)
			CHECK(strcmp(layer.b.env[i].name, layer.b.env[j].name) != 0);
	}
	for (i = 0; i < layer.b.nrepos; i++)
		CHECK(layer.b.repos[i].name && !(layer.b.repos[i].deploy_key && layer.b.repos[i].token_env));
	for (i = 0; i < layer.b.negress; i++)
		CHECK(layer.b.egress[i].routes);
	for (i = 0; layer.extends && layer.extends[i]; i++)
		CHECK(manifest_name_valid(layer.extends[i]) && strcmp(layer.extends[i], "m") != 0);

	memset(&a, 0, sizeof(a));
	a.bottle.supervise = -1;
	a.provider = MANIFEST_PROVIDER_CLAUDE;
	a.name = "fuzz";
	a.bottle.name = NULL;
	CHECK(manifest_bottle_merge(&a.bottle, &layer.b) == 0);
	CHECK(a.bottle.nenv == layer.b.nenv && a.bottle.nrepos == layer.b.nrepos &&
	      a.bottle.negress == layer.b.negress && a.bottle.supervise == layer.b.supervise);
	a.bottle.name = strdup("m");
	buf_init(&out, (size_t)-1);
	CHECK(render_routes(&a, &out) == 0);
	ret = routes_load_string("rendered", out.p, out.len, &r, err, sizeof(err));
	if (ret < 0)
		fprintf(stderr, "%s\n%s\n", err, out.p);
	CHECK(ret == 0);
	CHECK(r->n >= 1 && strcmp(r->v[0].host, "api.anthropic.com") == 0 && r->v[0].auth);
	routes_unref(r);
	buf_release(&out);
	a.name = NULL;
	manifest_agent_release(&a);
	manifest_layer_release(&layer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_agent(text, size);
	check_bottle(text, size);
	free(text);
	return 0;
}
