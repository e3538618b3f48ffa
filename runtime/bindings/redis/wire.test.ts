import { describe, expect, it } from 'vitest';
import { canBatch, decodeBatchBytes, decodeEnvelope, decodeEnvelopeBytes, encodeBatch, encodeEnvelope } from './envelope.ts';
import { entryFields, messageFromEntry } from './stream-entry.ts';
import { optionsFromUrl, resolveConnectionOptions } from './options.ts';
import type { WireMessage } from '../../core/transport.ts';

const message: WireMessage = {
  messageId: 'id-1',
  topic: 'orders.created',
  body: new TextEncoder().encode('{"orderId":"7","total":12.5}'),
  headers: { correlation: 'x', 'x-contractbus-attempt': '2', data: 'user header named data', ce_id: 'user ce_id', 'h:odd': 'y' },
  contentType: 'application/json',
  correlationId: 'corr',
  key: 'k',
  timestamp: 1_700_000_000_000,
  priority: 5,
  expiresAt: 1_700_000_060_000,
};

function text(body: Uint8Array): string {
  return new TextDecoder().decode(body);
}

describe('Pub/Sub CloudEvents batch (one PUBLISH for the messages of a tick)', () => {
  const second: WireMessage = { messageId: 'id-2', topic: 'orders.created', body: new TextEncoder().encode('"a string, with \\n and },{\\"specversion\\""'), headers: {}, contentType: 'application/json', timestamp: 1_700_000_000_001 };
  const binary: WireMessage = { messageId: 'id-3', topic: 'orders.created', body: new Uint8Array([0, 0xff, 10]), headers: { h: 'v' }, contentType: 'application/octet-stream', timestamp: 1_700_000_000_002 };
  const plain = (m: WireMessage): unknown => ({ ...m, body: [...m.body] });

  it('is a valid CloudEvents JSON batch that splits back into the same messages, payloads as views', () => {
    const text = encodeBatch([message, second, binary].map(encodeEnvelope));
    const events = JSON.parse(text) as Array<Record<string, unknown>>;
    expect(events.map((e) => e.id)).toEqual(['id-1', 'id-2', 'id-3']);
    expect(events[0]?.data).toEqual({ orderId: '7', total: 12.5 });
    const bytes = Buffer.from(text);
    const decoded = decodeBatchBytes(bytes, 'orders.created', () => 'f');
    expect(decoded?.map(plain)).toEqual([message, second, binary].map(plain));
    expect(decoded?.[0]?.body.buffer).toBe(bytes.buffer);
  });

  it('reads a batch written by someone else (no line per event)', () => {
    const foreign = JSON.stringify([JSON.parse(encodeEnvelope(message)), { specversion: '1.0', id: 'x', source: 's', type: 't', data: { a: 1 } }]);
    const decoded = decodeBatchBytes(Buffer.from(foreign), 'orders.created', () => 'f');
    expect(decoded?.map((m) => m.messageId)).toEqual(['id-1', 'x']);
    expect(JSON.parse(text(decoded?.[1]?.body ?? new Uint8Array()))).toEqual({ a: 1 });
  });

  it('leaves anything that is not a batch of events to the single-message path', () => {
    for (const other of ['[1,2,3]', '[]', '[{"a":1}]', '[not json]', encodeEnvelope(message), 'plain']) {
      expect(decodeBatchBytes(Buffer.from(other), 'c', () => 'f')).toBeUndefined();
    }
  });

  it('keeps an envelope whose payload holds a raw newline out of batches', () => {
    expect(canBatch(encodeEnvelope(message))).toBe(true);
    const pretty: WireMessage = { ...message, body: new TextEncoder().encode('{\n  "orderId": "7"\n}') };
    expect(canBatch(encodeEnvelope(pretty))).toBe(false);
  });
});

