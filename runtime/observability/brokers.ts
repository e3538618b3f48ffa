/** Brokers handed to exporters and the HTTP handler: one, a list, or a record of names. */
import type { MessageBroker } from '../core/types.ts';

export type BrokerSource = MessageBroker | readonly MessageBroker[] | Readonly<Record<string, MessageBroker>>;

/**
 * Stable label per broker: the record key, else `broker.name`, suffixed `#2`, `#3`… when two
 * brokers share a name (two Redis clients in one service).
 */
export function namedBrokers(source: BrokerSource): Array<[string, MessageBroker]> {
  let entries: Array<[string, MessageBroker]>;
  if (isBroker(source)) entries = [[source.name, source]];
  else if (Array.isArray(source)) entries = (source as readonly MessageBroker[]).map((broker) => [broker.name, broker]);
  else entries = Object.entries(source as Readonly<Record<string, MessageBroker>>);
  const seen = new Map<string, number>();
  return entries.map(([name, broker]) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return [count === 1 ? name : `${name}#${count}`, broker];
  });
}

function isBroker(value: BrokerSource): value is MessageBroker {
  return typeof (value as Partial<MessageBroker>).getMetrics === 'function' && typeof (value as Partial<MessageBroker>).healthCheck === 'function';
}
