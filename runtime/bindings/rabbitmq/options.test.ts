import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../core/errors.ts';
import { redact, resolveOptions } from './options.ts';

describe('RabbitMQ options', () => {
  it('has safe defaults', () => {
    const o = resolveOptions();
    expect(o).toMatchObject({
      endpoints: [{ protocol: 'amqp', hostname: '127.0.0.1', port: 5672 }],
      username: 'guest',
      virtualHost: '/',
      exchangeName: 'contractbus',
      exchangeType: 'topic',
      prefetch: 10,
      confirm: true,
      mandatory: false,
      persistent: true,
      autoReconnect: true,
      heartbeat: 10,
    });
  });

  it('reads an amqps URL with credentials, vhost and query parameters', () => {
    const o = resolveOptions('amqps://app:s%40cret@mq.example.com/prod%2Fv1?heartbeat=5&prefetch=50&exchange=orders');
    expect(o.endpoints).toEqual([{ protocol: 'amqps', hostname: 'mq.example.com', port: 5671 }]);
    expect(o.username).toBe('app');
    expect(o.password).toBe('s@cret');
    expect(o.virtualHost).toBe('prod/v1');
    expect(o.heartbeat).toBe(5);
    expect(o.prefetch).toBe(50);
    expect(o.exchangeName).toBe('orders');
    expect(o.tls).toEqual({});
  });

  it('lets explicit fields win over the URL and takes a cluster host list in order', () => {
    const o = resolveOptions({ url: 'amqp://u:p@a:1000/', hosts: ['n1:5673', { host: 'n2' }, '[::1]:5674'], username: 'x' });
    expect(o.username).toBe('x');
    expect(o.endpoints.map((e) => `${e.hostname}:${e.port}`)).toEqual(['n1:5673', 'n2:5672', '::1:5674']);
  });

  it('turns tls options into amqps and keeps them for the socket', () => {
    const o = resolveOptions({ host: 'h', tls: { ca: 'CA', servername: 'h' } });
    expect(o.endpoints[0]).toEqual({ protocol: 'amqps', hostname: 'h', port: 5671 });
    expect(o.tls).toEqual({ ca: 'CA', servername: 'h' });
    expect(resolveOptions({ ssl: true }).endpoints[0]?.protocol).toBe('amqps');
  });

  it('refuses unsafe or invalid settings with a clear error', () => {
    expect(() => resolveOptions({ prefetch: 0 })).toThrow(/Unbounded prefetch/);
    expect(() => resolveOptions('redis://x')).toThrow(ConfigurationError);
    expect(() => resolveOptions({ exchangeType: 'nope' as 'topic' })).toThrow(/exchangeType/);
    expect(() => resolveOptions({ maxPriority: 5, queueType: 'quorum' })).toThrow(/quorum/);
    expect(() => resolveOptions({ port: 70_000 })).toThrow(/port/);
  });

  it('never prints a password', () => {
    expect(redact('amqp://user:secret@host/')).toBe('amqp://user:***@host/');
  });
});
