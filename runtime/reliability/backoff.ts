/**
 * Exponential backoff shared by message retries (retry.ts) and reconnection (reconnect.ts), so both
 * spread load the same way and are tested once.
 */
import { ConfigurationError } from '../core/errors.ts';

export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  initialDelay: number;
  /** Multiplier per attempt (>= 1). */
  factor: number;
  /** Upper bound of one delay, in ms. */
  maxDelay: number;
  /**
   * A ratio in [0, 1]: the delay is spread uniformly over ±ratio around the exponential value
   * (0.2 → 80 %–120 %), then capped at `maxDelay`. Keeps the growth readable in logs while
   * de-synchronising consumers that failed together.
   * `'full'`: "full jitter" (AWS architecture blog): uniform in [0, capped value]. Spreads a
   * thundering herd best (reconnect storms), at the price of sometimes retrying almost at once.
   */
  jitter: number | 'full';
  /** Source of randomness in [0, 1); injectable for tests. Default `Math.random`. */
  random?: () => number;
}

/**
 * Longest delay a Node timer honours; beyond it setTimeout fires after 1 ms, which would turn a
 * long backoff into a tight retry loop.
 */
export const MAX_TIMER_DELAY = 2_147_483_647;

/**
 * Delay in ms before retry number `attempt` (1-based: attempt 1 waits about `initialDelay`).
 * Never negative, never above `maxDelay` (nor `MAX_TIMER_DELAY`), always an integer number of ms.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const { initialDelay, factor, maxDelay, jitter } = options;
  const random = options.random ?? Math.random;
  const n = Math.max(1, Math.floor(attempt));
  // factor ** (n - 1) overflows to Infinity for large n; min() keeps that harmless.
  const exponential = Math.min(maxDelay, MAX_TIMER_DELAY, initialDelay * factor ** (n - 1));
  if (jitter === 'full') return Math.floor(random() * exponential);
  if (jitter === 0) return Math.round(exponential);
  const spread = exponential * jitter * (2 * random() - 1);
  return Math.round(Math.min(maxDelay, MAX_TIMER_DELAY, Math.max(0, exponential + spread)));
}

/** Throws a `ConfigurationError` naming the bad option; shared by retry and reconnect settings. */
export function validateBackoff(options: BackoffOptions, names: { initialDelay: string; factor: string; maxDelay: string; jitter: string }): void {
  const { initialDelay, factor, maxDelay, jitter } = options;
  if (!Number.isFinite(initialDelay) || initialDelay < 0) {
    throw new ConfigurationError(`${names.initialDelay} must be a finite number of ms >= 0, got ${String(initialDelay)}`);
  }
  if (!Number.isFinite(factor) || factor < 1) {
    throw new ConfigurationError(`${names.factor} must be a finite number >= 1, got ${String(factor)}`);
  }
  if (Number.isNaN(maxDelay) || maxDelay < 0) {
    throw new ConfigurationError(`${names.maxDelay} must be a number of ms >= 0, got ${String(maxDelay)}`);
  }
  if (jitter !== 'full' && (!Number.isFinite(jitter) || jitter < 0 || jitter > 1)) {
    throw new ConfigurationError(`${names.jitter} must be a ratio in [0, 1] or 'full', got ${String(jitter)}`);
  }
}
