/**
 * Channel addresses with parameters (`orders.{orderId}.status`): build a concrete topic, a
 * subscription pattern (`*` = one dot-separated segment, as `BrokerCapabilities.patternSubscribe`
 * defines it) and read the parameters back from a concrete topic. Pure; templates are parsed once.
 */
import { CapabilityError, ValidationError } from './errors.ts';
import { HEADER } from './headers.ts';
import type { MessageMetadata } from './types.ts';

export type ChannelParameterValue = string | number | boolean;
export type ChannelParameters = Readonly<Record<string, ChannelParameterValue>>;

interface ParsedTemplate {
  /** Alternating literal text and parameter names: text, name, text, name, …, text. */
  parts: string[];
  names: string[];
  matcher: RegExp;
}

const cache = new Map<string, ParsedTemplate>();
const MAX_CACHE = 1024;

function parse(template: string): ParsedTemplate {
  const hit = cache.get(template);
  if (hit) return hit;
  const parts: string[] = [];
  const names: string[] = [];
  let source = '^';
  let last = 0;
  for (const match of template.matchAll(/\{([^{}]+)\}/g)) {
    const text = template.slice(last, match.index);
    parts.push(text);
    names.push(match[1] as string);
    parts.push(match[1] as string);
    source += escapeRegExp(text) + '([^.]+)';
    last = match.index + match[0].length;
  }
  const tail = template.slice(last);
  parts.push(tail);
  source += `${escapeRegExp(tail)}$`;
  const parsed: ParsedTemplate = { parts, names, matcher: new RegExp(source) };
  if (cache.size >= MAX_CACHE) cache.clear();
  cache.set(template, parsed);
  return parsed;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Characters that would change routing: segment separator, wildcards, whitespace. */
const UNSAFE_SEGMENT = /[.*#>+\s]/u;

/** The parameter names of a template, in order. */
export function addressParameters(template: string): string[] {
  return [...parse(template).names];
}

/** `buildAddress('orders.{orderId}.status', { orderId: '42' })` → `orders.42.status`. Throws `ValidationError` for missing or unsafe values. */
export function buildAddress(template: string, params: ChannelParameters = {}): string {
  const { parts } = parse(template);
  if (parts.length === 1) return template;
  let out = '';
  const issues: Array<{ path: string[]; message: string; code: string }> = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (i % 2 === 0) {
      out += part;
      continue;
    }
    const value = Object.hasOwn(params, part) ? params[part] : undefined;
    if (value === undefined || value === null) {
      issues.push({ path: [part], message: 'Required channel parameter is missing', code: 'missing_parameter' });
      continue;
    }
    const text = String(value);
    if (text.length === 0 || UNSAFE_SEGMENT.test(text)) {
      issues.push({ path: [part], message: `Channel parameter ${JSON.stringify(text)} must be a non-empty topic segment without '.', '*', '#', '>', '+' or whitespace`, code: 'invalid_parameter' });
      continue;
    }
    out += text;
  }
  if (issues.length) {
    throw new ValidationError(`Channel parameters for ${JSON.stringify(template)} are invalid`, issues, {
      direction: 'outgoing',
      topic: template,
      hint: 'Pass every parameter the channel address declares, each a single topic segment',
    });
  }
  return out;
}

/**
 * The subscription topic for a template: given parameters filled in, the others `*` (one segment).
 * All given → a concrete topic. A parameter sharing its segment with fixed text widens that segment to `*`.
 */
export function addressPattern(template: string, params: Partial<Record<string, ChannelParameterValue>> = {}): string {
  const { parts } = parse(template);
  if (parts.length === 1) return template;
  const missing = new Set<string>();
  let filled = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (i % 2 === 0) {
      filled += part;
      continue;
    }
    const value = Object.hasOwn(params, part) ? params[part] : undefined;
    if (value === undefined) {
      missing.add(part);
      filled += '\u0000';
    } else {
      const text = String(value);
      if (text.length === 0 || UNSAFE_SEGMENT.test(text)) buildAddress(template, { ...definedOnly(params), [part]: text });
      filled += text;
    }
  }
  if (missing.size === 0) return filled;
  return filled
    .split('.')
    .map((segment) => (segment.includes('\u0000') ? '*' : segment))
    .join('.');
}