describe('Pub/Sub CloudEvents envelope', () => {
  it('round-trips payload, metadata and headers exactly', () => {
    const encoded = encodeEnvelope(message);
    const event = JSON.parse(encoded) as Record<string, unknown>;
    expect(event.specversion).toBe('1.0');
    expect(event.data).toEqual({ orderId: '7', total: 12.5 });
    const decoded = decodeEnvelope(encoded, 'orders.created', () => 'fallback');
    expect({ ...decoded, body: text(decoded.body) }).toEqual({ ...message, body: text(message.body) });
  });

  it('decodes from the bytes Redis sent the same way, payload as a view', () => {
    const bytes = Buffer.from(encodeEnvelope(message));
    const decoded = decodeEnvelopeBytes(bytes, 'orders.created', () => 'f');
    expect({ ...decoded, body: text(decoded.body) }).toEqual({ ...message, body: text(message.body) });
    expect(decoded.body.buffer).toBe(bytes.buffer);
    expect(text(decodeEnvelopeBytes(Buffer.from('plain'), 'c', () => 'f').body)).toBe('plain');
  });

  it('finds the payload even when a header looks like the data member', () => {
    const tricky: WireMessage = { ...message, headers: { data: ',"data": {"x":1}', other: '"data": ' } };
    const decoded = decodeEnvelope(encodeEnvelope(tricky), 'orders.created', () => 'f');
    expect(text(decoded.body)).toBe('{"orderId":"7","total":12.5}');
    expect(decoded.headers).toEqual(tricky.headers);
  });

  it('reads envelopes written by other CloudEvents producers', () => {
    const decoded = decodeEnvelope('{"specversion":"1.0","id":"ext-1","type":"t","datacontenttype":"application/json","data":{"a":[1,2]}}', 'c', () => 'f');
    expect(decoded.messageId).toBe('ext-1');
    expect(JSON.parse(text(decoded.body))).toEqual({ a: [1, 2] });
  });

  it('carries non-JSON payloads as data_base64', () => {
    const binary: WireMessage = { ...message, body: new Uint8Array([0, 255, 1]), contentType: 'application/octet-stream' };
    const decoded = decodeEnvelope(encodeEnvelope(binary), 't', () => 'f');
    expect([...decoded.body]).toEqual([0, 255, 1]);
  });

  it('keeps a JSON-labelled body that is not UTF-8 byte for byte (base64)', () => {
    const odd: WireMessage = { ...message, body: new Uint8Array([0x7b, 0xff, 0x7d]) };
    const encoded = encodeEnvelope(odd);
    expect(encoded).toContain('"data_base64"');
    expect([...decodeEnvelopeBytes(Buffer.from(encoded), 't', () => 'f').body]).toEqual([0x7b, 0xff, 0x7d]);
  });

  it('hands a foreign payload on as the body instead of throwing', () => {
    const decoded = decodeEnvelope('hello', 'chan', () => 'generated');
    expect(decoded.messageId).toBe('generated');
    expect(text(decoded.body)).toBe('hello');
    expect(decoded.contentType).toBe('application/octet-stream');
  });

  it('ignores a __proto__ header instead of polluting the prototype', () => {
    const decoded = decodeEnvelope('{"specversion":"1.0","id":"1","headers":{"__proto__":{"x":"1"},"a":"b"},"data":1}', 'c', () => 'f');
    expect(decoded.headers).toEqual({ a: 'b' });
    expect(Object.getPrototypeOf(decoded.headers)).toBe(Object.prototype);
  });
});

describe('Streams entry fields', () => {
  it('round-trips with headers as fields, escaping names that collide with ours', () => {
    const fields = entryFields(message);
    const names = fields.filter((_, i) => i % 2 === 0).map(String);
    expect(names).toContain('correlation');
    expect(names).toContain('h:data');
    expect(names).toContain('h:ce_id');
    expect(names).toContain('h:h:odd');
    expect(names.at(-1)).toBe('data');
    const raw = fields.map((f) => (Buffer.isBuffer(f) ? f : Buffer.from(f)));
    const decoded = messageFromEntry('orders.created', '1700000000000-0', raw);
    expect({ ...decoded, body: text(decoded.body) }).toEqual({ ...message, body: text(message.body) });
  });
});

