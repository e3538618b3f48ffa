/**
 * Redis Pub/Sub carries no headers, so a message travels as a CloudEvents 1.0 JSON event
 * (structured mode): `data` holds the contract's JSON as is, metadata sits in CloudEvents
 * attributes, and user and reliability headers in one `headers` extension map.
 * Anything else on a channel (a plain string someone PUBLISHed) still decodes: it becomes the body.
 */
import type { WireMessage } from '../../core/transport.ts';

const encoder = new TextEncoder();
// fatal: a body that is not UTF-8 is carried as base64, byte for byte, never with replacement characters.
const decoder = new TextDecoder('utf-8', { fatal: true });

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

/**
 * Inline JSON data is written last, after this exact marker. JSON.stringify never emits a space
 * outside strings and a string cannot hold a bare quote, so the marker cannot occur earlier in an
 * envelope we wrote: the reader slices the payload out as is instead of parsing and re-encoding it.
 */
const DATA_MARKER = ',"data": ';
const DEFAULT_CONTENT_TYPE = 'application/json';

export function encodeEnvelope(message: WireMessage): string {
  let text = `{"specversion":"1.0","id":${quoted(message.messageId)},"source":"contractbus","type":${quotedCached(message.topic)},"time":"${isoTime(message.timestamp)}"`;
  // CloudEvents' JSON format reads an absent datacontenttype as application/json: omit the default.
  if (message.contentType !== DEFAULT_CONTENT_TYPE) text += `,"datacontenttype":${quotedCached(message.contentType)}`;
  if (message.correlationId !== undefined) text += `,"correlationid":${quoted(message.correlationId)}`;
  if (message.key !== undefined) text += `,"partitionkey":${quoted(message.key)}`;
  if (message.priority !== undefined) text += `,"priority":${message.priority}`;
  if (message.expiresAt !== undefined) text += `,"expiresat":${message.expiresAt}`;
  for (const _ in message.headers) {
    text += `,"headers":${JSON.stringify(message.headers)}`;
    break;
  }
  const body = JSON_TYPE.test(message.contentType) ? utf8OrUndefined(message.body) : undefined;
  // The payload is inlined only when it is JSON (the codec produced it); anything else is base64.
  if (body !== undefined && isJsonText(body)) text += `${DATA_MARKER}${body}}`;
  else text += `,"data_base64":"${Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength).toString('base64')}"}`;
  return text;
}

/** Messages published in the same millisecond share one formatted time. */
let lastTime = Number.NaN;
let lastIso = '';
function isoTime(epochMs: number): string {
  if (epochMs !== lastTime) {
    lastIso = new Date(epochMs).toISOString();
    lastTime = epochMs;
  }
  return lastIso;
}

let lastParsedIso = '';
let lastParsed = Number.NaN;
function parseTime(iso: string): number {
  if (iso !== lastParsedIso) {
    lastParsed = Date.parse(iso);
    lastParsedIso = iso;
  }
  return lastParsed || Date.now();
}

function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

const SAFE = /^[\w.:@/+-]*$/;

/** JSON string literal; ids and keys are usually plain, which needs no escaping pass. */
function quoted(value: string): string {
  return SAFE.test(value) ? `"${value}"` : JSON.stringify(value);
}

/** Topics and content types repeat: quote each once (bounded cache). */
const quotedCache = new Map<string, string>();
function quotedCached(value: string): string {
  let literal = quotedCache.get(value);
  if (literal === undefined) {
    if (quotedCache.size >= 1024) quotedCache.clear();
    literal = JSON.stringify(value);
    quotedCache.set(value, literal);
  }
  return literal;
}

interface Envelope {
  specversion?: unknown;
  id?: unknown;
  type?: unknown;
  time?: unknown;
  datacontenttype?: unknown;
  correlationid?: unknown;
  partitionkey?: unknown;
  priority?: unknown;
  expiresat?: unknown;
  headers?: unknown;
  data?: unknown;
  data_base64?: unknown;
}

