/**
 * Typed errors. Each names the broker and topic where known and says what to do next
 * (STYLE.md: "Errors name the broker, the topic and the next step for the user").
 * `retryable` follows Dapr's classification: terminal errors skip retries and go to the DLQ.
 */

export interface ContractbusErrorOptions {
  broker?: string;
  topic?: string;
  cause?: unknown;
  /** Human hint: what the user should do next. */
  hint?: string;
}

export class ContractbusError extends Error {
  readonly code: string = 'CONTRACTBUS_ERROR';
  readonly retryable: boolean = true;
  readonly broker: string | undefined;
  readonly topic: string | undefined;
  readonly hint: string | undefined;

  constructor(message: string, options: ContractbusErrorOptions = {}) {
    super(options.hint ? `${message}. ${options.hint}` : message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.broker = options.broker;
    this.topic = options.topic;
    this.hint = options.hint;
  }
}

/** Never retried: the message goes straight to the dead-letter topic. */
export class NonRetryableError extends ContractbusError {
  override readonly code: string = 'NON_RETRYABLE';
  override readonly retryable: boolean = false;
}

export interface ValidationIssue {
  path: Array<string | number>;
  message: string;
  code?: string;
}

/** A payload, header set or parameter that does not match the contract. Non-retryable. */
export class ValidationError extends NonRetryableError {
  override readonly code: string = 'VALIDATION_FAILED';
  readonly issues: ValidationIssue[];
  readonly direction: 'outgoing' | 'incoming' | undefined;

  constructor(message: string, issues: ValidationIssue[], options: ContractbusErrorOptions & { direction?: 'outgoing' | 'incoming' } = {}) {
    super(`${message}: ${formatIssues(issues)}`, options);
    this.issues = issues;
    this.direction = options.direction;
  }
}

/** A message that cannot be decoded (not JSON, oversized, …). Non-retryable. */
export class MalformedMessageError extends NonRetryableError {
  override readonly code: string = 'MALFORMED_MESSAGE';
}

export class ConnectionError extends ContractbusError {
  override readonly code: string = 'CONNECTION_FAILED';
}

export class PublishError extends ContractbusError {
  override readonly code: string = 'PUBLISH_FAILED';
}

export class TimeoutError extends ContractbusError {
  override readonly code: string = 'TIMEOUT';
}

/** The bounded publish buffer is full while the broker is unreachable. */
export class BufferFullError extends PublishError {
  override readonly code: string = 'BUFFER_FULL';
}

/** A circuit breaker is open: the call was not attempted. */
export class CircuitOpenError extends ContractbusError {
  override readonly code: string = 'CIRCUIT_OPEN';
}

/** A feature the binding cannot give was asked for (see `BrokerCapabilities`). */
export class CapabilityError extends ContractbusError {
  override readonly code: string = 'CAPABILITY_MISSING';
  override readonly retryable: boolean = false;
}

/** Bad options or URL. */
export class ConfigurationError extends ContractbusError {
  override readonly code: string = 'INVALID_CONFIGURATION';
  override readonly retryable: boolean = false;
}

export function isRetryable(error: unknown): boolean {
  if (error instanceof ContractbusError) return error.retryable;
  return true;
}

export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** A payload above the codec's `maxMessageBytes` (on publish, or on consume: then dead-lettered). */
export class MessageTooLargeError extends MalformedMessageError {
  override readonly code: string = 'MESSAGE_TOO_LARGE';
}

/** The broker (or subscription) was used after `disconnect()` / `close()`, or before `connect()`. */
export class ClosedError extends ConnectionError {
  override readonly code: string = 'CLOSED';
  override readonly retryable: boolean = false;
}
