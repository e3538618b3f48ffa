/**
 * `createTestBroker()`: the memory broker (same `BrokerClient`, so retries, dead-lettering and
 * validation behave as in production) with a spy on its transport. Every message that reaches the
 * broker is recorded, the dead-letter copies the runtime writes included, so a test can assert on
 * what a service published without subscribing itself. Waiting is event driven, never polling.
 */
import { BrokerClient, type BrokerClientOptions } from '../core/client.ts';
import { HEADER } from '../core/headers.ts';
import { topicMatcher } from '../core/topic.ts';
import type { ConsumeSpec, Delivery, Transport, TransportSubscription, WireMessage } from '../core/transport.ts';
import type { BrokerCapabilities, Headers, HealthStatus } from '../core/types.ts';
import { MemoryHub, type MemoryHubStats } from '../bindings/memory/hub.ts';
import { MemoryTransport } from '../bindings/memory/transport.ts';
import { assertionError, listPreview, matchesPartially, preview, projectLike, type AsymmetricLike, type DeepPartialMatcher, type WaitForOptions } from './match.ts';

export type { DeepPartialMatcher, WaitForOptions } from './match.ts';

/** A message as it reached the broker: decoded payload plus everything the publisher set. */
export interface PublishedMessage<T = unknown> {
  topic: string;
  payload: T;
  headers: Readonly<Headers>;
  messageId: string;
  correlationId: string | undefined;
  key: string | undefined;
  contentType: string;
  priority: number | undefined;
  /** When it was published. */
  timestamp: Date;
  /** When it expires (TTL), if it does. */
  expiresAt: Date | undefined;
  /** Order of arrival across the whole broker, from 1. */
  sequence: number;
}

/** A dead-letter copy written by the runtime, with the reason headers read back. */
export interface DeadLetteredMessage<T = unknown> extends PublishedMessage<T> {
  /** The topic the message failed on. */
  originalTopic: string;
  /** e.g. 'validation failed', 'handler failed after 4 attempts'. */
  reason: string;
  attempts: number;
  errorName: string | undefined;
  errorMessage: string | undefined;
}

/** Matches a published message: a predicate, or a partial payload (like `toMatchObject`). */
export type MessageMatcher<T> = ((message: PublishedMessage<T>) => boolean) | DeepPartialMatcher<T>;


export interface ExpectPublishedOptions {
  /** Partial match on the headers too. */
  headers?: Readonly<Record<string, string | RegExp | AsymmetricLike>>;
  /** Exactly this many matching messages (default: at least one). */
  times?: number;
}


export interface TestBrokerOptions extends BrokerClientOptions {
  /** Hub to attach to. Default: a fresh private hub, so tests never see each other's messages. */
  hub?: MemoryHub;
}

interface Waiter {
  matches(message: PublishedMessage): boolean;
  resolve(message: PublishedMessage): void;
}

const DEFAULT_TIMEOUT_MS = 2000;

/** Records every message the transport sends, decoded with the client's codec. */
class SpyTransport implements Transport {
  readonly name = 'memory';
  readonly capabilities: BrokerCapabilities;
  readonly #inner: MemoryTransport;
  readonly #onSent: (message: WireMessage) => void;

  constructor(inner: MemoryTransport, onSent: (message: WireMessage) => void) {
    this.#inner = inner;
    this.capabilities = inner.capabilities;
    this.#onSent = onSent;
  }

  connect(): Promise<void> {
    return this.#inner.connect();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  async send(message: WireMessage, options: { timeoutMs: number; signal?: AbortSignal }): Promise<{ partition?: number; offset?: string }> {
    const result = await this.#inner.send(message);
    // Recorded once the broker accepted it: a refused publish (outage, full buffer) was never "published".
    this.#onSent(message);
    void options;
    return result;
  }

  consume(spec: ConsumeSpec, onDelivery: (delivery: Delivery) => Promise<void>): Promise<TransportSubscription> {
    return this.#inner.consume(spec, onDelivery);
  }

  health(): Promise<HealthStatus> {
    return this.#inner.health();
  }
}

export class TestBroker extends BrokerClient {
  readonly hub: MemoryHub;
  readonly #records: PublishedMessage[] = [];
  readonly #waiters = new Set<Waiter>();
  #sequence = 0;

  constructor(options: TestBrokerOptions = {}) {
    const hub = options.hub ?? new MemoryHub();
    let record: (message: WireMessage) => void = () => {};
    super(new SpyTransport(new MemoryTransport(hub, options.logger), (message) => record(message)), { hooks: false, ...options });
    this.hub = hub;
    record = (message) => this.#record(message);
  }

