import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, NonRetryableError, ValidationError } from '../core/errors.ts';
import { backoffDelay, MAX_TIMER_DELAY } from './backoff.ts';
import { retryable, retryPolicy } from './retry.ts';

class TransientError extends Error {}
class OtherError extends Error {}

describe('retryPolicy', () => {
  it('uses the documented defaults: 3 retries, 200 ms doubling, 30 s cap, ±20 % jitter', () => {
    const policy = retryPolicy({ random: () => 0.5 }); // 0.5 = no jitter offset
    expect(policy.maxRetries).toBe(3);
    expect([1, 2, 3, 4].map((a) => policy.delayFor(a))).toEqual([200, 400, 800, 1600]);
    expect(policy.delayFor(100)).toBe(30_000);
  });

  it('retries attempts 1..maxRetries and stops after', () => {
    const policy = retryPolicy({ maxRetries: 2 });
    expect(policy.shouldRetry(new Error('x'), 1)).toBe(true);
    expect(policy.shouldRetry(new Error('x'), 2)).toBe(true);
    expect(policy.shouldRetry(new Error('x'), 3)).toBe(false);
    expect(retryPolicy({ maxRetries: 0 }).shouldRetry(new Error('x'), 1)).toBe(false);
  });

  it('grows exponentially and caps at maxDelay', () => {
    const policy = retryPolicy({ initialDelay: 100, backoffFactor: 3, maxDelay: 2000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map((a) => policy.delayFor(a))).toEqual([100, 300, 900, 2000, 2000, 2000]);
    // No overflow to NaN for absurd attempt numbers.
    expect(policy.delayFor(10_000)).toBe(2000);
  });

  it('accepts retryDelay as an alias of initialDelay and rejects disagreeing aliases', () => {
    expect(retryPolicy({ retryDelay: 50, jitter: 0 }).delayFor(1)).toBe(50);
    expect(() => retryPolicy({ retryDelay: 50, initialDelay: 60 })).toThrow(ConfigurationError);
  });

  it('keeps jittered delays within ±jitter of the exponential value and below the cap', () => {
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const policy = retryPolicy({ initialDelay: 1000, backoffFactor: 2, maxDelay: 5000, jitter: 0.2, random });
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const attempt = 1 + (i % 5);
      const base = Math.min(5000, 1000 * 2 ** (attempt - 1));
      const delay = policy.delayFor(attempt);
      expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.8));
      expect(delay).toBeLessThanOrEqual(Math.min(5000, Math.ceil(base * 1.2)));
      seen.add(delay);
    }
    expect(seen.size).toBeGreaterThan(100); // actually spread, not constant
    // Extremes of the random source hit the bounds exactly.
    expect(retryPolicy({ initialDelay: 1000, jitter: 0.2, random: () => 0 }).delayFor(1)).toBe(800);
    expect(retryPolicy({ initialDelay: 1000, jitter: 0.2, random: () => 0.999999 }).delayFor(1)).toBe(1200);
  });

  it('retries only listed error classes (subclasses included)', () => {
    class SubTransient extends TransientError {}
    const policy = retryPolicy({ retryOn: [TransientError] });
    expect(policy.shouldRetry(new TransientError(), 1)).toBe(true);
    expect(policy.shouldRetry(new SubTransient(), 1)).toBe(true);
    expect(policy.shouldRetry(new OtherError(), 1)).toBe(false);
    expect(policy.shouldRetry('a string', 1)).toBe(false);
  });

  it('retries what a predicate accepts', () => {
    const policy = retryPolicy({ retryOn: (e) => e instanceof Error && e.message.includes('timeout') });
    expect(policy.shouldRetry(new Error('socket timeout'), 1)).toBe(true);
    expect(policy.shouldRetry(new Error('bad request'), 1)).toBe(false);
  });

  it('never retries NonRetryableError or ValidationError, even when retryOn says yes', () => {
    const everything = retryPolicy({ retryOn: () => true, maxRetries: 10 });
    expect(everything.shouldRetry(new NonRetryableError('poison'), 1)).toBe(false);
    expect(everything.shouldRetry(new ValidationError('bad payload', [{ path: ['id'], message: 'required' }]), 1)).toBe(false);
    expect(retryPolicy({ retryOn: [NonRetryableError] }).shouldRetry(new NonRetryableError('x'), 1)).toBe(false);
  });

  it('rejects nonsense options with a ConfigurationError naming the option', () => {
    expect(() => retryPolicy({ maxRetries: -1 })).toThrow(/maxRetries/);
    expect(() => retryPolicy({ maxRetries: 1.5 })).toThrow(ConfigurationError);
    expect(() => retryPolicy({ jitter: 1.5 })).toThrow(/jitter/);
    expect(() => retryPolicy({ backoffFactor: 0.5 })).toThrow(/backoffFactor/);
    expect(() => retryPolicy({ initialDelay: -5 })).toThrow(/initialDelay/);
    expect(() => retryPolicy({ maxRetries: Infinity })).not.toThrow();
  });
});

