import { describe, expect, it } from 'vitest';
import { deliveryParams, matchesParams, paramHeader, paramsFromHeaders, routeForPublish, routeForSubscribe, type ChannelRoute } from './channel.ts';
import { CapabilityError, ValidationError } from './errors.ts';
import { HEADER, RESERVED_HEADER_PREFIX } from './headers.ts';

const orders: ChannelRoute = { address: 'orders.{orderId}.status', collapsedTopic: 'orders.status' };
const tenantOrders: ChannelRoute = { address: 't.{tenant}.orders.{orderId}', collapsedTopic: 't.orders' };
const onlyParams: ChannelRoute = { address: '{tenant}.{event}', collapsedTopic: undefined };
const plain: ChannelRoute = { address: 'shop.payments', collapsedTopic: undefined };
const withPatterns = { name: 'memory', capabilities: { patternSubscribe: true } };
const withoutPatterns = { name: 'kafka', capabilities: { patternSubscribe: false } };

describe('paramHeader', () => {
  it('names the parameter under the reserved prefix', () => {
    expect(paramHeader('orderId')).toBe('x-contractbus-param-orderId');
    expect(HEADER.paramPrefix.startsWith(RESERVED_HEADER_PREFIX)).toBe(true);
  });
});

describe('routeForPublish', () => {
  it('with patterns: one concrete topic per value, no headers, no key', () => {
    expect(routeForPublish(orders, withPatterns, { orderId: '42' })).toEqual({ topic: 'orders.42.status', headers: {}, key: undefined });
  });

  it('without patterns: the collapsed topic, parameters in headers, key from the values', () => {
    expect(routeForPublish(orders, withoutPatterns, { orderId: '42' })).toEqual({
      topic: 'orders.status',
      headers: { 'x-contractbus-param-orderId': '42' },
      key: '42',
    });
    expect(routeForPublish(tenantOrders, withoutPatterns, { tenant: 'acme', orderId: 7 })).toEqual({
      topic: 't.orders',
      headers: { 'x-contractbus-param-tenant': 'acme', 'x-contractbus-param-orderId': '7' },
      key: 'acme.7',
    });
  });

  it('a channel without parameters keeps its address on every broker', () => {
    expect(routeForPublish(plain, withoutPatterns)).toEqual({ topic: 'shop.payments', headers: {}, key: undefined });
  });

  it('rejects missing or unsafe parameters on both routings', () => {
    for (const broker of [withPatterns, withoutPatterns]) {
      expect(() => routeForPublish(orders, broker, {})).toThrow(ValidationError);
      expect(() => routeForPublish(orders, broker, { orderId: 'a.b' })).toThrow(ValidationError);
    }
  });

  it('an address of parameters only, without a binding topic, names the fix on brokers without patterns', () => {
    expect(routeForPublish(onlyParams, withPatterns, { tenant: 'a', event: 'b' }).topic).toBe('a.b');
    const error = (() => {
      try {
        routeForPublish(onlyParams, withoutPatterns, { tenant: 'a', event: 'b' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CapabilityError);
    expect((error as CapabilityError).message).toContain('{tenant}.{event}');
    expect((error as CapabilityError).hint).toContain('bindings.kafka.topic');
  });
});

describe('routeForSubscribe', () => {
  it('with patterns: a pattern for the parameters not given, no filter', () => {
    expect(routeForSubscribe(orders, withPatterns)).toEqual({ topic: 'orders.*.status', collapsed: false, filter: undefined });
    expect(routeForSubscribe(orders, withPatterns, { orderId: '42' })).toEqual({ topic: 'orders.42.status', collapsed: false, filter: undefined });
  });

  it('without patterns: the collapsed topic, filtering on the parameters given', () => {
    expect(routeForSubscribe(orders, withoutPatterns)).toEqual({ topic: 'orders.status', collapsed: true, filter: undefined });
    expect(routeForSubscribe(tenantOrders, withoutPatterns, { tenant: 'acme' })).toEqual({ topic: 't.orders', collapsed: true, filter: { tenant: 'acme' } });
    expect(routeForSubscribe(orders, withoutPatterns, { orderId: 42 })).toEqual({ topic: 'orders.status', collapsed: true, filter: { orderId: '42' } });
  });

  it('rejects a value that could never have been published', () => {
    expect(() => routeForSubscribe(orders, withoutPatterns, { orderId: 'a*' })).toThrow(ValidationError);
  });
});

describe('paramsFromHeaders / deliveryParams / matchesParams', () => {
  it('reads every parameter from its header', () => {
    expect(paramsFromHeaders(tenantOrders.address, { 'x-contractbus-param-tenant': 'acme', 'x-contractbus-param-orderId': '7', other: 'x' })).toEqual({ tenant: 'acme', orderId: '7' });
  });

  it('a missing parameter header is a ValidationError (dead-lettered, never retried)', () => {
    let error: unknown;
    try {
      paramsFromHeaders(tenantOrders.address, { 'x-contractbus-param-tenant': 'acme' }, 't.orders');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).direction).toBe('incoming');
    expect((error as ValidationError).issues.map((i) => i.path.join('.'))).toEqual(['x-contractbus-param-orderId']);
    expect((error as ValidationError).message).toContain('t.orders');
  });

  it('reads parameters from the topic on pattern routing and from headers on collapsed routing', () => {
    const pattern = routeForSubscribe(orders, withPatterns);
    expect(deliveryParams(orders, pattern, { topic: 'orders.42.status', headers: {} })).toEqual({ orderId: '42' });
    const collapsed = routeForSubscribe(orders, withoutPatterns);
    expect(deliveryParams(orders, collapsed, { topic: 'orders.status', headers: { [paramHeader('orderId')]: '42' } })).toEqual({ orderId: '42' });
    expect(() => deliveryParams(orders, collapsed, { topic: 'orders.status', headers: {} })).toThrow(ValidationError);
  });

  it('keeps a delivery only when every fixed parameter matches', () => {
    expect(matchesParams({ orderId: '42' }, undefined)).toBe(true);
    expect(matchesParams({ orderId: '42' }, { orderId: '42' })).toBe(true);
    expect(matchesParams({ orderId: '43' }, { orderId: '42' })).toBe(false);
    expect(matchesParams({ tenant: 'a', orderId: '42' }, { tenant: 'a' })).toBe(true);
  });

  it('round trip: what routeForPublish writes, deliveryParams reads', () => {
    const published = routeForPublish(tenantOrders, withoutPatterns, { tenant: 'acme', orderId: '7' });
    const subscription = routeForSubscribe(tenantOrders, withoutPatterns, { orderId: '7' });
    expect(subscription.topic).toBe(published.topic);
    const params = deliveryParams(tenantOrders, subscription, { topic: published.topic, headers: published.headers });
    expect(params).toEqual({ tenant: 'acme', orderId: '7' });
    expect(matchesParams(params, subscription.filter)).toBe(true);
  });
});
