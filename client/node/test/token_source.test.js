// Unit tests of the Node helper with a scripted stub and a clock that moves when told.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { AgentAuthError, createTokenSource, loadTokenService } from '../agentauth.js';

const START = 1_800_000_000_000;

// Answers tokens "t1", "t2", ... expiring `lifetimeMs` after the clock's now. With `hold`, the
// answers wait until release() is called.
function fakeStub(clock, { lifetimeMs = 3_600_000, hold = false } = {}) {
  const pending = [];
  const stub = {
    requests: [],
    error: null,
    lifetimeMs,
    GetAccessToken(request, options, callback) {
      stub.requests.push({ request, options });
      const n = stub.requests.length;
      const answer = () => {
        if (stub.error) return callback(stub.error);
        const expires = clock.now + stub.lifetimeMs;
        return callback(null, {
          access_token: `t${n}`, authorization: `Bearer t${n}`, scopes: ['api.read'],
          expires_at: {
            seconds: String(Math.floor(expires / 1000)), nanos: (expires % 1000) * 1e6,
          },
        });
      };
      if (hold) pending.push(answer); else setImmediate(answer);
    },
    release() { pending.splice(0).forEach((answer) => answer()); },
  };
  return stub;
}

function setUp(options = {}, stubOptions = {}) {
  const clock = { now: START };
  const stub = fakeStub(clock, stubOptions);
  const source = createTokenSource({ client: 'reports', stub, now: () => clock.now, ...options });
  return { clock, stub, source };
}

test('the request carries client, scopes, audience and min_validity', async () => {
  const { stub, source } = setUp({
    scopes: ['api.read'], audience: 'https://api.example.com', minValidityMs: 300_500,
  });

  await source.token();

  assert.deepEqual(stub.requests[0].request, {
    client: 'reports', scopes: ['api.read'], audience: 'https://api.example.com',
    min_validity: { seconds: '300', nanos: 500_000_000 },
  });
  assert.ok(stub.requests[0].options.deadline instanceof Date);
});

test('a second use within validity makes no RPC', async () => {
  const { clock, source } = setUp();

  const first = await source.token();
  clock.now += 3_600_000 - 60_000 - 1;
  const headers = await source.headers();

  assert.equal(first.expiresAt, START + 3_600_000);
  assert.deepEqual(headers, { authorization: 'Bearer t1' });
  assert.equal(source.rpcCount, 1);
});

test('the token is fetched again min_validity before expiry', async () => {
  const { clock, source } = setUp({ minValidityMs: 120_000 });
  await source.token();

  clock.now += 3_600_000 - 120_000;
  const renewed = await source.token();

  assert.equal(renewed.accessToken, 't2');
  assert.equal(source.rpcCount, 2);
});

test('a short-lived token is kept for half its lifetime', async () => {
  const { clock, source } = setUp({}, { lifetimeMs: 100_000 });
  await source.token();

  clock.now += 49_999;
  const kept = await source.token();
  clock.now += 1;
  const renewed = await source.token();

  assert.deepEqual([kept.accessToken, renewed.accessToken], ['t1', 't2']);
});

test('concurrent callers share one RPC', async () => {
  const { stub, source } = setUp({}, { hold: true });

  const waiting = Array.from({ length: 8 }, () => source.token());
  stub.release();
  const tokens = await Promise.all(waiting);

  assert.equal(stub.requests.length, 1);
  assert.deepEqual(new Set(tokens.map((t) => t.accessToken)), new Set(['t1']));
});

test('an error reaches every waiter, keeps its code, names the client, is not kept', async () => {
  const { stub, source } = setUp({}, { hold: true });
  stub.error = { code: grpc.status.NOT_FOUND, details: 'not configured' };

  const waiting = Array.from({ length: 3 }, () => source.token());
  stub.release();
  const results = await Promise.allSettled(waiting);
  stub.error = null;
  const later = source.token();
  stub.release();
  const recovered = await later;

  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.ok(result.reason instanceof AgentAuthError);
    assert.equal(result.reason.code, 'NOT_FOUND');
    assert.match(result.reason.message, /client "reports": not configured/);
  }
  assert.equal(recovered.accessToken, 't2');
});

test('a negative minValidityMs is refused', () => {
  assert.throws(() => createTokenSource({ client: 'reports', stub: {}, minValidityMs: -1 }),
    /minValidityMs must be >= 0/);
});

test('call credentials generate the authorization metadata', async () => {
  const { source } = setUp();
  const credentials = source.callCredentials();

  const metadata = await credentials.generateMetadata({ service_url: 'http://127.0.0.1/x' });

  assert.deepEqual(metadata.get('authorization'), ['Bearer t1']);
});

// A self-signed certificate for 127.0.0.1, made with the openssl command: grpc-js sends call
// credentials only over TLS.
function selfSignedCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'agentauth-node-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
      'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'),
      '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('call credentials carry the token on real calls', async () => {
  const { source, stub } = setUp();
  const { key, cert } = selfSignedCertificate();
  const TokenService = loadTokenService();
  const received = [];
  const server = new grpc.Server();
  server.addService(TokenService.service, {
    GetStatus(call, callback) {
      received.push(...call.metadata.get('authorization'));
      callback(null, {});
    },
  });
  const port = await new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0',
      grpc.ServerCredentials.createSsl(null, [{ private_key: key, cert_chain: cert }]),
      (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  const client = new TokenService(`127.0.0.1:${port}`,
    grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(cert),
      source.callCredentials()), { 'grpc.enable_http_proxy': 0 });
  const getStatus = () => new Promise((resolve, reject) => {
    client.GetStatus({}, (error, answer) => (error ? reject(error) : resolve(answer)));
  });

  try {
    await getStatus();
    await getStatus();
  } finally {
    client.close();
    server.forceShutdown();
  }

  assert.deepEqual(received, ['Bearer t1', 'Bearer t1']);
  assert.equal(stub.requests.length, 1);
});