function definedOnly(params: Partial<Record<string, ChannelParameterValue>>): Record<string, ChannelParameterValue> {
  const out: Record<string, ChannelParameterValue> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) out[k] = v;
  return out;
}

/** Reads the parameters from a concrete topic; `undefined` when the topic does not fit the template. */
export function parseAddress(template: string, topic: string): Record<string, string> | undefined {
  const { names, matcher } = parse(template);
  const match = matcher.exec(topic);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) params[names[i] as string] = match[i + 1] as string;
  return params;
}

/** Message metadata plus the channel parameters read from its topic. */
export type MessageMetadataWithParams<P> = MessageMetadata & { readonly params: P };

/**
 * Adds `params` to a delivery's metadata without copying it: `ack`/`nack` stay bound to the
 * original (bindings may keep private state behind them).
 */
export function withParams<P>(metadata: MessageMetadata, params: P): MessageMetadataWithParams<P> {
  return {
    get messageId() { return metadata.messageId; },
    get correlationId() { return metadata.correlationId; },
    get headers() { return metadata.headers; },
    get topic() { return metadata.topic; },
    get key() { return metadata.key; },
    get timestamp() { return metadata.timestamp; },
    get attempt() { return metadata.attempt; },
    get redelivered() { return metadata.redelivered; },
    ack: () => metadata.ack(),
    nack: (options) => metadata.nack(options),
    params,
  };
}

/** Metadata of a generated subscription: channel parameters and the contract's headers, validated and typed. */
export type ContractMessageMetadata<P, H> = MessageMetadata & { readonly params: P; readonly contractHeaders: H };

/** `withParams` plus the validated contract headers. */
export function contractMetadata<P, H>(metadata: MessageMetadata, params: P, contractHeaders: H): ContractMessageMetadata<P, H> {
  const out = withParams(metadata, params) as MessageMetadataWithParams<P> & { contractHeaders: H };
  out.contractHeaders = contractHeaders;
  return out;
}

/** Contract headers (typed, possibly non-string) → wire headers (strings). Strings pass as-is, others as JSON. */
export function toWireHeaders(headers: Readonly<Record<string, unknown>> | undefined): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/**
 * How a generated client routes one channel. On brokers with `capabilities.patternSubscribe` a
 * parameterised address becomes one topic per parameter value (`orders.42.status`) and
 * subscriptions use a pattern (`orders.*.status`). On brokers without patterns (Kafka, Redis
 * Streams) the channel is "collapsed" onto one topic (`collapsedTopic`: the Kafka binding's
 * `topic`, else the address without its parameters) and the parameters travel as
 * `x-contractbus-param-<name>` headers; the key defaults to the parameter values, so order per
 * entity holds on partitioned brokers.
 */
export interface ChannelRoute {
  /** The contract's address, e.g. `orders.{orderId}.status`. */
  readonly address: string;
  /** The single topic on brokers without pattern subscribe; `undefined` when the address has no fixed text and no Kafka binding topic. */
  readonly collapsedTopic: string | undefined;
}

/** What a broker needs to say about itself for routing. */
export interface RoutingBroker {
  readonly name: string;
  readonly capabilities: { readonly patternSubscribe: boolean };
}

export interface PublishRoute {
  topic: string;
  /** Parameter headers (collapsed routing only). */
  headers: Record<string, string>;
  /** Default key (collapsed routing only): the parameter values, joined with '.'. */
  key: string | undefined;
}

export interface SubscribeRoute {
  topic: string;
  collapsed: boolean;
  /** Parameters the caller fixed, as strings (collapsed routing filters on them). */
  filter: Record<string, string> | undefined;
}

/** `x-contractbus-param-<name>`: the header that carries a channel parameter on a collapsed topic. */
export function paramHeader(name: string): string {
  return `${HEADER.paramPrefix}${name}`;
}

