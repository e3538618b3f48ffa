import { describe, expect, it, vi } from 'vitest';
import { CircuitOpenError, ConfigurationError, ValidationError } from '../core/errors.ts';
import { circuitBreaker, MessageCircuitBreaker, type CircuitState } from './circuit-breaker.ts';

class DependencyDown extends Error {}
class BadInput extends Error {}

function setup(options: ConstructorParameters<typeof MessageCircuitBreaker>[0] = {}) {
  let t = 1_000_000;
  const breaker = new MessageCircuitBreaker({ failureThreshold: 3, recoveryTimeout: 1000, name: 'payments', now: () => t, ...options });
  const changes: Array<[CircuitState, CircuitState]> = [];
  breaker.on('stateChange', (from, to) => changes.push([from, to]));
  return { breaker, changes, advance: (ms: number) => void (t += ms), now: () => t };
}

const fail = (error: unknown = new DependencyDown('down')) => async (): Promise<never> => {
  throw error;
};

describe('MessageCircuitBreaker', () => {
  it('has the documented defaults', () => {
    const breaker = new MessageCircuitBreaker();
    expect([breaker.failureThreshold, breaker.recoveryTimeout, breaker.halfOpenMaxCalls, breaker.state]).toEqual([5, 30_000, 1, 'closed']);
  });

  it('opens after failureThreshold consecutive failures; a success resets the streak', async () => {
    const { breaker, changes } = setup();
    await expect(breaker.execute(fail())).rejects.toThrow(DependencyDown);
    await expect(breaker.execute(fail())).rejects.toThrow(DependencyDown);
    await expect(breaker.execute(async () => 'ok')).resolves.toBe('ok');
    await expect(breaker.execute(fail())).rejects.toThrow(DependencyDown);
    await expect(breaker.execute(fail())).rejects.toThrow(DependencyDown);
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(fail())).rejects.toThrow(DependencyDown);
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([['closed', 'open']]);
  });

  it('refuses calls while open with a CircuitOpenError naming the breaker and the retry time, without calling fn', async () => {
    const { breaker, now } = setup();
    for (let i = 0; i < 3; i++) await breaker.execute(fail()).catch(() => undefined);
    const fn = vi.fn(async () => 'never');
    const error = await breaker.execute(fn).catch((e: unknown) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(CircuitOpenError);
    const message = (error as Error).message;
    expect(message).toContain('"payments"');
    expect(message).toContain(new Date(now() + 1000).toISOString());
    expect(message).toContain('3 consecutive failures');
    expect(breaker.stats).toMatchObject({ state: 'open', failures: 3, rejected: 1, openedAt: now() });
    expect(breaker.retryAt?.getTime()).toBe(now() + 1000);
  });

  it('goes closed → open → half-open → closed', async () => {
    const { breaker, changes, advance } = setup();
    for (let i = 0; i < 3; i++) await breaker.execute(fail()).catch(() => undefined);
    advance(999);
    expect(breaker.canAttempt()).toBe(false);
    advance(1);
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(async () => 'recovered')).resolves.toBe('recovered');
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual([['closed', 'open'], ['open', 'half-open'], ['half-open', 'closed']]);
    expect(breaker.stats).toMatchObject({ consecutiveFailures: 0, openedAt: undefined });
  });

  it('a failure while half-open opens it again for a full recoveryTimeout', async () => {
    const { breaker, changes, advance, now } = setup();
    for (let i = 0; i < 3; i++) await breaker.execute(fail()).catch(() => undefined);
    advance(1000);
    await expect(breaker.execute(fail())).rejects.toThrow(DependencyDown);
    expect(breaker.state).toBe('open');
    expect(breaker.stats.openedAt).toBe(now());
    expect(changes.map(([, to]) => to)).toEqual(['open', 'half-open', 'open']);
    advance(999);
    expect(breaker.canAttempt()).toBe(false);
  });

  it('lets only halfOpenMaxCalls trial calls through at once, and needs that many successes to close', async () => {
    const { breaker, advance } = setup({ halfOpenMaxCalls: 2 });
    for (let i = 0; i < 3; i++) await breaker.execute(fail()).catch(() => undefined);
    advance(1000);
    expect(breaker.canAttempt()).toBe(true);
    expect(breaker.canAttempt()).toBe(true);
    expect(breaker.canAttempt()).toBe(false);
    const refused = breaker.openError();
    expect(refused.message).toContain('half-open');
    breaker.recordSuccess();
    expect(breaker.state).toBe('half-open');
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
  });

  it('with concurrent calls in half-open, only the trial runs; the others are refused', async () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i++) await breaker.execute(fail()).catch(() => undefined);
    advance(1000);
    let release!: () => void;
    const trial = breaker.execute(() => new Promise<string>((resolve) => (release = () => resolve('trial ok'))));
    const others = await Promise.allSettled([breaker.execute(async () => 'a'), breaker.execute(async () => 'b')]);
    expect(others.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(breaker.stats.rejected).toBe(2);
    release();
    await expect(trial).resolves.toBe('trial ok');
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(async () => 'a')).resolves.toBe('a');
  });

  it('counts only expectedException classes; other errors pass through uncounted', async () => {
    const { breaker } = setup({ expectedException: [DependencyDown] });
    for (let i = 0; i < 10; i++) await expect(breaker.execute(fail(new BadInput('4xx')))).rejects.toThrow(BadInput);
    expect(breaker.stats).toMatchObject({ state: 'closed', failures: 0, consecutiveFailures: 0 });
    for (let i = 0; i < 3; i++) await breaker.execute(fail()).catch(() => undefined);
    expect(breaker.state).toBe('open');
  });

  it('accepts a single class or a predicate as expectedException', async () => {
    const single = setup({ expectedException: DependencyDown, failureThreshold: 1 }).breaker;
    single.recordFailure(new BadInput());
    expect(single.state).toBe('closed');
    single.recordFailure(new DependencyDown());
    expect(single.state).toBe('open');

    const predicate = setup({ expectedException: (e) => e instanceof Error && e.message.startsWith('5'), failureThreshold: 1 }).breaker;
    predicate.recordFailure(new Error('404'));
    expect(predicate.state).toBe('closed');
    predicate.recordFailure(new Error('503'));
    expect(predicate.state).toBe('open');
  });

  it('by default does not count terminal errors such as ValidationError', () => {
    const { breaker } = setup({ failureThreshold: 1 });
    breaker.recordFailure(new ValidationError('bad payload', []));
    expect(breaker.state).toBe('closed');
    breaker.recordFailure(new Error('timeout'));
    expect(breaker.state).toBe('open');
  });

  it('an uncounted error in half-open frees the trial slot without deciding', async () => {
    const { breaker, advance } = setup({ expectedException: [DependencyDown] });
    for (let i = 0; i < 3; i++) await breaker.execute(fail()).catch(() => undefined);
    advance(1000);
    await expect(breaker.execute(fail(new BadInput()))).rejects.toThrow(BadInput);
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(async () => 1)).resolves.toBe(1);
    expect(breaker.state).toBe('closed');
  });

  it('wrap() and the decorator function keep `this` and arguments', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    class Service {
      base = 10;
      async add(this: Service, n: number): Promise<number> {
        if (n < 0) throw new DependencyDown('negative');
        return this.base + n;
      }
    }
    const service = new Service();
    const wrapped = breaker.wrap(Service.prototype.add);
    await expect(wrapped.call(service, 5)).resolves.toBe(15);
    const decorated = circuitBreaker(breaker)(Service.prototype.add);
    await expect(decorated.call(service, -1)).rejects.toThrow(DependencyDown);
    await expect(decorated.call(service, 1)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('reset() closes an open circuit', async () => {
    const { breaker, changes } = setup({ failureThreshold: 1 });
    breaker.recordFailure(new Error('x'));
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual([['closed', 'open'], ['open', 'closed']]);
  });

  it('treats a synchronous throw from fn like a rejection', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    await expect(breaker.execute(() => { throw new DependencyDown('sync'); })).rejects.toThrow('sync');
    expect(breaker.state).toBe('open');
  });

  it('rejects bad options', () => {
    expect(() => new MessageCircuitBreaker({ failureThreshold: 0 })).toThrow(ConfigurationError);
    expect(() => new MessageCircuitBreaker({ recoveryTimeout: -1 })).toThrow(ConfigurationError);
    expect(() => new MessageCircuitBreaker({ halfOpenMaxCalls: 0 })).toThrow(ConfigurationError);
  });
});
