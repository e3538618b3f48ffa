// Kafka security modes against the listeners `npm run brokers -- start kafka` opens (scripts/brokers/kafka.sh):
// SCRAM-SHA-256/512 on SASL_PLAINTEXT (9094), SASL_SSL with the test CA (9095), and mutual TLS on
// an SSL listener that requires a client certificate (9096); on both drivers. Failures must be
// typed errors that name Kafka, never hangs.
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../../runtime/core/errors.ts';
import { KafkaClient, type KafkaClientOptions, type KafkaDriverName } from '../../../runtime/bindings/kafka/index.ts';
import { endpointOf, extraListeners, isListening } from '../../support/brokers.ts';
import { DRIVERS, uniqueName, waitFor } from '../kafka/helpers.ts';

const extra = extraListeners();
const { username, password, scramMechanisms } = extra.kafkaSasl;
const restartHint = 'start Kafka with its extra listeners: npm run brokers -- restart kafka';
const saslUp = await isListening(endpointOf(extra.kafkaSasl.brokers[0] ?? '127.0.0.1:9094', 9094));
const saslSslUp = await isListening(endpointOf(extra.kafkaSaslSsl[0] ?? '127.0.0.1:9095', 9095));
const sslUp = await isListening(endpointOf(extra.kafkaSsl[0] ?? '127.0.0.1:9096', 9096));
const why = (up: boolean, listener: string): string => (up ? '' : ` — skipped: no ${listener} listener (${restartHint})`);

const clients: KafkaClient[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.disconnect({ timeoutMs: 2_000 })));
});

function client(options: KafkaClientOptions): KafkaClient {
  const c = new KafkaClient({ clientId: 'security-test', sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, connectionTimeoutMs: 5_000, requestTimeoutMs: 5_000, ...options });
  clients.push(c);
  return c;
}

/** One message through a fresh group: proves produce, group join, fetch and commit all pass the listener's security. */
async function roundTrip(c: KafkaClient, driver: KafkaDriverName, what: string): Promise<void> {
  const topic = uniqueName(`kafka-sec-${driver}`);
  await c.connect();
  const got: unknown[] = [];
  await c.subscribe(topic, (m) => void got.push(m), { group: uniqueName('sec') });
  await c.publish(topic, { over: what });
  await waitFor(() => got.length === 1, 20_000, `the message over ${what}`);
  expect(got).toEqual([{ over: what }]);
}

async function connectError(c: KafkaClient): Promise<Error> {
  const error = await c.connect().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectionError);
  expect(String((error as Error).message)).toMatch(/Kafka/);
  return error as Error;
}

describe.each(DRIVERS)('Kafka security (%s driver)', (driver) => {
  describe.skipIf(!saslUp).each(scramMechanisms)(`SASL_PLAINTEXT %s${why(saslUp, 'SASL_PLAINTEXT')}`, (mechanism) => {
    it('publishes and consumes', async () => {
      await roundTrip(client({ driver, bootstrapServers: [...extra.kafkaSasl.brokers], securityProtocol: 'SASL_PLAINTEXT', saslMechanism: mechanism, saslUsername: username, saslPassword: password }), driver, mechanism);
    });

    it('refuses a wrong password with a typed error', async () => {
      await connectError(client({ driver, bootstrapServers: [...extra.kafkaSasl.brokers], securityProtocol: 'SASL_PLAINTEXT', saslMechanism: mechanism, saslUsername: username, saslPassword: 'wrong-password' }));
    });
  });

  describe.skipIf(!saslSslUp)(`SASL_SSL${why(saslSslUp, 'SASL_SSL')}`, () => {
    it('SCRAM-SHA-512 over TLS, configured by options (sslCafile trusts the test CA)', async () => {
      await roundTrip(
        client({ driver, bootstrapServers: [...extra.kafkaSaslSsl], securityProtocol: 'SASL_SSL', saslMechanism: 'SCRAM-SHA-512', saslUsername: username, saslPassword: password, sslCafile: extra.tls.caFile }),
        driver,
        'SASL_SSL SCRAM-SHA-512',
      );
    });

    it('PLAIN over TLS, configured by a kafkas:// URL', async () => {
      const url = `kafkas://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${extra.kafkaSaslSsl.join(',')}?driver=${driver}&saslMechanism=PLAIN&sslCafile=${encodeURIComponent(extra.tls.caFile)}`;
      const c = client({ url });
      expect(c.kafka.options.securityProtocol).toBe('SASL_SSL');
      await roundTrip(c, driver, 'SASL_SSL PLAIN');
    });

    it('refuses a server certificate it cannot verify (no CA given) with a typed error that says to pass sslCafile', async () => {
      const error = await connectError(client({ driver, bootstrapServers: [...extra.kafkaSaslSsl], securityProtocol: 'SASL_SSL', saslMechanism: 'PLAIN', saslUsername: username, saslPassword: password }));
      expect((error as ConnectionError).hint).toMatch(/sslCafile/);
    });
  });

  describe.skipIf(!sslUp)(`SSL with a client certificate${why(sslUp, 'SSL')}`, () => {
    it('publishes and consumes with sslCafile, sslCertfile and sslKeyfile', async () => {
      await roundTrip(
        client({ driver, bootstrapServers: [...extra.kafkaSsl], securityProtocol: 'SSL', sslCafile: extra.tls.caFile, sslCertfile: extra.tls.clientCertFile, sslKeyfile: extra.tls.clientKeyFile }),
        driver,
        'mutual TLS',
      );
    });

    it('is refused without a client certificate, with a hint to pass sslCertfile and sslKeyfile', async () => {
      const error = await connectError(client({ driver, bootstrapServers: [...extra.kafkaSsl], securityProtocol: 'SSL', sslCafile: extra.tls.caFile }));
      expect((error as ConnectionError).hint).toMatch(/sslCertfile and sslKeyfile/);
    });
  });
});
