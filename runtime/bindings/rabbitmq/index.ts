// `contractbus/rabbitmq`: the only entry point that imports amqplib.
export { RabbitMQTransport } from './transport.ts';
export type { AmqpSendOptions, DeclareExchangeOptions, DeclareQueueOptions, RawConsumeOptions, RawDelivery, SendOptions } from './transport.ts';
export type { ExchangeType, RabbitMQHost, RabbitMQOptions } from './options.ts';
export { UnroutableError } from './publisher.ts';
export { TopologyError } from './topology.ts';
