// SASL/PLAIN over the broker's SASL_PLAINTEXT listener (scripts/brokers: KAFKA_SASL=1, port 9094,
// user contractbus / contractbus-secret), on both drivers; a wrong password fails with a clear error.
import { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../../runtime/core/errors.ts';
import { KafkaClient } from '../../../runtime/bindings/kafka/index.ts';
import { DRIVERS, uniqueName, waitFor } from './helpers.ts';

const saslBrokers = (process.env.KAFKA_SASL_BROKERS ?? '127.0.0.1:9094').split(',');
const username = process.env.KAFKA_SASL_USERNAME ?? 'contractbus';
const password = process.env.KAFKA_SASL_PASSWORD ?? 'contractbus-secret';

function reachable(hostPort: string): Promise<boolean> {
  const [host = '127.0.0.1', port = '9094'] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(1_000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.connect(Number(port), host);
  });
}

const available = await reachable(saslBrokers[0] ?? '127.0.0.1:9094');
const skipReason = `no SASL_PLAINTEXT listener on ${saslBrokers.join(',')} (start Kafka with KAFKA_SASL=1: npm run brokers -- start kafka)`;

const clients: KafkaClient[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.disconnect({ timeoutMs: 2_000 })));
});

describe.skipIf(!available).each(DRIVERS)(`Kafka SASL/PLAIN (%s driver)${available ? '' : ` — skipped: ${skipReason}`}`, (driver) => {
  it('publishes and consumes over SASL_PLAINTEXT, configured through a kafka:// URL', async () => {
    const topic = uniqueName(`kafka-sasl-${driver}`);
    const url = `kafka://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${saslBrokers.join(',')}?driver=${driver}&saslMechanism=PLAIN&clientId=sasl-test`;
    const client = new KafkaClient({ url, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 });
    clients.push(client);
    expect(client.kafka.options.securityProtocol).toBe('SASL_PLAINTEXT');
    await client.connect();
    const got: unknown[] = [];
    await client.subscribe(topic, (m) => void got.push(m), { group: uniqueName('sasl') });
    await client.publish(topic, { hello: 'sasl' });
    await waitFor(() => got.length === 1, 20_000, 'the message over SASL');
    expect(got).toEqual([{ hello: 'sasl' }]);
  });

  it('fails to connect with a wrong password, naming Kafka and the next step', async () => {
    const client = new KafkaClient({
      bootstrapServers: saslBrokers,
      driver,
      securityProtocol: 'SASL_PLAINTEXT',
      saslMechanism: 'PLAIN',
      saslUsername: username,
      saslPassword: 'wrong-password',
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 3_000,
    });
    clients.push(client);
    const error = await client.connect().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(String((error as Error).message)).toMatch(/Kafka/);
  });
});
