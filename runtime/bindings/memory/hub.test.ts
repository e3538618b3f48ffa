import { describe, expect, it } from 'vitest';
import { BufferFullError } from '../../core/errors.ts';
import type { Delivery, WireMessage } from '../../core/transport.ts';
import { MemoryHub } from './hub.ts';

let seq = 0;
function message(topic: string, extra: Partial<WireMessage> = {}): WireMessage {
  return { messageId: `m${++seq}`, topic, body: new Uint8Array(), headers: {}, contentType: 'application/json', timestamp: Date.now(), ...extra };
}

function until(predicate: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => (predicate() ? resolve() : Date.now() - started > 2000 ? reject(new Error('timeout')) : setImmediate(tick));
    tick();
  });
}

describe('MemoryHub', () => {
  it('never delivers re-entrantly inside publish', () => {
    const hub = new MemoryHub();
    const got: Delivery[] = [];
    hub.consume('t', undefined, 'latest', 10, async (d) => void got.push(d), () => {});
    hub.publish(message('t'));
    expect(got).toHaveLength(0);
    return until(() => got.length === 1);
  });

  it('bounds the retained log and counts what it drops; existing groups still get everything', async () => {
    const hub = new MemoryHub({ maxMessagesPerTopic: 2 });
    const existing: string[] = [];
    hub.consume('t', 'g1', 'earliest', 100, async (d) => {
      existing.push(d.message.messageId);
      await d.ack();
    }, () => {});
    const ids = [message('t'), message('t'), message('t')].map((m) => (hub.publish(m), m.messageId));
    await until(() => existing.length === 3);
    const late: string[] = [];
    hub.consume('t', 'g2', 'earliest', 100, async (d) => void late.push(d.message.messageId), () => {});
    await until(() => late.length === 2);
    expect(late).toEqual(ids.slice(1));
    expect(hub.stats().droppedByRetention).toBe(1);
  });

  it('fails a publish fast when a group holds maxQueuedPerGroup messages', () => {
    const hub = new MemoryHub({ maxQueuedPerGroup: 2 });
    const consumer = hub.consume('t', 'slow', 'latest', 1, async () => {}, () => {});
    consumer.pause();
    hub.publish(message('t'));
    hub.publish(message('t'));
    expect(() => hub.publish(message('t'))).toThrow(BufferFullError);
    expect(() => hub.publish(message('t'))).toThrow(/group "slow"/);
  });

  it('keeps one in-flight message per key across competing consumers, redelivering in order', async () => {
    const hub = new MemoryHub();
    const log: string[] = [];
    let nackedOnce = false;
    const handler = (name: string) => async (d: Delivery) => {
      log.push(`${name}:${d.message.messageId}`);
      await new Promise((r) => setTimeout(r, 1));
      if (d.message.messageId === 'k1' && !nackedOnce) {
        nackedOnce = true;
        await d.nack({ requeue: true, delayMs: 5 });
      } else await d.ack();
    };
    hub.consume('t', 'g', 'latest', 10, handler('a'), () => {});
    hub.consume('t', 'g', 'latest', 10, handler('b'), () => {});
    for (const id of ['k1', 'k2', 'k3']) hub.publish(message('t', { messageId: id, key: 'same' }));
    await until(() => log.length === 4);
    expect(log.map((l) => l.split(':')[1])).toEqual(['k1', 'k1', 'k2', 'k3']);
  });

  it('delivers higher priority first and drops expired messages', async () => {
    const hub = new MemoryHub();
    const consumer = hub.consume('t', 'g', 'latest', 1, async (d) => {
      got.push(d.message.messageId);
      await d.ack();
    }, () => {});
    const got: string[] = [];
    consumer.pause();
    hub.publish(message('t', { messageId: 'low', priority: 1 }));
    hub.publish(message('t', { messageId: 'expired', priority: 9, expiresAt: Date.now() - 1 }));
    hub.publish(message('t', { messageId: 'high', priority: 7 }));
    consumer.resume();
    await until(() => got.length === 2);
    expect(got).toEqual(['high', 'low']);
    expect(hub.stats().expired).toBe(1);
  });

  it('returns unacked deliveries to the group when a consumer closes; private groups vanish', async () => {
    const hub = new MemoryHub();
    const held: Delivery[] = [];
    const first = hub.consume('t', 'g', 'latest', 5, async (d) => void held.push(d), () => {});
    hub.consume('t', undefined, 'latest', 5, async () => {}, () => {}).close();
    hub.publish(message('t', { messageId: 'x' }));
    await until(() => held.length === 1);
    first.close();
    const second: Delivery[] = [];
    hub.consume('t', 'g', 'latest', 5, async (d) => void second.push(d), () => {});
    await until(() => second.length === 1);
    expect(second[0]?.deliveryCount).toBe(2);
    // A late ack from the closed consumer changes nothing.
    await held[0]?.ack();
    expect(hub.stats().groups.map((g) => g.group)).toEqual(['g']);
  });

  it('routes patterns and fans out across groups', async () => {
    const hub = new MemoryHub();
    const a: string[] = [];
    const b: string[] = [];
    hub.consume('orders.*', 'g1', 'latest', 10, async (d) => void a.push(d.message.topic), () => {});
    hub.consume('orders.#', 'g2', 'latest', 10, async (d) => void b.push(d.message.topic), () => {});
    hub.publish(message('orders.created'));
    hub.publish(message('orders.eu.created'));
    hub.publish(message('payments.created'));
    await until(() => b.length === 2 && a.length === 1);
    expect(a).toEqual(['orders.created']);
  });

  it('simulates an outage: publishes fail fast, delivery pauses, data is kept', async () => {
    const hub = new MemoryHub();
    const got: string[] = [];
    hub.consume('t', 'g', 'latest', 10, async (d) => {
      got.push(d.message.messageId);
      await d.ack();
    }, () => {});
    hub.publish(message('t', { messageId: 'before' }));
    hub.simulateOutage();
    expect(() => hub.publish(message('t'))).toThrow(/unavailable/);
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([]);
    hub.restore();
    await until(() => got.length === 1);
    expect(got).toEqual(['before']);
  });

  it('idle() resolves once attached groups have acked everything, and names busy groups on timeout', async () => {
    const hub = new MemoryHub();
    const acked: string[] = [];
    hub.consume('t', 'g', 'latest', 10, async (d) => {
      await new Promise((r) => setTimeout(r, 2));
      acked.push(d.message.messageId);
      await d.ack();
    }, () => {});
    hub.consume('other', 'nobody-acks', 'latest', 10, async () => {}, () => {});
    for (let i = 0; i < 5; i++) hub.publish(message('t'));
    await hub.idle({ timeoutMs: 1000 });
    expect(acked).toHaveLength(5);
    hub.publish(message('other'));
    await expect(hub.idle({ timeoutMs: 50 })).rejects.toThrow(/other\/nobody-acks: 1/);
  });
});
