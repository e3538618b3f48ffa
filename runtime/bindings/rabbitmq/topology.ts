/**
 * Exchanges, queues and bindings declared through this client, remembered so they can be declared
 * again after a reconnect (a broker restart loses non-durable ones; a new node in a cluster may
 * not have them yet). Declarations use their own channel: a refused declaration
 * (PRECONDITION_FAILED) closes the channel it was sent on, and that must not be the publisher's.
 */
import type { Channel, ChannelModel, Options } from 'amqplib';
import { ContractbusError } from '../../core/errors.ts';
import { errorHint, withTimeout } from './connection.ts';

export interface ExchangeDeclaration {
  name: string;
  type: string;
  options: Options.AssertExchange;
}

export interface QueueDeclaration {
  name: string;
  options: Options.AssertQueue;
}

export interface BindingDeclaration {
  queue: string;
  exchange: string;
  routingKey: string;
  args?: Record<string, unknown>;
}

export class TopologyError extends ContractbusError {
  override readonly code: string = 'TOPOLOGY_FAILED';
}

export class Topology {
  private readonly exchanges = new Map<string, ExchangeDeclaration>();
  private readonly queues = new Map<string, QueueDeclaration>();
  private readonly bindings = new Map<string, BindingDeclaration>();
  private channels: Partial<Record<Purpose, Channel>> = {};
  private channelModel: ChannelModel | undefined;
  private readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  /**
   * Runs after every (re)connect: declare everything remembered, exchanges first. A declaration the
   * broker refuses (someone changed that queue meanwhile) is skipped and returned, so one bad
   * queue does not keep the whole client offline; anything else (the connection failing) throws.
   */
  async restore(model: ChannelModel): Promise<TopologyError[]> {
    this.channels = {};
    this.channelModel = model;
    const refused: TopologyError[] = [];
    const attempt = async (op: () => Promise<unknown>): Promise<void> => {
      try {
        await op();
      } catch (error) {
        if (error instanceof TopologyError && isRefusal(error.cause)) refused.push(error);
        else throw error;
      }
    };
    for (const exchange of this.exchanges.values()) await attempt(() => this.apply(model, 'exchange', exchange.name, (ch) => ch.assertExchange(exchange.name, exchange.type, exchange.options)));
    for (const queue of this.queues.values()) await attempt(() => this.apply(model, 'queue', queue.name, (ch) => ch.assertQueue(queue.name, queue.options)));
    for (const b of this.bindings.values()) await attempt(() => this.apply(model, 'binding', `${b.exchange} → ${b.queue} (${b.routingKey})`, (ch) => ch.bindQueue(b.queue, b.exchange, b.routingKey, b.args)));
    return refused;
  }

  /** Declared on the next (re)connect, before anything else. */
  rememberExchange(declaration: ExchangeDeclaration): void {
    this.exchanges.set(declaration.name, declaration);
  }

  async declareExchange(model: ChannelModel, declaration: ExchangeDeclaration): Promise<void> {
    await this.apply(model, 'exchange', declaration.name, (ch) => ch.assertExchange(declaration.name, declaration.type, declaration.options));
    this.exchanges.set(declaration.name, declaration);
  }

