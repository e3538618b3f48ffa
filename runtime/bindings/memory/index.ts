// `contractbus/memory`: the in-process broker, same semantics as a persistent broker with consumer groups.
import { BrokerClient, type BrokerClientOptions } from '../../core/client.ts';
import { ConfigurationError } from '../../core/errors.ts';
import { MemoryHub, type MemoryHubOptions, type MemoryHubStats } from './hub.ts';
import { MemoryTransport } from './transport.ts';

export { MemoryHub, type MemoryHubOptions, type MemoryHubStats } from './hub.ts';
export { MEMORY_CAPABILITIES, MemoryTransport } from './transport.ts';

export interface MemoryBrokerOptions extends BrokerClientOptions, MemoryHubOptions {
  /**
   * The hub (in-process "server") to attach to: an instance, or a name shared by every broker of
   * this process that uses it (`memory://name`). Default: the 'default' hub. Hub bounds apply
   * when the hub is created.
   */
  hub?: MemoryHub | string;
}

export class MemoryBroker extends BrokerClient {
  readonly hub: MemoryHub;

  constructor(options: MemoryBrokerOptions = {}) {
    const hub = resolveHub(options);
    super(new MemoryTransport(hub, options.logger), options);
    this.hub = hub;
  }

  /** Topics, groups and their backlogs: for tests and diagnostics. */
  stats(): MemoryHubStats {
    return this.hub.stats();
  }

  /** Resolves once every attached group has handled (acked) everything published so far: for tests. */
  idle(options: { timeoutMs?: number } = {}): Promise<void> {
    return this.hub.idle(options);
  }

  /** Forgets a named consumer group and its queued messages (e.g. after a test). */
  deleteGroup(topic: string, group: string): boolean {
    return this.hub.deleteGroup(topic, group);
  }
}

/**
 * `memory://` (default hub) or `memory://name?maxMessagesPerTopic=1000&maxQueuedPerGroup=1000`.
 * Not connected yet: `connect(url)` connects it.
 */
export function fromUrl(url: URL, options: MemoryBrokerOptions = {}): MemoryBroker {
  if (url.protocol !== 'memory:') throw new ConfigurationError(`memory binding got a ${url.protocol}// URL`, { broker: 'memory', hint: 'Use memory:// or memory://hub-name' });
  const hubOptions: MemoryHubOptions = {};
  for (const name of ['maxMessagesPerTopic', 'maxQueuedPerGroup'] as const) {
    const raw = url.searchParams.get(name);
    if (raw === null) continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0) throw new ConfigurationError(`memory URL parameter ${name} must be an integer >= 0, got "${raw}"`, { broker: 'memory' });
    hubOptions[name] = value;
  }
  return new MemoryBroker({ ...hubOptions, ...options, hub: options.hub ?? (url.host || 'default') });
}

function resolveHub(options: MemoryBrokerOptions): MemoryHub {
  const hubOptions: MemoryHubOptions = {};
  if (options.maxMessagesPerTopic !== undefined) hubOptions.maxMessagesPerTopic = options.maxMessagesPerTopic;
  if (options.maxQueuedPerGroup !== undefined) hubOptions.maxQueuedPerGroup = options.maxQueuedPerGroup;
  if (options.hub instanceof MemoryHub) return options.hub;
  return MemoryHub.named(options.hub ?? 'default', hubOptions);
}
