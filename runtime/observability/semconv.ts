/**
 * OpenTelemetry messaging semantic-convention names, kept here as plain strings so the runtime
 * needs no `@opentelemetry/semantic-conventions` dependency (the messaging names live in its
 * unstable "incubating" entry point, which its authors advise against depending on).
 */

export const ATTR = {
  messagingSystem: 'messaging.system',
  operationName: 'messaging.operation.name',
  operationType: 'messaging.operation.type',
  destinationName: 'messaging.destination.name',
  destinationTemplate: 'messaging.destination.template',
  partitionId: 'messaging.destination.partition.id',
  consumerGroup: 'messaging.consumer.group.name',
  messageId: 'messaging.message.id',
  conversationId: 'messaging.message.conversation_id',
  bodySize: 'messaging.message.body.size',
  kafkaKey: 'messaging.kafka.message.key',
  kafkaOffset: 'messaging.kafka.offset',
  errorType: 'error.type',
  /** Not in the conventions: which attempt of a message this process span is (1 = first delivery). */
  attempt: 'contractbus.delivery.attempt',
} as const;

export const METRIC = {
  operationDuration: 'messaging.client.operation.duration',
  sentMessages: 'messaging.client.sent.messages',
  consumedMessages: 'messaging.client.consumed.messages',
  processDuration: 'messaging.process.duration',
} as const;

/** Bucket bounds the conventions recommend for the two duration histograms (seconds). */
export const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export type OperationType = 'send' | 'process' | 'settle';

/** The `messaging.system` value of a contractbus binding name ('redis-streams' → 'redis'). */
export function messagingSystemOf(brokerName: string): string {
  const name = brokerName.toLowerCase();
  for (const system of ['redis', 'rabbitmq', 'kafka', 'memory'] as const) {
    if (name === system || name.startsWith(`${system}-`) || name.startsWith(`${system}:`)) return system;
  }
  return name;
}

/**
 * Low-cardinality `error.type`: the error's class name ('TimeoutError', 'ValidationError'), or
 * '_OTHER' for thrown non-errors, as the conventions ask.
 */
export function errorTypeOf(error: unknown): string {
  if (error instanceof Error) {
    const name = error.name || error.constructor.name;
    return name.length > 0 && name.length <= 64 ? name : '_OTHER';
  }
  return '_OTHER';
}
