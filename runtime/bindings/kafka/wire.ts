/**
 * WireMessage ⇄ Kafka record. The value is the contract's JSON untouched (any Kafka tool or
 * non-contractbus consumer reads it as is); metadata travels in native headers, CloudEvents
 * Kafka protocol binding (binary mode) names where one exists: `ce_id`, `ce_time`,
 * `ce_specversion`, `content-type`; user headers (including `ce_type`, `traceparent`) and the
 * runtime's `x-contractbus-*` headers round-trip exactly. The key is the Kafka key.
 */
import type { WireMessage } from '../../core/transport.ts';
import type { IncomingRecord, OutgoingRecord } from './driver.ts';

export const KAFKA_HEADER = {
  id: 'ce_id',
  time: 'ce_time',
  specVersion: 'ce_specversion',
  contentType: 'content-type',
  /** CloudEvents extension attribute names are lowercase alphanumerics: no underscore inside. */
  correlationId: 'ce_correlationid',
  /** Kafka has no per-message TTL or priority: carried for the shared layer's checks. */
  expiresAt: 'x-contractbus-expires-at',
  priority: 'x-contractbus-priority',
} as const;

const METADATA_HEADERS: ReadonlySet<string> = new Set(Object.values(KAFKA_HEADER));

export function toRecord(message: WireMessage, partition?: number): OutgoingRecord {
  const headers: Record<string, string> = { ...message.headers };
  headers[KAFKA_HEADER.id] = message.messageId;
  headers[KAFKA_HEADER.time] = new Date(message.timestamp).toISOString();
  headers[KAFKA_HEADER.specVersion] = '1.0';
  headers[KAFKA_HEADER.contentType] = message.contentType;
  if (message.correlationId !== undefined) headers[KAFKA_HEADER.correlationId] = message.correlationId;
  if (message.expiresAt !== undefined) headers[KAFKA_HEADER.expiresAt] = String(message.expiresAt);
  if (message.priority !== undefined) headers[KAFKA_HEADER.priority] = String(message.priority);
  return { topic: message.topic, key: message.key, value: message.body, headers, partition, timestamp: message.timestamp };
}

export interface RecordPosition {
  topic: string;
  partition: number;
  /** Offset of the record itself. */
  offset: string;
  /** What to pass to `commitOffset` once this record is handled (offset + 1). */
  nextOffset: string;
}

/**
 * The record a decoded message came from, under a symbol: no header pollution, gone with the
 * message, and cheaper than a WeakMap entry per record on the hot path.
 */
const kRecord = Symbol('contractbus.kafka.record');

export function recordPositionOf(message: WireMessage | undefined): RecordPosition | undefined {
  const record = (message as (WireMessage & { [kRecord]?: IncomingRecord }) | undefined)?.[kRecord];
  if (record === undefined) return undefined;
  return { topic: record.topic, partition: record.partition, offset: record.offset, nextOffset: (BigInt(record.offset) + 1n).toString() };
}

/** Records from other producers lack our headers: their id is derived from the record's position. */
export function fromRecord(record: IncomingRecord): WireMessage {
  const h = record.headers;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) if (!METADATA_HEADERS.has(name)) headers[name] = value;
  const timeHeader = h[KAFKA_HEADER.time];
  const time = timeHeader === undefined ? Number.NaN : Date.parse(timeHeader);
  const message: WireMessage = {
    messageId: h[KAFKA_HEADER.id] ?? `${record.topic}-${record.partition}-${record.offset}`,
    topic: record.topic,
    body: record.value,
    headers,
    contentType: h[KAFKA_HEADER.contentType] ?? 'application/json',
    timestamp: Number.isFinite(time) ? time : record.timestamp,
  };
  if (record.key !== undefined) message.key = record.key;
  if (h[KAFKA_HEADER.correlationId] !== undefined) message.correlationId = h[KAFKA_HEADER.correlationId];
  const expiresAt = Number(h[KAFKA_HEADER.expiresAt]);
  if (h[KAFKA_HEADER.expiresAt] !== undefined && Number.isFinite(expiresAt)) message.expiresAt = expiresAt;
  const priority = Number(h[KAFKA_HEADER.priority]);
  if (h[KAFKA_HEADER.priority] !== undefined && Number.isFinite(priority)) message.priority = priority;
  Object.defineProperty(message, kRecord, { value: record });
  return message;
}
