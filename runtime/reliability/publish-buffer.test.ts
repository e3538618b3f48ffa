import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BufferFullError, ConfigurationError, TimeoutError } from '../core/errors.ts';
import { BoundedPublishBuffer } from './reconnect.ts';

describe('BoundedPublishBuffer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('has safe default bounds', () => {
    const buffer = new BoundedPublishBuffer<string>();
    expect([buffer.maxMessages, buffer.maxBytes]).toEqual([10_000, 16 * 1024 * 1024]);
  });

  it('bounds by count and fails fast with a clear BufferFullError', () => {
    const buffer = new BoundedPublishBuffer<string>({ maxMessages: 2, maxBytes: 1000, broker: 'kafka' });
    buffer.push('a', 10);
    buffer.push('b', 10);
    expect(buffer.fill).toBe(1);
    let error: unknown;
    try {
      buffer.push('c', 10, { topic: 'orders' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BufferFullError);
    const message = (error as Error).message;
    expect(message).toContain('topic "orders"');
    expect(message).toContain('kafka is unreachable');
    expect(message).toContain('2/2 messages');
    expect(message).toMatch(/Wait for the broker/);
    expect(buffer.size).toBe(2);
  });

  it('bounds by bytes, including a single message larger than the buffer', () => {
    const buffer = new BoundedPublishBuffer<string>({ maxMessages: 100, maxBytes: 100 });
    buffer.push('a', 60);
    expect(buffer.fill).toBeCloseTo(0.6);
    expect(() => buffer.push('b', 41)).toThrow(BufferFullError);
    buffer.push('b', 40);
    expect(buffer.bytes).toBe(100);
    const empty = new BoundedPublishBuffer<string>({ maxBytes: 10 });
    expect(() => empty.push('huge', 11)).toThrow(/larger than the whole buffer/);
  });

  it('shifts and drains oldest first and frees space', () => {
    const buffer = new BoundedPublishBuffer<number>({ maxMessages: 3 });
    [1, 2, 3].forEach((n) => buffer.push(n, n));
    expect(buffer.shift()).toBe(1);
    buffer.push(4, 4);
    expect([...buffer.drain()]).toEqual([2, 3, 4]);
    expect([buffer.size, buffer.bytes, buffer.fill]).toEqual([0, 0, 0]);
    expect(buffer.shift()).toBeUndefined();
  });

  it('expires each item at its own deadline so its publish promise settles', async () => {
    const onExpire = vi.fn();
    const buffer = new BoundedPublishBuffer<string>({ onExpire, timeoutMs: 1000, broker: 'redis' });
    buffer.push('default-deadline', 1, { topic: 'a' });
    buffer.push('short', 1, { deadline: Date.now() + 100, topic: 'b' });
    buffer.push('long', 1, { deadline: Date.now() + 5000 });
    await vi.advanceTimersByTimeAsync(100);
    expect(onExpire).toHaveBeenCalledTimes(1);
    const [item, error] = onExpire.mock.calls[0] ?? [];
    expect(item).toBe('short');
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/topic "b".*redis/);
    expect(buffer.size).toBe(2);
    await vi.advanceTimersByTimeAsync(900);
    expect(onExpire.mock.calls.map(([i]) => i)).toEqual(['short', 'default-deadline']);
    expect(buffer.shift()).toBe('long');
    expect(vi.getTimerCount()).toBe(0); // shifting cancelled the item's timer
  });

  it('handles deadlines beyond the longest Node timer without expiring early', async () => {
    const onExpire = vi.fn();
    const buffer = new BoundedPublishBuffer<string>({ onExpire });
    const farAway = Date.now() + 30 * 24 * 60 * 60 * 1000; // 30 days > 2^31-1 ms
    buffer.push('patient', 1, { deadline: farAway });
    await vi.advanceTimersByTimeAsync(25 * 24 * 60 * 60 * 1000);
    expect(onExpire).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(5 * 24 * 60 * 60 * 1000);
    expect(onExpire).toHaveBeenCalledWith('patient', expect.any(TimeoutError));
  });

  it('does not hand out an item whose deadline passed before its timer ran', () => {
    const onExpire = vi.fn();
    const buffer = new BoundedPublishBuffer<string>({ onExpire });
    buffer.push('stale', 1, { deadline: Date.now() + 10 });
    buffer.push('fresh', 1, { deadline: Date.now() + 10_000 });
    vi.setSystemTime(Date.now() + 20); // the clock moves but timers have not fired
    expect([...buffer.drain()]).toEqual(['fresh']);
    expect(onExpire).toHaveBeenCalledWith('stale', expect.any(TimeoutError));
  });

  it('never expires items without onExpire, and clear() returns everything', async () => {
    const buffer = new BoundedPublishBuffer<string>({ timeoutMs: 10 });
    buffer.push('x', 1);
    buffer.push('y', 2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(buffer.clear()).toEqual(['x', 'y']);
    expect([buffer.size, buffer.bytes]).toEqual([0, 0]);
  });

  it('rejects nonsense sizes and options', () => {
    const buffer = new BoundedPublishBuffer<string>();
    expect(() => buffer.push('x', -1)).toThrow(ConfigurationError);
    expect(() => buffer.push('x', Number.NaN)).toThrow(ConfigurationError);
    expect(() => new BoundedPublishBuffer({ maxMessages: -1 })).toThrow(ConfigurationError);
    expect(() => new BoundedPublishBuffer({ timeoutMs: 0 })).toThrow(ConfigurationError);
  });
});
