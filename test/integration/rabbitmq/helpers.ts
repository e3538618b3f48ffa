/** Small helpers for the RabbitMQ integration tests: unique names, event-driven waits, wire messages. */
import { randomUUID } from 'node:crypto';
import type { WireMessage } from '../../../runtime/core/transport.ts';
import { brokerUrls } from '../../support/brokers.ts';

export const AMQP_URL = brokerUrls().amqp;

export function unique(prefix: string): string {
  return `${prefix}.${Date.now().toString(36)}.${randomUUID().slice(0, 8)}`;
}

/** Polls `predicate` every 10 ms until it holds; fails with `message` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, message = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function wire(topic: string, payload: unknown, extra: Partial<WireMessage> = {}): WireMessage {
  return {
    messageId: randomUUID(),
    topic,
    body: Buffer.from(JSON.stringify(payload)),
    headers: {},
    contentType: 'application/json',
    timestamp: Date.now(),
    ...extra,
  };
}

export function decode(message: WireMessage): unknown {
  return JSON.parse(Buffer.from(message.body).toString('utf8'));
}