  /** Messages published to `topic` (or a `*`/`#` pattern), oldest first. */
  published<T = unknown>(topic: string): PublishedMessage<T>[] {
    const matches = topicMatcher(topic);
    return this.#records.filter((m) => matches(m.topic)) as PublishedMessage<T>[];
  }

  /** Every message the broker accepted, oldest first. */
  all(): PublishedMessage[] {
    return [...this.#records];
  }

  /** Dead-letter copies of messages that failed on `topic` (or a pattern), oldest first. */
  deadLettered<T = unknown>(topic: string): DeadLetteredMessage<T>[] {
    const matches = topicMatcher(topic);
    return this.#records.flatMap((m) => {
      const dead = toDeadLettered(m);
      return dead !== undefined && matches(dead.originalTopic) ? [dead as DeadLetteredMessage<T>] : [];
    });
  }

  /**
   * The first message on `topic` (published before or after the call) that matches; rejects after
   * `timeout` ms with what WAS published there.
   */
  waitFor<T = unknown>(topic: string, matcher?: MessageMatcher<T>, options: WaitForOptions = {}): Promise<PublishedMessage<T>> {
    const onTopic = topicMatcher(topic);
    const test = toPredicate(matcher);
    const matches = (m: PublishedMessage): boolean => onTopic(m.topic) && test(m as PublishedMessage<T>);
    return this.#wait(matches, options, () => {
      const seen = this.published(topic);
      const what = matcher === undefined ? 'message' : `message matching ${describeMatcher(matcher)}`;
      return `waitFor: no ${what} on "${topic}" within ${options.timeout ?? DEFAULT_TIMEOUT_MS} ms. Published on "${topic}" (${seen.length}):\n${listPreview(seen.map(brief))}${this.#elsewhere(topic)}`;
    }) as Promise<PublishedMessage<T>>;
  }

  /** The first dead-letter copy of a message that failed on `topic` (before or after the call). */
  waitForDeadLetter<T = unknown>(topic: string, matcher?: ((message: DeadLetteredMessage<T>) => boolean) | DeepPartialMatcher<T>, options: WaitForOptions = {}): Promise<DeadLetteredMessage<T>> {
    const onTopic = topicMatcher(topic);
    const test = toPredicate(matcher as MessageMatcher<T> | undefined);
    const matches = (m: PublishedMessage): boolean => {
      const dead = toDeadLettered(m);
      return dead !== undefined && onTopic(dead.originalTopic) && test(dead as PublishedMessage<T>);
    };
    return this.#wait(matches, options, () => {
      const dead = this.deadLettered(topic);
      return `waitForDeadLetter: nothing from "${topic}" was dead-lettered${matcher === undefined ? '' : ` matching ${describeMatcher(matcher)}`} within ${options.timeout ?? DEFAULT_TIMEOUT_MS} ms. Dead letters from "${topic}" (${dead.length}):\n${listPreview(dead.map((d) => ({ reason: d.reason, payload: d.payload })))}\nPublished on "${topic}" (${this.published(topic).length}):\n${listPreview(this.published(topic).map(brief))}`;
    }).then((m) => toDeadLettered(m) as DeadLetteredMessage<T>);
  }

  /**
   * Asserts that `topic` received a matching message (or exactly `times` of them); returns the
   * first match. Synchronous: call `await broker.idle()` or `waitFor` first when the message is
   * published asynchronously.
   */
  expectPublished<T = unknown>(topic: string, matcher?: MessageMatcher<T>, options: ExpectPublishedOptions = {}): PublishedMessage<T> {
    const seen = this.published<T>(topic);
    const test = toPredicate(matcher);
    const headers = options.headers;
    const hits = seen.filter((m) => test(m) && (headers === undefined || matchesPartially(m.headers, headers)));
    const ok = options.times === undefined ? hits.length > 0 : hits.length === options.times;
    if (ok) return hits[0] as PublishedMessage<T>;
    const want = `${options.times === undefined ? 'a message' : `${options.times} message(s)`}${matcher === undefined ? '' : ` matching ${describeMatcher(matcher)}`}${headers === undefined ? '' : ` with headers ${preview(headers)}`}`;
    const message = `expected ${want} on "${topic}", found ${hits.length} matching of ${seen.length} published:\n${listPreview(seen.map(brief))}${seen.length === 0 ? this.#elsewhere(topic) : ''}`;
    // The diff shows the closest candidate (the newest) against what was asked for.
    const newest = seen[seen.length - 1];
    const actual = newest === undefined ? undefined : typeof matcher === 'function' || matcher === undefined ? brief(newest) : projectLike(newest.payload, matcher);
    const expected = typeof matcher === 'function' || matcher === undefined ? want : matcher;
    throw assertionError(message, actual, expected);
  }

  /** Asserts nothing was published on `topic` (or pattern). */
  expectNotPublished(topic: string): void {
    const seen = this.published(topic);
    if (seen.length > 0) throw assertionError(`expected nothing on "${topic}", found ${seen.length}:\n${listPreview(seen.map(brief))}`, seen.map(brief), []);
  }

  /** Forgets the recorded messages (not the hub's queues: use a new test broker for that). */
  reset(): void {
    this.#records.length = 0;
  }

  /** Resolves once every attached subscription has settled (acked, dead-lettered) everything published. */
  idle(options: { timeoutMs?: number } = {}): Promise<void> {
    return this.hub.idle(options);
  }

  stats(): MemoryHubStats {
    return this.hub.stats();
  }

  #record(message: WireMessage): void {
    let payload: unknown;
    try {
      payload = this.codec.decode(message.body, { topic: message.topic, broker: this.name });
    } catch {
      // Raw (non-JSON) bodies stay visible to the test as bytes.
      payload = message.body;
    }
    const record: PublishedMessage = {
      topic: message.topic,
      payload,
      headers: Object.freeze({ ...message.headers }),
      messageId: message.messageId,
      correlationId: message.correlationId,
      key: message.key,
      contentType: message.contentType,
      priority: message.priority,
      timestamp: new Date(message.timestamp),
      expiresAt: message.expiresAt === undefined ? undefined : new Date(message.expiresAt),
      sequence: ++this.#sequence,
    };
    this.#records.push(record);
    for (const waiter of [...this.#waiters]) if (waiter.matches(record)) waiter.resolve(record);
  }

  #wait(matches: (m: PublishedMessage) => boolean, options: WaitForOptions, explain: () => string): Promise<PublishedMessage> {
    const already = this.#records.find(matches);
    if (already) return Promise.resolve(already);
    const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        matches,
        resolve: (m) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const error = new Error(explain());
        error.name = 'WaitForTimeoutError';
        reject(error);
      }, timeout);
      this.#waiters.add(waiter);
    });
  }

  /** When a topic got nothing, the usual cause is a typo or a parameter: say where messages did go. */
  #elsewhere(topic: string): string {
    const topics = [...new Set(this.#records.map((m) => m.topic))].filter((t) => !topicMatcher(topic)(t));
    return topics.length === 0 ? '' : `\nOther topics with messages: ${topics.slice(0, 10).map((t) => JSON.stringify(t)).join(', ')}${topics.length > 10 ? ', …' : ''}`;
  }
}

