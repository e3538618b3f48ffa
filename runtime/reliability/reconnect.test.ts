import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, ConnectionError } from '../core/errors.ts';
import { ReconnectPolicy } from './reconnect.ts';

describe('ReconnectPolicy.nextDelay', () => {
  it('defaults: 500 ms doubling to a 30 s cap, never gives up', () => {
    const policy = new ReconnectPolicy({ jitter: 0 });
    expect([1, 2, 3, 4].map((a) => policy.nextDelay(a))).toEqual([500, 1000, 2000, 4000]);
    expect(policy.nextDelay(50)).toBe(30_000);
    expect(policy.nextDelay(1_000_000)).toBe(30_000);
  });

  it('gives up after maxReconnectAttempts, or at once without autoReconnect', () => {
    const policy = new ReconnectPolicy({ maxReconnectAttempts: 2, jitter: 0 });
    expect(policy.nextDelay(2)).toBe(1000);
    expect(policy.nextDelay(3)).toBeUndefined();
    expect(new ReconnectPolicy({ autoReconnect: false }).nextDelay(1)).toBeUndefined();
  });

  it('keeps jitter within ±ratio and under the cap; full jitter within [0, delay]', () => {
    let seed = 3;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const ratio = new ReconnectPolicy({ reconnectDelay: 100, maxReconnectDelay: 1000, jitter: 0.5, random });
    const full = new ReconnectPolicy({ reconnectDelay: 100, maxReconnectDelay: 1000, jitter: 'full', random });
    for (let i = 0; i < 1000; i++) {
      const attempt = 1 + (i % 8);
      const base = Math.min(1000, 100 * 2 ** (attempt - 1));
      const r = ratio.nextDelay(attempt) ?? -1;
      expect(r).toBeGreaterThanOrEqual(base * 0.5);
      expect(r).toBeLessThanOrEqual(Math.min(1000, base * 1.5));
      const f = full.nextDelay(attempt) ?? -1;
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThanOrEqual(base);
    }
  });

  it('rejects bad options', () => {
    expect(() => new ReconnectPolicy({ reconnectDelay: -1 })).toThrow(ConfigurationError);
    expect(() => new ReconnectPolicy({ maxReconnectAttempts: -1 })).toThrow(ConfigurationError);
    expect(() => new ReconnectPolicy({ jitter: 2 })).toThrow(ConfigurationError);
  });
});

describe('ReconnectPolicy.run', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries with the policy delays until connect succeeds', async () => {
    const policy = new ReconnectPolicy({ reconnectDelay: 100, jitter: 0 });
    const connect = vi.fn(async (attempt: number) => {
      if (attempt < 2) throw new Error(`ECONNREFUSED ${attempt}`);
      return 'connection';
    });
    const onRetry = vi.fn();
    const result = policy.run(connect, { onRetry });
    await vi.advanceTimersByTimeAsync(0);
    expect(connect).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(connect).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(200);
    await expect(result).resolves.toBe('connection');
    expect(onRetry.mock.calls.map(([info]) => [info.attempt, info.delayMs])).toEqual([[1, 100], [2, 200]]);
  });

  it('gives up with a ConnectionError naming the broker and carrying the last error', async () => {
    const policy = new ReconnectPolicy({ reconnectDelay: 10, maxReconnectAttempts: 2, jitter: 0 });
    const last = new Error('ECONNREFUSED 127.0.0.1:5672');
    const result = policy.run(async () => { throw last; }, { broker: 'rabbitmq' });
    const assertion = expect(result).rejects.toSatisfy((error: unknown) => {
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as ConnectionError).message).toMatch(/broker rabbitmq after 3 attempts.*Check that the broker is running/);
      expect((error as ConnectionError).cause).toBe(last);
      return true;
    });
    await vi.runAllTimersAsync();
    await assertion;
  });

  it('does not retry terminal errors', async () => {
    const connect = vi.fn(async () => {
      throw new ConfigurationError('bad URL');
    });
    await expect(new ReconnectPolicy().run(connect)).rejects.toBeInstanceOf(ConfigurationError);
    expect(connect).toHaveBeenCalledTimes(1);
  });

  it('stops when the signal aborts, clearing its timer', async () => {
    const controller = new AbortController();
    const result = new ReconnectPolicy({ reconnectDelay: 10_000 }).run(async () => { throw new Error('down'); }, { signal: controller.signal });
    const assertion = expect(result).rejects.toThrow('closing');
    await vi.advanceTimersByTimeAsync(5);
    controller.abort(new Error('closing'));
    await assertion;
    expect(vi.getTimerCount()).toBe(0);
  });
});
