import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../../runtime/bindings/memory/index.ts';
import { bootstrapServersFromUrl, brokerFromEnv, brokerFromUrl, connect, parseBrokerUrl, SCHEMES } from '../../../runtime/core/connect.ts';
import { ConfigurationError } from '../../../runtime/core/errors.ts';
import type { MessageBroker } from '../../../runtime/core/types.ts';

const opened: MessageBroker[] = [];
const savedEnv = process.env.MESSAGE_BROKER_URL;

afterEach(async () => {
  if (savedEnv === undefined) delete process.env.MESSAGE_BROKER_URL;
  else process.env.MESSAGE_BROKER_URL = savedEnv;
  await Promise.allSettled(opened.splice(0).map((b) => b.disconnect()));
});

async function track(promise: Promise<MessageBroker>): Promise<MessageBroker> {
  const broker = await promise;
  opened.push(broker);
  return broker;
}

describe('connect()', () => {
  it('defaults to a connected memory broker', async () => {
    delete process.env.MESSAGE_BROKER_URL;
    const broker = await track(connect());
    expect(broker).toBeInstanceOf(MemoryBroker);
    expect(broker.name).toBe('memory');
    await expect(broker.publish('connect.default', 1)).resolves.toMatchObject({ topic: 'connect.default' });
  });

  it('reads MESSAGE_BROKER_URL, and memory://name selects a shared hub', async () => {
    process.env.MESSAGE_BROKER_URL = 'memory://connect-test-hub';
    const a = (await track(connect())) as MemoryBroker;
    const b = (await track(brokerFromEnv())) as MemoryBroker;
    const c = (await track(connect('memory://other-hub'))) as MemoryBroker;
    expect(a.hub).toBe(b.hub);
    expect(c.hub).not.toBe(a.hub);
  });

  it('passes client options through (options object form)', async () => {
    const broker = await track(connect({ url: 'memory://opts', maxMessageBytes: 8 }));
    await expect(broker.publish('t', 'far too long')).rejects.toThrow(/maxMessageBytes 8/);
  });

  it('knows every documented scheme', () => {
    expect(Object.keys(SCHEMES).sort()).toEqual(['amqp:', 'amqps:', 'kafka+ssl:', 'kafka:', 'kafkas:', 'memory:', 'redis+streams:', 'redis:', 'rediss+streams:', 'rediss:'].sort());
  });

  it('rejects an unknown scheme or a bad URL with ConfigurationError, without leaking passwords', async () => {
    await expect(connect('nats://127.0.0.1')).rejects.toThrow(/Unknown broker URL scheme "nats:".*redis:\/\//);
    const error = await connect('mqtt://user:s3cret@host').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).not.toContain('s3cret');
    await expect(connect('not a url')).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('hands the Kafka binding its host list intact (not connected: no broker needed)', async () => {
    const broker = (await brokerFromUrl('kafka://127.0.0.1:1,127.0.0.2:2?clientId=conf')) as MessageBroker & { kafka?: { options: { brokers: string[] } } };
    expect(broker.name).toMatch(/kafka/);
    expect(broker.kafka?.options.brokers).toEqual(['127.0.0.1:1', '127.0.0.2:2']);
  });

  it('loads the binding module lazily and calls its fromUrl', async () => {
    // memory goes through the same path as the other schemes.
    const broker = await brokerFromUrl('memory://lazy?maxMessagesPerTopic=5');
    expect((broker as MemoryBroker).hub.maxMessagesPerTopic).toBe(5);
  });
});

describe('parseBrokerUrl / bootstrapServersFromUrl', () => {
  it('turns a comma-separated Kafka host list into a brokers parameter', () => {
    const url = parseBrokerUrl('kafka://user:pw@host1:9092,host2:9093,host3/?clientId=x');
    expect(url.protocol).toBe('kafka:');
    expect(url.hostname).toBe('host1');
    expect(url.username).toBe('user');
    expect(url.searchParams.get('clientId')).toBe('x');
    expect(bootstrapServersFromUrl(url)).toEqual(['host1:9092', 'host2:9093', 'host3:9092']);
  });

  it('reads a single host, with the default port', () => {
    expect(bootstrapServersFromUrl(parseBrokerUrl('kafka://127.0.0.1:19092'))).toEqual(['127.0.0.1:19092']);
    expect(bootstrapServersFromUrl(parseBrokerUrl('kafka://broker'))).toEqual(['broker:9092']);
  });

  it('keeps ordinary URLs as they are', () => {
    expect(parseBrokerUrl('rediss+streams://:pw@127.0.0.1:6380/2').href).toBe('rediss+streams://:pw@127.0.0.1:6380/2');
  });
});
