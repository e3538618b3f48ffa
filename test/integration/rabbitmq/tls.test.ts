/**
 * amqps:// against RabbitMQ's TLS listener (scripts/brokers/rabbitmq.sh opens it on 5671 with the
 * throwaway CA from scripts/brokers/tls.sh). Skipped, with the reason, when no listener is up:
 * a broker started before the TLS listener existed needs `npm run brokers -- restart rabbitmq`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RabbitMQClient } from '../../../runtime/bindings/rabbitmq/index.ts';
import { endpointOf, extraListeners, isListening } from '../../support/brokers.ts';
import { unique, waitFor } from './helpers.ts';

const listeners = extraListeners();
const endpoint = endpointOf(listeners.amqps, 5671);
const hasCa = existsSync(listeners.tls.caFile);
const listening = hasCa && (await isListening(endpoint));
const reason = !hasCa
  ? `no CA at ${listeners.tls.caFile}: run bash scripts/brokers/tls.sh, then npm run brokers -- restart rabbitmq`
  : `no RabbitMQ TLS listener on ${endpoint.host}:${endpoint.port}: run npm run brokers -- restart rabbitmq (it opens 5671 with .brokers/tls certificates), or set AMQPS_URL`;

describe.skipIf(!listening)(`RabbitMQ over TLS${listening ? '' : ` (skipped: ${reason})`}`, () => {
  it('connects with amqps://, verifies the server against the CA, and round-trips a message', async () => {
    const client = new RabbitMQClient({ url: listeners.amqps, tls: { ca: readFileSync(listeners.tls.caFile) } });
    await client.connect();
    try {
      const topic = unique('tls');
      const got: unknown[] = [];
      const sub = await client.subscribe(topic, (m) => void got.push(m), { group: 'tls' });
      await client.publish(topic, { secure: true });
      await waitFor(() => got.length === 1);
      expect(got[0]).toEqual({ secure: true });
      const health = await client.healthCheck();
      expect((health.details.transport as { endpoint: string }).endpoint).toMatch(/^amqps:\/\//);
      await sub.close();
      await client.deleteQueue(`tls.${topic}`);
    } finally {
      await client.disconnect();
    }
  });

  it('presents a client certificate (mutual TLS) when given one', async () => {
    const { tls } = listeners;
    const client = new RabbitMQClient({ url: listeners.amqps, tls: { ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) } });
    await client.connect();
    await client.disconnect();
  });

  it('refuses a server it cannot verify, with a TLS hint', async () => {
    const client = new RabbitMQClient({ url: listeners.amqps, autoReconnect: false, connectTimeoutMs: 3_000 });
    await expect(client.connect()).rejects.toThrow(/certificate|TLS|self.signed|unable to verify/i);
  });
});