describe('Streams entry defaults stay off the wire', () => {
  it('a fresh JSON message is ce_id and data only; its time comes back from the entry id', () => {
    const now = 1_800_000_000_000;
    const fresh: WireMessage = { messageId: 'm', topic: 't', body: new TextEncoder().encode('{"a":1}'), headers: {}, contentType: 'application/json', timestamp: now - 3 };
    const fields = entryFields(fresh, now);
    expect(fields.filter((_, i) => i % 2 === 0)).toEqual(['ce_id', 'data']);
    const decoded = messageFromEntry('t', `${now - 3}-0`, fields.map((f) => (Buffer.isBuffer(f) ? f : Buffer.from(f))));
    expect({ ...decoded, body: text(decoded.body) }).toEqual({ ...fresh, body: '{"a":1}' });
  });

  it('a copy of an older message keeps its own time; other content types are named', () => {
    const old: WireMessage = { messageId: 'm', topic: 't', body: new Uint8Array([1]), headers: {}, contentType: 'application/octet-stream', timestamp: 1_700_000_000_000 };
    const names = entryFields(old, 1_800_000_000_000).filter((_, i) => i % 2 === 0);
    expect(names).toEqual(['ce_id', 'ce_time', 'content-type', 'data']);
  });

  it('an entry someone else wrote (no ce_id) is application/octet-stream', () => {
    const decoded = messageFromEntry('t', '1700000000000-0', [Buffer.from('data'), Buffer.from('hello')]);
    expect(decoded.contentType).toBe('application/octet-stream');
    expect(decoded.messageId).toBe('1700000000000-0');
  });

  it('tells ce_id and data from fields that only look like them', () => {
    const raw = ['ce_ie', 'x', 'datA', 'y', 'ce_idx', 'z', 'ce_id', 'id-1', 'data', '{}'].map((f) => Buffer.from(f));
    const decoded = messageFromEntry('t', '1700000000000-0', raw);
    expect(decoded.messageId).toBe('id-1');
    expect(Buffer.from(decoded.body).toString()).toBe('{}');
    expect(decoded.headers).toEqual({ ce_ie: 'x', datA: 'y', ce_idx: 'z' });
  });
});

describe('Streams entry body', () => {
  it('keeps bytes exactly when a JSON-labelled body is not UTF-8', () => {
    const odd: WireMessage = { ...message, body: new Uint8Array([0xff, 0xfe, 0x7b]) };
    const fields = entryFields(odd);
    expect(Buffer.isBuffer(fields.at(-1))).toBe(true);
    const raw = fields.map((f) => (Buffer.isBuffer(f) ? f : Buffer.from(f)));
    expect([...messageFromEntry('t', '1-0', raw).body]).toEqual([0xff, 0xfe, 0x7b]);
  });
});

describe('Redis URLs and options', () => {
  it('redis:// is Pub/Sub, redis+streams:// is Streams, rediss turns TLS on', () => {
    expect(optionsFromUrl('redis://127.0.0.1:6379/2').mode).toBe('pubsub');
    expect(optionsFromUrl('redis://127.0.0.1:6379/2').options.db).toBe(2);
    const streams = optionsFromUrl('rediss+streams://u:p%40ss@example.com:6380/0?maxLen=500&claimIdleMs=1000');
    expect(streams.mode).toBe('streams');
    expect(streams.options).toMatchObject({ host: 'example.com', port: 6380, username: 'u', password: 'p@ss', maxLen: 500, claimIdleMs: 1000, tls: { servername: 'example.com' } });
    expect(optionsFromUrl('redis://h?mode=streams').mode).toBe('streams');
  });

  it('rejects unknown schemes and bad numbers with a clear error', () => {
    expect(() => optionsFromUrl('kafka://x')).toThrow(/unsupported URL scheme "kafka:"/);
    expect(() => optionsFromUrl('redis://x?maxLen=lots')).toThrow(/maxLen=lots/);
  });

  it('fails fast while disconnected: no offline queue, bounded round trips', () => {
    const resolved = resolveConnectionOptions({ url: 'redis://127.0.0.1:6379', commandTimeoutMs: 1234, port: 6390 });
    expect(resolved.redisOptions).toMatchObject({ enableOfflineQueue: false, port: 6390, lazyConnect: true });
    expect(resolved.commandTimeoutMs).toBe(1234); // enforced by RoundTripWatchdog, not a timer per command
    expect(() => resolveConnectionOptions({ commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs must be a number of ms > 0/);
    expect(resolved.endpoint).toBe('redis://127.0.0.1:6390/0');
    const retry = resolved.redisOptions.retryStrategy as (times: number) => number | null;
    expect(retry(1)).toBeGreaterThan(0);
    expect(resolveConnectionOptions({ autoReconnect: false }).redisOptions.retryStrategy?.(1)).toBeNull();
    expect(resolveConnectionOptions({ maxReconnectAttempts: 2 }).redisOptions.retryStrategy?.(3)).toBeNull();
  });
});
