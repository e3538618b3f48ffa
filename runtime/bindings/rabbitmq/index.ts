// `contractbus/rabbitmq`: the only entry point that imports amqplib.
export { RabbitMQClient, fromUrl } from './client.ts';
export type { RabbitMQClientOptions, RabbitMQConsumeHandler, RabbitMQConsumeOptions, RabbitMQConsumer, RabbitMQMessage, RabbitMQPublishOptions } from './client.ts';
export { RabbitMQTransport } from './transport.ts';
export type { AmqpSendOptions, DeclareExchangeOptions, DeclareQueueOptions, RawConsumeOptions, RawDelivery, SendOptions } from './transport.ts';
export { AmqpDelivery } from './delivery.ts';
export type { ExchangeType, RabbitMQHost, RabbitMQOptions } from './options.ts';
export { ChannelClosedError, UnroutableError } from './publisher.ts';
export { TopologyError } from './topology.ts';
