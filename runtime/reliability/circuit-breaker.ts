/**
 * Circuit breaker: after `failureThreshold` consecutive failures of a dependency, stop calling it
 * for `recoveryTimeout` ms, then let `halfOpenMaxCalls` trial calls through; if they succeed, close
 * again, if one fails, open again. Stops a consumer from hammering (and dead-lettering everything
 * into) a dependency that is down. Same states as Watermill's middleware/circuit_breaker.go
 * (gobreaker) and the seed's Python `MessageCircuitBreaker`.
 */
import { EventEmitter } from 'node:events';
import { CircuitOpenError, ConfigurationError, isRetryable } from '../core/errors.ts';

export type CircuitState = 'closed' | 'open' | 'half-open';

type ErrorClass = abstract new (...args: never[]) => Error;

export interface CircuitBreakerOptions {
  /** Consecutive counted failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long the circuit stays open before a trial call, in ms. Default 30 000. */
  recoveryTimeout?: number;
  /**
   * Which errors count as failures of the protected dependency; others pass through without
   * counting (and without counting as success). Default: every error except terminal ones
   * (`isRetryable(error) === false`, e.g. a `ValidationError`): a poison message says nothing
   * about the dependency's health.
   */
  expectedException?: ErrorClass | ErrorClass[] | ((error: unknown) => boolean);
  /** Trial calls let through at once while half-open; that many successes close the circuit. Default 1. */
  halfOpenMaxCalls?: number;
  /** Used in errors and events, e.g. the handler or dependency name. */
  name?: string;
  /** Clock in epoch ms; injectable so tests need no sleeps. Default `Date.now`. */
  now?: () => number;
}

export interface CircuitBreakerStats {
  state: CircuitState;
  /** Counted failures since creation. */
  failures: number;
  successes: number;
  /** Calls refused because the circuit was open (or half-open and full). */
  rejected: number;
  consecutiveFailures: number;
  /** Epoch ms when the circuit last opened; undefined if it is not open. */
  openedAt: number | undefined;
}

interface CircuitBreakerEvents {
  stateChange: [from: CircuitState, to: CircuitState];
}

