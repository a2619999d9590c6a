// The Node helper against a live agentauthd; prints one JSON line for polyglot_test.cc.
//
// Usage: node node_probe.mjs TARGET CLIENT UNKNOWN_CLIENT UNREACHABLE_TARGET WHOAMI_URL
import { createTokenSource } from '../../client/node/agentauth.js';

const [target, client, unknownClient, unreachableTarget, whoamiUrl] = process.argv.slice(2);

function jwtExp(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp;
}

async function failure(where, name) {
  const source = createTokenSource({ target: where, client: name });
  try {
    await source.token();
    return { code: 'OK', message: 'a token came back' };
  } catch (error) {
    return { code: error.code, message: error.message };
  } finally {
    source.close();
  }
}

const source = createTokenSource({ target, client });
const token = await source.token();
// The second use: the headers of an HTTP request to an API that checks the token.
const answer = await fetch(whoamiUrl, { headers: await source.headers() });
source.close();

console.log(JSON.stringify({
  language: 'node',
  access_token: token.accessToken,
  expires_at: Math.floor(token.expiresAt / 1000),
  jwt_exp: jwtExp(token.accessToken),
  rpcs_after_two_uses: source.rpcCount,
  api_status: answer.status,
  unknown_client: await failure(target, unknownClient),
  unreachable: await failure(unreachableTarget, client),
}));
