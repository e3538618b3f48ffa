// Proves the Kafka 4.x (KRaft) infrastructure with both raw clients the bindings may use:
// kafkajs 2.2.4 and @platformatic/kafka. Create topic, produce (acks=all), consume in a
// consumer group, commit, and read the committed offset back.
import { Admin, Consumer, MessagesStreamModes, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { brokerUrls } from '../support/brokers.ts';
import { deferred, uniqueName, within } from './wait.ts';

describe('smoke: Kafka 4 (raw kafkajs)', () => {
  it('creates a topic, produces, consumes in a group and commits the offset', async () => {
    const topic = uniqueName('smoke-kafkajs');
    const groupId = uniqueName('smoke-kafkajs-group');
    const kafka = new Kafka({
      clientId: 'contractbus-smoke',
      brokers: [...brokerUrls().kafkaBrokers],
      logLevel: logLevel.WARN,
      connectionTimeout: 5_000,
      requestTimeout: 10_000,
      retry: { retries: 3 },
    });
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    // A short fetch wait: disconnect() waits for the in-flight fetch (kafkajs default 5 s).
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 200 });
    try {
      await admin.connect();
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);

      await producer.connect();
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: 'k1', value: '{"n":1}', headers: { 'content-type': 'application/json' } }] });
      expect(meta?.errorCode).toBe(0);

      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const got = deferred<{ value: string; offset: string; header: string }>();
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message, partition }) => {
          // Commit after handling: the committed offset is the NEXT one to read.
          await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
          got.resolve({
            value: message.value?.toString() ?? '',
            offset: message.offset,
            header: message.headers?.['content-type']?.toString() ?? '',
          });
        },
      });
      const msg = await within(got.promise, 20_000, `a kafkajs delivery from ${topic}`);
      expect(msg).toEqual({ value: '{"n":1}', offset: '0', header: 'application/json' });

      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(offsets[0]?.partitions[0]?.offset).toBe('1');
    } finally {
      await consumer.disconnect().catch(() => {});
      await producer.disconnect().catch(() => {});
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  });
});

describe('smoke: Kafka 4 (raw @platformatic/kafka)', () => {
  it('creates a topic, produces, consumes in a group and commits the offset', async () => {
    const topic = uniqueName('smoke-platformatic');
    const groupId = uniqueName('smoke-platformatic-group');
    const bootstrapBrokers = [...brokerUrls().kafkaBrokers];
    const admin = new Admin({ clientId: 'contractbus-smoke-admin', bootstrapBrokers });
    const producer = new Producer({ clientId: 'contractbus-smoke-producer', bootstrapBrokers, serializers: stringSerializers, acks: -1 });
    const consumer = new Consumer({
      clientId: 'contractbus-smoke-consumer',
      groupId,
      bootstrapBrokers,
      deserializers: stringDeserializers,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
    });
    try {
      await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
      await producer.send({ messages: [{ topic, key: 'k1', value: '{"n":1}', headers: { 'content-type': 'application/json' } }] });

      const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 500 });
      const got = deferred<{ value: string; offset: bigint; header: string | undefined }>();
      stream.on('data', (message) => {
        void Promise.resolve(message.commit()).then(
          () => got.resolve({ value: message.value, offset: message.offset, header: message.headers.get('content-type') }),
          (err: unknown) => got.reject(err instanceof Error ? err : new Error(String(err))),
        );
      });
      stream.on('error', (err: Error) => got.reject(err));
      const msg = await within(got.promise, 20_000, `a @platformatic/kafka delivery from ${topic}`);
      expect(msg).toEqual({ value: '{"n":1}', offset: 0n, header: 'application/json' });
      await stream.close();

      const [group] = await admin.listConsumerGroupOffsets({ groups: [groupId] });
      const committed = group?.topics.find((t) => t.name === topic)?.partitions[0]?.committedOffset;
      expect(committed).toBe(1n);
    } finally {
      await consumer.close(true).catch(() => {});
      await producer.close().catch(() => {});
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.close().catch(() => {});
    }
  });
});
