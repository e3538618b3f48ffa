import { describe, expect, it } from 'vitest';
import { ConfigurationError, MalformedMessageError, NonRetryableError, ValidationError } from '../core/errors.ts';
import { HEADER } from '../core/headers.ts';
import { deadLetterHeaders, deadLetterReasonFor, deadLetterTopicFor, MAX_DLQ_TEXT_LENGTH, readDeadLetterInfo, stripDeadLetterHeaders } from './dead-letter.ts';

describe('deadLetterTopicFor', () => {
  it('defaults to <topic>.dlq, honours a suffix and an explicit topic', () => {
    expect(deadLetterTopicFor('orders.created')).toBe('orders.created.dlq');
    expect(deadLetterTopicFor('orders', { dlqSuffix: '-dead' })).toBe('orders-dead');
    expect(deadLetterTopicFor('orders', { deadLetterTopic: 'shop.dlq', dlqSuffix: '-x' })).toBe('shop.dlq');
  });

  it('refuses a dead-letter topic equal to the source topic', () => {
    expect(() => deadLetterTopicFor('orders', { deadLetterTopic: 'orders' })).toThrow(ConfigurationError);
    expect(() => deadLetterTopicFor('orders', { dlqSuffix: '' })).toThrow(ConfigurationError);
    expect(() => deadLetterTopicFor('orders', { deadLetterTopic: '' })).toThrow(ConfigurationError);
  });
});

describe('deadLetterHeaders / readDeadLetterInfo', () => {
  const first = new Date('2026-01-02T03:04:05.678Z');
  const last = new Date('2026-01-02T03:04:09.000Z');

  it('writes every field under the agreed header names and reads them back', () => {
    const headers = deadLetterHeaders({
      reason: 'max retries exceeded',
      error: new TypeError('cannot read x'),
      attempts: 4,
      originalTopic: 'orders',
      firstFailureAt: first,
      lastFailureAt: last.getTime(),
    });
    expect(headers).toEqual({
      [HEADER.dlqReason]: 'max retries exceeded',
      [HEADER.dlqErrorName]: 'TypeError',
      [HEADER.dlqErrorMessage]: 'cannot read x',
      [HEADER.dlqAttempts]: '4',
      [HEADER.dlqOriginalTopic]: 'orders',
      [HEADER.dlqFirstFailure]: '2026-01-02T03:04:05.678Z',
      [HEADER.dlqLastFailure]: '2026-01-02T03:04:09.000Z',
    });
    expect(readDeadLetterInfo(headers)).toEqual({
      reason: 'max retries exceeded',
      errorName: 'TypeError',
      errorMessage: 'cannot read x',
      attempts: 4,
      originalTopic: 'orders',
      firstFailureAt: first,
      lastFailureAt: last,
    });
  });

  it('names contractbus error classes (a validation failure is recognisable in the DLQ)', () => {
    const headers = deadLetterHeaders({ reason: 'validation failed', error: new ValidationError('bad payload', [{ path: ['id'], message: 'Required' }]), attempts: 1, originalTopic: 't' });
    expect(headers[HEADER.dlqErrorName]).toBe('ValidationError');
    expect(headers[HEADER.dlqErrorMessage]).toBe('bad payload: id: Required');
  });

  it('describes non-Error throwables without failing', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(deadLetterHeaders({ reason: 'r', error: 'plain string', attempts: 1, originalTopic: 't' })[HEADER.dlqErrorMessage]).toBe('plain string');
    expect(deadLetterHeaders({ reason: 'r', error: { code: 7 }, attempts: 1, originalTopic: 't' })[HEADER.dlqErrorMessage]).toBe('{"code":7}');
    expect(deadLetterHeaders({ reason: 'r', error: cyclic, attempts: 1, originalTopic: 't' })[HEADER.dlqErrorMessage]).toBe('[object Object]');
    expect(deadLetterHeaders({ reason: 'r', error: 42, attempts: 1, originalTopic: 't' })[HEADER.dlqErrorName]).toBe('number');
  });

  it('truncates long text, keeps it on one line, and never splits a surrogate pair', () => {
    const long = `line1\nline2\r\n${'x'.repeat(5000)}`;
    const headers = deadLetterHeaders({ reason: long, error: new Error(long), attempts: 2, originalTopic: 't' });
    const message = headers[HEADER.dlqErrorMessage] ?? '';
    expect(message.length).toBe(MAX_DLQ_TEXT_LENGTH);
    expect(message.startsWith('line1 line2 xxx')).toBe(true);
    expect(message.endsWith('…')).toBe(true);
    expect(headers[HEADER.dlqReason]?.length).toBe(MAX_DLQ_TEXT_LENGTH);

    const emoji = `${'a'.repeat(MAX_DLQ_TEXT_LENGTH - 2)}😀😀😀`;
    const cut = deadLetterHeaders({ reason: emoji, attempts: 1, originalTopic: 't' })[HEADER.dlqReason] ?? '';
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/); // no lone high surrogate
    expect(cut.length).toBeLessThanOrEqual(MAX_DLQ_TEXT_LENGTH);
  });

  it('fills a missing first/last failure time from the other and omits error headers without an error', () => {
    const headers = deadLetterHeaders({ reason: 'expired', attempts: 0, originalTopic: 't', lastFailureAt: last });
    expect(headers[HEADER.dlqFirstFailure]).toBe(last.toISOString());
    expect(headers[HEADER.dlqErrorName]).toBeUndefined();
    const info = readDeadLetterInfo(headers);
    expect(info?.errorName).toBeUndefined();
    expect(info?.attempts).toBe(0);
  });

  it('returns undefined for headers that are not dead-letter headers and tolerates garbage values', () => {
    expect(readDeadLetterInfo({ foo: 'bar' })).toBeUndefined();
    const info = readDeadLetterInfo({ [HEADER.dlqReason]: 'r', [HEADER.dlqOriginalTopic]: 't', [HEADER.dlqAttempts]: 'nope', [HEADER.dlqFirstFailure]: 'not a date' });
    expect(info).toMatchObject({ attempts: 0, firstFailureAt: undefined });
  });
});

describe('stripDeadLetterHeaders', () => {
  it('removes only the dead-letter headers and does not mutate its input', () => {
    const dlq = deadLetterHeaders({ reason: 'r', error: new Error('e'), attempts: 3, originalTopic: 'orders', firstFailureAt: 0, lastFailureAt: 1 });
    const input = { ...dlq, 'user-header': 'keep', [HEADER.attempt]: '3', traceparent: '00-abc-def-01' };
    const stripped = stripDeadLetterHeaders(input);
    expect(stripped).toEqual({ 'user-header': 'keep', [HEADER.attempt]: '3', traceparent: '00-abc-def-01' });
    expect(readDeadLetterInfo(input)).toBeDefined();
  });
});

describe('deadLetterReasonFor', () => {
  it('classifies poison input apart from a handler that kept failing', () => {
    expect(deadLetterReasonFor(new ValidationError('bad', []), 1)).toBe('validation failed');
    expect(deadLetterReasonFor(new MalformedMessageError('not JSON'), 1)).toBe('malformed message');
    expect(deadLetterReasonFor(new NonRetryableError('no'), 1)).toBe('non-retryable error');
    expect(deadLetterReasonFor(new Error('db down'), 4)).toBe('handler failed after 4 attempts');
    expect(deadLetterReasonFor('thrown string', 1)).toBe('handler failed after 1 attempt');
  });
});
