/**
 * Reconnection: how long to wait before each reconnect attempt and when to give up, plus a loop
 * helper that applies it. Bindings call this instead of each inventing a retry loop (STYLE.md:
 * "retry loops without delay" is a thing to avoid). Jitter is on by default so a fleet of
 * consumers does not reconnect in lock-step after a broker restart (Rascal does the same).
 */
import { ConfigurationError, ConnectionError, isRetryable } from '../core/errors.ts';
import { backoffDelay, validateBackoff } from './backoff.ts';
import { sleep } from './retry.ts';

export { backoffDelay, type BackoffOptions } from './backoff.ts';
export { BoundedPublishBuffer, type BoundedPublishBufferOptions, type BufferPushOptions } from './publish-buffer.ts';

export interface ReconnectOptions {
  /** false: never reconnect; `nextDelay` always gives up. Default true. */
  autoReconnect?: boolean;
  /** Delay before the first reconnect attempt, ms. Default 500. */
  reconnectDelay?: number;
  /** Upper bound of one delay, ms. Default 30 000. */
  maxReconnectDelay?: number;
  /** Reconnect attempts before giving up. Default Infinity (a service should outlive a broker restart). */
  maxReconnectAttempts?: number;
  /** ±ratio in [0, 1], or 'full' (uniform in [0, delay]); see `backoffDelay`. Default 0.2. */
  jitter?: number | 'full';
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Injectable randomness for tests. */
  random?: () => number;
}

export interface ReconnectRetryInfo {
  /** The reconnect attempt about to be made (1 = first retry after the initial failure). */
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface ReconnectRunOptions {
  signal?: AbortSignal;
  onRetry?: (info: ReconnectRetryInfo) => void;
  /** Named in the error when giving up, e.g. 'rabbitmq'. */
  broker?: string;
}

export class ReconnectPolicy {
  readonly autoReconnect: boolean;
  readonly maxReconnectAttempts: number;
  readonly #backoff: { initialDelay: number; factor: number; maxDelay: number; jitter: number | 'full'; random: () => number };

  constructor(options: ReconnectOptions = {}) {
    this.autoReconnect = options.autoReconnect ?? true;
    this.maxReconnectAttempts = options.maxReconnectAttempts ?? Infinity;
    this.#backoff = {
      initialDelay: options.reconnectDelay ?? 500,
      factor: options.factor ?? 2,
      maxDelay: options.maxReconnectDelay ?? 30_000,
      jitter: options.jitter ?? 0.2,
      random: options.random ?? Math.random,
    };
    validateBackoff(this.#backoff, { initialDelay: 'reconnectDelay', factor: 'reconnect factor', maxDelay: 'maxReconnectDelay', jitter: 'reconnect jitter' });
    if (!(Number.isInteger(this.maxReconnectAttempts) || this.maxReconnectAttempts === Infinity) || this.maxReconnectAttempts < 0) {
      throw new ConfigurationError(`maxReconnectAttempts must be an integer >= 0 or Infinity, got ${String(this.maxReconnectAttempts)}`);
    }
  }

  /** Delay before reconnect attempt number `attempt` (1-based), or undefined: give up. */
  nextDelay(attempt: number): number | undefined {
    if (!this.autoReconnect || attempt > this.maxReconnectAttempts) return undefined;
    return backoffDelay(attempt, this.#backoff);
  }

  /**
   * Calls `connect(attempt)` (0 = the initial connect, n = reconnect attempt n) until it resolves, waiting `nextDelay` between failures. Rethrows at once an
   * error classified terminal (`isRetryable(error) === false`, e.g. bad credentials reported as a
   * ConfigurationError); gives up with a `ConnectionError` (cause: the last error) when the policy
   * does; rejects with `signal.reason` when aborted.
   */
  async run<T>(connect: (attempt: number) => Promise<T>, options: ReconnectRunOptions = {}): Promise<T> {
    const { signal, onRetry } = options;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      try {
        return await connect(attempt);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (!isRetryable(error)) throw error;
        const delayMs = this.nextDelay(attempt + 1);
        if (delayMs === undefined) {
          const what = options.broker ? `broker ${options.broker}` : 'the broker';
          const tries = attempt + 1;
          throw new ConnectionError(
            this.autoReconnect
              ? `Could not connect to ${what} after ${tries} attempt${tries === 1 ? '' : 's'} (maxReconnectAttempts ${this.maxReconnectAttempts})`
              : `Could not connect to ${what} and autoReconnect is off`,
            { broker: options.broker, cause: error, hint: 'Check that the broker is running and reachable at the configured URL, then connect again' },
          );
        }
        onRetry?.({ attempt: attempt + 1, delayMs, error });
        await sleep(delayMs, signal);
      }
    }
  }
}
