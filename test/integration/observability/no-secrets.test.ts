/**
 * No secret in what a failing connection lets out: the thrown error (message, stack, causes), the
 * health output, and the logs, against the real RabbitMQ and an unreachable Redis, with passwords
 * in the URLs. Checked on the bindings' raw output and again through the redacting logger and the
 * HTTP health endpoint.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RabbitMQClient } from '../../../runtime/bindings/rabbitmq/index.ts';
import { RedisStreamsClient } from '../../../runtime/bindings/redis/index.ts';
import type { Logger } from '../../../runtime/core/logger.ts';
import type { MessageBroker } from '../../../runtime/core/types.ts';
import { createObservabilityHandler } from '../../../runtime/observability/http.ts';
import { createRedactingLogger } from '../../../runtime/observability/logger.ts';
import { brokerUrls } from '../../support/brokers.ts';

const SECRET = 'Leak-Me-9f3Zq';
let server: Server | undefined;
const opened: MessageBroker[] = [];

afterEach(async () => {
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = undefined;
  await Promise.all(opened.splice(0).map((broker) => broker.disconnect({ timeoutMs: 500 }).catch(() => undefined)));
});

/** Everything a JSON logger would print, errors with stack and causes. */
function capture(): Logger & { text(): string } {
  const lines: string[] = [];
  const replacer = (_key: string, value: unknown): unknown => (value instanceof Error ? { ...value, name: value.name, message: value.message, stack: value.stack, cause: value.cause } : value);
  const write = (level: string) => (obj: object, msg?: string) => {
    lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj, replacer)}`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), text: () => lines.join('\n') };
}

function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    parts.push(current instanceof Error ? `${current.name}: ${current.message}\n${current.stack ?? ''}\n${JSON.stringify({ ...current })}` : String(current));
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

const urls = brokerUrls();
const amqp = new URL(urls.amqp);
amqp.password = SECRET;
const redis = new URL(urls.redis.replace(/^redis(s?):/, 'redis$1+streams:'));
redis.username = 'app';
redis.password = SECRET;
redis.port = '6398'; // nothing listens there

const cases: Record<string, (logger: Logger) => MessageBroker> = {
  'rabbitmq (wrong password)': (logger) => new RabbitMQClient({ url: amqp.href, logger, autoReconnect: false, connectTimeoutMs: 5000 }),
  'redis (unreachable, password in URL)': (logger) => new RedisStreamsClient({ url: redis.href, logger, autoReconnect: false, connectTimeoutMs: 2000 }),
};

describe.each(Object.keys(cases))('%s', (name) => {
  it('leaks the password nowhere: error, health, logs, HTTP health', async () => {
    const raw = capture();
    const redacted = capture();
    const broker = cases[name]!(raw);
    const viaWrapper = cases[name]!(createRedactingLogger(redacted));
    opened.push(broker, viaWrapper);

    const failure = await broker.connect().then(() => undefined, (error: unknown) => error);
    expect(failure, 'connect should fail').toBeInstanceOf(Error);
    await viaWrapper.connect().catch(() => undefined);
    const health = JSON.stringify(await broker.healthCheck());

    const url = await new Promise<string>((resolve) => {
      server = createServer(createObservabilityHandler({ brokers: { broker, viaWrapper }, healthTimeoutMs: 3000 }));
      server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}`));
    });
    const response = await fetch(`${url}/health`);
    expect(response.status).toBe(503);
    const httpHealth = await response.text();

    const outputs = { error: errorText(failure), health, rawLogs: raw.text(), redactedLogs: redacted.text(), httpHealth };
    for (const [what, text] of Object.entries(outputs)) expect(text.includes(SECRET), `${what} contains the password:\n${text.slice(0, 2000)}`).toBe(false);
    // The failure is still explained.
    expect(outputs.error.length).toBeGreaterThan(20);
  });
});
