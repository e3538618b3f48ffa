// KafkaTransport over a fake driver (our own seam, no client library): the publish bound and the
// error it gives. Broker behaviour is tested against real Kafka in test/integration/kafka.
import { describe, expect, it } from 'vitest';
import { BufferFullError } from '../../core/errors.ts';
import type { KafkaDriver, ProducedRecord } from './driver.ts';
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