/** A connected test broker on its own hub. `await using broker = await createTestBroker()` disconnects it at scope end. */
export async function createTestBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  const broker = new TestBroker(options);
  await broker.connect();
  return broker;
}

function toPredicate<T>(matcher: MessageMatcher<T> | undefined): (m: PublishedMessage<T>) => boolean {
  if (matcher === undefined) return () => true;
  if (typeof matcher === 'function') return matcher as (m: PublishedMessage<T>) => boolean;
  return (m) => matchesPartially(m.payload, matcher);
}

function describeMatcher(matcher: unknown): string {
  return typeof matcher === 'function' ? `the predicate ${matcher.name || '(anonymous)'}` : preview(matcher);
}

function brief(m: PublishedMessage): Record<string, unknown> {
  const userHeaders = Object.fromEntries(Object.entries(m.headers).filter(([k]) => !k.startsWith('x-contractbus-')));
  return { topic: m.topic, payload: m.payload, ...(Object.keys(userHeaders).length ? { headers: userHeaders } : {}) };
}

function toDeadLettered(m: PublishedMessage): DeadLetteredMessage | undefined {
  const originalTopic = m.headers[HEADER.dlqOriginalTopic];
  if (originalTopic === undefined) return undefined;
  const attempts = Number(m.headers[HEADER.dlqAttempts] ?? '1');
  return {
    ...m,
    originalTopic,
    reason: m.headers[HEADER.dlqReason] ?? '',
    attempts: Number.isFinite(attempts) ? attempts : 1,
    errorName: m.headers[HEADER.dlqErrorName],
    errorMessage: m.headers[HEADER.dlqErrorMessage],
  };
}