/**
 * Never throws: a foreign or broken payload is handed on as the body with
 * content type `application/octet-stream`, and the shared codec dead-letters it if it cannot decode.
 */
export function decodeEnvelope(text: string, channel: string, fallbackId: () => string): WireMessage {
  let parsed: unknown;
  let rawData: string | undefined;
  try {
    const marker = text.startsWith('{"specversion"') && text.endsWith('}') ? text.indexOf(DATA_MARKER) : -1;
    if (marker > 0) {
      parsed = JSON.parse(`${text.slice(0, marker)}}`);
      rawData = text.slice(marker + DATA_MARKER.length, -1);
    } else {
      parsed = text.includes('"specversion"') ? JSON.parse(text) : undefined;
    }
  } catch {
    parsed = undefined;
    rawData = undefined;
  }
  if (!parsed || typeof parsed !== 'object' || (parsed as Envelope).specversion === undefined) {
    return { messageId: fallbackId(), topic: channel, body: encoder.encode(text), headers: {}, contentType: 'application/octet-stream', timestamp: Date.now() };
  }
  const event = parsed as Envelope;
  return fromEvent(event, rawData === undefined ? undefined : encoder.encode(rawData), channel, fallbackId);
}

function fromEvent(event: Envelope, inlineData: Uint8Array | undefined, channel: string, fallbackId: () => string): WireMessage {
  const contentType = typeof event.datacontenttype === 'string' ? event.datacontenttype : DEFAULT_CONTENT_TYPE;
  let body: Uint8Array;
  if (inlineData !== undefined) body = inlineData;
  else if (typeof event.data_base64 === 'string') body = Buffer.from(event.data_base64, 'base64');
  else if (event.data === undefined) body = new Uint8Array(0);
  else if (typeof event.data === 'string' && !JSON_TYPE.test(contentType)) body = encoder.encode(event.data);
  else body = encoder.encode(JSON.stringify(event.data));
  const message: WireMessage = {
    messageId: typeof event.id === 'string' ? event.id : fallbackId(),
    topic: channel,
    body,
    headers: stringRecord(event.headers),
    contentType,
    timestamp: typeof event.time === 'string' ? parseTime(event.time) : Date.now(),
  };
  if (typeof event.correlationid === 'string') message.correlationId = event.correlationid;
  if (typeof event.partitionkey === 'string') message.key = event.partitionkey;
  if (typeof event.priority === 'number') message.priority = event.priority;
  if (typeof event.expiresat === 'number') message.expiresAt = event.expiresat;
  return message;
}

const MARKER_BYTES = Buffer.from(DATA_MARKER);
const PREFIX_BYTES = Buffer.from('{"specversion"');

/**
 * The subscriber's path: works on the bytes Redis sent, so the payload is a view into them
 * (no decode + re-encode); anything not written by us goes through `decodeEnvelope`.
 */
export function decodeEnvelopeBytes(bytes: Buffer, channel: string, fallbackId: () => string): WireMessage {
  return envelopeFromBytes(bytes, channel, fallbackId) ?? decodeEnvelope(bytes.toString(), channel, fallbackId);
}

/** A whole CloudEvent parsed from text (e.g. one with data_base64), or undefined. */
function eventFromText(text: string, channel: string, fallbackId: () => string): WireMessage | undefined {
  try {
    const event = JSON.parse(text) as unknown;
    return event && typeof event === 'object' && (event as Envelope).specversion !== undefined ? fromEvent(event as Envelope, undefined, channel, fallbackId) : undefined;
  } catch {
    return undefined;
  }
}

