// A Node MCP host that speaks only OAuth, driven step by step: one TypeScript SDK's client with an in-memory
// OAuthClientProvider, whose browser step fetches the authorization URL without following the redirect and keeps
// the code from its Location, as the host's local callback page would receive it.
//
// node oauth_flow.mjs '{"sdk": "sdk1" | "client2", "dir": <its npm --prefix folder>, "mode": "legacy" | "auto",
//                       "url": <the server's /mcp>, "redirect": <the redirect URI to register>}'
// Then one JSON command per line on stdin, one JSON row per command on stdout, so the test can change PostHog
// between steps (a token expired, revoked, a new grant):
//   {"do": "connect"}       a new user: new provider, client and transport; signs in on the first 401
//   {"do": "list"}          tools/list
//   {"do": "call", "name", "arguments"}
//   {"do": "close"}
// Every row says how many times the user was sent to sign in ("signIns"), the registered "clientId", and the
// client's HTTP exchanges since the last row ("exchanges": method, url, status, challenge). An error the SDK throws
// becomes the row's "exception", never a crash.
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const config = JSON.parse(process.argv[2]);
const info = { name: "posthog-integrations-mcp-oauth-tests", version: "1.0.0" };

/** ESM cannot use NODE_PATH: each SDK is imported by path from the folder .ci/run installed it in. */
function load(file) {
  return import(pathToFileURL(join(config.dir, "node_modules", file)).href);
}

const SDKS = {
  async sdk1() {
    const root = "@modelcontextprotocol/sdk/dist/esm";
    const { Client } = await load(`${root}/client/index.js`);
    const { StreamableHTTPClientTransport } = await load(`${root}/client/streamableHttp.js`);
    const { UnauthorizedError } = await load(`${root}/client/auth.js`);
    return { newClient: () => new Client(info, { capabilities: {} }), StreamableHTTPClientTransport, UnauthorizedError };
  },
  async client2() {
    const { Client, StreamableHTTPClientTransport, UnauthorizedError } = await load(
      "@modelcontextprotocol/client/dist/index.mjs",
    );
    const newClient = () => new Client(info, { capabilities: {}, versionNegotiation: { mode: config.mode } });
    return { newClient, StreamableHTTPClientTransport, UnauthorizedError };
  },
};

/** One user's OAuth state, in memory, and their browser. */
class Provider {
  constructor() {
    this.information = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.discovery = undefined;
    this.expected = undefined;
    this.code = undefined;
    this.signIns = 0;
  }
  get redirectUrl() {
    return config.redirect;
  }
  get clientMetadata() {
    return {
      client_name: `Flow test ${config.sdk}`,
      redirect_uris: [config.redirect],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    this.expected = `state-${this.signIns + 1}`;
    return this.expected;
  }
  clientInformation() {
    return this.information;
  }
  saveClientInformation(information) {
    this.information = information;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
  /** The browser: PostHog's test user approves at once, and the redirect back carries the code and the state. */
  async redirectToAuthorization(url) {
    this.signIns += 1;
    const answer = await fetch(url, { redirect: "manual" });
    const back = new URL(answer.headers.get("location") ?? "", config.redirect);
    if (answer.status !== 302 || back.searchParams.get("state") !== this.expected) {
      throw new Error(`sign-in failed: ${answer.status} ${back.search}`);
    }
    this.code = back.searchParams.get("code");
  }
}

/** Every HTTP exchange of the client (MCP and OAuth alike), reported with the next row. */
const exchanges = [];
async function recorded(url, init) {
  const answer = await fetch(url, init);
  const challenge = answer.headers.get("www-authenticate");
  exchanges.push({ method: init?.method ?? "GET", url: String(url), status: answer.status, challenge });
  return answer;
}

function failure(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const sdk = await SDKS[config.sdk]();
let user;

/** Connect, and when the SDK says the user must sign in first, finish with the code and connect again. */
async function connect() {
  const provider = new Provider();
  const open = async () => {
    const client = sdk.newClient();
    client.onerror = (error) => process.stderr.write(`client error: ${failure(error)}\n`);
    const transport = new sdk.StreamableHTTPClientTransport(new URL(config.url), {
      authProvider: provider,
      fetch: recorded,
    });
    try {
      await client.connect(transport);
    } catch (error) {
      if (!(error instanceof sdk.UnauthorizedError) || provider.code === undefined) throw error;
      await transport.finishAuth(provider.code);
      provider.code = undefined;
      return open();
    }
    return client;
  };
  user = { provider, client: await open() };
  return { protocolVersion: user.client.getNegotiatedProtocolVersion?.() ?? null };
}

const STEPS = {
  connect,
  async list() {
    const { tools } = await user.client.listTools();
    return { tools: tools.map((tool) => tool.name) };
  },
  async call({ name, arguments: args }) {
    const result = await user.client.callTool({ name, arguments: args });
    const row = { isError: result.isError === true, structuredContent: result.structuredContent ?? null };
    return result.isError ? { ...row, text: result.content.map((block) => block.text).join("\n") } : row;
  },
  async close() {
    await user.client.close();
    return {};
  },
};

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  let row;
  try {
    row = await STEPS[command.do](command);
  } catch (error) {
    row = { exception: failure(error) };
  }
  const signIns = user?.provider.signIns ?? 0;
  const clientId = user?.provider.information?.client_id ?? null;
  const seen = exchanges.splice(0);
  process.stdout.write(`${JSON.stringify({ do: command.do, ...row, signIns, clientId, exchanges: seen })}\n`);
}
