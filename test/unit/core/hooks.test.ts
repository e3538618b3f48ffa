import { describe, expect, it } from 'vitest';
import { MemoryBroker, MemoryHub } from '../../../runtime/bindings/memory/index.ts';
import type { MessagingHooks, ProcessHookInfo } from '../../../runtime/core/hooks.ts';
import type { Headers } from '../../../runtime/core/types.ts';
import { MessagingInstrumentation } from '../../../runtime/observability/tracing.ts';
import { waitFor } from '../../conformance/helpers.ts';

describe('MessagingHooks seam', () => {
  it('wraps every publish (headers can be injected) and every handler attempt', async () => {
    const processed: ProcessHookInfo[] = [];
    const hooks: MessagingHooks = {
      async wrapPublish(_topic, headers, fn) {
        headers.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        return fn();
      },
      async wrapProcess(_topic, _headers, info, fn) {
        processed.push(info);
        return fn();
      },
    };
    const broker = new MemoryBroker({ hub: new MemoryHub(), hooks });
    await broker.connect();
    const seen: Array<Readonly<Headers>> = [];
    await broker.subscribe('orders.*', (_m, meta) => {
      seen.push(meta.headers);
      if (meta.attempt === 1) throw new Error('once');
    }, { retryDelay: 1, jitter: 0, group: 'billing' });
    await broker.publish('orders.created', { id: 1 }, { messageId: 'm1', key: 'k' });
    await waitFor(() => seen.length === 2);
    expect(seen[0]?.traceparent).toMatch(/^00-/);
    expect(processed.map((p) => p.attempt)).toEqual([1, 2]);
    expect(processed[0]).toMatchObject({ messageId: 'm1', key: 'k', group: 'billing', subscription: 'orders.*' });
    await broker.disconnect();
  });

  it('MessagingInstrumentation from runtime/observability fits the seam', () => {
    const hooks: MessagingHooks = new MessagingInstrumentation({ broker: 'memory' });
    expect(typeof hooks.wrapPublish).toBe('function');
  });
});