/** The fast path alone: undefined unless `bytes` is an envelope as we write it. */
function envelopeFromBytes(bytes: Buffer, channel: string, fallbackId: () => string): WireMessage | undefined {
  if (bytes.length > PREFIX_BYTES.length && bytes[bytes.length - 1] === 125 && startsWithPrefix(bytes)) {
    const marker = bytes.indexOf(MARKER_BYTES);
    if (marker > 0) {
      let event: unknown;
      try {
        event = JSON.parse(`${bytes.toString('utf8', 0, marker)}}`);
      } catch {
        event = undefined;
      }
      if (event && typeof event === 'object') return fromEvent(event as Envelope, bytes.subarray(marker + MARKER_BYTES.length, bytes.length - 1), channel, fallbackId);
    }
  }
  return undefined;
}

function startsWithPrefix(bytes: Buffer, at = 0): boolean {
  if (bytes.length - at < PREFIX_BYTES.length) return false;
  for (let i = 0; i < PREFIX_BYTES.length; i++) if (bytes[at + i] !== PREFIX_BYTES[i]) return false;
  return true;
}

/**
 * Several envelopes of one channel as one Redis message: a CloudEvents JSON batch
 * (`application/cloudevents-batch+json`, a JSON array of structured events). We write one event
 * per line: `[` event `,\n` event … `]`. Envelopes we write never hold a raw newline (JSON.stringify
 * escapes it inside strings and never emits one outside), so a line break splits events exactly and
 * each event is read from its own bytes, as a single envelope is. Callers batch only envelopes
 * without a newline (see `canBatch`).
 */
export function encodeBatch(envelopes: readonly string[]): string {
  return `[${envelopes.join(',\n')}]`;
}

/** True when the envelope may go in a batch: a payload with a raw newline (a custom codec's pretty JSON) is sent alone. */
export function canBatch(envelope: string): boolean {
  return !envelope.includes('\n');
}

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const NEWLINE = 0x0a;
const COMMA = 0x2c;

/**
 * The messages of a batch, or undefined when `bytes` is not a JSON array of CloudEvents (then it is
 * a single message). Our line-per-event batches are split on the bytes; any other CloudEvents batch
 * (someone else's writer) is parsed whole.
 */
export function decodeBatchBytes(bytes: Buffer, channel: string, fallbackId: () => string): WireMessage[] | undefined {
  if (bytes.length < 2 || bytes[0] !== OPEN_BRACKET || bytes[bytes.length - 1] !== CLOSE_BRACKET) return undefined;
  // Ours: at least two events, one per line, each an envelope as we write it.
  if (startsWithPrefix(bytes, 1) && bytes.indexOf(NEWLINE, 1) !== -1) {
    const messages: WireMessage[] = [];
    let start = 1;
    for (;;) {
      const newline = bytes.indexOf(NEWLINE, start);
      const last = newline === -1;
      // An event line ends with "," before the newline, the last one with the closing bracket.
      const end = last ? bytes.length - 1 : newline - 1;
      if (!last && bytes[end] !== COMMA) break;
      const line = bytes.subarray(start, end);
      const message = envelopeFromBytes(line, channel, fallbackId) ?? eventFromText(line.toString('utf8'), channel, fallbackId);
      if (!message) break;
      messages.push(message);
      if (last) return messages;
      start = newline + 1;
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return undefined;
  if (!parsed.every((event) => event && typeof event === 'object' && (event as Envelope).specversion !== undefined)) return undefined;
  return parsed.map((event) => fromEvent(event as Envelope, undefined, channel, fallbackId));
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!value || typeof value !== 'object') return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string' && k !== '__proto__') out[k] = v;
  return out;
}

/** A cheap check that inlining keeps the envelope valid JSON; a full parse only for odd inputs. */
function isJsonText(text: string): boolean {
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  // {…} or […] or "…" written by JSON.stringify are safe to inline as they are.
  if ((first === 123 && last === 125) || (first === 91 && last === 93) || (first === 34 && last === 34)) return true;
  try {
    JSON.parse(text);
    return text.trim().length > 0;
  } catch {
    return false;
  }
}
