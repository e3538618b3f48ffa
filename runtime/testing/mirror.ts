/**
 * The runtime half of a generated mirror client (templates/mirror.ts.hbs): the other side of every
 * operation of a contract. For an operation the service RECEIVES the mirror publishes (validated as
 * the contract says, so a test cannot feed the service a message no real producer could send); for an
 * operation the service SENDS the mirror subscribes and records, validating what arrives, so a
 * service that breaks its own contract fails the test with the zod issues instead of a timeout.
 * The generated file only passes topics and validators in: the logic lives here, once.
 */
import { deliveryParams, routeForPublish, routeForSubscribe, toWireHeaders, type ChannelParameters, type ChannelRoute } from '../core/channel.ts';
import { ValidationError } from '../core/errors.ts';
import type { Headers, MessageBroker, MessageMetadata, PublishOptions, PublishReceipt, Subscription } from '../core/types.ts';
import { assertionError, listPreview, matchesPartially, preview, projectLike, type DeepPartialMatcher, type WaitForOptions } from './match.ts';

/** Publish options of a mirror send: the contract's headers typed, like the generated client's. */
export type MirrorPublishOptions<H> = [H] extends [never] ? PublishOptions : Omit<PublishOptions, 'headers'> & { headers?: H; extraHeaders?: Headers };

type WithOptions<T, H, R extends boolean> = R extends true ? [payload: T, options: MirrorPublishOptions<H> & { headers: H }] : [payload: T, options?: MirrorPublishOptions<H>];

/** `(params?, payload, options?)`, exactly as the generated client's publish functions take them. */
export type MirrorSendArgs<P, T, H, R extends boolean> = [P] extends [never] ? WithOptions<T, H, R> : [params: P, ...WithOptions<T, H, R>];

export interface MirrorSender<P, T, H, R extends boolean> {
  /** Publishes what the service's receive operation expects; validated against the contract first. */
  send(...args: MirrorSendArgs<P, T, H, R>): Promise<PublishReceipt>;
  /**
   * Publishes without validating payload or headers: to test that the service rejects (dead-letters)
   * what breaks the contract. Parameters are still needed to build the topic.
   */
  sendUnchecked(...args: MirrorSendArgs<P, unknown, Record<string, unknown>, false>): Promise<PublishReceipt>;
}

/** A message the service sent, as the mirror received and validated it. */
export interface MirrorReceived<T, P, H> {
  payload: T;
  params: P;
  headers: H;
  metadata: MessageMetadata;
}

export interface MirrorViolation {
  operation: string;
  topic: string;
  error: ValidationError;
  payload: unknown;
}

export interface MirrorInbox<T, P, H> {
  /** What the service sent through this operation, in arrival order (valid messages only). */
  readonly received: ReadonlyArray<MirrorReceived<T, P, H>>;
  /** Messages on this operation's channel that broke the contract. */
  readonly violations: readonly MirrorViolation[];
  /**
   * The first message (received before or after the call) that matches; rejects at once when the
   * service sends one that breaks the contract, and after `timeout` ms with what did arrive.
   */
  waitFor(matcher?: ((message: MirrorReceived<T, P, H>) => boolean) | DeepPartialMatcher<T>, options?: WaitForOptions): Promise<MirrorReceived<T, P, H>>;
  /** Synchronous assertion over `received`; returns the first match. */
  expectReceived(matcher?: ((message: MirrorReceived<T, P, H>) => boolean) | DeepPartialMatcher<T>): MirrorReceived<T, P, H>;
}

export interface SenderSpec {
  operation: string;
  address: string;
  /** Parameterised channels: how the address maps onto topics on this broker (collapsed on brokers without patterns). */
  route?: ChannelRoute;
  contentType: string;
  correlationHeader?: string;
  validatePayload: (value: unknown) => unknown;
  validateHeaders?: (value: unknown) => unknown;
  validateParams?: (value: unknown) => ChannelParameters;
  headersRequired?: boolean;
}

export interface InboxSpec {
  operation: string;
  address: string;
  route?: ChannelRoute;
  validatePayload: (value: unknown) => unknown;
  validateHeaders?: (headers: Readonly<Record<string, string>>) => unknown;
}

