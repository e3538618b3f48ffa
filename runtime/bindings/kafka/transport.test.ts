// KafkaTransport over a fake driver (our own seam, no client library): the publish bound, publish coalescing and the
// error it gives. Broker behaviour is tested against real Kafka in test/integration/kafka.
import { describe, expect, it } from 'vitest';
import { BufferFullError } from '../../core/errors.ts';
import type { KafkaDriver, ProducedRecord } from './driver.ts';
import { partitionForKey } from './partitioner.ts';
import { KafkaTransport } from './transport.ts';

function stalledDriver(): KafkaDriver & { release(): void } {
  const waiting: Array<() => void> = [];
  let released = false;
  return {
    name: 'stalled',
    connect: async () => undefined,
    close: async () => undefined,
    isConnected: () => true,
    produce: (records) =>
      new Promise<ProducedRecord[]>((resolve) => {
        const go = (): void => resolve(records.map((r) => ({ topic: r.topic, partition: 0, offset: '0' })));
        if (released) go();
        else waiting.push(go);
      }),
    createTopics: async () => undefined,
    listTopics: async () => [],
    topicOffsets: async () => [],
    committedOffsets: async () => new Map(),
    deleteGroup: async () => undefined,
    startGroupConsumer: async () => {
      throw new Error('not used');
    },
    release: () => {
      released = true;
      for (const go of waiting.splice(0)) go();
    },
  };
}

const message = (n: number) => ({ messageId: `m${n}`, topic: 'orders', body: new Uint8Array([123, 125]), headers: {}, contentType: 'application/json', timestamp: 0 });

