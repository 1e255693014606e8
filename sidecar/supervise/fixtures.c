/* The official conformance suite's fixtures (test_* tools, test:// resources,
 * test_* prompts, logging and completion), compiled in only for the test
 * build: tests/integration/t3110-supervise-conformance.sh compiles this
 * folder with -DSUPERVISE_CONFORMANCE.  The shipped server has none of it:
 * every function below then says "not mine". */
#include "fixtures.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#ifdef SUPERVISE_CONFORMANCE

#define PNG_1X1 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
#define WAV_EMPTY "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA="

struct fixture_tool {
	const char *name;
	const char *result; /* a fixed CallToolResult, or NULL: computed */
};

static const struct fixture_tool fixture_tools[] = {
	{ "test_simple_text",
	  "{\"content\":[{\"type\":\"text\",\"text\":\"This is a simple text response for testing.\"}]}" },
	{ "test_image_content",
	  "{\"content\":[{\"type\":\"image\",\"data\":\"" PNG_1X1 "\",\"mimeType\":\"image/png\"}]}" },
	{ "test_audio_content",
	  "{\"content\":[{\"type\":\"audio\",\"data\":\"" WAV_EMPTY "\",\"mimeType\":\"audio/wav\"}]}" },
	{ "test_embedded_resource",
	  "{\"content\":[{\"type\":\"resource\",\"resource\":{\"uri\":\"test://embedded-resource\","
	  "\"mimeType\":\"text/plain\",\"text\":\"This is an embedded resource content.\"}}]}" },
	{ "test_multiple_content_types",
	  "{\"content\":[{\"type\":\"text\",\"text\":\"Multiple content types test:\"},"
	  "{\"type\":\"image\",\"data\":\"" PNG_1X1 "\",\"mimeType\":\"image/png\"},"
	  "{\"type\":\"resource\",\"resource\":{\"uri\":\"test://mixed-content-resource\","
	  "\"mimeType\":\"application/json\",\"text\":\"{\\\"test\\\":\\\"data\\\",\\\"value\\\":123}\"}}]}" },
	{ "test_error_handling",
	  "{\"isError\":true,\"content\":[{\"type\":\"text\",\"text\":\"This tool intentionally "
	  "returns an error for testing\"}]}" },
	{ "test_tool_with_progress", NULL },
	{ "test_tool_with_logging", NULL },
};

static const char fixture_tools_json[] =
	"{\"name\":\"test_simple_text\",\"description\":\"Returns simple text\",\"inputSchema\":{\"type\":\"object\",\"properties\":{}}},"
	"{\"name\":\"test_image_content\",\"description\":\"Returns an image\",\"inputSchema\":{\"type\":\"object\",\"properties\":{}}},"
	"{\"name\":\"test_audio_content\",\"description\":\"Returns audio\",\"inputSchema\":{\"type\":\"object\",\"properties\":{}}},"
	"{\"name\":\"test_embedded_resource\",\"description\":\"Returns a resource\",\"inputSchema\":{\"type\":\"object\",\"properties\":{}}},"
	"{\"name\":\"test_multiple_content_types\",\"description\":\"Returns mixed content\",\"inputSchema\":{\"type\":\"object\",\"properties\":{}}},"
	"{\"name\":\"test_error_handling\",\"description\":\"Returns an error\",\"inputSchema\":{\"type\":\"object\",\"properties\":{}}},"
	"{\"name\":\"test_tool_with_progress\",\"description\":\"Reports progress\",\"inputSchema\":{\"type\":\"object\",\"properties\":{}}},"
	"{\"name\":\"test_tool_with_logging\",\"description\":\"Logs while running\",\"inputSchema\":{\"type\":\"object\",\"properties\":{}}},"
	"{\"name\":\"json_schema_2020_12_tool\",\"description\":\"Tool with JSON Schema 2020-12 features\","
	"\"inputSchema\":{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
	"\"$defs\":{\"address\":{\"type\":\"object\",\"properties\":{\"street\":{\"type\":\"string\"},"
	"\"city\":{\"type\":\"string\"}}}},\"properties\":{\"name\":{\"type\":\"string\"},"
	"\"address\":{\"$ref\":\"#/$defs/address\"}},\"additionalProperties\":false}}";

static const struct fixture_tool *find_tool(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(fixture_tools) / sizeof(fixture_tools[0]); i++)
		if (strcmp(fixture_tools[i].name, name) == 0)
			return &fixture_tools[i];
	return NULL;
}

bool fixtures_enabled(void)
{
	return true;
}

