import { describe, expect, it } from 'vitest';
import type { WireMessage } from '../../core/transport.ts';
import { fromRecord, recordPositionOf, toRecord } from './wire.ts';

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
    const record = toRecord(message);
    expect(record.headers).toMatchObject({ ce_id: 'id-1', ce_specversion: '1.0', 'content-type': 'application/json', ce_correlationid: 'corr', ce_time: '2023-11-14T22:13:20.123Z' });
    expect(record.key).toBe('k');
    const back = fromRecord({ topic: 't', partition: 2, offset: '41', key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp });
    expect(back).toEqual(message);
    expect(recordPositionOf(back)).toEqual({ topic: 't', partition: 2, offset: '41', nextOffset: '42' });
  });

  it('reads records from other producers (no contractbus headers)', () => {
    const back = fromRecord({ topic: 't', partition: 0, offset: '7', key: undefined, value: body, headers: { source: 'legacy' }, timestamp: 5 });
    expect(back).toMatchObject({ messageId: 't-0-7', contentType: 'application/json', timestamp: 5, headers: { source: 'legacy' } });
    expect(back.key).toBeUndefined();
  });
});