describe('KafkaTransport publish bound', () => {
  it('fails fast with BufferFullError naming Kafka and the topic once maxPendingPublishes are waiting', async () => {
    const driver = stalledDriver();
    const transport = new KafkaTransport({ driver, maxPendingPublishes: 3 });
    await transport.connect();
    const pending = [0, 1, 2].map((n) => transport.send(message(n), { timeoutMs: 5_000 }));
    const error = await transport.send(message(3), { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BufferFullError);
    expect(error).toMatchObject({ broker: 'kafka', topic: 'orders' });
    expect((await transport.health()).details['pendingPublishes']).toBe(3);
    driver.release();
    await Promise.all(pending);
    await expect(transport.send(message(4), { timeoutMs: 5_000 })).resolves.toEqual({ partition: 0, offset: '0' });
  });
});

/** A driver that keeps a log per partition, as a broker would: offsets count up per partition. */
function loggingDriver(partitions: number): KafkaDriver & { requests: Array<Array<{ key: string | undefined; partition: number | undefined }>>; failNext: boolean } {
  const next = new Map<number, number>();
  const driver = {
    name: 'logging',
    requests: [] as Array<Array<{ key: string | undefined; partition: number | undefined }>>,
    failNext: false,
    connect: async () => undefined,
    close: async () => undefined,
    isConnected: () => true,
    produce: async (records: Parameters<KafkaDriver['produce']>[0]) => {
      driver.requests.push(records.map((r) => ({ key: r.key, partition: r.partition })));
      if (driver.failNext) {
        driver.failNext = false;
        throw new Error('NOT_ENOUGH_REPLICAS');
      }
      return records.map((r) => {
        const partition = r.partition ?? 0;
        const offset = next.get(partition) ?? 0;
        next.set(partition, offset + 1);
        return { topic: r.topic, partition, offset: String(offset) };
      });
    },
    createTopics: async () => undefined,
    listTopics: async () => [],
    topicOffsets: async () => Array.from({ length: partitions }, (_, partition) => ({ partition, low: '0', high: '0' })),
    committedOffsets: async () => new Map(),
    deleteGroup: async () => undefined,
    startGroupConsumer: async () => {
      throw new Error('not used');
    },
  };
  return driver as KafkaDriver & typeof driver;
}

/** Holds the driver's first produce request until the returned function is called (a broker slow to ack). */
function holdFirstRequest(driver: ReturnType<typeof loggingDriver>): () => void {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const produce = driver.produce.bind(driver);
  driver.produce = async (records, options) => {
    if (driver.requests.length === 0) await gate;
    return produce(records, options);
  };
  return release;
}

const keyed = (n: number, key?: string) => ({ ...message(n), ...(key === undefined ? {} : { key }) });

describe('KafkaTransport publish coalescing', () => {
  it("sends one tick's publishes to a topic as one request; each gets its own exact receipt", async () => {
    const driver = loggingDriver(6);
    const transport = new KafkaTransport({ driver });
    await transport.connect();
    const sent = [keyed(0, 'foobar'), keyed(1, 'abc'), keyed(2), keyed(3, 'foobar'), keyed(4)].map((m) => transport.send(m, { timeoutMs: 5_000 }));
    const receipts = await Promise.all(sent);
    expect(driver.requests).toHaveLength(1);
    // Keyed records where Java's partitioner puts them; keyless ones together on one partition.
    const partitions = driver.requests[0]!.map((r) => r.partition);
    expect([partitions[0], partitions[1], partitions[3]]).toEqual([partitionForKey('foobar', 6), partitionForKey('abc', 6), partitionForKey('foobar', 6)]);
    expect(partitions[2]).toBe(partitions[4]);
    expect(receipts.map((r) => r.partition)).toEqual(partitions);
    // Offsets are per partition, in publish order.
    const seen = new Map<number | undefined, number>();
    expect(receipts.map((r) => r.offset)).toEqual(
      partitions.map((p) => {
        const n = seen.get(p) ?? 0;
        seen.set(p, n + 1);
        return String(n);
      }),
    );
    expect((await transport.health()).details['pendingPublishes']).toBe(0);
    // The next tick's publishes go in a new request; keyless ones move to the next partition.
    await Promise.all([transport.send(keyed(5), { timeoutMs: 5_000 }), transport.send(keyed(6), { timeoutMs: 5_000 })]);
    expect(driver.requests).toHaveLength(2);
    expect(driver.requests[1]!.map((r) => r.partition)).toEqual([(partitions[2]! + 1) % 6, (partitions[2]! + 1) % 6]);
  });

  it('keeps one request per topic in flight: publishes made meanwhile go out together, in order, after it', async () => {
    const driver = loggingDriver(1);
    const release = holdFirstRequest(driver);
    const transport = new KafkaTransport({ driver });
    await transport.connect();
    const first = transport.send(keyed(0, 'a'), { timeoutMs: 5_000 });
    await new Promise((resolve) => setImmediate(resolve));
    // Three more ticks of publishes while the first request waits for the broker.
    const later: Array<Promise<{ partition?: number; offset?: string }>> = [];
    for (let n = 1; n <= 3; n++) {
      later.push(transport.send(keyed(n, 'a'), { timeoutMs: 5_000 }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(driver.requests).toHaveLength(0);
    release();
    const receipts = await Promise.all([first, ...later]);
    expect(driver.requests.map((r) => r.length)).toEqual([1, 3]);
    expect(receipts.map((r) => r.offset)).toEqual(['0', '1', '2', '3']);
  });

  it('close() sends the publishes already accepted, also those queued behind a request in flight, and reconnects for none', async () => {
    const driver = loggingDriver(1);
    let connects = 0;
    driver.connect = async () => void connects++;
    const release = holdFirstRequest(driver);
    const transport = new KafkaTransport({ driver });
    await transport.connect();
    const first = transport.send(keyed(0, 'a'), { timeoutMs: 5_000 });
    await new Promise((resolve) => setImmediate(resolve));
    const queued = transport.send(keyed(1, 'a'), { timeoutMs: 5_000 });
    const closing = transport.close();
    release();
    await closing;
    await expect(Promise.all([first, queued])).resolves.toEqual([
      { partition: 0, offset: '0' },
      { partition: 0, offset: '1' },
    ]);
    expect(driver.requests.map((r) => r.length)).toEqual([1, 1]);
    expect(connects).toBe(1);
  });

  it('a failed request fails every publish in it (and only those)', async () => {
    const driver = loggingDriver(3);
    const transport = new KafkaTransport({ driver });
    await transport.connect();
    driver.failNext = true;
    const outcomes = await Promise.allSettled([0, 1, 2].map((n) => transport.send(keyed(n, `k${n}`), { timeoutMs: 5_000 })));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((outcomes[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'PUBLISH_FAILED', broker: 'kafka', topic: 'orders' });
    const again = await Promise.all([3, 4].map((n) => transport.send(keyed(n, `k${n}`), { timeoutMs: 5_000 })));
    expect(again.map((r) => r.partition)).toEqual([partitionForKey('k3', 3), partitionForKey('k4', 3)]);
    expect((await transport.health()).details['pendingPublishes']).toBe(0);
  });

  it('batchPublishes: false sends a request per publish; an unknown partition count does too', async () => {
    const off = loggingDriver(2);
    const plain = new KafkaTransport({ driver: off, batchPublishes: false });
    await plain.connect();
    await Promise.all([0, 1, 2].map((n) => plain.send(keyed(n), { timeoutMs: 5_000 })));
    expect(off.requests.map((r) => r.length)).toEqual([1, 1, 1]);
    const unknown = loggingDriver(0);
    const transport = new KafkaTransport({ driver: unknown });
    await transport.connect();
    await Promise.all([0, 1, 2].map((n) => transport.send(keyed(n), { timeoutMs: 5_000 })));
    expect(unknown.requests.map((r) => r.length)).toEqual([1, 1, 1]);
    expect(unknown.requests.flat().map((r) => r.partition)).toEqual([undefined, undefined, undefined]);
  });
});
