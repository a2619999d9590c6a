// Access tokens from an agentauth daemon for Node callers.
//
//   const source = createTokenSource({ target: '127.0.0.1:50051', client: 'reports' });
//   await fetch(url, { headers: await source.headers() });
//
// The stubs are made at run time from proto/ by @grpc/proto-loader; there is no generated code.
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO_ROOT = fileURLToPath(new URL('../../proto', import.meta.url));

let tokenService = null;

// The agentauth.v1.TokenService client constructor, from the .proto parsed once per process.
// int64 fields (a Timestamp's seconds) arrive as strings, so that no precision is lost; enums
// as their names.
export function loadTokenService() {
  if (!tokenService) {
    const definition = protoLoader.loadSync('agentauth/v1/token_service.proto', {
      includeDirs: [PROTO_ROOT], keepCase: true, longs: String, enums: String, defaults: true,
    });
    tokenService = grpc.loadPackageDefinition(definition).agentauth.v1.TokenService;
  }
  return tokenService;
}

// A failed GetAccessToken call: `code` is the gRPC status name ('NOT_FOUND'), `grpcCode` its
// number.
export class AgentAuthError extends Error {
  constructor(grpcCode, message) {
    const code = Object.keys(grpc.status).find((name) => grpc.status[name] === grpcCode)
      ?? 'UNKNOWN';
    super(`${code}: ${message}`);
    this.name = 'AgentAuthError';
    this.code = code;
    this.grpcCode = grpcCode;
  }
}

function toDuration(milliseconds) {
  const seconds = Math.floor(milliseconds / 1000);
  return { seconds: String(seconds), nanos: Math.round((milliseconds - seconds * 1000) * 1e6) };
}

function toMilliseconds(timestamp) {
  return Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1e6);
}

// Returns a token source of one configured client. A token is kept until `minValidityMs`
// before it expires (for a token living shorter than twice that, until half its lifetime, as
// the daemon does). Concurrent callers that find no usable token share one GetAccessToken call
// and its result or error. `stub` (an object with GetAccessToken(request, options, callback))
// replaces the connection to `target`, and `now` replaces Date.now: both are for tests.
export function createTokenSource({
  target, client, scopes = [], audience = '', minValidityMs = 60_000, timeoutMs = 10_000,
  stub, now = Date.now,
}) {
  if (!client) throw new TypeError('createTokenSource: `client` is required');
  if (!(minValidityMs >= 0)) {
    throw new RangeError(`createTokenSource: minValidityMs must be >= 0, got ${minValidityMs}`);
  }
  const TokenService = stub ? null : loadTokenService();
  // A proxy from the environment has no business between a caller and its daemon.
  const service = stub
    ?? new TokenService(target, grpc.credentials.createInsecure(), { 'grpc.enable_http_proxy': 0 });
  const request = { client, scopes, audience, min_validity: toDuration(minValidityMs) };
  const where = target ?? '(injected stub)';

  let held = null; // { accessToken, authorization, expiresAt, receivedAt }
  let inFlight = null;
  let rpcs = 0;

  function usable() {
    if (!held) return false;
    const lifetime = held.expiresAt - held.receivedAt;
    return now() < held.expiresAt - Math.min(minValidityMs, lifetime / 2);
  }

  function call() {
    rpcs += 1;
    const receivedAt = now();
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + timeoutMs);
      service.GetAccessToken(request, { deadline }, (error, response) => {
        if (error) {
          reject(new AgentAuthError(error.code,
            `agentauth at ${where}, client "${client}": ${error.details ?? error.message}`));
          return;
        }
        resolve({
          accessToken: response.access_token,
          authorization: response.authorization,
          expiresAt: toMilliseconds(response.expires_at),
          scopes: response.scopes,
          receivedAt,
        });
      });
    });
  }

  // Resolves to { accessToken, authorization, expiresAt (ms since the epoch), scopes }.
  async function token() {
    if (usable()) return held;
    if (!inFlight) {
      inFlight = call().then((fresh) => { held = fresh; return fresh; })
        .finally(() => { inFlight = null; });
    }
    return inFlight;
  }

  return {
    token,
    // The headers to add to an HTTP request: { authorization: 'Bearer <token>' }.
    async headers() { return { authorization: (await token()).authorization }; },
    // grpc-js call credentials; combine them with secure channel credentials.
    callCredentials() {
      return grpc.credentials.createFromMetadataGenerator((_params, callback) => {
        token().then((current) => {
          const metadata = new grpc.Metadata();
          metadata.set('authorization', current.authorization);
          callback(null, metadata);
        }, (error) => callback(error));
      });
    },
    // GetAccessToken calls made so far.
    get rpcCount() { return rpcs; },
    close() { if (!stub) service.close(); },
  };
}
