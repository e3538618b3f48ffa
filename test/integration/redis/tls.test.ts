/**
 * TLS: a redis-server started by this test with --tls-port (on a free port) (certificates made here with openssl)
 * is reached over rediss:// and rediss+streams:// with the test CA; a client that does not trust
 * the CA is refused with a clear error. Skipped, saying why, when redis-server or openssl lacks TLS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPubSubTransport } from '../../../runtime/bindings/redis/pubsub-transport.ts';
import { RedisStreamsTransport } from '../../../runtime/bindings/redis/streams-transport.ts';
import type { Delivery, WireMessage } from '../../../runtime/core/transport.ts';
import { ConnectionError } from '../../../runtime/core/errors.ts';
import { privateRedis, unique, waitFor, wipe } from './support.ts';

const certDir = mkdtempSync(join(tmpdir(), 'contractbus-redis-tls-'));
const skipReason = prepareCertificates();

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { cwd: certDir, encoding: 'utf8', timeout: 20_000 });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}` };
}

/** CA + server certificate for 127.0.0.1/localhost; returns why TLS cannot be tested, if it cannot. */
function prepareCertificates(): string | undefined {
  const version = run('redis-server', ['--version']);
  if (!version.ok) return `redis-server is not installed (${version.output.trim()})`;
  writeFileSync(join(certDir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const steps: Array<[string, string[]]> = [
    ['openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=contractbus test CA', '-keyout', 'ca.key', '-out', 'ca.crt']],
    ['openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr']],
    ['openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'san.cnf', '-out', 'server.crt']],
  ];
  for (const [command, args] of steps) {
    const result = run(command, args);
    if (!result.ok) return `cannot create test certificates with openssl: ${result.output.trim().split('\n')[0]}`;
  }
  return undefined;
}

const server = privateRedis('redis-tls', {
  args: ['--save', '', '--appendonly', 'no'],
  tls: { cert: join(certDir, 'server.crt'), key: join(certDir, 'server.key'), ca: join(certDir, 'ca.crt') },
});
let startError: string | undefined;

describe.skipIf(skipReason !== undefined)(`Redis over TLS${skipReason ? ` — skipped: ${skipReason}` : ''}`, () => {
  const encoder = new TextEncoder();
  const wire = (topic: string, payload: unknown): WireMessage => ({ messageId: crypto.randomUUID(), topic, body: encoder.encode(JSON.stringify(payload)), headers: { secure: 'yes' }, contentType: 'application/json', timestamp: Date.now() });
  const ca = (): Buffer => readFileSync(join(certDir, 'ca.crt'));

  beforeAll(async () => {
    wipe(server.dir);
    try {
      await server.start();
    } catch (error) {
      const log = (() => {
        try {
          return readFileSync(join(server.dir, 'redis.log'), 'utf8');
        } catch {
          return '';
        }
      })();
      startError = /TLS|tls/.test(log) ? `this redis-server build has no TLS support: ${log.trim().split('\n').at(-1)}` : String(error);
    }
  });
  afterAll(async () => {
    await server.stop();
    wipe(server.dir);
    rmSync(certDir, { recursive: true, force: true });
  });

  it('Pub/Sub over rediss:// with the test CA', async (ctx) => {
    if (startError) ctx.skip(startError);
    const transport = new RedisPubSubTransport({ url: `rediss://127.0.0.1:${server.port}`, tls: { ca: ca() } });
    await transport.connect();
    const topic = unique('tls');
    const seen: Delivery[] = [];
    const sub = await transport.consume({ topic, group: undefined, prefetch: 5, startFrom: 'latest' }, async (d) => {
      seen.push(d);
      await d.ack();
    });
    await transport.send(wire(topic, 'hello'), { timeoutMs: 2000 });
    await waitFor(() => seen.length === 1);
    expect(seen[0]?.message.headers).toEqual({ secure: 'yes' });
    expect((await transport.health()).details.endpoint).toBe(`rediss://127.0.0.1:${server.port}/0`);
    await sub.close();
    await transport.close();
  });

  it('Streams over rediss+streams:// with the test CA', async (ctx) => {
    if (startError) ctx.skip(startError);
    const transport = new RedisStreamsTransport({ url: `rediss+streams://127.0.0.1:${server.port}`, tls: { ca: ca() } });
    await transport.connect();
    const topic = unique('tls-stream');
    await transport.send(wire(topic, 'durable hello'), { timeoutMs: 2000 });
    const seen: Delivery[] = [];
    const sub = await transport.consume({ topic, group: 'g', prefetch: 5, startFrom: 'earliest' }, async (d) => {
      seen.push(d);
      await d.ack();
    });
    await waitFor(() => seen.length === 1);
    await sub.close();
    await transport.close();
  });

  it('refuses a server whose certificate it cannot verify, naming Redis and what to check', async (ctx) => {
    if (startError) ctx.skip(startError);
    const transport = new RedisPubSubTransport({ url: `rediss://127.0.0.1:${server.port}`, autoReconnect: false });
    const error = await transport.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(String((error as Error).message)).toMatch(new RegExp(`Redis: cannot connect to rediss://127\\.0\\.0\\.1:${server.port}/0: .*(certificate|self.signed)`, 'i'));
    expect(String((error as Error).message)).toMatch(/TLS settings/);
    await transport.close();
  });
});
