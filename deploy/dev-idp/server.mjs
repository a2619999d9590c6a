// The development identity provider: a real, certified OpenID provider (the npm package
// oidc-provider) on a loopback port, issuing JWT access tokens with the client_credentials grant.
// `make demo` and the integration tests start it; nothing in production uses it.
//
// Usage: node deploy/dev-idp/server.mjs [--port N] [--token-lifetime SECONDS] [--clients FILE]
//                                       [--tls-cert FILE --tls-key FILE [--client-ca FILE]]
//   --port            TCP port on 127.0.0.1; 0 (the default) picks a free one.
//   --token-lifetime  lifetime of issued access tokens in seconds (default 3600).
//   --clients         JSON file with an array of clients replacing the built-in demo clients:
//                     [{"client_id": "...", "client_secret": "...",
//                       "token_endpoint_auth_method": "client_secret_basic"}]
//                     Beside client metadata (jwks, tls_client_auth_subject_dn,
//                     tls_client_auth_san_dns, token_endpoint_auth_signing_alg) an entry may name
//                     "public_key_files": [{"file": "pub.pem", "kid": "k1", "alg": "PS256"}],
//                     PEM public keys that become the client's jwks (for private_key_jwt), so a
//                     test never has to write JWKs itself.
//   --tls-cert/--tls-key  serve https with this certificate (PEM chain) and key. The server then
//                     asks every client for a certificate without requiring one, and
//                     tls_client_auth (RFC 8705) is enabled: a client registered with it must
//                     present a certificate that chains to --client-ca and matches its
//                     tls_client_auth_subject_dn or tls_client_auth_san_dns.
//
// Once listening it prints one JSON line on stdout, which the tests parse:
//   {"event":"listening","issuer":"http://127.0.0.1:PORT","port":PORT}   (https with --tls-cert)
//
// Test hooks, not part of OpenID: GET /__dev/stats answers the number of token requests seen
// (in total and per client_id), so tests can count what reached the provider. GET /__dev/whoami
// is a tiny protected API: it verifies the bearer token (signature, issuer, expiry) and answers
// its claims, so the demo can show a token being used with curl.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

// Every scope a demo API accepts. oidc-provider silently drops unknown scopes from a
// client_credentials grant; real providers answer invalid_scope, so this one does too.
const API_SCOPES = ['itwin-platform', 'api.read', 'api.write'];
const DEFAULT_RESOURCE = 'urn:agentauth:dev-api';

const BUILT_IN_CLIENTS = [
  { client_id: 'demo-agent', client_secret: 'demo-agent-secret',
    token_endpoint_auth_method: 'client_secret_basic' },
  { client_id: 'demo-agent-post', client_secret: 'demo-agent-post-secret',
    token_endpoint_auth_method: 'client_secret_post' },
  // RFC 6749 2.3.1: id and secret are form-encoded before Basic encoding; these break a client
  // that skips that step.
  { client_id: 'agent:with+reserved', client_secret: 'p+a%s s:w/rd&=?',
    token_endpoint_auth_method: 'client_secret_basic' },
  // Accepts only an HS256 assertion made with its secret (client_secret_jwt); oidc-provider
  // refuses the secret itself for it.
  { client_id: 'demo-agent-jwt', client_secret: 'demo-agent-jwt-secret-of-at-least-32-bytes',
    token_endpoint_auth_method: 'client_secret_jwt' },
];

// Client metadata a --clients entry may carry through to oidc-provider.
const PASSED_METADATA = ['jwks', 'tls_client_auth_subject_dn', 'tls_client_auth_san_dns',
  'token_endpoint_auth_signing_alg'];

function parseOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'token-lifetime': { type: 'string', default: '3600' },
      clients: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'client-ca': { type: 'string' },
    },
  });
  const port = Number(values.port);
  const tokenLifetime = Number(values['token-lifetime']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port: expected 0-65535, got "${values.port}"`);
  }
  if (!Number.isInteger(tokenLifetime) || tokenLifetime < 1) {
    throw new Error(`--token-lifetime: expected whole seconds >= 1, got "${values['token-lifetime']}"`);
  }
  const clients = values.clients
    ? JSON.parse(fs.readFileSync(values.clients, 'utf8'))
    : BUILT_IN_CLIENTS;
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  const tls = values['tls-cert'] ? {
    cert: fs.readFileSync(values['tls-cert']),
    key: fs.readFileSync(values['tls-key']),
    ca: values['client-ca'] ? fs.readFileSync(values['client-ca']) : undefined,
  } : null;
  return { port, tokenLifetime, clients, tls };
}

function signingKeys(privateKey) {
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'dev-1' }] };
}

// The claims of a bearer token this provider signed and that has not expired, or null.
function verifiedClaims(authorization, publicKey, issuer) {
  const match = /^Bearer (\S+)$/i.exec(authorization ?? '');
  if (!match) return null;
  const [header, payload, signature] = match[1].split('.');
  if (!signature) return null;
  const signed = crypto.verify('sha256', Buffer.from(`${header}.${payload}`), publicKey,
    Buffer.from(signature, 'base64url'));
  if (!signed) return null;
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  if (claims.iss !== issuer || claims.exp * 1000 <= Date.now()) return null;
  return claims;
}

// A JWK of each PEM public key file, for a client's jwks.
function publicJwks(files) {
  return {
    keys: files.map(({ file, kid, alg }) => ({
      ...crypto.createPublicKey(fs.readFileSync(file)).export({ format: 'jwk' }),
      use: 'sig', ...(kid ? { kid } : {}), ...(alg ? { alg } : {}),
    })),
  };
}

function asClientMetadata(client) {
  const metadata = {
    client_id: client.client_id,
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  };
  if (client.client_secret !== undefined) metadata.client_secret = client.client_secret;
  for (const key of PASSED_METADATA) {
    if (client[key] !== undefined) metadata[key] = client[key];
  }
  if (client.public_key_files) metadata.jwks = publicJwks(client.public_key_files);
  return metadata;
}

// RFC 8705 tls_client_auth over the TLS socket of the request: the certificate the client
// presented, whether it chains to --client-ca, and whether it names the registered subject.
function mutualTlsFeature() {
  const peer = (ctx) => ctx.socket.getPeerX509Certificate?.();
  return {
    enabled: true,
    certificateBoundAccessTokens: false,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: false,
    getCertificate: (ctx) => peer(ctx),
    certificateAuthorized: (ctx) => ctx.socket.authorized === true,
    certificateSubjectMatches: (ctx, property, expected) => {
      const certificate = peer(ctx);
      if (!certificate) return false;
      switch (property) {
        case 'tls_client_auth_subject_dn':
          return certificate.subject.split('\n').join(',') === expected;
        case 'tls_client_auth_san_dns':
          return certificate.checkHost(expected, { subject: 'never' }) === expected;
        default:
          return false;
      }
    },
  };
}

function rejectUnknownScopes(ctx) {
  const requested = (ctx.oidc.params.scope ?? '').split(' ').filter(Boolean);
  const unknown = requested.filter((scope) => !API_SCOPES.includes(scope));
  if (unknown.length > 0) {
    throw new errors.InvalidScope('requested scope is not known to this API', unknown.join(' '));
  }
}

function buildProvider(issuer, options, privateKey) {
  const clientAuthMethods = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt',
    'private_key_jwt'];
  if (options.tls) clientAuthMethods.push('tls_client_auth');
  return new Provider(issuer, {
    clients: options.clients.map(asClientMetadata),
    clientAuthMethods,
    jwks: signingKeys(privateKey),
    scopes: ['openid', 'offline_access'],
    ttl: { ClientCredentials: options.tokenLifetime },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      mTLS: options.tls ? mutualTlsFeature() : { enabled: false },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => DEFAULT_RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx) => {
          rejectUnknownScopes(ctx);
          return {
            scope: API_SCOPES.join(' '),
            accessTokenFormat: 'jwt',
            accessTokenTTL: options.tokenLifetime,
          };
        },
      },
    },
  });
}

function addTestHooks(provider, stats, publicKey, issuer) {
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/__dev/stats') {
      ctx.body = stats;
      return;
    }
    if (ctx.method === 'GET' && ctx.path === '/__dev/whoami') {
      const claims = verifiedClaims(ctx.get('authorization'), publicKey, issuer);
      ctx.status = claims ? 200 : 401;
      ctx.body = claims ?? { error: 'invalid_token' };
      return;
    }
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token') {
      stats.token_requests += 1;
      const clientId = ctx.oidc?.client?.clientId ?? '(unauthenticated)';
      stats.by_client[clientId] = (stats.by_client[clientId] ?? 0) + 1;
    }
  });
}

async function main() {
  const options = parseOptions();
  const stats = { token_requests: 0, by_client: {} };

  // The issuer must name the port, which is only known once listening: reserve it first.
  // With TLS, every client is asked for a certificate but none is required: discovery and the
  // other methods work without one, and oidc-provider decides per client (certificateAuthorized).
  const server = options.tls
    ? https.createServer({ ...options.tls, requestCert: true, rejectUnauthorized: false })
    : http.createServer();
  await new Promise((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  const { port } = server.address();
  const issuer = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = buildProvider(issuer, options, privateKey);
  addTestHooks(provider, stats, publicKey, issuer);
  server.on('request', provider.callback());

  process.stdout.write(`${JSON.stringify({ event: 'listening', issuer, port })}\n`);
  const stop = () => server.close(() => process.exit(0));
  // A test that crashes cannot stop its provider; a provider whose parent is gone stops itself.
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 1000).unref();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  process.stderr.write(`dev-idp: ${error.message}\n`);
  process.exit(1);
});