export interface MirrorOptions {
  /** Where the mirror's subscriptions start. Default 'latest': create the mirror before the service publishes. */
  startFrom?: 'earliest' | 'latest';
}

interface Waiter {
  matches(message: MirrorReceived<unknown, unknown, unknown>): boolean;
  resolve(message: MirrorReceived<unknown, unknown, unknown>): void;
  reject(error: Error): void;
}

class Inbox implements MirrorInbox<unknown, unknown, unknown> {
  readonly received: Array<MirrorReceived<unknown, unknown, unknown>> = [];
  readonly violations: MirrorViolation[] = [];
  readonly spec: InboxSpec;
  readonly #waiters = new Set<Waiter>();

  constructor(spec: InboxSpec) {
    this.spec = spec;
  }

  accept(payload: unknown, metadata: MessageMetadata, params: Record<string, string>): void {
    let message: MirrorReceived<unknown, unknown, unknown>;
    try {
      const valid = this.spec.validatePayload(payload);
      const headers = this.spec.validateHeaders ? this.spec.validateHeaders(metadata.headers) : metadata.headers;
      message = { payload: valid, params, headers, metadata };
    } catch (error) {
      // By shape, not instanceof: the validators may come from another copy of the runtime (--runtime-import).
      if (!isValidationError(error)) throw error;
      const violation: MirrorViolation = { operation: this.spec.operation, topic: metadata.topic, error, payload };
      this.violations.push(violation);
      const failure = new Error(violationText(violation));
      failure.name = 'ContractViolationError';
      for (const waiter of [...this.#waiters]) waiter.reject(failure);
      return;
    }
    this.received.push(message);
    for (const waiter of [...this.#waiters]) if (waiter.matches(message)) waiter.resolve(message);
  }

  waitFor(matcher?: ((message: MirrorReceived<unknown, unknown, unknown>) => boolean) | unknown, options: WaitForOptions = {}): Promise<MirrorReceived<unknown, unknown, unknown>> {
    const matches = toPredicate(matcher);
    const already = this.received.find(matches);
    if (already) return Promise.resolve(already);
    const timeout = options.timeout ?? 2000;
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter: Waiter = {
        matches,
        resolve: (m) => {
          done();
          resolve(m);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const error = new Error(
          `mirror.${this.spec.operation}.waitFor: the service sent no message${matcher === undefined ? '' : ` matching ${typeof matcher === 'function' ? 'the predicate' : preview(matcher)}`} on "${this.spec.address}" within ${timeout} ms. Received (${this.received.length}):\n${listPreview(this.received.map((r) => r.payload))}${this.violations.length ? `\nContract violations (${this.violations.length}):\n${this.violations.map(violationText).join('\n')}` : ''}`,
        );
        error.name = 'WaitForTimeoutError';
        reject(error);
      }, timeout);
      this.#waiters.add(waiter);
    });
  }

  expectReceived(matcher?: ((message: MirrorReceived<unknown, unknown, unknown>) => boolean) | unknown): MirrorReceived<unknown, unknown, unknown> {
    const hit = this.received.find(toPredicate(matcher));
    if (hit) return hit;
    const last = this.received[this.received.length - 1];
    throw assertionError(
      `expected the service to send a message${matcher === undefined ? '' : ` matching ${typeof matcher === 'function' ? 'the predicate' : preview(matcher)}`} through ${this.spec.operation} ("${this.spec.address}"); received ${this.received.length}:\n${listPreview(this.received.map((r) => r.payload))}`,
      typeof matcher === 'function' || matcher === undefined ? last?.payload : projectLike(last?.payload, matcher),
      typeof matcher === 'function' ? 'a message matching the predicate' : matcher,
    );
  }
}

function isValidationError(error: unknown): error is ValidationError {
  return error instanceof ValidationError || (error instanceof Error && error.name === 'ValidationError' && Array.isArray((error as { issues?: unknown }).issues));
}

function toPredicate(matcher: unknown): (m: MirrorReceived<unknown, unknown, unknown>) => boolean {
  if (matcher === undefined) return () => true;
  if (typeof matcher === 'function') return matcher as (m: MirrorReceived<unknown, unknown, unknown>) => boolean;
  return (m) => matchesPartially(m.payload, matcher);
}

function violationText(v: MirrorViolation): string {
  return `the service sent a message through ${v.operation} on "${v.topic}" that breaks the contract: ${v.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}; payload ${preview(v.payload)}`;
}

/**
 * Holds the mirror's subscriptions and the ids of the messages it sent itself (a channel the service
 * both sends and receives on would otherwise echo the mirror's own messages into its inbox).
 */
export class MirrorRuntime {
  readonly broker: MessageBroker;
  readonly #options: MirrorOptions;
  readonly #ownIds = new Set<string>();
  readonly #inboxes: Inbox[] = [];
  readonly #subscriptions: Subscription[] = [];

  constructor(broker: MessageBroker, options: MirrorOptions = {}) {
    this.broker = broker;
    this.#options = options;
  }

  sender<P, T, H, R extends boolean>(spec: SenderSpec): MirrorSender<P, T, H, R> {
    const send = async (args: unknown[], checked: boolean): Promise<PublishReceipt> => {
      const [params, payload, options] = spec.validateParams ? args : [undefined, ...args];
      const route = spec.validateParams ? routeForPublish(spec.route ?? { address: spec.address, collapsedTopic: undefined }, this.broker, spec.validateParams(params)) : undefined;
      const topic = route?.topic ?? spec.address;
      const { headers, extraHeaders, ...rest } = (options ?? {}) as PublishOptions & { headers?: Record<string, unknown>; extraHeaders?: Headers };
      const message = checked ? spec.validatePayload(payload) : payload;
      const contractHeaders = checked && spec.validateHeaders ? spec.validateHeaders(headers ?? {}) : headers;
      const wireHeaders: Headers = { ...extraHeaders, ...toWireHeaders(contractHeaders as Record<string, unknown> | undefined), ...route?.headers };
      const correlationId = rest.correlationId ?? (spec.correlationHeader === undefined ? undefined : wireHeaders[spec.correlationHeader]);
      const messageId = rest.messageId ?? globalThis.crypto.randomUUID();
      this.#ownIds.add(messageId);
      return this.broker.publish(topic, message, {
        contentType: spec.contentType,
        ...(route?.key === undefined ? {} : { key: route.key }),
        ...rest,
        messageId,
        headers: wireHeaders,
        ...(correlationId === undefined ? {} : { correlationId }),
      });
    };
    return {
      send: (...args) => send(args, true),
      sendUnchecked: (...args) => send(args, false),
    };
  }

  inbox<T, P, H>(spec: InboxSpec): MirrorInbox<T, P, H> {
    const inbox = new Inbox(spec);
    this.#inboxes.push(inbox);
    return inbox as unknown as MirrorInbox<T, P, H>;
  }

  /** Attaches every inbox (resolves once messages published afterwards will be recorded). */
  async start(): Promise<void> {
    for (const inbox of this.#inboxes) {
      const route = inbox.spec.route ?? { address: inbox.spec.address, collapsedTopic: undefined };
      const subscribeRoute = routeForSubscribe(route, this.broker, {});
      const subscription = await this.broker.subscribe(
        subscribeRoute.topic,
        (payload, metadata) => {
          if (this.#ownIds.has(metadata.messageId)) return;
          inbox.accept(payload, metadata, deliveryParams(route, subscribeRoute, metadata));
        },
        { startFrom: this.#options.startFrom ?? 'latest', maxRetries: 0 },
      );
      this.#subscriptions.push(subscription);
    }
  }

  /** Every contract violation any inbox saw. */
  violations(): MirrorViolation[] {
    return this.#inboxes.flatMap((i) => i.violations);
  }

  /** Throws when the service sent anything that breaks the contract: call it in `afterEach`. */
  expectNoViolations(): void {
    const all = this.violations();
    if (all.length) throw assertionError(`${all.length} contract violation(s):\n${all.map(violationText).join('\n')}`, all.map((v) => v.payload), []);
  }

  async close(): Promise<void> {
    await Promise.all(this.#subscriptions.splice(0).map((s) => s.close()));
  }
}