  /** Returns the queue name (the server's, for a server-named queue: those are not remembered). */
  async declareQueue(model: ChannelModel, declaration: QueueDeclaration, options: { remember?: boolean } = {}): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
    const reply = await this.apply(model, 'queue', declaration.name || '(server-named)', (ch) => ch.assertQueue(declaration.name, declaration.options));
    if (declaration.name !== '' && options.remember !== false) this.queues.set(declaration.name, declaration);
    return reply;
  }

  async bindQueue(model: ChannelModel, binding: BindingDeclaration, options: { remember?: boolean } = {}): Promise<void> {
    await this.apply(model, 'binding', `${binding.exchange} → ${binding.queue} (${binding.routingKey})`, (ch) => ch.bindQueue(binding.queue, binding.exchange, binding.routingKey, binding.args));
    if (options.remember !== false) this.bindings.set(bindingKey(binding), binding);
  }

  async unbindQueue(model: ChannelModel, binding: BindingDeclaration): Promise<void> {
    this.bindings.delete(bindingKey(binding));
    await this.apply(model, 'binding', `${binding.exchange} → ${binding.queue}`, (ch) => ch.unbindQueue(binding.queue, binding.exchange, binding.routingKey, binding.args));
  }

  async deleteQueue(model: ChannelModel, name: string): Promise<void> {
    this.forgetQueue(name);
    await this.apply(model, 'queue', name, (ch) => ch.deleteQueue(name));
  }

  async deleteExchange(model: ChannelModel, name: string): Promise<void> {
    this.exchanges.delete(name);
    for (const [key, binding] of this.bindings) if (binding.exchange === name) this.bindings.delete(key);
    await this.apply(model, 'exchange', name, (ch) => ch.deleteExchange(name));
  }

  forgetQueue(name: string): void {
    this.queues.delete(name);
    for (const [key, binding] of this.bindings) if (binding.queue === name) this.bindings.delete(key);
  }

  async close(): Promise<void> {
    const channels = Object.values(this.channels);
    this.channels = {};
    for (const channel of channels) await withTimeout(channel.close(), 2_000, 'RabbitMQ close topology channel').catch(() => undefined);
  }

  /** Passive check: message and consumer counts, or undefined when the queue does not exist. */
  async inspectQueue(model: ChannelModel, name: string): Promise<{ messageCount: number; consumerCount: number } | undefined> {
    try {
      return await this.apply(model, 'queue', name, (ch) => ch.checkQueue(name), 'inspect');
    } catch {
      return undefined;
    }
  }

  hasQueue(name: string): boolean {
    return this.queues.has(name);
  }

  get queueNames(): string[] {
    return [...this.queues.keys()];
  }

  private async apply<T>(model: ChannelModel, kind: string, name: string, op: (channel: Channel) => Promise<T>, purpose: Purpose = 'declare'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const channel = await this.channelFor(model, purpose);
      try {
        return await withTimeout(op(channel), this.timeoutMs, `RabbitMQ declare ${kind} '${name}'`);
      } catch (cause) {
        // Another operation's refusal closed the shared channel under this one ("Channel ended"):
        // not this declaration's fault, so try once more on a fresh channel.
        // (A refused operation itself fails with "Operation failed: … 406/404", not this.)
        if (attempt === 1 && isChannelGone(cause) && model === this.channelModel) continue;
        throw new TopologyError(`RabbitMQ refused to declare ${kind} '${name}': ${cause instanceof Error ? cause.message : String(cause)}`, { broker: 'rabbitmq', cause, hint: errorHint(cause) });
      }
    }
  }

  private async channelFor(model: ChannelModel, purpose: Purpose): Promise<Channel> {
    const current = this.channels[purpose];
    if (current && this.channelModel === model) return current;
    if (this.channelModel !== model) this.channels = {};
    const channel = await withTimeout(model.createChannel(), this.timeoutMs, 'RabbitMQ open channel');
    // A refused declaration closes the channel with an error; the next declaration opens a new one.
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.channels[purpose] === channel) delete this.channels[purpose];
    });
    this.channels[purpose] = channel;
    this.channelModel = model;
    return channel;
  }
}

/**
 * Passive checks (checkQueue) close their channel with 404 when the queue does not exist, so they
 * get a channel of their own and never take a concurrent declaration down with them.
 */
type Purpose = 'declare' | 'inspect';

/** RabbitMQ said no to this operation (as opposed to the connection failing under it). */
function isRefusal(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /PRECONDITION|NOT_FOUND|NOT_ALLOWED|ACCESS_REFUSED|RESOURCE_LOCKED|\b40[3-6]\b/.test(message);
}

function isChannelGone(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /Channel ended|Channel closed|Channel closing/i.test(message);
}

function bindingKey(b: BindingDeclaration): string {
  return JSON.stringify([b.exchange, b.queue, b.routingKey, b.args ?? null]);
}