int fixtures_tools_json(struct buf *out)
{
	return buf_appendf(out, ",%s", fixture_tools_json);
}

bool fixtures_tool_exists(const char *name)
{
	return find_tool(name) != NULL;
}

bool fixtures_tool_streams(const char *name)
{
	return strcmp(name, "test_tool_with_progress") == 0 ||
	       strcmp(name, "test_tool_with_logging") == 0;
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

	nanosleep(&ts, NULL);
}

int fixtures_tool_call(struct tool_context *t, const char *name, struct buf *result)
{
	static const char *const logs[] = { "Tool execution started", "Tool processing data",
					    "Tool execution completed" };
	const struct fixture_tool *f = find_tool(name);
	struct buf ev;
	int ret = 0, i;

	buf_clear(result);
	if (f->result)
		return buf_append_str(result, f->result);
	buf_init(&ev, 1024);
	for (i = 0; i < 3 && ret == 0; i++) {
		buf_clear(&ev);
		if (strcmp(name, "test_tool_with_progress") == 0 && t->progress_token)
			ret = buf_appendf(&ev, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
					       "\"params\":{\"progressToken\":%s,\"progress\":%d,\"total\":100}}",
					  t->progress_token, i * 50);
		else if (strcmp(name, "test_tool_with_logging") == 0)
			ret = buf_appendf(&ev, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
					       "\"params\":{\"level\":\"info\",\"data\":\"%s\"}}",
					  logs[i]);
		if (ret == 0 && ev.len > 0 && t->send_event)
			ret = t->send_event(t, ev.p);
		pause_ms(50);
	}
	buf_release(&ev);
	if (ret < 0)
		return -ECANCELED;
	return buf_appendf(result, "{\"content\":[{\"type\":\"text\",\"text\":\"%s done\"}]}", name);
}

int fixtures_capabilities(struct buf *out)
{
	return buf_append_str(out, ",\"logging\":{},\"completions\":{},"
				   "\"resources\":{\"subscribe\":true,\"listChanged\":false},"
				   "\"prompts\":{\"listChanged\":false}");
}

static int resource_read(yyjson_val *params, struct buf *out)
{
	const char *uri = yyjson_get_str(yyjson_obj_get(params, "uri"));

	if (!uri)
		return JSONRPC_INVALID_PARAMS;
	if (strcmp(uri, "test://static-text") == 0)
		return buf_append_str(out, "{\"contents\":[{\"uri\":\"test://static-text\",\"mimeType\":"
					   "\"text/plain\",\"text\":\"This is the content of the static "
					   "text resource.\"}]}");
	if (strcmp(uri, "test://static-binary") == 0)
		return buf_append_str(out, "{\"contents\":[{\"uri\":\"test://static-binary\",\"mimeType\":"
					   "\"image/png\",\"blob\":\"" PNG_1X1 "\"}]}");
	if (strcmp(uri, "test://template/123/data") == 0)
		return buf_append_str(out, "{\"contents\":[{\"uri\":\"test://template/123/data\","
					   "\"mimeType\":\"application/json\",\"text\":\"{\\\"id\\\":\\\"123\\\","
					   "\\\"templateTest\\\":true,\\\"data\\\":\\\"Data for ID: 123\\\"}\"}]}");
	if (strcmp(uri, "test://watched-resource") == 0)
		return buf_append_str(out, "{\"contents\":[{\"uri\":\"test://watched-resource\",\"mimeType\":"
					   "\"text/plain\",\"text\":\"watched\"}]}");
	return JSONRPC_INVALID_PARAMS;
}

