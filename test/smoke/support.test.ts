// The test helpers themselves: URL defaults, the globalSetup broker list, reachability of a
// closed port, and the SIGKILL child-process helpers the fault tests rely on.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { brokerEndpoint, brokerUrls, isReachable, killHard, spawnConsumerProcess, startCommand } from '../support/brokers.ts';
import { requiredBrokers } from '../support/global-setup.ts';

describe('test/support/brokers', () => {
  it('defaults to the loopback brokers and honours the env vars', () => {
    expect(brokerUrls({})).toEqual({
      redis: 'redis://127.0.0.1:6379',
      amqp: 'amqp://guest:guest@127.0.0.1:5672',
      kafkaBrokers: ['127.0.0.1:9092'],
    });
    const custom = brokerUrls({ REDIS_URL: 'redis://127.0.0.1:16379/2', AMQP_URL: 'amqp://u:p@localhost:15672/vh', KAFKA_BROKERS: ' a:1, b:2 ' });
    expect(custom.kafkaBrokers).toEqual(['a:1', 'b:2']);
    expect(brokerEndpoint('redis', custom)).toEqual({ host: '127.0.0.1', port: 16379 });
    expect(brokerEndpoint('rabbitmq', custom)).toEqual({ host: 'localhost', port: 15672 });
    expect(brokerEndpoint('kafka', custom)).toEqual({ host: 'a', port: 1 });
    expect(startCommand('kafka', custom)).toBe('KAFKA_PORT=1 npm run brokers -- start kafka');
    expect(startCommand('redis', brokerUrls({}))).toBe('npm run brokers -- start redis');
  });

  it('parses CONTRACTBUS_BROKERS for the globalSetup', () => {
    expect(requiredBrokers(undefined)).toEqual(['redis', 'rabbitmq', 'kafka']);
    expect(requiredBrokers('none')).toEqual([]);
    expect(requiredBrokers('redis, rabbit')).toEqual(['redis', 'rabbitmq']);
    expect(() => requiredBrokers('redis,nats')).toThrow(/unknown broker.*nats/);
  });

  it('isReachable is false for a port where nothing speaks the protocol', async () => {
    // A server that accepts and says nothing: TCP alone must not count as "up".
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      expect(await isReachable('kafka', 300, { ...brokerUrls({}), kafkaBrokers: [`127.0.0.1:${port}`] })).toBe(false);
    } finally {
      silent.close();
    }
  });

  it('spawns a .ts child with --conditions=development and kills it with SIGKILL', async () => {
    const child = spawnConsumerProcess(new URL('./fixtures/child.ts', import.meta.url), { env: { KAFKA_BROKERS: '127.0.0.1:1' } });
    const line = await child.waitForLine(/child ready/, 10_000);
    expect(line).toContain(`pid=${child.pid}`);
    expect(line).toContain('kafka=127.0.0.1:1');
    const ready = await child.waitForMessage<{ node: string; conditions: string[] }>((m) => (m as { type?: string }).type === 'ready');
    expect(ready.node).toBe(process.version);
    expect(ready.conditions).toContain('--conditions=development');
    const exit = await killHard(child);
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    await expect(child.waitForLine('never printed', 1_000)).rejects.toThrow(/exited \(SIGKILL\)/);
  });
});
