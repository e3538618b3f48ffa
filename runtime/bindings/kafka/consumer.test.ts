// ConsumerRunner against a fake group consumer (our own driver seam, not a client library):
// commits only after handling, never for revoked partitions, in-order redelivery bounded by the DLQ.
import { describe, expect, it } from 'vitest';
import type { Delivery, WireMessage } from '../../core/transport.ts';
import { ConsumerRunner } from './consumer.ts';
import type { BatchContext, CommitRequest, DriverGroupConsumer, IncomingRecord } from './driver.ts';

function record(offset: number, partition = 0): IncomingRecord {
  return { topic: 't', partition, offset: String(offset), key: undefined, value: new TextEncoder().encode(`${offset}`), headers: { ce_id: `m${offset}` }, timestamp: 0 };
}

const context: BatchContext = { isStale: () => false, heartbeat: async () => undefined, resolve: () => undefined };

function setup(onDelivery: (d: Delivery) => Promise<void>, options: { maxRedeliveries?: number } = {}) {
  const commits: CommitRequest[][] = [];
  const deadLettered: Array<{ id: string; attempts: number }> = [];
  const runner = new ConsumerRunner({
    groupId: 'g',
    autoCommit: true,
    commitIntervalMs: 1,
    heartbeatIntervalMs: 1_000,
    maxRedeliveries: options.maxRedeliveries ?? 2,
    maxRedeliveryDelayMs: 10,
    onDelivery,
    deadLetter: async (m: WireMessage, attempts: number) => void deadLettered.push({ id: m.messageId, attempts }),
    onError: () => undefined,
  });
  const consumer: DriverGroupConsumer = {
    groupId: 'g',
    joined: Promise.resolve(),
    assignment: () => runner.assignment(),
    memberId: () => 'm',
    commit: async (offsets) => void commits.push(offsets),
    pause: () => undefined,
    resume: () => undefined,
    close: async () => undefined,
  };
  runner.attach(consumer);
  runner.onAssigned([{ topic: 't', partition: 0 }]);
  return { runner, commits, deadLettered };
}

describe('ConsumerRunner', () => {
  it('hands records out one at a time in order and commits last handled + 1', async () => {
    const seen: string[] = [];
    const { runner, commits } = setup(async (d) => {
      seen.push(d.message.messageId);
      await d.ack();
    });
    await runner.onBatch([record(0), record(1), record(2)], context);
    await runner.flushCommits();
    expect(seen).toEqual(['m0', 'm1', 'm2']);
    expect(commits.flat().at(-1)).toEqual({ topic: 't', partition: 0, offset: '3' });
  });

  it('goes straight on to the next record when the handler settles before onDelivery returns', async () => {
    const seen: string[] = [];
    const { runner, commits } = setup((d) => {
      seen.push(`${d.message.messageId}#${d.deliveryCount}`);
      // m1 asks for one redelivery; the rest are acked synchronously.
      return d.message.messageId === 'm1' && d.deliveryCount === 1 ? d.nack({ requeue: true }) : d.ack();
    });
    const batch = runner.onBatch([record(0), record(1), record(2), record(3)], context);
    // Synchronous handlers: the batch ran up to the redelivery (which waits for its own
    // settlement as a promise) before onBatch returned.
    expect(seen).toEqual(['m0#1', 'm1#1', 'm1#2']);
    await batch;
    await runner.flushCommits();
    expect(seen).toEqual(['m0#1', 'm1#1', 'm1#2', 'm2#1', 'm3#1']);
    expect(commits.flat().at(-1)).toEqual({ topic: 't', partition: 0, offset: '4' });
  });

  it('never commits for a partition revoked while its record was in flight, and stops the batch', async () => {
    let pending: Delivery | undefined;
    const { runner, commits } = setup(async (d) => {
      pending = d;
    });
    const batch = runner.onBatch([record(0), record(1)], context);
    await Promise.resolve();
    expect(pending?.message.messageId).toBe('m0');
    runner.onRevoked([{ topic: 't', partition: 0 }]);
    await batch;
    await pending?.ack();
    await runner.flushCommits();
    expect(commits).toEqual([]);
  });

  it('redelivers a nacked record in order with a growing deliveryCount, then dead-letters it and moves on', async () => {
    const seen: string[] = [];
    const { runner, deadLettered, commits } = setup(async (d) => {
      seen.push(`${d.message.messageId}#${d.deliveryCount}`);
      if (d.message.messageId === 'm0') await d.nack({ requeue: true, delayMs: 1 });
      else await d.ack();
    });
    await runner.onBatch([record(0), record(1)], context);
    await runner.flushCommits();
    expect(seen).toEqual(['m0#1', 'm0#2', 'm0#3', 'm1#1']);
    expect(deadLettered).toEqual([{ id: 'm0', attempts: 3 }]);
    expect(commits.flat().at(-1)?.offset).toBe('2');
  });

  it('holds a record requeued while paused (drain, open circuit) without counting it as a failure', async () => {
    const seen: number[] = [];
    const { runner, deadLettered } = setup(async (d) => {
      seen.push(d.deliveryCount);
      if (seen.length === 1) {
        runner.pause();
        await d.nack({ requeue: true });
        setTimeout(() => runner.resume(), 5);
      } else await d.ack();
    }, { maxRedeliveries: 0 });
    await runner.onBatch([record(0)], context);
    expect(seen).toEqual([1, 1]);
    expect(deadLettered).toEqual([]);
  });

  it('waits between records while paused and carries on in order after resume', async () => {
    const seen: string[] = [];
    let paused!: () => void;
    const pausedAfterFirst = new Promise<void>((resolve) => (paused = resolve));
    const { runner, commits } = setup(async (d) => {
      seen.push(d.message.messageId);
      if (seen.length === 1) {
        runner.pause();
        paused();
      }
      await d.ack();
    });
    const batch = runner.onBatch([record(0), record(1), record(2)], context);
    await pausedAfterFirst;
    // Give the runner every chance to hand out the next record while paused.
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(seen).toEqual(['m0']);
    runner.resume();
    await batch;
    await runner.flushCommits();
    expect(seen).toEqual(['m0', 'm1', 'm2']);
    expect(commits.flat().at(-1)?.offset).toBe('3');
  });

  it('moves on from deliveries settled inside onDelivery, over a large batch, in order', async () => {
    let next = 0;
    let outOfOrder = 0;
    const { runner, commits } = setup((d) => {
      if (d.message.messageId !== `m${next}`) outOfOrder++;
      next++;
      // Settled synchronously, before onDelivery returns.
      return d.ack();
    });
    const records = Array.from({ length: 20_000 }, (_, i) => record(i));
    await runner.onBatch(records, context);
    await runner.flushCommits();
    expect(next).toBe(20_000);
    expect(outOfOrder).toBe(0);
    expect(commits.flat().at(-1)?.offset).toBe('20000');
  });
});
