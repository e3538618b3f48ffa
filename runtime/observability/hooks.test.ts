import { describe, expect, it } from 'vitest';
import { isMissingOpenTelemetry, loadMessagingHooks } from './hooks.ts';
import { MessagingInstrumentation } from './tracing.ts';

describe('loadMessagingHooks', () => {
  it('builds a MessagingInstrumentation for the binding when @opentelemetry/api is installed', async () => {
    const hooks = await loadMessagingHooks('redis-streams');
    expect(hooks).toBeInstanceOf(MessagingInstrumentation);
    expect((hooks as MessagingInstrumentation).system).toBe('redis');
  });

  it('treats only a missing @opentelemetry/api as "no tracing"', () => {
    const missing = Object.assign(new Error("Cannot find package '@opentelemetry/api' imported from /app/x.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const other = Object.assign(new Error("Cannot find package 'left-pad'"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(isMissingOpenTelemetry(missing)).toBe(true);
    expect(isMissingOpenTelemetry(other)).toBe(false);
    expect(isMissingOpenTelemetry(new SyntaxError('@opentelemetry/api'))).toBe(false);
  });
});
