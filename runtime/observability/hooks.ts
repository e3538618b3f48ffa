/**
 * The seam the broker client calls, free of any static import of `@opentelemetry/api` (an
 * optional peer dependency): the instrumentation is loaded on demand, and where the package is
 * not installed there are no hooks and no cost.
 */
import type { MessagingHooks } from '../core/hooks.ts';

export type { MessagingHooks, ProcessHookInfo, PublishHookInfo } from '../core/hooks.ts';

/**
 * A `MessagingInstrumentation` for `broker` on the global OpenTelemetry providers (no-op until the
 * application installs an SDK), or undefined when `@opentelemetry/api` is not installed.
 */
export async function loadMessagingHooks(broker: string): Promise<MessagingHooks | undefined> {
  try {
    const { MessagingInstrumentation } = await import('./tracing.ts');
    return new MessagingInstrumentation({ broker });
  } catch (error) {
    if (isMissingOpenTelemetry(error)) return undefined;
    throw error;
  }
}

/** Exported for tests. */
export function isMissingOpenTelemetry(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && error.message.includes('@opentelemetry/api');
}
