// tests/it/registration.rs's MCP test: a real MCP client (@modelcontextprotocol/sdk) against a
// minimal MCP server written here, which names keyward as its authorization server in its
// RFC 9728 protected-resource metadata and checks each Bearer token by keyward's
// introspection (its audience must be this server's resource). The client discovers
// keyward from the server's 401, registers itself (RFC 7591; or, given a certificate and
// key, names itself by a client metadata document this script serves over https), sends the user to keyward
// (this script prints the URL; the Rust test signs in and allows, and writes the callback
// URL back on stdin), gets a token for the server's resource (RFC 8707) and calls a tool.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

const [issuer, port, introspectId, introspectSecret, redirectUri, certFile, keyFile] =
  process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const resource = `${base}/mcp`;
const metadataUrl = `${base}/.well-known/oauth-protected-resource`;
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n');
const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

// The resource server: who the token is for, by keyward's introspection.
async function introspect(token) {
  const response = await fetch(`${issuer}/oauth2/introspect`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic ' + Buffer.from(`${introspectId}:${introspectSecret}`).toString('base64'),
    },
    body: new URLSearchParams({ token }),
  });
  return response.json();
}

const seen = { audiences: [], subjects: [] };
const server = http.createServer(async (req, res) => {
  try {
    if (req.url.startsWith('/.well-known/oauth-protected-resource')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ resource, authorization_servers: [issuer], bearer_methods_supported: ['header'] }));
      return;
    }
    if (!req.url.startsWith('/mcp')) {
      res.writeHead(404).end();
      return;
    }
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : null;
    const state = token ? await introspect(token) : { active: false };
    const audience = [].concat(state.aud ?? []);
    if (!state.active || !audience.includes(resource)) {
      res.writeHead(401, {
        'www-authenticate': `Bearer resource_metadata="${metadataUrl}"`,
        'content-type': 'application/json',
      });
      res.end(JSON.stringify({ error: 'invalid_token' }));
      return;
    }
    seen.audiences.push(audience);
    seen.subjects.push(state.sub);
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const mcp = new McpServer({ name: 'keyward-test-server', version: '1.0.0' });
    mcp.tool('whoami', 'Who the token was issued for', async () => ({
      content: [{ type: 'text', text: `you are ${state.username ?? state.sub}` }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => { transport.close(); mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  } catch (error) {
    if (!res.headersSent) res.writeHead(500);
    res.end(String(error));
  }
});
await new Promise((resolve) => server.listen(Number(port), '127.0.0.1', resolve));

// The client's metadata document, when the test asks for one: served over https on a
// port of its own, at the URL that is its client_id.
let documentUrl;
let documentServer;
const clientMetadata = () => ({
  client_name: 'MCP Test Agent',
  redirect_uris: [redirectUri],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
});
if (certFile && keyFile) {
  documentServer = https.createServer(
    { cert: readFileSync(certFile), key: readFileSync(keyFile) },
    (req, res) => {
      if (req.url !== '/agent/client.json') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' });
      res.end(JSON.stringify({ client_id: documentUrl, ...clientMetadata() }));
    },
  );
  await new Promise((resolve) => documentServer.listen(0, '127.0.0.1', resolve));
  documentUrl = `https://127.0.0.1:${documentServer.address().port}/agent/client.json`;
}

// The client's side of OAuth: everything kept in memory.
const memory = {};
const provider = {
  get clientMetadataUrl() { return documentUrl; },
  get redirectUrl() { return redirectUri; },
  get clientMetadata() { return clientMetadata(); },
  clientInformation() { return memory.client; },
  saveClientInformation(info) { memory.client = info; },
  tokens() { return memory.tokens; },
  saveTokens(tokens) { memory.tokens = tokens; },
  redirectToAuthorization(url) { say({ authorize: url.href }); },
  saveCodeVerifier(verifier) { memory.verifier = verifier; },
  codeVerifier() { return memory.verifier; },
};

let exitCode = 0;
try {
  const client = new Client({ name: 'keyward-test-client', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }));
    throw new Error('the server let an unauthorized client in');
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const callback = new URL((await lines.next()).value);
  input.close();
  const transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider });
  await transport.finishAuth(callback.searchParams.get('code'));
  const connected = new Client({ name: 'keyward-test-client', version: '1.0.0' });
  await connected.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }));
  const result = await connected.callTool({ name: 'whoami', arguments: {} });
  say({
    registered_client_id: memory.client?.client_id ?? null,
    tool: result.content?.[0]?.text ?? null,
    audiences: seen.audiences,
    has_refresh_token: typeof memory.tokens?.refresh_token === 'string',
  });
  await connected.close();
} catch (error) {
  say({ error: String(error), stack: error.stack ?? null });
  exitCode = 1;
}
server.close();
server.closeAllConnections?.();
documentServer?.close();
documentServer?.closeAllConnections?.();
process.exit(exitCode);