static int prompt_get(yyjson_val *params, struct buf *out)
{
	const char *name = yyjson_get_str(yyjson_obj_get(params, "name"));
	yyjson_val *args = yyjson_obj_get(params, "arguments");
	const char *a1, *a2, *uri;
	int ret;

	if (!name)
		return JSONRPC_INVALID_PARAMS;
	if (strcmp(name, "test_simple_prompt") == 0)
		return buf_append_str(out, "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\","
					   "\"text\":\"This is a simple prompt for testing.\"}}]}");
	if (strcmp(name, "test_prompt_with_image") == 0)
		return buf_append_str(out, "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"image\","
					   "\"data\":\"" PNG_1X1 "\",\"mimeType\":\"image/png\"}},"
					   "{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":"
					   "\"Please analyze the image above.\"}}]}");
	if (strcmp(name, "test_prompt_with_arguments") == 0) {
		a1 = yyjson_get_str(yyjson_obj_get(args, "arg1"));
		a2 = yyjson_get_str(yyjson_obj_get(args, "arg2"));
		if (!a1 || !a2)
			return JSONRPC_INVALID_PARAMS;
		ret = buf_append_str(out, "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":");
		if (ret == 0) {
			struct buf text;

			buf_init(&text, 8192);
			ret = buf_appendf(&text, "Prompt with arguments: arg1='%.1000s', arg2='%.1000s'", a1, a2);
			if (ret == 0)
				ret = json_append_string(out, text.p, text.len);
			buf_release(&text);
		}
		return ret == 0 ? buf_append_str(out, "}}]}") : ret;
	}
	if (strcmp(name, "test_prompt_with_embedded_resource") == 0) {
		uri = yyjson_get_str(yyjson_obj_get(args, "resourceUri"));
		if (!uri)
			return JSONRPC_INVALID_PARAMS;
		ret = buf_append_str(out, "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"resource\","
					  "\"resource\":{\"uri\":");
		if (ret == 0)
			ret = json_append_string(out, uri, strlen(uri));
		if (ret == 0)
			ret = buf_append_str(out, ",\"mimeType\":\"text/plain\",\"text\":\"Embedded resource "
						  "content for testing.\"}}},{\"role\":\"user\",\"content\":"
						  "{\"type\":\"text\",\"text\":\"Please process the embedded "
						  "resource above.\"}}]}");
		return ret;
	}
	return JSONRPC_INVALID_PARAMS;
}

int fixtures_method(const char *method, yyjson_val *params, struct buf *out)
{
	if (strcmp(method, "logging/setLevel") == 0 || strcmp(method, "resources/subscribe") == 0 ||
	    strcmp(method, "resources/unsubscribe") == 0)
		return buf_append_str(out, "{}");
	if (strcmp(method, "completion/complete") == 0)
		return buf_append_str(out, "{\"completion\":{\"values\":[],\"total\":0,\"hasMore\":false}}");
	if (strcmp(method, "resources/list") == 0)
		return buf_append_str(out, "{\"resources\":["
					   "{\"uri\":\"test://static-text\",\"name\":\"static-text\",\"mimeType\":\"text/plain\"},"
					   "{\"uri\":\"test://static-binary\",\"name\":\"static-binary\",\"mimeType\":\"image/png\"},"
					   "{\"uri\":\"test://watched-resource\",\"name\":\"watched-resource\",\"mimeType\":\"text/plain\"}]}");
	if (strcmp(method, "resources/templates/list") == 0)
		return buf_append_str(out, "{\"resourceTemplates\":[{\"uriTemplate\":\"test://template/{id}/data\","
					   "\"name\":\"template\",\"mimeType\":\"application/json\"}]}");
	if (strcmp(method, "resources/read") == 0)
		return resource_read(params, out);
	if (strcmp(method, "prompts/list") == 0)
		return buf_append_str(out, "{\"prompts\":["
					   "{\"name\":\"test_simple_prompt\",\"description\":\"A simple prompt\"},"
					   "{\"name\":\"test_prompt_with_arguments\",\"description\":\"A prompt with arguments\","
					   "\"arguments\":[{\"name\":\"arg1\",\"required\":true},{\"name\":\"arg2\",\"required\":true}]},"
					   "{\"name\":\"test_prompt_with_embedded_resource\",\"description\":\"A prompt with a resource\","
					   "\"arguments\":[{\"name\":\"resourceUri\",\"required\":true}]},"
					   "{\"name\":\"test_prompt_with_image\",\"description\":\"A prompt with an image\"}]}");
	if (strcmp(method, "prompts/get") == 0)
		return prompt_get(params, out);
	return FIXTURES_NOT_MINE;
}

#else

bool fixtures_enabled(void)
{
	return false;
}

int fixtures_tools_json(struct buf *out)
{
	(void)out;
	return 0;
}

bool fixtures_tool_exists(const char *name)
{
	(void)name;
	return false;
}

bool fixtures_tool_streams(const char *name)
{
	(void)name;
	return false;
}

int fixtures_tool_call(struct tool_context *t, const char *name, struct buf *result)
{
	(void)t;
	(void)name;
	(void)result;
	return -ENOENT;
}

int fixtures_capabilities(struct buf *out)
{
	(void)out;
	return 0;
}

int fixtures_method(const char *method, yyjson_val *params, struct buf *out)
{
	(void)method;
	(void)params;
	(void)out;
	return FIXTURES_NOT_MINE;
}

#endif
