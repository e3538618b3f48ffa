// The reliability building blocks, usable standalone or through the consume pipeline.
export { backoffDelay, MAX_TIMER_DELAY, type BackoffOptions } from './backoff.ts';
export { errorMatcher, RETRY_DEFAULTS, retryable, retryPolicy, sleep, type RetryableOptions, type RetryableWrapper, type RetryPolicy, type RetryPolicyOptions } from './retry.ts';
export {
  DEFAULT_DLQ_SUFFIX,
  deadLetterHeaders,
  deadLetterReasonFor,
  deadLetterTopicFor,
  MAX_DLQ_TEXT_LENGTH,
  readDeadLetterInfo,
  stripDeadLetterHeaders,
  type DeadLetterDetails,
  type DeadLetterInfo,
} from './dead-letter.ts';
export { KeyedConcurrencyLimiter } from './concurrency.ts';
export { MemoryIdempotencyStore, type IdempotencyStore, type MemoryIdempotencyStoreOptions } from './idempotency.ts';
export { circuitBreaker, MessageCircuitBreaker, type CircuitBreakerOptions, type CircuitBreakerStats, type CircuitState } from './circuit-breaker.ts';
export { ReconnectPolicy, type ReconnectOptions, type ReconnectRetryInfo, type ReconnectRunOptions } from './reconnect.ts';
export { BoundedPublishBuffer, type BoundedPublishBufferOptions, type BufferPushOptions } from './publish-buffer.ts';
export { expiresAtFromTtl, isExpired } from './ttl.ts';
