// Proves the optional TLS/SASL listeners (on by default in `npm run brokers -- start`) with raw
// clients: Redis over TLS, AMQPS, Kafka SASL/PLAIN. A listener that is not open is skipped with
// the reason, since brokers started earlier or by something else may not have it.
import { readFileSync } from 'node:fs';
import { connect as amqpConnect } from 'amqplib';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { endpointOf, extraListeners, isListening } from '../support/brokers.ts';
import { uniqueName } from './wait.ts';

const extra = extraListeners();
const redisTlsUp = await isListening(endpointOf(extra.redisTls, 6380));
const amqpsUp = await isListening(endpointOf(extra.amqps, 5671));
const kafkaSaslUp = await isListening(endpointOf(extra.kafkaSasl.brokers[0] ?? '127.0.0.1:9094', 9094));
const ca = (): Buffer => readFileSync(extra.tls.caFile);
const restartHint = 'not listening; restart the broker with npm run brokers -- restart <name> to open it';

describe('smoke: extra listeners', () => {
  it.skipIf(!redisTlsUp)(`Redis over TLS verifies the test CA and round-trips a value${redisTlsUp ? '' : ` (${restartHint})`}`, async () => {
    const { host, port } = endpointOf(extra.redisTls, 6380);
    const client = new Redis({ host, port, tls: { ca: ca(), servername: 'localhost' }, maxRetriesPerRequest: 1, connectTimeout: 5_000 });
    try {
      const key = uniqueName('smoke:tls');
      await client.set(key, 'secure', 'EX', 60);
      expect(await client.get(key)).toBe('secure');
      await client.del(key);
    } finally {
      client.disconnect();
    }
  });

  it.skipIf(!amqpsUp)(`AMQPS verifies the test CA and declares a queue${amqpsUp ? '' : ` (${restartHint})`}`, async () => {
    const conn = await amqpConnect(extra.amqps, { ca: [ca()], servername: 'localhost', noDelay: true, timeout: 5_000 });
    try {
      const ch = await conn.createChannel();
      const queue = uniqueName('smoke.tls');
      const ok = await ch.assertQueue(queue, { exclusive: true });
      expect(ok.queue).toBe(queue);
      await ch.close();
    } finally {
      await conn.close();
    }
  });

  it.skipIf(!kafkaSaslUp)(`Kafka SASL/PLAIN accepts the test user and rejects a wrong password${kafkaSaslUp ? '' : ` (${restartHint})`}`, async () => {
    const { brokers, username, password } = extra.kafkaSasl;
    const good = new Kafka({ clientId: 'smoke-sasl', brokers: [...brokers], sasl: { mechanism: 'plain', username, password }, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    try {
      await good.connect();
      expect(Array.isArray(await good.listTopics())).toBe(true);
    } finally {
      await good.disconnect();
    }
    const bad = new Kafka({ clientId: 'smoke-sasl-bad', brokers: [...brokers], sasl: { mechanism: 'plain', username, password: 'wrong' }, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    await expect(bad.connect()).rejects.toThrow(/SASL|authentication/i);
    await bad.disconnect().catch(() => {});
  });
});
