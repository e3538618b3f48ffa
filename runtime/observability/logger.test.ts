import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { createRedactingLogger } from './logger.ts';

const SECRET = 's3cr3t-Kq7';

/** Captures calls the way pino would print them (JSON of the object, plus the message). */
function captureLogger(): Logger & { lines: string[]; calls: unknown[][]; child(bindings: object): Logger } {
  const lines: string[] = [];
  const calls: unknown[][] = [];
  const make = (level: string, bindings: object = {}) => (...args: unknown[]) => {
    calls.push(args);
    const [obj, msg] = args as [object, string | undefined];
    const printable = obj instanceof Error ? { err: { type: obj.name, message: obj.message, stack: obj.stack, cause: String((obj as Error).cause) } } : obj;
    lines.push(JSON.stringify({ level, ...bindings, ...printable, msg }, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack, cause: v.cause instanceof Error ? v.cause.message : v.cause } : v)));
  };
  const logger = {
    lines,
    calls,
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    child(bindings: object): Logger {
      return { debug: make('debug', bindings), info: make('info', bindings), warn: make('warn', bindings), error: make('error', bindings) };
    },
  };
  return logger;
}

describe('createRedactingLogger', () => {
  it('never lets a secret through objects, errors, causes or messages', () => {
    const sink = captureLogger();
    const log = createRedactingLogger(sink);
    const cause = new Error(`connect ECONNREFUSED redis://default:${SECRET}@10.1.1.1:6379`);
    log.error({ err: new ConnectionError(`redis://default:${SECRET}@10.1.1.1:6379 unreachable`, { broker: 'redis', cause }) }, 'contractbus: connect failed');
    log.warn({ options: { host: 'h', password: SECRET, sasl: { mechanism: 'plain', username: 'u', password: SECRET } } }, `retrying amqp://u:${SECRET}@h`);
    log.info({ url: `kafka://svc:${SECRET}@k1:9092,k2:9092` });
    log.debug(new Error(`token=${SECRET}`));
    log.child({ password: SECRET, broker: 'redis' }).info({ attempt: 2 }, 'child');
    const output = sink.lines.join('\n');
    expect(sink.lines).toHaveLength(5);
    expect(output).not.toContain(SECRET);
    expect(output).toContain('redis://default:***@10.1.1.1:6379');
    expect(output).toContain('"mechanism":"plain"');
    expect(output).toContain('"broker":"redis"');
  });

  it('keeps the error class for the logger and passes no undefined message', () => {
    const sink = captureLogger();
    const log = createRedactingLogger(sink);
    log.error({ err: new ConnectionError('x') });
    expect(sink.calls[0]).toHaveLength(1);
    expect((sink.calls[0]![0] as { err: unknown }).err).toBeInstanceOf(ConnectionError);
  });

  it('merges bindings itself when the logger has no child()', () => {
    const lines: object[] = [];
    const plain: Logger = { debug: () => {}, info: (obj) => lines.push(obj), warn: () => {}, error: () => {} };
    createRedactingLogger(plain).child({ broker: 'kafka', token: SECRET }).info({ topic: 't' }, 'm');
    expect(lines).toEqual([{ broker: 'kafka', token: '***', topic: 't' }]);
  });
});

describe('createRedactingLogger with pino-style level checks', () => {
  it('skips redaction work for levels the logger has disabled', () => {
    const seen: string[] = [];
    let getterReads = 0;
    const logger = {
      isLevelEnabled: (level: string) => level !== 'debug',
      debug: () => seen.push('debug'),
      info: () => seen.push('info'),
      warn: () => {},
      error: () => {},
    };
    const log = createRedactingLogger(logger);
    const expensive = {
      get detail() {
        getterReads++;
        return 'x';
      },
    };
    log.debug(expensive, 'dropped');
    expect(getterReads).toBe(0);
    log.info(expensive, 'kept');
    expect(getterReads).toBe(1);
    expect(seen).toEqual(['info']);
  });
});
