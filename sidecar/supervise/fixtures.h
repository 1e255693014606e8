/* The conformance suite's fixtures (fixtures.c): present only in the test
 * build (-DSUPERVISE_CONFORMANCE); stubs that claim nothing otherwise. */
#ifndef SIDECAR_SUPERVISE_FIXTURES_H
#define SIDECAR_SUPERVISE_FIXTURES_H

#include "supervise.h"

#define FIXTURES_NOT_MINE 1

bool fixtures_enabled(void);
/* Append ",<tool>,<tool>..." to a tools array being built. */
int fixtures_tools_json(struct buf *out);
bool fixtures_tool_exists(const char *name);
bool fixtures_tool_streams(const char *name);
int fixtures_tool_call(struct tool_context *t, const char *name, struct buf *result);
/* Append ",\"logging\":{},..." inside the capabilities object. */
int fixtures_capabilities(struct buf *out);
/* A result for method in *out (0), JSONRPC_INVALID_PARAMS, or
 * FIXTURES_NOT_MINE. */
int fixtures_method(const char *method, yyjson_val *params, struct buf *out);

#endif
