/**
 * Retry policy for handlers (used by the consume pipeline) and `retryable`, a standalone wrapper
 * for any async function (e.g. a publish). Ideas from Watermill's middleware/retry.go
 * (exponential backoff with a cap and randomisation) and amqp-contract's worker/retry.ts
 * (terminal errors skip retries and go straight to the dead-letter topic).
 */
import { ConfigurationError, isRetryable } from '../core/errors.ts';
import type { RetryOptions } from '../core/types.ts';
import { backoffDelay, MAX_TIMER_DELAY, validateBackoff } from './backoff.ts';

export const RETRY_DEFAULTS = {
  maxRetries: 3,
  initialDelay: 200,
  backoffFactor: 2,
  maxDelay: 30_000,
  jitter: 0.2,
} as const;

export interface RetryPolicy {
  /** Retries after the first attempt (so at most `maxRetries + 1` attempts in all). */
  readonly maxRetries: number;
  /**
   * Whether to try again after attempt number `attempt` (1 = the first delivery) failed with `error`.
   * Never true for a `NonRetryableError` (or any error with `retryable === false`).
   */
  shouldRetry(error: unknown, attempt: number): boolean;
  /** Delay in ms before the next attempt, after attempt number `attempt` failed. */
  delayFor(attempt: number): number;
}

export interface RetryPolicyOptions extends RetryOptions {
  /** Source of randomness in [0, 1) for jitter; injectable for tests. Default `Math.random`. */
  random?: () => number;
}

export function retryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  const maxRetries = options.maxRetries ?? RETRY_DEFAULTS.maxRetries;
  if (!(Number.isInteger(maxRetries) || maxRetries === Infinity) || maxRetries < 0) {
    throw new ConfigurationError(`retry option maxRetries must be an integer >= 0 (or Infinity), got ${String(maxRetries)}`);
  }
  if (options.retryDelay !== undefined && options.initialDelay !== undefined && options.retryDelay !== options.initialDelay) {
    throw new ConfigurationError(
      `retry options retryDelay (${options.retryDelay}) and initialDelay (${options.initialDelay}) are aliases but disagree`,
      { hint: 'Set only one of them' },
    );
  }
  const backoff = {
    initialDelay: options.initialDelay ?? options.retryDelay ?? RETRY_DEFAULTS.initialDelay,
    factor: options.backoffFactor ?? RETRY_DEFAULTS.backoffFactor,
    maxDelay: options.maxDelay ?? RETRY_DEFAULTS.maxDelay,
    jitter: options.jitter ?? RETRY_DEFAULTS.jitter,
    random: options.random ?? Math.random,
  };
  validateBackoff(backoff, { initialDelay: 'retry option initialDelay/retryDelay', factor: 'retry option backoffFactor', maxDelay: 'retry option maxDelay', jitter: 'retry option jitter' });
  const matches = errorMatcher(options.retryOn);

  return {
    maxRetries,
    shouldRetry(error: unknown, attempt: number): boolean {
      if (attempt > maxRetries) return false;
      // Terminal errors win over retryOn: a validation failure retried is a poison message looping.
      if (!isRetryable(error)) return false;
      return matches(error);
    },
    delayFor(attempt: number): number {
      return backoffDelay(attempt, backoff);
    },
  };
}

/** `retryOn` as a predicate: error classes match by `instanceof`; absent means "every error". */
export function errorMatcher(spec: RetryOptions['retryOn']): (error: unknown) => boolean {
  if (spec === undefined) return () => true;
  if (typeof spec === 'function') return spec;
  if (!Array.isArray(spec)) throw new ConfigurationError('retryOn must be an array of error classes or a predicate function');
  const classes = [...spec];
  return (error) => classes.some((errorClass) => error instanceof errorClass);
}

export interface RetryableOptions extends RetryPolicyOptions {
  /** Stops waiting and retrying; the call rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log or count retries. */
  onRetry?: (info: { error: unknown; attempt: number; delayMs: number }) => void;
}

/**
 * Wraps an async function, or decorates an async method (TC39 standard decorators, TS 5+), with
 * the same function: `(fn, context?) => wrapped`. `this` and arguments pass through unchanged.
 */
export type RetryableWrapper = <This, Args extends unknown[], Result>(
  fn: (this: This, ...args: Args) => Promise<Result>,
  context?: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Promise<Result>>,
) => (this: This, ...args: Args) => Promise<Result>;

/**
 * `retryable({ maxRetries: 5 })(publishOrder)` or `@retryable({ maxRetries: 5 })` on a method.
 * The last error is rethrown unchanged once retries are exhausted or the error is not retried.
 */
export function retryable(options: RetryableOptions = {}): RetryableWrapper {
  const policy = retryPolicy(options);
  const { signal, onRetry } = options;
  return function wrap<This, Args extends unknown[], Result>(fn: (this: This, ...args: Args) => Promise<Result>) {
    return async function retrying(this: This, ...args: Args): Promise<Result> {
      for (let attempt = 1; ; attempt++) {
        signal?.throwIfAborted();
        try {
          return await fn.apply(this, args);
        } catch (error) {
          if (signal?.aborted || !policy.shouldRetry(error, attempt)) throw error;
          const delayMs = policy.delayFor(attempt);
          onRetry?.({ error, attempt, delayMs });
          await sleep(delayMs, signal);
        }
      }
    };
  };
}

/** setTimeout-based (so fake timers drive it) and abortable; clamped to what a Node timer honours. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.min(Math.max(0, ms), MAX_TIMER_DELAY));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
