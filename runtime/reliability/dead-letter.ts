/**
 * Dead-letter routing: where a message goes when retries are exhausted or it is poison, and the
 * headers that say why (Watermill's middleware/poison.go does the same with reason/topic metadata).
 * The headers are plain strings so they survive every broker and can be read back for replay.
 */
import { ConfigurationError, isRetryable, MalformedMessageError, ValidationError } from '../core/errors.ts';
import { HEADER } from '../core/headers.ts';
import type { Headers } from '../core/types.ts';

export const DEFAULT_DLQ_SUFFIX = '.dlq';
/** Long enough for a useful error message, short enough for Kafka/AMQP header limits and log lines. */
export const MAX_DLQ_TEXT_LENGTH = 1024;

const DLQ_HEADER_NAMES: readonly string[] = [
  HEADER.dlqReason,
  HEADER.dlqErrorName,
  HEADER.dlqErrorMessage,
  HEADER.dlqAttempts,
  HEADER.dlqOriginalTopic,
  HEADER.dlqFirstFailure,
  HEADER.dlqLastFailure,
];

export function deadLetterTopicFor(topic: string, options: { deadLetterTopic?: string | undefined; dlqSuffix?: string | undefined } = {}): string {
  if (options.deadLetterTopic !== undefined) {
    if (options.deadLetterTopic === '') throw new ConfigurationError(`deadLetterTopic for topic "${topic}" must not be empty`);
    // Dead-lettering into the source topic would redeliver the poison message forever.
    if (options.deadLetterTopic === topic) {
      throw new ConfigurationError(`deadLetterTopic for topic "${topic}" is the topic itself`, { topic, hint: 'Choose a different topic, e.g. the default `<topic>.dlq`' });
    }
    return options.deadLetterTopic;
  }
  const suffix = options.dlqSuffix ?? DEFAULT_DLQ_SUFFIX;
  if (suffix === '') {
    throw new ConfigurationError(`dlqSuffix for topic "${topic}" must not be empty (the dead-letter topic would be the topic itself)`, { topic });
  }
  return `${topic}${suffix}`;
}

/**
 * A short, stable reason for the dead-letter header, from the last error: lets an operator filter a
 * DLQ by cause (poison input vs. a handler that kept failing) without parsing error messages.
 */
export function deadLetterReasonFor(error: unknown, attempts: number): string {
  if (error instanceof ValidationError) return 'validation failed';
  if (error instanceof MalformedMessageError) return 'malformed message';
  if (!isRetryable(error)) return 'non-retryable error';
  return `handler failed after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
}

export interface DeadLetterDetails {
  /** Why it was dead-lettered, e.g. 'max retries exceeded', 'validation failed', 'expired'. */
  reason: string;
  /** The last error, if any. Non-Error values are stringified. */
  error?: unknown;
  /** Attempts made (1 = failed on first delivery, no retry). */
  attempts: number;
  originalTopic: string;
  firstFailureAt?: Date | number | undefined;
  lastFailureAt?: Date | number | undefined;
}

export function deadLetterHeaders(details: DeadLetterDetails): Headers {
  const headers: Headers = {
    [HEADER.dlqReason]: cleanText(details.reason),
    [HEADER.dlqAttempts]: String(Math.max(0, Math.floor(details.attempts))),
    [HEADER.dlqOriginalTopic]: details.originalTopic,
  };
  if (details.error !== undefined) {
    const { name, message } = describeError(details.error);
    headers[HEADER.dlqErrorName] = cleanText(name);
    headers[HEADER.dlqErrorMessage] = cleanText(message);
  }
  const last = details.lastFailureAt ?? details.firstFailureAt;
  const first = details.firstFailureAt ?? details.lastFailureAt;
  if (first !== undefined) headers[HEADER.dlqFirstFailure] = toIso(first);
  if (last !== undefined) headers[HEADER.dlqLastFailure] = toIso(last);
  return headers;
}

/**
 * A copy of `headers` without the dead-letter headers: for replaying a dead-lettered message to its
 * original topic, or before dead-lettering it again. Other `x-contractbus-*` headers (attempt) stay.
 */
export function stripDeadLetterHeaders(headers: Readonly<Headers>): Headers {
  const result: Headers = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!DLQ_HEADER_NAMES.includes(name)) result[name] = value;
  }
  return result;
}

export interface DeadLetterInfo {
  reason: string;
  errorName: string | undefined;
  errorMessage: string | undefined;
  attempts: number;
  originalTopic: string;
  firstFailureAt: Date | undefined;
  lastFailureAt: Date | undefined;
}

/** The dead-letter headers parsed back; undefined when `headers` are not from a dead-letter topic. */
export function readDeadLetterInfo(headers: Readonly<Headers>): DeadLetterInfo | undefined {
  const reason = headers[HEADER.dlqReason];
  const originalTopic = headers[HEADER.dlqOriginalTopic];
  if (reason === undefined || originalTopic === undefined) return undefined;
  const attempts = Number.parseInt(headers[HEADER.dlqAttempts] ?? '', 10);
  return {
    reason,
    errorName: headers[HEADER.dlqErrorName],
    errorMessage: headers[HEADER.dlqErrorMessage],
    attempts: Number.isFinite(attempts) ? attempts : 0,
    originalTopic,
    firstFailureAt: parseDate(headers[HEADER.dlqFirstFailure]),
    lastFailureAt: parseDate(headers[HEADER.dlqLastFailure]),
  };
}

function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name || 'Error', message: error.message };
  if (typeof error === 'string') return { name: 'Error', message: error };
  if (error === null || typeof error !== 'object') return { name: typeof error, message: String(error) };
  try {
    return { name: error.constructor?.name ?? 'Object', message: JSON.stringify(error) ?? String(error) };
  } catch {
    // Cyclic or hostile objects must not stop a message reaching the DLQ.
    return { name: 'Object', message: Object.prototype.toString.call(error) };
  }
}

/** One line (some header transports and log pipelines reject or split on control characters), bounded length. */
function cleanText(text: string): string {
  const oneLine = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (oneLine.length <= MAX_DLQ_TEXT_LENGTH) return oneLine;
  let cut = MAX_DLQ_TEXT_LENGTH - 1;
  // Do not split a surrogate pair: a lone surrogate is invalid UTF-8 on the wire.
  const code = oneLine.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${oneLine.slice(0, cut)}…`;
}

function toIso(time: Date | number): string {
  const date = typeof time === 'number' ? new Date(time) : time;
  return Number.isNaN(date.getTime()) ? new Date(0).toISOString() : date.toISOString();
}

function parseDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