function isCollapsed(route: ChannelRoute, broker: RoutingBroker): boolean {
  return !broker.capabilities.patternSubscribe && addressParameters(route.address).length > 0;
}

function collapsedTopicOf(route: ChannelRoute, broker: RoutingBroker): string {
  if (route.collapsedTopic === undefined) {
    throw new CapabilityError(`The ${broker.name} binding has no pattern subscribe and the channel "${route.address}" has no fixed text to name one topic`, {
      broker: broker.name,
      topic: route.address,
      hint: 'Set bindings.kafka.topic on this channel in the contract and regenerate, or use a binding with patternSubscribe (memory, Redis Pub/Sub, RabbitMQ)',
    });
  }
  return route.collapsedTopic;
}

/** Topic, parameter headers and default key of one publish. Throws `ValidationError` for missing or unsafe parameters. */
export function routeForPublish(route: ChannelRoute, broker: RoutingBroker, params: ChannelParameters = {}): PublishRoute {
  const concrete = buildAddress(route.address, params);
  if (!isCollapsed(route, broker)) return { topic: concrete, headers: {}, key: undefined };
  const topic = collapsedTopicOf(route, broker);
  const headers: Record<string, string> = {};
  const values: string[] = [];
  for (const name of addressParameters(route.address)) {
    const value = String(params[name]);
    headers[paramHeader(name)] = value;
    values.push(value);
  }
  return { topic, headers, key: values.join('.') };
}

/** Topic of one subscription, and on a collapsed topic the parameter values to keep. */
export function routeForSubscribe(route: ChannelRoute, broker: RoutingBroker, params: Partial<Record<string, ChannelParameterValue>> = {}): SubscribeRoute {
  if (!isCollapsed(route, broker)) return { topic: addressPattern(route.address, params), collapsed: false, filter: undefined };
  const topic = collapsedTopicOf(route, broker);
  // Same checks as the pattern path: a value that could never be published fails here.
  addressPattern(route.address, params);
  const filter: Record<string, string> = {};
  let any = false;
  for (const name of addressParameters(route.address)) {
    const value = Object.hasOwn(params, name) ? params[name] : undefined;
    if (value === undefined) continue;
    filter[name] = String(value);
    any = true;
  }
  return { topic, collapsed: true, filter: any ? filter : undefined };
}

/** Reads the parameters from `x-contractbus-param-<name>` headers. Throws `ValidationError` (dead-lettered) when one is missing. */
export function paramsFromHeaders(address: string, headers: Readonly<Record<string, string>>, topic = address): Record<string, string> {
  const params: Record<string, string> = {};
  const issues: Array<{ path: string[]; message: string; code: string }> = [];
  for (const name of addressParameters(address)) {
    const header = paramHeader(name);
    const value = Object.hasOwn(headers, header) ? headers[header] : undefined;
    if (value === undefined || value.length === 0) {
      issues.push({ path: [header], message: `Header ${header} (channel parameter ${JSON.stringify(name)}) is missing`, code: 'missing_parameter' });
      continue;
    }
    params[name] = value;
  }
  if (issues.length) {
    throw new ValidationError(`Message on "${topic}" lacks the channel parameters of ${JSON.stringify(address)}`, issues, {
      direction: 'incoming',
      topic,
      hint: 'Publish with the generated client, or set an x-contractbus-param-<name> header for every parameter of the channel',
    });
  }
  return params;
}

/** The parameters of one delivery: from its topic (pattern routing) or its headers (collapsed routing). */
export function deliveryParams(route: ChannelRoute, subscription: SubscribeRoute, metadata: Pick<MessageMetadata, 'topic' | 'headers'>): Record<string, string> {
  if (subscription.collapsed) return paramsFromHeaders(route.address, metadata.headers, metadata.topic);
  return parseAddress(route.address, metadata.topic) ?? {};
}

/** Collapsed routing: does a delivery's parameters match the ones the subscriber fixed? */
export function matchesParams(params: Readonly<Record<string, string>>, filter: Readonly<Record<string, string>> | undefined): boolean {
  if (filter === undefined) return true;
  for (const name in filter) if (params[name] !== filter[name]) return false;
  return true;
}
