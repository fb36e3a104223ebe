// The relying party of tests/it/node_client.rs: node `openid-client` v6 doing discovery, the
// code flow with PKCE, state and nonce, ID-token validation, userinfo, a refresh, and the
// RP-initiated logout URL, against a real keyward. The browser part (sign in, allow) is the
// Rust test's: this script prints the authorization URL, reads the callback URL on stdin, and
// prints what it found, one JSON line each.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const [issuer, clientId, clientSecret, redirectUri, postLogoutRedirectUri] = process.argv.slice(2);
const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n');

try {
  // The test server speaks plain http on loopback.
  const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
  });
  say({ authorize: url.href });
  const callback = (await lines.next()).value;
  // Nothing more comes on stdin; an open reader would keep node running.
  input.close();
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const logout = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: postLogoutRedirectUri,
    state: 'goodbye',
  });
  say({
    sub: claims.sub,
    nonce_matched: claims.nonce === nonce,
    auth_time: claims.auth_time,
    userinfo_sub: info.sub,
    email: info.email ?? null,
    refreshed_sub: refreshed.claims()?.sub ?? null,
    refreshed_nonce: refreshed.claims()?.nonce ?? null,
    logout: logout.href,
  });
} catch (error) {
  say({ error: String(error), cause: error.cause ? String(error.cause) : null, code: error.code ?? null });
  process.exitCode = 1;
}
