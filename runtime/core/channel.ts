/**
 * Channel addresses with parameters (`orders.{orderId}.status`): build a concrete topic, a
 * subscription pattern (`*` = one dot-separated segment, as `BrokerCapabilities.patternSubscribe`
 * defines it) and read the parameters back from a concrete topic. Pure; templates are parsed once.
 */
import { ValidationError } from './errors.ts';
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
