// `contractbus/kafka`: the only entry point that imports a Kafka client library (kafkajs or
// @platformatic/kafka, each loaded on demand by its driver).
export { KafkaClient, fromUrl } from './client.ts';
export type { ConsumeOptions, KafkaClientOptions, KafkaHandler, KafkaRecordInfo, ProduceBatchItem, ProduceOptions } from './client.ts';
export { KafkaTransport, KAFKA_CAPABILITIES } from './transport.ts';
export type { KafkaConsumeOverrides, KafkaTransportOptions } from './transport.ts';
export { DEFAULT_DRIVER, parseKafkaUrl, resolveKafkaOptions } from './options.ts';
export type {
  KafkaConnectionOptions,
  KafkaConsumerDefaults,
  KafkaDriverName,
  KafkaOptions,
  KafkaSaslMechanism,
  KafkaSecurityProtocol,
  KafkaSharedOptions,
  KafkaTopicConfig,
} from './options.ts';
export type * from './driver.ts';
export { KAFKA_HEADER } from './wire.ts';
