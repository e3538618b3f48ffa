import { describe, expect, it } from 'vitest';
import { aggregateHealth, bufferHealth, checkHealth, circuitHealth, composeHealth, connectionHealth, lagHealth, subscriptionsHealth } from './health.ts';

describe('health helpers', () => {
  it('composes a healthy status from healthy parts', () => {
    const status = composeHealth(
      connectionHealth({ broker: 'redis', connected: true }),
      subscriptionsHealth('redis', [{ topic: 'orders', group: 'billing', alive: true, inFlight: 2, circuit: 'closed' }]),
      circuitHealth('redis publish', 'closed', 'publishCircuit'),
      bufferHealth({ broker: 'redis', used: 0, capacity: 1000 }),
      undefined,
      false,
    );
    expect(status).toEqual({
      isHealthy: true,
      issues: [],
      details: {
        connected: true,
        state: 'connected',
        subscriptions: [{ topic: 'orders', group: 'billing', alive: true, inFlight: 2, circuit: 'closed' }],
        publishCircuit: 'closed',
        bufferFill: 0,
        bufferUsed: 0,
        bufferCapacity: 1000,
      },
    });
  });

  it('names the broker, topic and cause in each issue, and redacts errors', () => {
    const status = composeHealth(
      connectionHealth({ broker: 'rabbitmq', connected: false, state: 'reconnecting', lastError: new Error('connect ECONNREFUSED amqp://app:pw123@mq:5672'), reconnectAttempts: 3 }),
      subscriptionsHealth('rabbitmq', [
        { topic: 'orders', alive: false },
        { topic: 'payments', group: 'g', alive: true, circuit: 'open' },
      ]),
      lagHealth('kafka', [{ topic: 'orders', group: 'g', partition: 0, lag: 5000 }, { topic: 'orders', group: 'g', partition: 1, lag: 3 }], { maxLag: 1000 }),
      bufferHealth({ broker: 'rabbitmq', used: 950, capacity: 1000 }),
      circuitHealth('rabbitmq publish', 'open'),
    );
    expect(status.isHealthy).toBe(false);
    expect(status.issues).toEqual([
      'rabbitmq: not connected (reconnecting): connect ECONNREFUSED amqp://app:***@mq:5672',
      'rabbitmq: subscription to "orders" is not running',
      'rabbitmq: subscription to "payments" (group g): circuit open, paused',
      'kafka: consumer lag 5000 on "orders" partition 0 (group g) is above 1000',
      'rabbitmq: publish buffer 95 % full (950/1000)',
      'rabbitmq publish: circuit open',
    ]);
    expect(status.details.totalLag).toBe(5003);
    expect(status.details.bufferFill).toBe(0.95);
    expect(JSON.stringify(status)).not.toContain('pw123');
  });

  it('aggregates brokers', () => {
    const status = aggregateHealth({ a: { isHealthy: true, issues: [], details: {} }, b: { isHealthy: false, issues: ['b: down'], details: { x: 1 } } });
    expect(status.isHealthy).toBe(false);
    expect(status.issues).toEqual(['b: down']);
    expect(status.details.b).toEqual({ isHealthy: false, issues: ['b: down'], details: { x: 1 } });
  });

  it('turns a throwing or hanging health check into an issue', async () => {
    const throwing = await checkHealth({ name: 'kafka', healthCheck: () => Promise.reject(new Error('kafka://u:pw9@k:9092 refused')) });
    expect(throwing).toEqual({ isHealthy: false, issues: ['kafka: health check failed: kafka://u:***@k:9092 refused'], details: { broker: 'kafka' } });
    const hanging = await checkHealth({ name: 'redis', healthCheck: () => new Promise(() => {}) }, { timeoutMs: 20 });
    expect(hanging.issues).toEqual(['redis: health check failed: health check did not answer within 20 ms']);
  });
});