describe('backoffDelay', () => {
  it('never exceeds what a Node timer can wait, even with maxDelay Infinity', () => {
    const d = backoffDelay(5000, { initialDelay: 1000, factor: 2, maxDelay: Infinity, jitter: 0.2, random: () => 0.99 });
    expect(d).toBe(MAX_TIMER_DELAY);
  });

  it('full jitter stays in [0, capped exponential)', () => {
    for (const r of [0, 0.25, 0.999]) {
      const d = backoffDelay(4, { initialDelay: 100, factor: 2, maxDelay: 500, jitter: 'full', random: () => r });
      expect(d).toBe(Math.floor(r * 500));
    }
  });
});

describe('retryable', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries with backoff and returns the first success', async () => {
    let calls = 0;
    const flaky = vi.fn(async (x: number) => {
      calls++;
      if (calls < 3) throw new TransientError(`fail ${calls}`);
      return x * 2;
    });
    const onRetry = vi.fn();
    const wrapped = retryable({ initialDelay: 100, jitter: 0, onRetry })(flaky);
    const result = wrapped(21);
    await vi.advanceTimersByTimeAsync(99);
    expect(flaky).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(flaky).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(200);
    await expect(result).resolves.toBe(42);
    expect(flaky).toHaveBeenCalledTimes(3);
    expect(onRetry.mock.calls.map(([info]) => [info.attempt, info.delayMs])).toEqual([[1, 100], [2, 200]]);
  });

  it('rethrows the last error once retries are exhausted', async () => {
    let n = 0;
    const wrapped = retryable({ maxRetries: 2, initialDelay: 10, jitter: 0 })(async () => {
      throw new TransientError(`fail ${++n}`);
    });
    const result = wrapped();
    const assertion = expect(result).rejects.toThrow('fail 3');
    await vi.runAllTimersAsync();
    await assertion;
    expect(n).toBe(3);
  });

  it('does not retry a NonRetryableError', async () => {
    const fn = vi.fn(async () => {
      throw new NonRetryableError('terminal');
    });
    await expect(retryable({ maxRetries: 5 })(fn)()).rejects.toBeInstanceOf(NonRetryableError);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('does not retry errors outside retryOn', async () => {
    const fn = vi.fn(async () => {
      throw new OtherError('nope');
    });
    await expect(retryable({ retryOn: [TransientError] })(fn)()).rejects.toBeInstanceOf(OtherError);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('stops waiting when the signal aborts and rejects with its reason', async () => {
    const controller = new AbortController();
    const fn = vi.fn(async () => {
      throw new TransientError('down');
    });
    const result = retryable({ maxRetries: 10, initialDelay: 1000, signal: controller.signal })(fn)();
    const assertion = expect(result).rejects.toThrow('shutting down');
    await vi.advanceTimersByTimeAsync(10);
    controller.abort(new Error('shutting down'));
    await assertion;
    expect(fn).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0); // the pending backoff timer was cleared
  });

  it('does not call the function at all when the signal is already aborted', async () => {
    const fn = vi.fn(async () => 1);
    await expect(retryable({ signal: AbortSignal.abort(new Error('gone')) })(fn)()).rejects.toThrow('gone');
    expect(fn).not.toHaveBeenCalled();
  });

  it('keeps `this` and arguments when wrapping a method, as the decorator form does', async () => {
    // The same wrapper is the TC39 method decorator: called with (method, context).
    // The `@retryable()` syntax itself is exercised in decorators.test.ts (compiled by tsc).
    class Client {
      calls = 0;
      async send(this: Client, topic: string): Promise<string> {
        this.calls++;
        if (this.calls === 1) throw new TransientError('once');
        return `${topic}:${this.calls}`;
      }
    }
    const decorate = retryable({ initialDelay: 5, jitter: 0 });
    const context = { kind: 'method', name: 'send' } as unknown as ClassMethodDecoratorContext<Client, Client['send']>;
    const send = decorate(Client.prototype.send, context);
    const client = new Client();
    const result = send.call(client, 'orders');
    await vi.runAllTimersAsync();
    await expect(result).resolves.toBe('orders:2');
  });
});
