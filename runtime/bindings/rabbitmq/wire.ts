/**
 * WireMessage ⇄ AMQP 0-9-1. The payload stays the contract's bytes; metadata goes into native
 * properties (messageId, correlationId, timestamp, contentType, priority, expiration) so any AMQP
 * client can read it. What AMQP properties cannot carry exactly travels in headers:
 * - `timestamp_in_ms`: the AMQP timestamp is whole seconds; this is the name RabbitMQ's own
 *   message-timestamp plugin uses for milliseconds;
 * - `x-contractbus-key` and `x-contractbus-expires-at`: the ordering key and the absolute expiry
 *   (the `expiration` property is relative and RabbitMQ drops it when it dead-letters a message).
 * These three are stripped again on receipt, so `WireMessage.headers` round-trips exactly.
 */
import type { ConsumeMessage, MessagePropertyHeaders, Options } from 'amqplib';
import type { Headers } from '../../core/types.ts';
import type { WireMessage } from '../../core/transport.ts';
import { HEADER } from '../../core/headers.ts';

export const TIMESTAMP_MS_HEADER = 'timestamp_in_ms';
export const KEY_HEADER = 'x-contractbus-key';
export const EXPIRES_AT_HEADER = 'x-contractbus-expires-at';
/** Set on copies parked in a TTL retry queue: on the way back RabbitMQ rewrites the routing key to the queue name. */
export const TOPIC_HEADER = 'x-contractbus-topic';
/** Quorum queues count redeliveries here (RabbitMQ ≥ 3.8). */
export const DELIVERY_COUNT_HEADER = 'x-delivery-count';

/** Headers the broker or this binding manage; never handed to the shared layer as user headers. */
const STRIPPED = new Set([TIMESTAMP_MS_HEADER, KEY_HEADER, EXPIRES_AT_HEADER, TOPIC_HEADER, DELIVERY_COUNT_HEADER, 'x-death']);

export interface EncodeOptions {
  persistent: boolean;
  mandatory: boolean;
  now?: number;
}

export function toPublishOptions(message: WireMessage, options: EncodeOptions): Options.Publish {
  const headers: Record<string, string | number> = { ...message.headers };
  headers[TIMESTAMP_MS_HEADER] = message.timestamp;
  if (message.key !== undefined) headers[KEY_HEADER] = message.key;
  const publish: Options.Publish = {
    messageId: message.messageId,
    contentType: message.contentType,
    // AMQP timestamps are seconds since the epoch (what other clients display).
    timestamp: Math.floor(message.timestamp / 1000),
    deliveryMode: options.persistent ? 2 : 1,
    mandatory: options.mandatory,
    headers,
  };
  if (message.correlationId !== undefined) publish.correlationId = message.correlationId;
  if (message.priority !== undefined) publish.priority = clampPriority(message.priority);
  if (message.expiresAt !== undefined) {
    headers[EXPIRES_AT_HEADER] = message.expiresAt;
    // An already expired message gets "0": RabbitMQ hands it to a waiting consumer or drops it.
    publish.expiration = String(Math.max(0, Math.ceil(message.expiresAt - (options.now ?? Date.now()))));
  }
  return publish;
}

export function fromConsumeMessage(msg: ConsumeMessage): WireMessage {
  const { properties, fields } = msg;
  const raw: MessagePropertyHeaders = properties.headers ?? {};
  const headers: Headers = {};
  // Copies coming back from our TTL retry queues carry x-first-death-* about that queue: noise to users.
  const viaRetryQueue = raw[TOPIC_HEADER] !== undefined;
  for (const name of Object.keys(raw)) {
    if (STRIPPED.has(name)) continue;
    if (viaRetryQueue && name.startsWith('x-first-death-')) continue;
    const value = headerToString(raw[name]);
    if (value !== undefined) headers[name] = value;
  }
  const timestampMs = toNumber(raw[TIMESTAMP_MS_HEADER]) ?? (typeof properties.timestamp === 'number' ? properties.timestamp * 1000 : Date.now());
  const wire: WireMessage = {
    messageId: typeof properties.messageId === 'string' && properties.messageId !== '' ? properties.messageId : `amqp-${fields.exchange}-${fields.routingKey}-${fields.deliveryTag}-${timestampMs}`,
    // The routing key as published: under a pattern subscription this is the concrete topic.
    topic: headerToString(raw[TOPIC_HEADER]) ?? fields.routingKey,
    body: msg.content,
    headers,
    contentType: typeof properties.contentType === 'string' ? properties.contentType : 'application/json',
    timestamp: timestampMs,
  };
  if (typeof properties.correlationId === 'string') wire.correlationId = properties.correlationId;
  const key = headerToString(raw[KEY_HEADER]);
  if (key !== undefined) wire.key = key;
  if (typeof properties.priority === 'number') wire.priority = properties.priority;
  const expiresAt = toNumber(raw[EXPIRES_AT_HEADER]);
  if (expiresAt !== undefined) wire.expiresAt = expiresAt;
  return wire;
}

/**
 * 1 on first delivery. Our TTL retry queues carry the attempt in `x-contractbus-attempt`; quorum
 * queues count broker redeliveries in `x-delivery-count`; a classic queue only says "redelivered".
 */
export function deliveryCountOf(msg: ConsumeMessage): number {
  const headers = msg.properties.headers ?? {};
  const attempt = Math.max(1, toNumber(headers[HEADER.attempt]) ?? 1);
  const quorumCount = toNumber(headers[DELIVERY_COUNT_HEADER]);
  if (quorumCount !== undefined) return attempt + quorumCount;
  return msg.fields.redelivered ? attempt + 1 : attempt;
}

export function headerToString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof Date) return value.toISOString();
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  } catch {
    return undefined;
  }
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  if (Buffer.isBuffer(value)) return toNumber(value.toString('utf8'));
  return undefined;
}

function clampPriority(priority: number): number {
  if (!Number.isFinite(priority)) return 0;
  return Math.min(255, Math.max(0, Math.round(priority)));
}
