/**
 * WireMessage ⇄ Kafka record. The value is the contract's JSON untouched (any Kafka tool or
 * non-contractbus consumer reads it as is); metadata travels in native headers, CloudEvents
 * Kafka protocol binding (binary mode) names where one exists: `ce_id`, `ce_time`,
 * `content-type`, `ce_correlationid`; user headers (including `ce_type`, `traceparent`) and the
 * runtime's `x-contractbus-*` headers round-trip exactly. The key is the Kafka key.
 *
 * Every header costs each consumer two buffers and two decodes per record (a 100k-record drain on
 * @platformatic/kafka: ~3.9 µs/record with four headers, ~2.6 with `ce_id` alone), so defaults stay
 * off the wire, as on Redis Streams: `content-type` only when it is not application/json, and
 * `ce_time` only when the message is more than 100 ms older than its send (a dead-letter copy, a
 * replay): otherwise the record's own timestamp, which the producer sets to the message's, carries
 * it (a topic with message.timestamp.type=LogAppendTime shows the broker's append time instead, a
 * few ms later). `ce_specversion` is no longer written (records up to 0.x carried it; they are
 * still read): with no `ce_source` or `ce_type` of ours a record was never a complete binary-mode
 * CloudEvent, so the marker told other readers nothing true.
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

/** What a record without a content-type header holds. */
const DEFAULT_CONTENT_TYPE = 'application/json';

/**
 * Header names and values written on (nearly) every record: decoded by comparing bytes in
 * JavaScript rather than a native utf8 decode each (a consumer decodes ~8 of these per record).
 */
const COMMON_TEXT: ReadonlyArray<string> = [
  KAFKA_HEADER.id,
  KAFKA_HEADER.time,
  KAFKA_HEADER.specVersion,
  KAFKA_HEADER.contentType,
  KAFKA_HEADER.correlationId,
  KAFKA_HEADER.expiresAt,
  KAFKA_HEADER.priority,
  '1.0',
  'application/json',
  'ce_type',
  'traceparent',
  'x-contractbus-attempt',
];
/** COMMON_TEXT by byte length: [bytes, text] pairs (all ASCII: bytes.length === text.length). */
const COMMON_BY_LENGTH: Array<Array<readonly [Uint8Array, string]> | undefined> = [];
for (const text of COMMON_TEXT) (COMMON_BY_LENGTH[text.length] ??= []).push([new TextEncoder().encode(text), text]);

/** UTF-8 text of a header name or value (a Buffer from the driver). */
export function decodeHeaderText(bytes: Buffer): string {
  const candidates = COMMON_BY_LENGTH[bytes.length];
  if (candidates !== undefined) {
    next: for (const [known, text] of candidates) {
      for (let i = 0; i < known.length; i++) if (bytes[i] !== known[i]) continue next;
      return text;
    }
  }
  return bytes.toString('utf8');
}

/** Within this of the send, the record's timestamp stands for ce_time (see the top of this file). */
const TIME_IN_TIMESTAMP_WITHIN_MS = 100;

