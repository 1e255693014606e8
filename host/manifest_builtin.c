/* The manifests built into bottle-host: the demo agent and its bottle
 * (docs/demo.md).  They are found after ./.bottle and ~/.bottle, per file
 * name, so a file of the same name replaces one; their path reads
 * "(built-in)/agents/demo.md" in messages and in `bottle-host info`. */
#include "manifest.h"

#include <string.h>

static const char demo_agent[] =
	"---\n"
	"bottle: demo\n"
	"description: bottle's built-in demo (bottle-host start demo)\n"
	"provider:\n"
	"  image: bottle-sidecar\n"
	"  command: [/bin/sidecar, demo-agent]\n"
	"---\n"
	"The built-in demo agent: `sidecar demo-agent`, in the sidecar image, asks\n"
	"the sidecar for one thing per rule (an allowed request, a denied one, one\n"
	"carrying the canary, a clone and pushes through the git gate, an MCP\n"
	"call) and prints what it decided.  `bottle-host start demo` also starts\n"
	"the demo's stand-in internet, origin.demo.test.\n";

static const char demo_bottle[] =
	"---\n"
	"git:\n"
	"  user: {name: Bottle Demo, email: demo@bottle.test}\n"
	"  repos:\n"
	"    - name: demo\n"
	"      upstream: https://origin.demo.test:9443/demo.git\n"
	"      # start demo sets it to a random value when it is not set\n"
	"      token_env: BOTTLE_DEMO_GIT_TOKEN\n"
	"egress:\n"
	"  log: all\n"
	"  routes:\n"
	"    - host: origin.demo.test\n"
	"      ports: [8443]\n"
	"      # The demo's origin is a container on the bundle's egress network:\n"
	"      # a private address, which egress refuses unless a route names it.\n"
	"      # The name resolves only in the bundle's /etc/hosts.\n"
	"      addresses: [\"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\"]\n"
	"      matches:\n"
	"        - path_prefix: /docs/\n"
	"supervise: true\n"
	"---\n"
	"The built-in demo bottle: one route to the demo origin, under /docs/\n"
	"only; one repository behind the git gate; the supervise server on.\n";

static const struct {
	const char *path;
	const char *text;
} builtins[] = {
	{ MANIFEST_BUILTIN_DIR "/agents/demo.md", demo_agent },
	{ MANIFEST_BUILTIN_DIR "/bottles/demo.md", demo_bottle },
};

const char *manifest_builtin_text(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(builtins[i].path, path) == 0)
			return builtins[i].text;
	return NULL;
}
