/**
 * Tracing seam: the client calls these around every publish round trip and every handler attempt,
 * so spans see retries and dead-letter decisions from the inside. Structural, with no dependency
 * on OpenTelemetry: `MessagingInstrumentation` (runtime/observability) satisfies it.
 */
import type { Headers } from './types.ts';

export interface PublishHookInfo {
  messageId?: string;
  correlationId?: string;
  key?: string;
  /** Encoded payload size in bytes. */
  bodySize?: number;
}

export interface ProcessHookInfo {
  messageId?: string;
  correlationId?: string;
  group?: string;
  /** The subscribed pattern, when it differs from the concrete topic. */
  subscription?: string;
  attempt?: number;
  key?: string;
  bodySize?: number;
}

export interface MessagingHooks {
  /** May add headers (trace context) before `fn` sends them. */
  wrapPublish<R>(topic: string, headers: Headers, fn: () => Promise<R>, info?: PublishHookInfo): Promise<R>;
  wrapProcess<R>(topic: string, headers: Readonly<Headers>, info: ProcessHookInfo, fn: () => Promise<R> | R): Promise<R>;
  /**
   * True when `wrapProcess` would do nothing but call `fn` right now (nothing observes spans or
   * metrics, and the ambient context is already the root one): the pipeline may then call the
   * handler directly. Optional; absent means false.
   */
  processIsPlain?(): boolean;
}
