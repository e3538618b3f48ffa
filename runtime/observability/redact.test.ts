import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../core/errors.ts';
import { MASK, redactError, redactSecrets, redactString, redactUrl } from './redact.ts';

const SECRET = 'hunter2-Zq9';

describe('redactUrl', () => {
  it.each([
    ['redis://user:pass@h', 'redis://user:***@h'],
    ['rediss://:pass@cache.example:6380/0', 'rediss://:***@cache.example:6380/0'],
    ['amqps://app:s3cr%40t@mq:5671/vhost', 'amqps://app:***@mq:5671/vhost'],
    ['amqp://app:p@ss@mq/vhost', 'amqp://app:***@mq/vhost'],
    ['kafka://svc:pw@k1:9092,k2:9092', 'kafka://svc:***@k1:9092,k2:9092'],
    ['redis://localhost:6379', 'redis://localhost:6379'],
    ['amqp://guest@localhost', 'amqp://guest@localhost'],
    ['https://ghp_0123456789abcdefghij@github.com/x', 'https://***@github.com/x'],
    ['failed to connect to redis://u:pw@10.0.0.1:6379 after 3 tries', 'failed to connect to redis://u:***@10.0.0.1:6379 after 3 tries'],
  ])('%s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('masks secret query parameters', () => {
    expect(redactString('kafka://k1:9092?sasl_password=abc&client=x')).toBe('kafka://k1:9092?sasl_password=***&client=x');
    expect(redactString('http://h/p?token=abc123&x=1')).toBe('http://h/p?token=***&x=1');
  });

  it('masks password= and bearer tokens in free text and private keys', () => {
    expect(redactString(`AUTH failed: password=${SECRET} rejected`)).not.toContain(SECRET);
    expect(redactString(`Authorization: Bearer ${SECRET}abcdef`)).toBe('Authorization: ***');
    expect(redactString('key: -----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY-----')).toBe('key: [*** private key]');
  });
});

describe('redactSecrets', () => {
  it('masks secret keys deeply and keeps the rest', () => {
    const options = {
      host: 'h',
      port: 6379,
      password: SECRET,
      tls: { ca: 'public', passphrase: SECRET },
      sasl: { mechanism: 'scram-sha-512', username: 'svc', password: SECRET },
      brokers: ['k1:9092'],
      nested: [{ authToken: SECRET, Authorization: `Basic ${SECRET}` }],
      saslPassword: SECRET,
      url: `redis://u:${SECRET}@h`,
      key: 'order-1',
      emptyPassword: '',
    };
    const safe = redactSecrets(options);
    expect(JSON.stringify(safe)).not.toContain(SECRET);
    expect(safe).toEqual({
      host: 'h',
      port: 6379,
      password: MASK,
      tls: { ca: 'public', passphrase: MASK },
      sasl: { mechanism: 'scram-sha-512', username: MASK, password: MASK },
      brokers: ['k1:9092'],
      nested: [{ authToken: MASK, Authorization: MASK }],
      saslPassword: MASK,
      url: 'redis://u:***@h',
      key: 'order-1',
      emptyPassword: '',
    });
    expect(options.password).toBe(SECRET);
  });

  it('is cycle-safe', () => {
    const a: Record<string, unknown> = { password: SECRET };
    a.self = a;
    a.list = [a];
    const safe = redactSecrets(a);
    expect(safe.self).toBe(safe);
    expect((safe.list as unknown[])[0]).toBe(safe);
    expect(safe.password).toBe(MASK);
  });

  it('bounds depth', () => {
    let deep: Record<string, unknown> = { password: SECRET };
    for (let i = 0; i < 50; i++) deep = { inner: deep };
    expect(JSON.stringify(redactSecrets(deep))).not.toContain(SECRET);
  });

  it('redacts errors (message, stack, cause, own fields) and keeps their class', () => {
    const cause = new Error(`ECONNREFUSED amqp://app:${SECRET}@mq:5672`);
    const error = new ConnectionError(`Cannot connect to amqp://app:${SECRET}@mq:5672`, { broker: 'rabbitmq', cause, hint: `check password=${SECRET}` });
    const safe = redactError(error);
    expect(safe).toBeInstanceOf(ConnectionError);
    expect(safe.name).toBe('ConnectionError');
    expect((safe as ConnectionError).broker).toBe('rabbitmq');
    expect(safe.message).toContain('amqp://app:***@mq:5672');
    const all = [safe.message, safe.stack, (safe.cause as Error).message, (safe.cause as Error).stack, (safe as ConnectionError).hint].join('\n');
    expect(all).not.toContain(SECRET);
    expect(error.message).toContain(SECRET);
  });

  it('redacts AggregateError members and ioredis AUTH command args', () => {
    const ioredisError = Object.assign(new Error('WRONGPASS invalid username-password pair'), { command: { name: 'auth', args: ['default', SECRET] } });
    const aggregate = new AggregateError([ioredisError, new Error(`redis://:${SECRET}@h`)], 'all failed');
    const safe = redactSecrets({ err: aggregate });
    const errors = (safe.err as AggregateError).errors as Array<Error & { command: { args: unknown } }>;
    expect(errors[0]!.command.args).toBe(MASK);
    expect(errors[1]!.message).toBe('redis://:***@h');
  });

  it('wraps non-errors in redactError', () => {
    expect(redactError(`redis://u:${SECRET}@h`).message).toBe('redis://u:***@h');
  });

  it('leaves buffers, dates and primitives alone, and uses toJSON', () => {
    const date = new Date(0);
    const buffer = Buffer.from('x');
    const withJson = { toJSON: () => ({ password: SECRET, ok: 1 }) };
    expect(redactSecrets({ date, buffer, n: 1, b: true, u: undefined, withJson })).toEqual({ date, buffer, n: 1, b: true, u: undefined, withJson: { password: MASK, ok: 1 } });
  });
});
