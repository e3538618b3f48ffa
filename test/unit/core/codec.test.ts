import { describe, expect, it } from 'vitest';
import { JsonCodec } from '../../../runtime/core/codec.ts';
import { MalformedMessageError, MessageTooLargeError, NonRetryableError } from '../../../runtime/core/errors.ts';

const ctx = { topic: 'orders', broker: 'fake' };

describe('JsonCodec', () => {
  it('round-trips JSON values as UTF-8', () => {
    const codec = new JsonCodec();
    const value = { id: 1, name: 'Zoë ✓', tags: ['a'], nested: { ok: true, none: null } };
    const bytes = codec.encode(value, ctx);
    expect(new TextDecoder().decode(bytes)).toBe(JSON.stringify(value));
    expect(codec.decode(bytes, ctx)).toEqual(value);
    expect(codec.contentType).toBe('application/json');
  });

  it('rejects non-JSON input with a non-retryable MalformedMessageError naming the topic', () => {
    const codec = new JsonCodec();
    const error = (() => {
      try {
        codec.decode(new TextEncoder().encode('{oops'), ctx);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toContain('"orders"');
    expect((error as Error).message).toContain('{oops');
  });

  it('rejects empty bodies and invalid UTF-8', () => {
    const codec = new JsonCodec();
    expect(() => codec.decode(new Uint8Array(), ctx)).toThrow(MalformedMessageError);
    expect(() => codec.decode(new Uint8Array([0x7b, 0xff, 0x7d]), ctx)).toThrow(/UTF-8/);
  });

  it('refuses to encode undefined, functions, cycles and BigInt', () => {
    const codec = new JsonCodec();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => codec.encode(undefined, ctx)).toThrow(MalformedMessageError);
    expect(() => codec.encode(() => 1, ctx)).toThrow(MalformedMessageError);
    expect(() => codec.encode(cyclic, ctx)).toThrow(/cycles/);
    expect(() => codec.encode({ n: 1n }, ctx)).toThrow(MalformedMessageError);
  });

  it('bounds messages by maxMessageBytes on both sides, counting UTF-8 bytes', () => {
    const codec = new JsonCodec({ maxMessageBytes: 10 });
    expect(codec.encode('12345678', ctx).byteLength).toBe(10);
    expect(() => codec.encode('123456789', ctx)).toThrow(MessageTooLargeError);
    // 4 characters, 12 bytes: the byte count decides.
    expect(() => codec.encode('€€€€', ctx)).toThrow(/14 bytes/);
    expect(() => codec.decode(new TextEncoder().encode('"123456789"'), ctx)).toThrow(MessageTooLargeError);
    expect(new JsonCodec().maxMessageBytes).toBe(1024 * 1024);
    expect(() => new JsonCodec({ maxMessageBytes: 0 })).toThrow(RangeError);
  });
});
