// Kafka binding behaviour against a real Kafka 4 broker, on both drivers: native headers and key,
// consumer groups (shared partitions, fan-out across groups), order per key, manual commits,
// poison messages to the dead-letter topic while the partition moves on, nack → in-order redelivery.
import { afterEach, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { Producer } from '@platformatic/kafka';
import type { KafkaClient } from '../../../runtime/bindings/kafka/index.ts';
import { partitionForKey } from '../../../runtime/bindings/kafka/partitioner.ts';
import { brokerUrls } from '../../support/brokers.ts';
import { DRIVERS, testClient, uniqueName, waitFor } from './helpers.ts';

const clients: KafkaClient[] = [];
function track(client: KafkaClient): KafkaClient {
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.disconnect({ timeoutMs: 2_000 })));
});

describe.each(DRIVERS)('Kafka binding (%s driver)', (driver) => {
  async function open(options: Parameters<typeof testClient>[1] = {}): Promise<KafkaClient> {
    const client = track(testClient(driver, options));
    await client.connect();
    return client;
  }

  it('carries the contract JSON as the value, metadata in native headers and the key as the Kafka key', async () => {
    const topic = uniqueName(`kafka-wire-${driver}`);
    const client = await open();
    const receipt = await client.produce(topic, { orderId: 'o-1', total: 3 }, { key: 'customer-7', headers: { ce_type: 'order.created', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, correlationId: 'req-1' });
    expect(receipt.partition).toBe(0);
    expect(receipt.offset).toBe('0');

    // Read it back with a raw kafkajs consumer: what other Kafka tools see.
    const kafka = new Kafka({ brokers: [...brokerUrls().kafkaBrokers], logLevel: logLevel.NOTHING });
    const raw = kafka.consumer({ groupId: uniqueName('raw'), maxWaitTimeInMs: 100 });
    try {
      await raw.connect();
      await raw.subscribe({ topics: [topic], fromBeginning: true });
      let seen: { key: string; value: string; headers: Record<string, string> } | undefined;
      await raw.run({
        eachMessage: async ({ message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          seen = { key: String(message.key), value: String(message.value), headers };
        },
      });
      await waitFor(() => seen !== undefined, 20_000, 'the raw record');
      expect(seen?.key).toBe('customer-7');
      expect(JSON.parse(seen?.value ?? '')).toEqual({ orderId: 'o-1', total: 3 });
      expect(seen?.headers).toMatchObject({
        ce_id: receipt.messageId,
        ce_type: 'order.created',
        ce_correlationid: 'req-1',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      });
      // Defaults stay off the wire: JSON needs no content-type (ce_time only for a message sent
      // more than 100 ms after publish() took its time, e.g. behind this first connect).
      expect(Object.keys(seen?.headers ?? {}).filter((h) => h === 'content-type' || h === 'ce_specversion')).toEqual([]);
    } finally {
      await raw.disconnect();
    }

    // And through contractbus: headers and key round-trip exactly, metadata headers are not user headers.
    const got: Array<{ key: string | undefined; headers: Record<string, string>; correlationId: string | undefined }> = [];
    await client.subscribe(topic, (_m, meta) => void got.push({ key: meta.key, headers: { ...meta.headers }, correlationId: meta.correlationId }), { group: uniqueName('g'), startFrom: 'earliest' });
    await waitFor(() => got.length === 1, 20_000, 'the contractbus delivery');
    expect(got[0]).toEqual({
      key: 'customer-7',
      correlationId: 'req-1',
      headers: { ce_type: 'order.created', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    });
  });

  it('produce to an explicit partition; produceBatch receipts carry the offsets; nothing after disconnect', async () => {
    const topic = uniqueName(`kafka-produce-${driver}`);
    const client = await open({ topicConfig: { [topic]: { partitions: 3 } } });
    const one = await client.produce(topic, { n: 0 }, { partition: 2 });
    expect(one).toMatchObject({ topic, partition: 2, offset: '0' });
    const batch = await client.produceBatch(topic, [{ value: { n: 1 } }, { value: { n: 2 } }, { value: { n: 3 } }], { partition: 1 });
    expect(batch.map((r) => [r.partition, r.offset])).toEqual([[1, '0'], [1, '1'], [1, '2']]);
    expect(new Set(batch.map((r) => r.messageId)).size).toBe(3);
    const offsets = await client.kafka.topicOffsets(topic);
    expect(offsets.map((p) => p.high)).toEqual(['0', '3', '1']);
    await client.disconnect();
    await expect(client.produceBatch(topic, [{ value: { n: 4 } }])).rejects.toMatchObject({ code: 'CLOSED', broker: 'kafka' });
    await expect(client.publish(topic, { n: 5 })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it("puts a key on the partition Java's partitioner picks, whichever driver publishes", async () => {
    const topic = uniqueName(`kafka-partitioner-${driver}`);
    const client = await open({ topicConfig: { [topic]: { partitions: 6 } } });
    // Kafka's own UtilsTest vectors: murmur2("foobar") = -790332482, ("21") = -973932308, ("abc") = 479470107;
    // Java's partition is (murmur2 & 0x7fffffff) % 6. "foobar" and "21" hash negative: murmur2 >>> 0 would give 2 and 2.
    const expected: Record<string, number> = { foobar: 0, '21': 0, abc: 3 };
    for (const [key, partition] of Object.entries(expected)) {
      expect((await client.produce(topic, { key }, { key })).partition, key).toBe(partition);
    }
    // Keyed publishes of one tick (one produce request) land where Java puts them too.
    const together = await Promise.all(Object.keys(expected).map((key) => client.produce(topic, { key }, { key })));
    expect(together.map((r) => r.partition)).toEqual(Object.values(expected));
    // Keyless records: those of one request stay together (sticky), requests go round-robin.
    const oneTick = await Promise.all(Array.from({ length: 6 }, (_, n) => client.produce(topic, { n })));
    expect(new Set(oneTick.map((r) => r.partition)).size).toBe(1);
    const apart: number[] = [];
    for (let n = 0; n < 6; n++) apart.push((await client.produce(topic, { n })).partition as number);
    expect(new Set(apart).size).toBeGreaterThan(1);
  });

  it('concurrent publishes share produce requests, each with its own exact receipt; nothing lost, order per key kept', async () => {
    const topic = uniqueName(`kafka-coalesce-${driver}`);
    const client = await open({ topicConfig: { [topic]: { partitions: 3 } } });
    const count = 1_500;
    const receipts = await Promise.all(Array.from({ length: count }, (_, n) => client.produce(topic, { n }, { key: `k${n % 8}` })));
    // Each partition's offsets are exactly 0..k-1: no receipt is shared or made up.
    const byPartition = new Map<number, number[]>();
    for (const r of receipts) byPartition.set(r.partition as number, [...(byPartition.get(r.partition as number) ?? []), Number(r.offset)]);
    for (const [, offsets] of byPartition) expect([...offsets].sort((a, b) => a - b)).toEqual(offsets.map((_, i) => i));
    expect(receipts.every((r, n) => r.partition === partitionForKey(`k${n % 8}`, 3))).toBe(true);
    const offsets = await client.kafka.topicOffsets(topic);
    expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(count);
    // What a consumer reads back: everything, in publish order per key.
    const seen = new Map<string, number[]>();
    let total = 0;
    await client.subscribe(topic, (m: { n: number }, meta) => {
      seen.set(meta.key as string, [...(seen.get(meta.key as string) ?? []), m.n]);
      total++;
    }, { group: uniqueName('g'), startFrom: 'earliest' });
    await waitFor(() => total === count, 30_000, 'every record');
    for (const [, ns] of seen) expect(ns).toEqual([...ns].sort((a, b) => a - b));
  });

  it('members of one group share the partitions; distinct groups each get everything', async () => {
    const topic = uniqueName(`kafka-groups-${driver}`);
    const group = uniqueName('shared');
    const topicConfig = { [topic]: { partitions: 2 } };
    const a = await open({ topicConfig });
    const b = await open({ topicConfig });
    const other = await open({ topicConfig });
    const byA: number[] = [];
    const byB: number[] = [];
    const byOther: number[] = [];
    await a.subscribe<{ n: number }>(topic, (m) => void byA.push(m.n), { group });
    await b.subscribe<{ n: number }>(topic, (m) => void byB.push(m.n), { group });
    await other.subscribe<{ n: number }>(topic, (m) => void byOther.push(m.n), { group: uniqueName('other') });
    // Both members hold a partition before publishing.
    await waitFor(() => a.kafka.assignedPartitions() + b.kafka.assignedPartitions() === 2 && a.kafka.assignedPartitions() === 1, 30_000, 'two members with one partition each');

    const total = 40;
    await a.produceBatch(topic, Array.from({ length: total }, (_, n) => ({ key: `k${n}`, value: { n } })));
    await waitFor(() => byA.length + byB.length === total && byOther.length === total, 30_000, 'all messages in both groups');
    expect(byA.length).toBeGreaterThan(0);
    expect(byB.length).toBeGreaterThan(0);
    expect([...byA, ...byB].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, n) => n));
    expect([...byOther].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, n) => n));
  });

  it('keeps order per key across partitions with concurrent handlers', async () => {
    const topic = uniqueName(`kafka-order-${driver}`);
    const client = await open({ topicConfig: { [topic]: { partitions: 3 } } });
    const seen = new Map<string, number[]>();
    let count = 0;
    await client.consume<{ key: string; seq: number }>({
      topics: topic,
      groupId: uniqueName('order'),
      concurrency: 4,
      handler: async (m) => {
        // Uneven handler times: a later message of another key may finish first.
        if (m.seq % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 3));
        const list = seen.get(m.key) ?? [];
        list.push(m.seq);
        seen.set(m.key, list);
        count++;
      },
    });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    const perKey = 30;
    const batch = [];
    for (let seq = 0; seq < perKey; seq++) for (const key of keys) batch.push({ key, value: { key, seq } });
    await client.produceBatch(topic, batch);
    await waitFor(() => count === keys.length * perKey, 30_000, 'every message');
    for (const key of keys) expect(seen.get(key)).toEqual(Array.from({ length: perKey }, (_, i) => i));
  });

  it('manual commits: a new consumer of the group resumes right after the last committed offset', async () => {
    const topic = uniqueName(`kafka-manual-${driver}`);
    const groupId = uniqueName('manual');
    const first = await open();
    await first.produceBatch(topic, Array.from({ length: 10 }, (_, n) => ({ value: { n } })));
    const handled: number[] = [];
    const sub = await first.consume<{ n: number }>({
      topics: topic,
      groupId,
      enableAutoCommit: false,
      handler: async (m, _meta, record) => {
        handled.push(m.n);
        // Commit only up to n = 5 (offset 6 is the next to read).
        if (m.n === 5 && record) await first.commitOffset(record.topic, record.partition, record.nextOffset);
      },
    });
    await waitFor(() => handled.length === 10, 20_000, 'ten messages');
    await sub.close();
    const lag = await first.lag(groupId, topic);
    expect(lag).toEqual([{ topic, partition: 0, committed: '6', high: '10', lag: 4 }]);

    const second = await open();
    const resumed: number[] = [];
    await second.consume<{ n: number }>({ topics: topic, groupId, handler: (m) => void resumed.push(m.n) });
    await waitFor(() => resumed.length === 4, 20_000, 'the four uncommitted messages');
    expect(resumed).toEqual([6, 7, 8, 9]);
  });

  it('sends a poison message to the dead-letter topic while the partition moves on', async () => {
    const topic = uniqueName(`kafka-poison-${driver}`);
    const client = await open();
    const handled: number[] = [];
    const validate = (p: unknown): { n: number } => {
      if (typeof p !== 'object' || p === null || typeof (p as { n?: unknown }).n !== 'number') throw Object.assign(new Error('n must be a number'), { retryable: false });
      return p as { n: number };
    };
    await client.subscribe(topic, (m: { n: number }) => void handled.push(m.n), { group: uniqueName('poison'), maxRetries: 1, retryDelay: 10, validate });
    const dead: Array<{ payload: unknown; headers: Record<string, string> }> = [];
    await client.subscribe(`${topic}.dlq`, (m, meta) => void dead.push({ payload: m, headers: { ...meta.headers } }), { group: uniqueName('dlq') });
    await client.produce(topic, { n: 1 });
    await client.produce(topic, { n: 'not a number' });
    await client.produce(topic, { n: 3 });
    await waitFor(() => handled.length === 2 && dead.length === 1, 30_000, 'two handled and one dead-lettered');
    expect(handled).toEqual([1, 3]);
    expect(dead[0]?.payload).toEqual({ n: 'not a number' });
    expect(dead[0]?.headers['x-contractbus-dlq-original-topic']).toBe(topic);
    expect(dead[0]?.headers['x-contractbus-dlq-reason']).toBeTruthy();
  });

  it('nack with requeue redelivers in order; past maxRedeliveries the record is dead-lettered', async () => {
    const topic = uniqueName(`kafka-nack-${driver}`);
    const client = await open({ maxRedeliveries: 2 });
    const deliveries: string[] = [];
    await client.subscribe<{ id: string }>(
      topic,
      async (m, meta) => {
        deliveries.push(`${m.id}#${meta.attempt}`);
        if (m.id === 'stuck') return meta.nack({ requeue: true, delayMs: 5 });
        if (m.id === 'flaky' && meta.attempt === 1) return meta.nack({ requeue: true, delayMs: 5 });
        return meta.ack();
      },
      { group: uniqueName('nack'), autoAck: false },
    );
    const dead: string[] = [];
    await client.subscribe<{ id: string }>(`${topic}.dlq`, (m) => void dead.push(m.id), { group: uniqueName('dlq') });
    for (const id of ['first', 'flaky', 'stuck', 'last']) await client.produce(topic, { id });
    await waitFor(() => deliveries.includes('last#1') && dead.length === 1, 30_000, 'the last message and one dead letter');
    expect(deliveries).toEqual(['first#1', 'flaky#1', 'flaky#2', 'stuck#1', 'stuck#2', 'stuck#3', 'last#1']);
    expect(dead).toEqual(['stuck']);
  });
});

describe('Kafka binding with your own client instance', () => {
  it('uses a kafkajs Kafka instance or a @platformatic/kafka Producer you pass in', async () => {
    const brokers = [...brokerUrls().kafkaBrokers];
    const kafka = new Kafka({ clientId: 'own-kafkajs', brokers, logLevel: logLevel.NOTHING });
    const producer = new Producer({ clientId: 'own-platformatic', bootstrapBrokers: brokers, idempotent: true, acks: -1 });
    try {
      for (const client of [kafka, producer]) {
        const broker = track(testClient('kafkajs', { client, driver: client === kafka ? 'kafkajs' : 'platformatic' }));
        await broker.connect();
        expect(broker.kafka.driverName).toBe(client === kafka ? 'kafkajs' : 'platformatic');
        const topic = uniqueName('kafka-own-client');
        const got: unknown[] = [];
        await broker.subscribe(topic, (m) => void got.push(m), { group: uniqueName('own') });
        await broker.publish(topic, { via: broker.kafka.driverName });
        await waitFor(() => got.length === 1, 20_000, 'the message through the given client');
        expect(got).toEqual([{ via: broker.kafka.driverName }]);
      }
      expect(() => testClient('kafkajs', { client: { nope: true } })).toThrow(/neither a kafkajs Kafka instance nor/);
    } finally {
      await producer.close();
    }
  });
});

describe('connect() with a kafka:// URL', () => {
  it('builds a connected KafkaClient from a host list and query parameters', async () => {
    const { connect } = await import('../../../runtime/core/connect.ts');
    const hosts = [...brokerUrls().kafkaBrokers, ...brokerUrls().kafkaBrokers].join(',');
    const broker = (await connect(`kafka://${hosts}?driver=kafkajs&clientId=connect-test`)) as KafkaClient;
    track(broker);
    expect(broker.name).toBe('kafka');
    expect(broker.kafka.driverName).toBe('kafkajs');
    expect(broker.kafka.options.brokers).toHaveLength(2);
    const topic = uniqueName('kafka-connect');
    const got: unknown[] = [];
    await broker.subscribe(topic, (m) => void got.push(m));
    await broker.publish(topic, { ok: true });
    await waitFor(() => got.length === 1, 20_000, 'the message');
  });
});

describe.each(DRIVERS)('Kafka consume() over several topics (%s driver)', (driver) => {
  it('delivers every topic of one group', async () => {
    const client = track(testClient(driver));
    await client.connect();
    const topics = [uniqueName('kafka-multi-a'), uniqueName('kafka-multi-b'), uniqueName('kafka-multi-c')];
    const got: string[] = [];
    await client.consume<{ from: string }>({ topics, groupId: uniqueName('multi'), handler: (m) => void got.push(m.from) });
    for (const t of topics) await client.produce(t, { from: t });
    await waitFor(() => got.length === 3, 20_000, `one message per topic (got ${got.length})`);
    expect([...got].sort()).toEqual([...topics].sort());
  });
});
