/** runtime/core/channel.ts and runtime/core/validation.ts: the two helpers generated code calls. */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { addressParameters, addressPattern, buildAddress, parseAddress, toWireHeaders, withParams } from '../../runtime/core/channel.ts';
import { assertValid, toValidationIssues, wireHeadersValidator, zodValidator } from '../../runtime/core/validation.ts';
import { ValidationError } from '../../runtime/core/errors.ts';
import type { MessageMetadata } from '../../runtime/core/types.ts';

describe('channel addresses', () => {
  const template = 'orders.{orderId}.status';

  it('lists parameters in order', () => {
    expect(addressParameters('a.{x}.{y}')).toEqual(['x', 'y']);
    expect(addressParameters('plain')).toEqual([]);
  });

  it('builds a concrete topic', () => {
    expect(buildAddress(template, { orderId: '42' })).toBe('orders.42.status');
    expect(buildAddress('t.{n}.{flag}', { n: 7, flag: true })).toBe('t.7.true');
    expect(buildAddress('plain.topic', {})).toBe('plain.topic');
  });

  it('refuses missing and routing-breaking values with a ValidationError', () => {
    expect(() => buildAddress(template, {})).toThrow(ValidationError);
    for (const bad of ['a.b', '*', '#', 'a b', '', 'x\n', '>']) expect(() => buildAddress(template, { orderId: bad }), bad).toThrow(ValidationError);
    try {
      buildAddress('a.{x}.{y}', { y: 'a.b' });
    } catch (error) {
      expect((error as ValidationError).issues.map((i) => i.path)).toEqual([['x'], ['y']]);
      expect((error as ValidationError).topic).toBe('a.{x}.{y}');
    }
  });

  it('does not read parameters from the prototype chain', () => {
    expect(() => buildAddress('a.{toString}', {})).toThrow(ValidationError);
  });

  it('builds subscription patterns: given parameters filled, others one-segment wildcards', () => {
    expect(addressPattern(template)).toBe('orders.*.status');
    expect(addressPattern(template, { orderId: '42' })).toBe('orders.42.status');
    expect(addressPattern('a.{x}.{y}', { y: 'b' })).toBe('a.*.b');
    expect(addressPattern('a.pre-{x}.c')).toBe('a.*.c');
    expect(() => addressPattern(template, { orderId: 'a.b' })).toThrow(ValidationError);
  });

  it('parses parameters back from a concrete topic', () => {
    expect(parseAddress(template, 'orders.42.status')).toEqual({ orderId: '42' });
    expect(parseAddress('a.pre-{x}.{y}', 'a.pre-1.2')).toEqual({ x: '1', y: '2' });
    expect(parseAddress(template, 'orders.4.2.status')).toBeUndefined();
    expect(parseAddress(template, 'orders.42.other')).toBeUndefined();
    expect(parseAddress('a+b.{x}', 'a+b.1')).toEqual({ x: '1' });
    expect(parseAddress('plain', 'plain')).toEqual({});
  });

  it('round-trips build → parse', () => {
    const params = { orderId: 'ab-12_x' };
    expect(parseAddress(template, buildAddress(template, params))).toEqual(params);
  });

  it('adds params to metadata without detaching ack/nack', async () => {
    let acked = 0;
    const metadata: MessageMetadata = { messageId: 'm', correlationId: 'c', headers: { h: 'v' }, topic: 't', key: undefined, timestamp: new Date(0), attempt: 2, redelivered: true, ack: async () => void acked++, nack: async () => {} };
    const meta = withParams(metadata, { id: '1' });
    expect(meta).toMatchObject({ messageId: 'm', correlationId: 'c', headers: { h: 'v' }, attempt: 2, redelivered: true, params: { id: '1' } });
    await meta.ack();
    expect(acked).toBe(1);
  });

  it('stringifies typed headers for the wire', () => {
    expect(toWireHeaders({ a: 'x', n: 5, b: false, o: { k: 1 }, u: undefined })).toEqual({ a: 'x', n: '5', b: 'false', o: '{"k":1}' });
    expect(toWireHeaders(undefined)).toBeUndefined();
  });
});

describe('zod validators', () => {
  const schema = z.object({ id: z.guid(), n: z.int().gte(0), tags: z.array(z.string()).default([]) });

  it('returns the parsed value (defaults applied)', () => {
    const validate = zodValidator(schema, { topic: 't', direction: 'incoming' });
    expect(validate({ id: '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00', n: 1 })).toEqual({ id: '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00', n: 1, tags: [] });
  });

  it('throws a non-retryable ValidationError with mapped issues, direction and topic', () => {
    const validate = zodValidator(schema, { topic: 'orders', direction: 'incoming' });
    let caught: unknown;
    try {
      validate({ id: 'x', n: -1 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    const error = caught as ValidationError;
    expect(error).toMatchObject({ direction: 'incoming', topic: 'orders', retryable: false, code: 'VALIDATION_FAILED' });
    expect(error.issues.map((i) => i.path)).toEqual([['id'], ['n']]);
    expect(error.message).toContain('orders');
    expect(error.message).toContain('id:');
  });

  it('wire headers: strings as they arrive, typed values JSON-decoded, invalid sets rejected as headers', () => {
    const headers = wireHeadersValidator(z.object({ correlationId: z.string(), priority: z.int().optional(), urgent: z.boolean().optional() }), { topic: 't', direction: 'incoming' });
    expect(headers({ correlationId: '123', traceparent: 'x' })).toEqual({ correlationId: '123' });
    expect(headers({ correlationId: 'c', priority: '5', urgent: 'true' })).toEqual({ correlationId: 'c', priority: 5, urgent: true });
    expect(() => headers({ priority: '5' })).toThrow(/Incoming headers/);
    expect(() => headers({ correlationId: 'c', priority: 'high' })).toThrow(ValidationError);
  });

  it('assertValid checks one-off outgoing values', () => {
    expect(() => assertValid(schema, {}, { topic: 't', direction: 'outgoing', subject: 'headers' })).toThrow(/Outgoing headers/);
  });

  it('maps nested paths and keeps numeric indices', () => {
    const result = z.object({ a: z.array(z.object({ b: z.string() })) }).safeParse({ a: [{ b: 1 }] });
    expect(result.success).toBe(false);
    if (!result.success) expect(toValidationIssues(result.error.issues)[0]?.path).toEqual(['a', 0, 'b']);
  });

  it('the compiled fast path agrees with zod on valid and invalid input', () => {
    const validate = zodValidator(schema, { topic: 't', direction: 'incoming' });
    for (const value of [{ id: '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00', n: 0 }, { id: 'nope', n: 0 }, null, { id: '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00', n: 1.5 }]) {
      const expected = schema.safeParse(value);
      let ok = true;
      try {
        validate(value);
      } catch {
        ok = false;
      }
      expect(ok).toBe(expected.success);
    }
  });
});
