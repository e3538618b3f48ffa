/** Header names the runtime reads and writes. User headers must not start with `x-contractbus-`. */
export const HEADER = {
  /** Attempt number carried across delayed redeliveries (retry topics / TTL retry queues). */
  attempt: 'x-contractbus-attempt',
  /** Dead-letter headers, written by the reliability layer. */
  dlqReason: 'x-contractbus-dlq-reason',
  dlqErrorName: 'x-contractbus-dlq-error-name',
  dlqErrorMessage: 'x-contractbus-dlq-error-message',
  dlqAttempts: 'x-contractbus-dlq-attempts',
  dlqOriginalTopic: 'x-contractbus-dlq-original-topic',
  dlqFirstFailure: 'x-contractbus-dlq-first-failure',
  dlqLastFailure: 'x-contractbus-dlq-last-failure',
  /** Prefix of the headers that carry channel parameters on collapsed topics (`x-contractbus-param-orderId`). */
  paramPrefix: 'x-contractbus-param-',
  /** W3C trace context. */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

export const RESERVED_HEADER_PREFIX = 'x-contractbus-';
