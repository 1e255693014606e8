// A real MCP client (the official TypeScript SDK) for the t31xx-supervise
// tests.  Each command prints one JSON line on stdout for the shell test to
// check; errors go to stderr with a non-zero exit.
//
//   client.mjs URL smoke                      initialize, list tools, list routes
//   client.mjs URL call TOOL ARGS_JSON        call a tool; prints the result and
//                                             how many progress notifications came
//   client.mjs URL cancel TOOL ARGS_JSON MS   call, then abort after MS (the SDK
//                                             sends notifications/cancelled)
//   client.mjs URL many N TOOL ARGS_JSON      N sessions, each calling TOOL at once
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, command, ...rest] = process.argv.slice(2);

async function connect() {
	const client = new Client({ name: "bottle-test", version: "1.0.0" });
	const transport = new StreamableHTTPClientTransport(new URL(url));
	await client.connect(transport);
	return { client, transport };
}

function text(result) {
	return (result.content || []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

async function call(client, tool, args, signal) {
	let progress = 0;
	const result = await client.callTool({ name: tool, arguments: args }, undefined, {
		onprogress: () => { progress++; },
		// Short on purpose: only the progress notifications keep it alive.
		timeout: 5000,
		resetTimeoutOnProgress: true,
		maxTotalTimeout: 600000,
		signal,
	});
	return { isError: result.isError === true, text: text(result), progress };
}

async function main() {
	if (command === "smoke") {
		const { client, transport } = await connect();
		const tools = await client.listTools();
		const routes = await client.callTool({ name: "list-egress-routes", arguments: {} });
		console.log(JSON.stringify({
			server: client.getServerVersion(),
			protocol: transport.protocolVersion,
			sessionId: transport.sessionId,
			tools: tools.tools.map((t) => t.name),
			routes: text(routes),
			routesError: routes.isError === true,
		}));
		await transport.terminateSession();
		await client.close();
	} else if (command === "call") {
		const { client } = await connect();
		console.log(JSON.stringify(await call(client, rest[0], JSON.parse(rest[1]))));
		await client.close();
	} else if (command === "cancel") {
		const { client } = await connect();
		const controller = new AbortController();
		setTimeout(() => controller.abort("test cancels"), Number(rest[2]));
		try {
			await call(client, rest[0], JSON.parse(rest[1]), controller.signal);
			console.log(JSON.stringify({ cancelled: false }));
		} catch (e) {
			console.log(JSON.stringify({ cancelled: true, error: String(e) }));
		}
		await client.close();
	} else if (command === "many") {
		const n = Number(rest[0]);
		const clients = await Promise.all(Array.from({ length: n }, connect));
		const results = await Promise.all(clients.map(({ client }, i) => {
			const args = JSON.parse(rest[2].replaceAll("@N@", String(i)));
			return call(client, rest[1], args);
		}));
		console.log(JSON.stringify(results));
		await Promise.all(clients.map(({ client }) => client.close()));
	} else {
		throw new Error(`unknown command ${command}`);
	}
}

main().catch((e) => {
	console.error(`client.mjs: ${e && e.stack ? e.stack : e}`);
	process.exit(1);
});
