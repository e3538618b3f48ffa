import { describe, expect, it } from 'vitest';
import type { WireMessage } from '../../core/transport.ts';
import { DecodedRecord, decodeHeaderText, fromRecord, offsetOf, parseTime, parseTimeBytes, recordPositionOf, toRecord } from './wire.ts';

const body = new TextEncoder().encode('{"a":1}');

describe('Kafka wire mapping', () => {
  it('puts metadata in CloudEvents binary-mode headers and round-trips everything', () => {
    const message: WireMessage = {
      messageId: 'id-1',
      topic: 't',
      body,
      headers: { ce_type: 'x.created', traceparent: 'tp', 'x-contractbus-attempt': '2' },
      contentType: 'application/json',
      correlationId: 'corr',
      key: 'k',
      timestamp: 1_700_000_000_123,
      expiresAt: 1_700_000_060_000,
      priority: 7,
    };
    // An old message (a dead-letter copy, a replay): its time travels in ce_time too.
    const record = toRecord(message);
    expect(record.headers).toMatchObject({ ce_id: 'id-1', ce_correlationid: 'corr', ce_time: '2023-11-14T22:13:20.123Z' });
    expect(record.headers).not.toHaveProperty('content-type');
    expect(record.headers).not.toHaveProperty('ce_specversion');
    expect(record.key).toBe('k');
    const back = fromRecord({ topic: 't', partition: 2, offset: '41', key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp });
    expect(back).toEqual(message);
    expect(recordPositionOf(back)).toEqual({ topic: 't', partition: 2, offset: '41', nextOffset: '42' });
  });

  it('keeps defaults off the wire: a fresh JSON message is ce_id and the record timestamp; other content types and ce_time when old are kept', () => {
    const now = 1_700_000_000_000;
    const fresh: WireMessage = { messageId: 'id-2', topic: 't', body, headers: {}, contentType: 'application/json', timestamp: now - 3 };
    const record = toRecord(fresh, undefined, now);
    expect(record.headers).toEqual({ ce_id: 'id-2' });
    expect(record.timestamp).toBe(now - 3);
    expect(fromRecord({ topic: 't', partition: 0, offset: '1', key: undefined, value: record.value, headers: record.headers, timestamp: record.timestamp })).toEqual(fresh);
    const text: WireMessage = { ...fresh, contentType: 'text/plain', timestamp: now - 101 };
    const other = toRecord(text, undefined, now);
    expect(other.headers).toEqual({ ce_id: 'id-2', 'content-type': 'text/plain', ce_time: new Date(now - 101).toISOString() });
    // A LogAppendTime topic rewrites the record timestamp: ce_time, when there, still wins.
    expect(fromRecord({ topic: 't', partition: 0, offset: '2', key: undefined, value: other.value, headers: other.headers, timestamp: now + 5 })).toEqual(text);
  });

  it('reads records written by earlier versions (ce_specversion, content-type and ce_time on every record)', () => {
    const headers = { ce_id: 'id-3', ce_specversion: '1.0', 'content-type': 'application/json', ce_time: '2023-11-14T22:13:20.123Z', ce_type: 'x' };
    expect(fromRecord({ topic: 't', partition: 0, offset: '3', key: undefined, value: body, headers, timestamp: 9 })).toEqual({ messageId: 'id-3', topic: 't', body, headers: { ce_type: 'x' }, contentType: 'application/json', timestamp: 1_700_000_000_123 });
  });

  it('reads records from other producers (no contractbus headers)', () => {
    const back = fromRecord({ topic: 't', partition: 0, offset: '7', key: undefined, value: body, headers: { source: 'legacy' }, timestamp: 5 });
    expect(back).toMatchObject({ messageId: 't-0-7', contentType: 'application/json', timestamp: 5, headers: { source: 'legacy' } });
    expect(back.key).toBeUndefined();
  });

  it('parses ce_time exactly as Date.parse does (fast path for toISOString, the rest falls back)', () => {
    const samples = ['2024-02-29T23:59:59.999Z', '2023-02-28T00:00:00.000Z', '2026-11-30T12:34:56.789Z', '1970-01-01T00:00:00.000Z'];
    for (let t = -5e11; t < 5e12; t += 7_777_777_777) samples.push(new Date(t).toISOString());
    const odd = ['2023-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000Z', '0050-01-01T00:00:00.000Z', '2026-11-29T02:22:23Z', '2026-11-29T02:22:23.123+01:00', '2026-1a-29T02:22:23.123Z', 'garbage'];
    for (const value of [...samples, ...odd]) {
      expect(parseTime(value)).toEqual(Date.parse(value));
      expect(parseTimeBytes(Buffer.from(value))).toEqual(Date.parse(value));
      expect(parseTimeBytes(new TextEncoder().encode(value))).toEqual(Date.parse(value));
    }
  });

  it('decodes header text exactly as utf8 does, common names and values included', () => {
    for (const text of ['ce_id', 'ce_time', 'ce_specversion', 'content-type', '1.0', 'application/json', 'ce_ie', 'ce_idx', 'applicatioN/json', 'héllo', '日本', '']) {
      expect(decodeHeaderText(Buffer.from(text))).toBe(text);
    }
  });

  it('a DecodedRecord (headers split as decoded) maps to the same message as a plain record', () => {
    const record = toRecord({ messageId: 'id-2', topic: 't', body, headers: { ce_type: 'x', traceparent: 'tp' }, contentType: 'application/json', correlationId: 'c', key: 'k', timestamp: 1_700_000_000_456, expiresAt: 9, priority: 3 });
    const decoded = new DecodedRecord('t', 1, 12345678901234567n, record.key, record.value, record.timestamp);
    for (const name in record.headers) decoded.addHeader(decodeHeaderText(Buffer.from(name)), decodeHeaderText(Buffer.from(record.headers[name] as string)));
    const plain = { topic: 't', partition: 1, offset: '12345678901234567', key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp };
    expect(decoded.headers).toEqual(record.headers);
    expect(decoded.userHeaders).toEqual({ ce_type: 'x', traceparent: 'tp' });
    expect(decoded.offset).toBe('12345678901234567');
    expect(offsetOf(decoded)).toBe(12345678901234567n);
    expect(offsetOf(plain)).toBe(12345678901234567n);
    expect(fromRecord(decoded)).toEqual(fromRecord(plain));
    // As the drivers build it: header bytes, ce_time parsed from its bytes.
    const fromBytes = new DecodedRecord('t', 1, 12345678901234567n, record.key, record.value, record.timestamp);
    for (const name in record.headers) fromBytes.addHeaderBytes(Buffer.from(name), Buffer.from(record.headers[name] as string));
    expect(fromRecord(fromBytes)).toEqual(fromRecord(plain));
    expect(fromBytes.headers).toEqual(record.headers);
    expect(fromBytes.time).toBe('2023-11-14T22:13:20.456Z');
    expect(recordPositionOf(fromRecord(decoded))).toEqual({ topic: 't', partition: 1, offset: '12345678901234567', nextOffset: '12345678901234568' });
    const foreign = new DecodedRecord('t', 0, 7n, undefined, body, 5);
    foreign.addHeader('source', 'legacy');
    expect(fromRecord(foreign)).toMatchObject({ messageId: 't-0-7', contentType: 'application/json', timestamp: 5, headers: { source: 'legacy' } });
  });
});
