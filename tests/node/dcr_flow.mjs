// The program of tests/it/registration.rs: node `openid-client` v6 registers a client at a
// real keyward with an initial access token (RFC 7591), then runs the code flow with it.
// The browser part is the Rust test's: this script prints the registration and the
// authorization URL, reads the callback URL on stdin, and prints what it found.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const [issuer, initialAccessToken, redirectUri] = process.argv.slice(2);
const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n');

try {
  const config = await client.dynamicClientRegistration(
    new URL(issuer),
    {
      client_name: 'Node DCR App',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'openid profile',
    },
    undefined,
    { initialAccessToken, execute: [client.allowInsecureRequests] },
  );
  const registered = config.clientMetadata();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  say({ registered, authorize: url.href });
  const callback = (await lines.next()).value;
  input.close();
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  say({
    sub: tokens.claims()?.sub ?? null,
    refreshed: typeof refreshed.access_token === 'string',
    scope: tokens.scope ?? null,
  });
} catch (error) {
  say({ error: String(error), cause: error.cause ? JSON.stringify(error.cause) : null, code: error.code ?? null });
  process.exitCode = 1;
}