export class MessageCircuitBreaker extends EventEmitter<CircuitBreakerEvents> {
  readonly name: string;
  readonly failureThreshold: number;
  readonly recoveryTimeout: number;
  readonly halfOpenMaxCalls: number;
  readonly #counts: (error: unknown) => boolean;
  readonly #now: () => number;
  #state: CircuitState = 'closed';
  #openedAt: number | undefined;
  #consecutiveFailures = 0;
  #failures = 0;
  #successes = 0;
  #rejected = 0;
  #halfOpenInFlight = 0;
  #halfOpenSuccesses = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    super();
    this.name = options.name ?? 'circuit-breaker';
    this.failureThreshold = options.failureThreshold ?? 5;
    this.recoveryTimeout = options.recoveryTimeout ?? 30_000;
    this.halfOpenMaxCalls = options.halfOpenMaxCalls ?? 1;
    this.#now = options.now ?? Date.now;
    this.#counts = failureMatcher(options.expectedException);
    if (!Number.isInteger(this.failureThreshold) || this.failureThreshold < 1) {
      throw new ConfigurationError(`circuit breaker "${this.name}": failureThreshold must be an integer >= 1, got ${String(this.failureThreshold)}`);
    }
    if (!Number.isFinite(this.recoveryTimeout) || this.recoveryTimeout < 0) {
      throw new ConfigurationError(`circuit breaker "${this.name}": recoveryTimeout must be a finite number of ms >= 0, got ${String(this.recoveryTimeout)}`);
    }
    if (!Number.isInteger(this.halfOpenMaxCalls) || this.halfOpenMaxCalls < 1) {
      throw new ConfigurationError(`circuit breaker "${this.name}": halfOpenMaxCalls must be an integer >= 1, got ${String(this.halfOpenMaxCalls)}`);
    }
  }

  /** Current state; an open circuit whose recovery timeout has passed reads (and becomes) half-open. */
  get state(): CircuitState {
    this.#refresh();
    return this.#state;
  }

  /** When an open circuit will let a trial call through; undefined unless open. */
  get retryAt(): Date | undefined {
    this.#refresh();
    return this.#state === 'open' && this.#openedAt !== undefined ? new Date(this.#openedAt + this.recoveryTimeout) : undefined;
  }

  get stats(): CircuitBreakerStats {
    this.#refresh();
    return {
      state: this.#state,
      failures: this.#failures,
      successes: this.#successes,
      rejected: this.#rejected,
      consecutiveFailures: this.#consecutiveFailures,
      openedAt: this.#state === 'open' ? this.#openedAt : undefined,
    };
  }

  /**
   * Admission for one call: true means "go ahead, then report with recordSuccess/recordFailure"
   * (in half-open it reserves one of the trial slots). false counts as a rejected call.
   */
  canAttempt(): boolean {
    this.#refresh();
    if (this.#state === 'closed') return true;
    if (this.#state === 'half-open' && this.#halfOpenInFlight < this.halfOpenMaxCalls) {
      this.#halfOpenInFlight++;
      return true;
    }
    this.#rejected++;
    return false;
  }

  recordSuccess(): void {
    this.#successes++;
    if (this.#state === 'closed') {
      this.#consecutiveFailures = 0;
    } else if (this.#state === 'half-open' && this.#halfOpenInFlight > 0) {
      // Only results of trial calls decide; a late result of a call admitted earlier does not.
      this.#halfOpenInFlight--;
      this.#halfOpenSuccesses++;
      if (this.#halfOpenSuccesses >= this.halfOpenMaxCalls) this.#transition('closed');
    }
  }

  /** Counts `error` if it is an expected exception; otherwise only frees a half-open trial slot. */
  recordFailure(error: unknown): void {
    if (!this.#counts(error)) {
      if (this.#state === 'half-open' && this.#halfOpenInFlight > 0) this.#halfOpenInFlight--;
      return;
    }
    this.#failures++;
    if (this.#state === 'closed') {
      this.#consecutiveFailures++;
      if (this.#consecutiveFailures >= this.failureThreshold) this.#transition('open');
    } else if (this.#state === 'half-open') {
      this.#consecutiveFailures++;
      this.#transition('open');
    }
  }

  /** Runs `fn` if the circuit allows it; throws `CircuitOpenError` without calling it otherwise. */
  async execute<T>(fn: () => Promise<T> | T): Promise<T> {
    if (!this.canAttempt()) throw this.openError();
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      this.recordFailure(error);
      throw error;
    }
    this.recordSuccess();
    return result;
  }

  /** `fn` guarded by this breaker; `this` and arguments pass through. */
  wrap<This, Args extends unknown[], Result>(fn: (this: This, ...args: Args) => Promise<Result> | Result): (this: This, ...args: Args) => Promise<Result> {
    const breaker = this;
    return function guarded(this: This, ...args: Args): Promise<Result> {
      return breaker.execute(() => fn.apply(this, args));
    };
  }

  /** Back to closed with counters of the current streak cleared (e.g. after a manual fix). */
  reset(): void {
    this.#consecutiveFailures = 0;
    this.#transition('closed');
  }

  /** The error `execute` throws when it refuses a call; for callers using `canAttempt` directly. */
  openError(): CircuitOpenError {
    const retryAt = this.retryAt;
    if (this.#state === 'half-open' || retryAt === undefined) {
      return new CircuitOpenError(`Circuit breaker "${this.name}" is half-open and already testing the dependency with ${this.halfOpenMaxCalls} trial call(s)`, {
        hint: 'Retry shortly: the circuit closes when the trial succeeds, or opens again if it fails',
      });
    }
    const waitMs = Math.max(0, retryAt.getTime() - this.#now());
    return new CircuitOpenError(
      `Circuit breaker "${this.name}" is open after ${this.#consecutiveFailures} consecutive failures; calls are refused until ${retryAt.toISOString()} (in ${waitMs} ms)`,
      { hint: 'Check the failing dependency; the breaker lets a trial call through after recoveryTimeout' },
    );
  }

  #refresh(): void {
    if (this.#state === 'open' && this.#openedAt !== undefined && this.#now() - this.#openedAt >= this.recoveryTimeout) {
      this.#transition('half-open');
    }
  }

  #transition(to: CircuitState): void {
    const from = this.#state;
    this.#halfOpenInFlight = 0;
    this.#halfOpenSuccesses = 0;
    if (to === 'open') this.#openedAt = this.#now();
    if (to === 'closed') {
      this.#openedAt = undefined;
      this.#consecutiveFailures = 0;
    }
    if (from === to) return;
    this.#state = to;
    this.emit('stateChange', from, to);
  }
}

/**
 * Standard (TC39) method decorator: `@circuitBreaker(breaker) async call() {…}`. Also usable as a
 * plain wrapper: `circuitBreaker(breaker)(fn)`.
 */
export function circuitBreaker(breaker: MessageCircuitBreaker) {
  return function decorate<This, Args extends unknown[], Result>(
    method: (this: This, ...args: Args) => Promise<Result>,
    _context?: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Promise<Result>>,
  ): (this: This, ...args: Args) => Promise<Result> {
    return breaker.wrap(method);
  };
}

function failureMatcher(spec: CircuitBreakerOptions['expectedException']): (error: unknown) => boolean {
  if (spec === undefined) return isRetryable;
  if (Array.isArray(spec)) {
    const classes = [...spec];
    return (error) => classes.some((errorClass) => error instanceof errorClass);
  }
  if (isErrorClass(spec)) return (error) => error instanceof spec;
  if (typeof spec === 'function') return spec as (error: unknown) => boolean;
  throw new ConfigurationError('circuit breaker expectedException must be an error class, an array of them, or a predicate');
}

function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === 'function' && (value === Error || value.prototype instanceof Error);
}
