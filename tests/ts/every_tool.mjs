// Runs a plan of tool calls through one TypeScript MCP SDK, as a Node host would, and prints one JSON line per
// step on stdout: the connection, tools/list, then each call. The SDK's own errors (an output schema it rejects, a
// transport that fails) become a row's "exception", never a crash; what the SDK reports through onerror goes to
// stderr as "client error: …".
//
// node every_tool.mjs '{"sdk": "sdk1" | "client2", "dir": <its npm --prefix folder>, "mode": "legacy" | "auto",
//                       "server": {"command", "args", "env"} | {"url", "key"}, "plan": [[tool, arguments], …]}'
// "mode" is client2's versionNegotiation (1.x knows only the initialize handshake). An argument "$<tool>" stands for
// the id in that earlier call's structuredContent.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const config = JSON.parse(process.argv[2]);
const info = { name: "posthog-integrations-mcp-tests", version: "1.0.0" };
const capabilities = { elicitation: {} };
let asked = 0;

/** The user says yes to every confirmation, and each question is counted. */
function confirm() {
  asked += 1;
  return { action: "accept", content: { confirm: true } };
}

/** ESM cannot use NODE_PATH: each SDK is imported by path from the folder .ci/run installed it in. */
function load(file) {
  return import(pathToFileURL(join(config.dir, "node_modules", file)).href);
}

const SDKS = {
  async sdk1() {
    const root = "@modelcontextprotocol/sdk/dist/esm";
    const { Client } = await load(`${root}/client/index.js`);
    const { StdioClientTransport } = await load(`${root}/client/stdio.js`);
    const { StreamableHTTPClientTransport } = await load(`${root}/client/streamableHttp.js`);
    const { ElicitRequestSchema } = await load(`${root}/types.js`);
    const client = new Client(info, { capabilities });
    client.setRequestHandler(ElicitRequestSchema, confirm);
    return { client, StdioClientTransport, StreamableHTTPClientTransport };
  },
  async client2() {
    const root = "@modelcontextprotocol/client/dist";
    const { Client, StreamableHTTPClientTransport } = await load(`${root}/index.mjs`);
    const { StdioClientTransport } = await load(`${root}/stdio.mjs`);
    const client = new Client(info, { capabilities, versionNegotiation: { mode: config.mode } });
    client.setRequestHandler("elicitation/create", confirm);
    return { client, StdioClientTransport, StreamableHTTPClientTransport };
  },
};

function print(row) {
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

function failure(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const { client, StdioClientTransport, StreamableHTTPClientTransport } = await SDKS[config.sdk]();
client.onerror = (error) => process.stderr.write(`client error: ${failure(error)}\n`);
const server = config.server;
const transport = server.url
  ? new StreamableHTTPClientTransport(new URL(server.url), {
      requestInit: { headers: { Authorization: `Bearer ${server.key}` } },
    })
  : new StdioClientTransport({ command: server.command, args: server.args, env: server.env });

try {
  await client.connect(transport);
  print({ call: "connect", protocolVersion: client.getNegotiatedProtocolVersion?.() ?? null });
} catch (error) {
  print({ call: "connect", exception: failure(error) });
  process.exit(1);
}
try {
  const { tools } = await client.listTools();
  print({ call: "tools/list", tools: tools.map((tool) => tool.name) });
} catch (error) {
  print({ call: "tools/list", exception: failure(error) });
}
const ids = {};
for (const [name, given] of config.plan) {
  const args = Object.fromEntries(
    Object.entries(given).map(([key, value]) => [key, value?.startsWith?.("$") ? ids[value.slice(1)] : value]),
  );
  asked = 0;
  try {
    const result = await client.callTool({ name, arguments: args });
    const structured = result.structuredContent ?? null;
    ids[name] = structured?.id;
    const row = { call: name, isError: result.isError === true, structuredContent: structured, asked };
    print(result.isError ? { ...row, text: result.content.map((block) => block.text).join("\n") } : row);
  } catch (error) {
    print({ call: name, exception: failure(error), asked });
  }
}
await client.close();
