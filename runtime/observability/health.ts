/**
 * Building blocks for `{ isHealthy, issues, details }`: each helper turns one concern of a broker
 * (connection, subscriptions, lag, circuit, publish buffer) into a part with human issues and
 * machine details; `composeHealth` merges parts. Bindings reuse them so every broker reports alike.
 */
import type { HealthStatus, MessageBroker } from '../core/types.ts';
import { redactString } from './redact.ts';

export interface HealthPart {
  issues: string[];
  details: Record<string, unknown>;
}

/** Merges parts: issues concatenated in order, details merged flat (later parts win on a clash). */
export function composeHealth(...parts: Array<HealthPart | undefined | false>): HealthStatus {
  const issues: string[] = [];
  const details: Record<string, unknown> = {};
  for (const part of parts) {
    if (!part) continue;
    issues.push(...part.issues);
    Object.assign(details, part.details);
  }
  return { isHealthy: issues.length === 0, issues, details };
}

/** Several brokers (or components) under one status: details keyed by name. */
export function aggregateHealth(statuses: Record<string, HealthStatus>): HealthStatus {
  const issues: string[] = [];
  const details: Record<string, unknown> = {};
  for (const [name, status] of Object.entries(statuses)) {
    issues.push(...status.issues);
    details[name] = { isHealthy: status.isHealthy, issues: status.issues, details: status.details };
  }
  return { isHealthy: issues.length === 0, issues, details };
}

export interface ConnectionState {
  broker: string;
  connected: boolean;
  /** e.g. 'connecting', 'reconnecting', 'closed'. */
  state?: string;
  /** Last connection error; its message is redacted (client errors quote URLs with passwords). */
  lastError?: unknown;
  /** When the current state began. */
  since?: Date | number;
  reconnectAttempts?: number;
}

export function connectionHealth(connection: ConnectionState): HealthPart {
  const state = connection.state ?? (connection.connected ? 'connected' : 'disconnected');
  const details: Record<string, unknown> = { connected: connection.connected, state };
  if (connection.since !== undefined) details.since = new Date(connection.since).toISOString();
  if (connection.reconnectAttempts !== undefined) details.reconnectAttempts = connection.reconnectAttempts;
  if (connection.lastError !== undefined) details.lastError = errorText(connection.lastError);
  const issues = connection.connected ? [] : [`${connection.broker}: not connected (${state})${connection.lastError === undefined ? '' : `: ${errorText(connection.lastError)}`}`];
  return { issues, details };
}

export interface SubscriptionState {
  topic: string;
  group?: string | undefined;
  alive: boolean;
  inFlight?: number;
  circuit?: string | undefined;
}

export function subscriptionsHealth(broker: string, subscriptions: Iterable<SubscriptionState>): HealthPart {
  const issues: string[] = [];
  const list: SubscriptionState[] = [];
  for (const subscription of subscriptions) {
    list.push({ ...subscription });
    const where = `${broker}: subscription to "${subscription.topic}"${subscription.group === undefined ? '' : ` (group ${subscription.group})`}`;
    if (!subscription.alive) issues.push(`${where} is not running`);
    if (subscription.circuit === 'open') issues.push(`${where}: circuit open, paused`);
  }
  return { issues, details: { subscriptions: list } };
}

export interface LagEntry {
  topic: string;
  group?: string;
  partition?: number;
  /** Messages behind the head (Kafka consumer lag, Redis Streams pending + unread, queue depth). */
  lag: number;
}

export function lagHealth(broker: string, entries: Iterable<LagEntry>, options: { maxLag: number }): HealthPart {
  const issues: string[] = [];
  const list: LagEntry[] = [];
  let total = 0;
  for (const entry of entries) {
    list.push({ ...entry });
    total += entry.lag;
    if (entry.lag > options.maxLag) {
      const where = `"${entry.topic}"${entry.partition === undefined ? '' : ` partition ${entry.partition}`}${entry.group === undefined ? '' : ` (group ${entry.group})`}`;
      issues.push(`${broker}: consumer lag ${entry.lag} on ${where} is above ${options.maxLag}`);
    }
  }
  return { issues, details: { lag: list, totalLag: total, maxLag: options.maxLag } };
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export function circuitHealth(name: string, state: CircuitState | undefined, detailKey = 'circuit'): HealthPart {
  if (state === undefined) return { issues: [], details: {} };
  return { issues: state === 'open' ? [`${name}: circuit open`] : [], details: { [detailKey]: state } };
}

export interface BufferState {
  broker: string;
  /** Messages (or bytes) held now. */
  used: number;
  capacity: number;
  /** Fill ratio at which an issue is raised. Default 0.9 (what BrokerClient also checks). */
  warnAt?: number;
}

/** `details.bufferFill` is the ratio `BrokerClient.healthCheck` reads from a transport's health. */
export function bufferHealth(buffer: BufferState): HealthPart {
  const fill = buffer.capacity > 0 ? Math.min(1, buffer.used / buffer.capacity) : 0;
  const warnAt = buffer.warnAt ?? 0.9;
  return {
    issues: fill >= warnAt ? [`${buffer.broker}: publish buffer ${Math.round(fill * 100)} % full (${buffer.used}/${buffer.capacity})`] : [],
    details: { bufferFill: fill, bufferUsed: buffer.used, bufferCapacity: buffer.capacity },
  };
}

/** `broker.healthCheck()` that never throws and never hangs: failures and timeouts become issues. */
export async function checkHealth(broker: Pick<MessageBroker, 'name' | 'healthCheck'>, options: { timeoutMs?: number } = {}): Promise<HealthStatus> {
  const timeoutMs = options.timeoutMs ?? 5000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(() => broker.healthCheck()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`health check did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    return { isHealthy: false, issues: [`${broker.name}: health check failed: ${errorText(error)}`], details: { broker: broker.name } };
  } finally {
    clearTimeout(timer);
  }
}

function errorText(error: unknown): string {
  return redactString(error instanceof Error ? error.message : String(error));
}