export function toRecord(message: WireMessage, partition?: number, now: number = Date.now()): OutgoingRecord {
  const headers: Record<string, string> = { ...message.headers };
  headers[KAFKA_HEADER.id] = message.messageId;
  if (Math.abs(now - message.timestamp) > TIME_IN_TIMESTAMP_WITHIN_MS) headers[KAFKA_HEADER.time] = new Date(message.timestamp).toISOString();
  if (message.contentType !== DEFAULT_CONTENT_TYPE) headers[KAFKA_HEADER.contentType] = message.contentType;
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
 * A message decoded from a record. A class so the record it came from rides along in a private
 * field: no header pollution, gone with the message, not copied by a spread, and cheaper than a
 * WeakMap entry or a defineProperty per record on the hot path.
 */
class RecordMessage implements WireMessage {
  messageId: string;
  topic: string;
  body: Uint8Array;
  headers: Record<string, string>;
  contentType: string;
  timestamp: number;
  // `declare`: only present when set (a plain field would exist as undefined on every message).
  declare key?: string;
  declare correlationId?: string;
  declare expiresAt?: number;
  declare priority?: number;
  readonly #record: IncomingRecord;

  constructor(record: IncomingRecord, messageId: string, headers: Record<string, string>, contentType: string, timestamp: number) {
    this.messageId = messageId;
    this.topic = record.topic;
    this.body = record.value;
    this.headers = headers;
    this.contentType = contentType;
    this.timestamp = timestamp;
    this.#record = record;
  }

  static recordOf(message: WireMessage | undefined): IncomingRecord | undefined {
    return message !== undefined && #record in message ? message.#record : undefined;
  }
}

export function recordPositionOf(message: WireMessage | undefined): RecordPosition | undefined {
  const record = RecordMessage.recordOf(message);
  if (record === undefined) return undefined;
  return { topic: record.topic, partition: record.partition, offset: record.offset, nextOffset: (BigInt(record.offset) + 1n).toString() };
}

/** Two decimal digits at `at`, or -1. */
function twoDigits(value: string, at: number): number {
  const a = value.charCodeAt(at) - 48;
  const b = value.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** Two decimal digits at `at` of ASCII bytes, or -1. */
function twoDigitBytes(value: Uint8Array, at: number): number {
  const a = (value[at] as number) - 48;
  const b = (value[at + 1] as number) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil): Date.UTC without the call. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719_468;
}

/**
 * Epoch ms of the fields of YYYY-MM-DDTHH:mm:ss.sssZ, or NaN where Date.parse may answer
 * differently: Date.UTC maps years < 100 to 19xx and rolls over out-of-range fields (Feb 30 →
 * Mar 2), and non-digits come in as -1; the callers leave those to Date.parse.
 */
function isoFields(century: number, yy: number, month: number, day: number, hour: number, minute: number, second: number, ms10: number, ms1: number): number {
  const year = century * 100 + yy;
  if (century < 1 || yy < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms10 < 0 || ms1 < 0 || ms1 > 9) {
    return Number.NaN;
  }
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1_000 + ms10 * 10 + ms1;
}

/**
 * ce_time as this binding writes it (`Date#toISOString`, YYYY-MM-DDTHH:mm:ss.sssZ) without
 * Date.parse, which costs several times more per record; any other form goes to Date.parse.
 */
export function parseTime(value: string): number {
  if (
    value.length !== 24 ||
    value.charCodeAt(4) !== 45 /* - */ ||
    value.charCodeAt(7) !== 45 ||
    value.charCodeAt(10) !== 84 /* T */ ||
    value.charCodeAt(13) !== 58 /* : */ ||
    value.charCodeAt(16) !== 58 ||
    value.charCodeAt(19) !== 46 /* . */ ||
    value.charCodeAt(23) !== 90 /* Z */
  ) {
    return Date.parse(value);
  }
  const time = isoFields(
    twoDigits(value, 0),
    twoDigits(value, 2),
    twoDigits(value, 5),
    twoDigits(value, 8),
    twoDigits(value, 11),
    twoDigits(value, 14),
    twoDigits(value, 17),
    twoDigits(value, 20),
    value.charCodeAt(22) - 48,
  );
  return Number.isNaN(time) ? Date.parse(value) : time;
}

/** parseTime straight from the header's bytes: no string for the common form (~20 ns instead of ~110). */
export function parseTimeBytes(value: Uint8Array): number {
  if (value.length !== 24 || value[4] !== 45 || value[7] !== 45 || value[10] !== 84 || value[13] !== 58 || value[16] !== 58 || value[19] !== 46 || value[23] !== 90) {
    return Date.parse(textOf(value));
  }
  const time = isoFields(
    twoDigitBytes(value, 0),
    twoDigitBytes(value, 2),
    twoDigitBytes(value, 5),
    twoDigitBytes(value, 8),
    twoDigitBytes(value, 11),
    twoDigitBytes(value, 14),
    twoDigitBytes(value, 17),
    twoDigitBytes(value, 20),
    (value[22] as number) - 48,
  );
  return Number.isNaN(time) ? Date.parse(textOf(value)) : time;
}

const utf8 = new TextDecoder();

function textOf(bytes: Uint8Array): string {
  return Buffer.isBuffer(bytes) ? bytes.toString('utf8') : utf8.decode(bytes);
}

/**
 * A record as this binding's drivers build it: header names are matched as they are decoded, so
 * the metadata headers land in their own fields and the user headers in `userHeaders` in that one
 * pass (fromRecord needs no second pass over a full header map), and the offset stays the bigint
 * the client library decoded (the consumer compares bigints; the decimal string is made only if
 * asked). `offset` and `headers` honour the IncomingRecord seam, built on first access only.
 */
export class DecodedRecord implements IncomingRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offsetValue: bigint;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly timestamp: number;
  /** Headers other than the metadata ones below (what WireMessage.headers carries). */
  readonly userHeaders: Record<string, string> = {};
  id: string | undefined = undefined;
  specVersion: string | undefined = undefined;
  contentType: string | undefined = undefined;
  correlationId: string | undefined = undefined;
  expiresAt: string | undefined = undefined;
  priority: string | undefined = undefined;
  #offset: string | undefined;
  /** ce_time as received: parsed from its bytes (timeMs), text only if asked (time). */
  #time: string | Uint8Array | undefined = undefined;

  /** `offsetText`: the offset's decimal form when the client library has it already. */
  constructor(topic: string, partition: number, offset: bigint, key: string | undefined, value: Uint8Array, timestamp: number, offsetText?: string) {
    this.#offset = offsetText;
    this.topic = topic;
    this.partition = partition;
    this.offsetValue = offset;
    this.key = key;
    this.value = value;
    this.timestamp = timestamp;
  }

  /** One header, in record order (a repeated name: the last one wins, as in a header map). */
  addHeader(name: string, value: string): void {
    // decodeHeaderText returns the KAFKA_HEADER constants themselves: these compare by identity.
    switch (name) {
      case KAFKA_HEADER.id: this.id = value; return;
      case KAFKA_HEADER.time: this.#time = value; return;
      case KAFKA_HEADER.specVersion: this.specVersion = value; return;
      case KAFKA_HEADER.contentType: this.contentType = value; return;
      case KAFKA_HEADER.correlationId: this.correlationId = value; return;
      case KAFKA_HEADER.expiresAt: this.expiresAt = value; return;
      case KAFKA_HEADER.priority: this.priority = value; return;
      default: this.userHeaders[name] = value;
    }
  }

  /** One header as @platformatic/kafka hands it over: name and value as bytes. */
  addHeaderBytes(name: Buffer, value: Buffer | null | undefined): void {
    this.addHeaderValue(decodeHeaderText(name), value);
  }

  /** One header whose value is bytes (decoded here; ce_time is parsed from them, never decoded). */
  addHeaderValue(name: string, value: Buffer | null | undefined): void {
    if (value === null || value === undefined) this.addHeader(name, '');
    else if (name === KAFKA_HEADER.time) this.#time = value;
    else this.addHeader(name, decodeHeaderText(value));
  }

  /** The ce_time header's text, if any. */
  get time(): string | undefined {
    const time = this.#time;
    if (time === undefined || typeof time === 'string') return time;
    return (this.#time = textOf(time));
  }

  /** Epoch ms of ce_time (NaN without one, or if it is not a date). */
  timeMs(): number {
    const time = this.#time;
    if (time === undefined) return Number.NaN;
    return typeof time === 'string' ? parseTime(time) : parseTimeBytes(time);
  }

  get offset(): string {
    return (this.#offset ??= this.offsetValue.toString());
  }

  /** Every header, metadata included (the seam's view; the consumer never asks for it). */
  get headers(): Record<string, string> {
    const all: Record<string, string> = { ...this.userHeaders };
    if (this.id !== undefined) all[KAFKA_HEADER.id] = this.id;
    if (this.time !== undefined) all[KAFKA_HEADER.time] = this.time;
    if (this.specVersion !== undefined) all[KAFKA_HEADER.specVersion] = this.specVersion;
    if (this.contentType !== undefined) all[KAFKA_HEADER.contentType] = this.contentType;
    if (this.correlationId !== undefined) all[KAFKA_HEADER.correlationId] = this.correlationId;
    if (this.expiresAt !== undefined) all[KAFKA_HEADER.expiresAt] = this.expiresAt;
    if (this.priority !== undefined) all[KAFKA_HEADER.priority] = this.priority;
    return all;
  }
}

/** The record's offset as a bigint, without a parse for a DecodedRecord. */
export function offsetOf(record: IncomingRecord): bigint {
  return record instanceof DecodedRecord ? record.offsetValue : BigInt(record.offset);
}

/** Records from other producers lack our headers: their id is derived from the record's position. */
export function fromRecord(record: IncomingRecord): WireMessage {
  if (record instanceof DecodedRecord) {
    return toMessage(record, record.id, record.userHeaders, record.contentType, record.timeMs(), record.correlationId, record.expiresAt, record.priority);
  }
  // A record from another driver: split its header map here.
  const h = record.headers;
  const headers: Record<string, string> = {};
  for (const name in h) if (!METADATA_HEADERS.has(name)) headers[name] = h[name] as string;
  const time = h[KAFKA_HEADER.time];
  return toMessage(record, h[KAFKA_HEADER.id], headers, h[KAFKA_HEADER.contentType], time === undefined ? Number.NaN : parseTime(time), h[KAFKA_HEADER.correlationId], h[KAFKA_HEADER.expiresAt], h[KAFKA_HEADER.priority]);
}

function toMessage(
  record: IncomingRecord,
  id: string | undefined,
  headers: Record<string, string>,
  contentType: string | undefined,
  /** ce_time in epoch ms; NaN: none or not a date (the record's timestamp is used). */
  time: number,
  correlationId: string | undefined,
  expiresAt: string | undefined,
  priority: string | undefined,
): WireMessage {
  const message = new RecordMessage(
    record,
    id ?? `${record.topic}-${record.partition}-${record.offset}`,
    headers,
    contentType ?? DEFAULT_CONTENT_TYPE,
    Number.isFinite(time) ? time : record.timestamp,
  );
  if (record.key !== undefined) message.key = record.key;
  if (correlationId !== undefined) message.correlationId = correlationId;
  if (expiresAt !== undefined && Number.isFinite(Number(expiresAt))) message.expiresAt = Number(expiresAt);
  if (priority !== undefined && Number.isFinite(Number(priority))) message.priority = Number(priority);
  return message;
}
