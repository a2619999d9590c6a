// Calls an API with a token from agentauth. Run against `make demo`:
//
//   node client/node/examples/fetch_token.mjs 127.0.0.1:50051 demo URL
import { createTokenSource } from '../agentauth.js';

const [target, client, url] = process.argv.slice(2);
const source = createTokenSource({ target, client, minValidityMs: 60_000 });

const token = await source.token();
console.log('token expires at', new Date(token.expiresAt).toISOString());
const answer = await fetch(url, { headers: await source.headers() });
console.log(answer.status, await answer.text());
source.close();
