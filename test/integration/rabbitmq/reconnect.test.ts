/**
 * Connection loss without touching the shared broker: the client talks to RabbitMQ through a TCP
 * proxy that the test cuts or stops. Proves reconnect with topology and consumer restore, the
 * bounded publish buffer while down, and that an ack from a dead channel never hits the new one.
 */
import { connect as amqpConnect } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferFullError } from '../../../runtime/core/errors.ts';
import type { Delivery } from '../../../runtime/core/transport.ts';
import { RabbitMQTransport } from '../../../runtime/bindings/rabbitmq/transport.ts';
import { AMQP_URL, unique, waitFor, wire } from './helpers.ts';
import { TcpProxy } from './tcp-proxy.ts';

const target = new URL(AMQP_URL);
const spec = (topic: string, group?: string, prefetch = 10) => ({ topic, group, prefetch, startFrom: 'earliest' as const });

describe('RabbitMQ reconnection (through a TCP proxy)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });

  async function setup(options: { publishBufferSize?: number } = {}) {
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
    const port = await proxy.start();
    const transport = new RabbitMQTransport({ url: `amqp://guest:guest@127.0.0.1:${port}`, reconnectDelay: 50, maxReconnectDelay: 200, heartbeat: 1, ...options });
    await transport.connect();
    cleanup.push(() => proxy.stop(), () => transport.close());
    return { proxy, transport };
  }

  it('re-declares topology, re-registers consumers and loses nothing confirmed across a cut', async () => {
    const { proxy, transport } = await setup();
    const topic = unique('reconnect');
    const received = new Set<string>();
    await transport.consume(spec(topic, 'g'), async (d) => {
      received.add(d.message.messageId);
      await d.ack();
    });
    const confirmed: string[] = [];
    const publishSome = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const m = wire(topic, { i });
        try {
          await transport.send(m, { timeoutMs: 5_000 });
          confirmed.push(m.messageId);
        } catch {
          // not confirmed: allowed to be lost
        }
      }
    };
    await publishSome(20);
    await waitFor(() => received.size === 20);
    const generation = transport.connection.generation;
    proxy.cut();
    await publishSome(20); // these wait for the reconnect (bounded buffer), then go out
    await waitFor(() => transport.connection.generation > generation && transport.connection.state === 'connected');
    await waitFor(() => confirmed.every((id) => received.has(id)), 15_000, 'every confirmed message to arrive');
    expect(confirmed.length).toBe(40);
  });

  it('holds publishes while down up to publishBufferSize, fails fast past it, and each settles by its timeout', async () => {
    const { proxy, transport } = await setup({ publishBufferSize: 2 });
    const topic = unique('buffer');
    await transport.consume(spec(topic, 'g'), async (d) => d.ack());
    await proxy.stop();
    await waitFor(() => transport.connection.state === 'reconnecting');
    const started = Date.now();
    const waiting = [transport.send(wire(topic, {}), { timeoutMs: 400 }), transport.send(wire(topic, {}), { timeoutMs: 400 })];
    await expect(transport.send(wire(topic, {}), { timeoutMs: 400 })).rejects.toBeInstanceOf(BufferFullError);
    const results = await Promise.allSettled(waiting);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(Date.now() - started).toBeLessThan(2_000);
    const health = await transport.health();
    expect(health.isHealthy).toBe(false);
    expect(health.issues.join(' ')).toMatch(/reconnecting/);
    // back up: a buffered publish goes through once the proxy listens again
    await proxy.start();
    await transport.send(wire(topic, {}), { timeoutMs: 10_000 });
  });

  it('declares remembered queues and bindings again after a reconnect (an exclusive queue dies with its connection)', async () => {
    const { proxy, transport } = await setup();
    const queue = unique('exclusive');
    await transport.declareQueue(queue, { exclusive: true, durable: false });
    await transport.bindQueue(queue, 'contractbus', queue);
    const generation = transport.connection.generation;
    proxy.cut();
    await waitFor(() => transport.connection.generation > generation && transport.connection.state === 'connected', 10_000, 'the reconnect');
    expect(await transport.queueDepth(queue)).toEqual({ messageCount: 0, consumerCount: 0, queue });
    await transport.send(wire(queue, {}), { timeoutMs: 5_000, amqp: { mandatory: true } }); // routed: the binding is back
    expect((await transport.queueDepth(queue))?.messageCount).toBe(1);
  });

  it('comes back even if RabbitMQ refuses one remembered declaration (changed meanwhile): reported in health', async () => {
    const { proxy, transport } = await setup();
    const changed = unique('changed');
    await transport.declareQueue(changed);
    const topic = unique('still.works');
    const got: unknown[] = [];
    await transport.consume(spec(topic, 'g'), async (d) => {
      got.push(d.message.messageId);
      await d.ack();
    });
    await proxy.stop();
    await waitFor(() => transport.connection.state === 'reconnecting');
    const raw = await amqpConnect(AMQP_URL);
    const channel = await raw.createChannel();
    await channel.deleteQueue(changed);
    await channel.assertQueue(changed, { durable: true, arguments: { 'x-max-length': 5 } });
    await proxy.start();
    await waitFor(() => transport.connection.state === 'connected', 10_000, 'the reconnect');
    await transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { mandatory: true } });
    await waitFor(() => got.length === 1);
    const health = await transport.health();
    expect(health.issues.join(' ')).toMatch(new RegExp(`refused to restore.*${changed.replace(/\./g, '\\.')}.*PRECONDITION`));
    await channel.deleteQueue(changed);
    await raw.close();
  });

  it('notices a silent network partition through heartbeats and reconnects', async () => {
    const { proxy, transport } = await setup();
    const topic = unique('partition');
    const got: unknown[] = [];
    await transport.consume(spec(topic, 'g'), async (d) => {
      got.push(d.message.messageId);
      await d.ack();
    });
    const generation = transport.connection.generation;
    proxy.frozen = true; // no RST, no FIN: only missed heartbeats can tell
    await waitFor(() => transport.connection.state !== 'connected', 15_000, 'the heartbeat timeout');
    proxy.cut();
    proxy.frozen = false;
    await waitFor(() => transport.connection.generation > generation && transport.connection.state === 'connected', 15_000, 'the reconnect');
    await transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { mandatory: true } });
    await waitFor(() => got.length === 1);
  });

  it('fails over to the next cluster host on reconnect', async () => {
    const a = new TcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
    const b = new TcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
    const [portA, portB] = [await a.start(), await b.start()];
    const transport = new RabbitMQTransport({ hosts: [`127.0.0.1:${portA}`, `127.0.0.1:${portB}`], reconnectDelay: 50, maxReconnectDelay: 100 });
    cleanup.push(() => a.stop(), () => b.stop(), () => transport.close());
    await transport.connect();
    expect((await transport.health()).details.endpoint).toBe(`amqp://127.0.0.1:${portA}`);
    const topic = unique('failover');
    const got: unknown[] = [];
    await transport.consume(spec(topic, 'g'), async (d) => {
      got.push(d.message.messageId);
      await d.ack();
    });
    await a.stop(); // node A goes away for good
    await waitFor(async () => transport.connection.state === 'connected' && (await transport.health()).details.endpoint === `amqp://127.0.0.1:${portB}`, 10_000, 'failover to B');
    await transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { mandatory: true } });
    await waitFor(() => got.length === 1);
  });

  it('tries cluster hosts in order and connects to the first that answers', async () => {
    const target = new URL(AMQP_URL);
    const transport = new RabbitMQTransport({ hosts: ['127.0.0.1:1', `${target.hostname}:${target.port || 5672}`], username: 'guest', password: 'guest' });
    cleanup.push(() => transport.close());
    await transport.connect();
    const health = await transport.health();
    expect(health.details.endpoint).toBe(`amqp://${target.hostname}:${target.port || 5672}`);
  });

  it('fails connect fast with the reason and a hint (wrong password, nothing listening)', async () => {
    const target = new URL(AMQP_URL);
    const wrong = new RabbitMQTransport({ host: target.hostname, port: Number(target.port || 5672), username: 'guest', password: 'wrong' });
    await expect(wrong.connect()).rejects.toThrow(/ACCESS_REFUSED|403/);
    const nothing = new RabbitMQTransport({ host: '127.0.0.1', port: 1 });
    await expect(nothing.connect()).rejects.toThrow(/ECONNREFUSED.*npm run brokers -- start rabbitmq/s);
  });

  it('fails connect when the exchange exists with another type, naming the cause', async () => {
    const exchangeName = unique('typed');
    const first = new RabbitMQTransport({ url: AMQP_URL, exchangeName, exchangeType: 'direct' });
    await first.connect();
    cleanup.push(() => first.close());
    const second = new RabbitMQTransport({ url: AMQP_URL, exchangeName });
    await expect(second.connect()).rejects.toThrow(/PRECONDITION_FAILED.*inequivalent arg 'type'/s);
    const admin = await amqpConnect(AMQP_URL);
    const channel = await admin.createChannel();
    await channel.deleteExchange(exchangeName);
    await admin.close();
  });

  it('gives up after maxReconnectAttempts: unhealthy, publishes fail with ConnectionError', async () => {
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
    const port = await proxy.start();
    const transport = new RabbitMQTransport({ url: `amqp://guest:guest@127.0.0.1:${port}`, reconnectDelay: 20, maxReconnectDelay: 40, maxReconnectAttempts: 2 });
    cleanup.push(() => proxy.stop(), () => transport.close());
    await transport.connect();
    await proxy.stop();
    await waitFor(() => transport.connection.state === 'failed', 5_000, 'reconnection to give up');
    await expect(transport.send(wire(unique('gone'), {}), { timeoutMs: 1_000 })).rejects.toThrow(/failed/);
    const health = await transport.health();
    expect(health.isHealthy).toBe(false);
    expect(health.issues[0]).toMatch(/failed.*gave up after 2 attempts/);
  });

  it('drops an ack for a delivery of a dead channel instead of acking the new channel’s tag', async () => {
    const { proxy, transport } = await setup();
    const topic = unique('stale');
    const deliveries: Delivery[] = [];
    await transport.consume(spec(topic, 'g', 1), async (d) => {
      deliveries.push(d);
    });
    await transport.send(wire(topic, { n: 1 }), { timeoutMs: 5_000 });
    await waitFor(() => deliveries.length === 1);
    proxy.cut();
    await waitFor(() => deliveries.length === 2, 15_000, 'redelivery on the new channel'); // same tag number 1, new channel
    expect(deliveries[1]!.deliveryCount).toBe(2);
    await deliveries[0]!.ack(); // stale: must be dropped
    await deliveries[1]!.nack({ requeue: true }); // would be PRECONDITION_FAILED (unknown tag) if the stale ack had landed
    await waitFor(() => deliveries.length === 3);
    await deliveries[2]!.ack();
    const health = await transport.health();
    expect(health.isHealthy).toBe(true);
    const consumers = health.details.consumers as Array<{ staleSettles: number }>;
    expect(consumers[0]!.staleSettles).toBe(1);
  });
});
