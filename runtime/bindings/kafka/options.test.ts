import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../core/errors.ts';
import { parseKafkaUrl, redact, resolveKafkaOptions } from './options.ts';

describe('Kafka options and URLs', () => {
  it('parses a host list that WHATWG URL cannot hold, with query parameters', () => {
    const o = parseKafkaUrl('kafka://k1:9092,k2:9093,k3?driver=kafkajs&clientId=shop&groupId=billing&acks=all&partitions=6');
    expect(o).toMatchObject({ bootstrapServers: ['k1:9092', 'k2:9093', 'k3:9092'], driver: 'kafkajs', clientId: 'shop', groupId: 'billing', acks: -1, defaultPartitions: 6 });
  });

  it('reads the brokers parameter of a URL parsed by connect() (host list moved there)', () => {
    expect(parseKafkaUrl(new URL('kafka://a:9092?brokers=a:9092,b:9093,c')).bootstrapServers).toEqual(['a:9092', 'b:9093', 'c:9092']);
  });

  it('takes SASL credentials from the userinfo and SSL from kafkas://', () => {
    expect(parseKafkaUrl('kafka://al%40ice:p%3Ass@h:9094?saslMechanism=SCRAM-SHA-512')).toMatchObject({
      saslUsername: 'al@ice',
      saslPassword: 'p:ss',
      securityProtocol: 'SASL_PLAINTEXT',
      saslMechanism: 'SCRAM-SHA-512',
    });
    expect(parseKafkaUrl('kafkas://u:p@h:9093').securityProtocol).toBe('SASL_SSL');
    expect(parseKafkaUrl('kafkas://h:9093').securityProtocol).toBe('SSL');
  });

  it('resolves safe defaults: acks all, idempotent, one partition, PLAINTEXT on loopback', () => {
    const r = resolveKafkaOptions();
    expect(r).toMatchObject({ brokers: ['127.0.0.1:9092'], acks: -1, idempotent: true, securityProtocol: 'PLAINTEXT', defaultPartitions: 1, enableDlq: true, dlqSuffix: '.dlq' });
    expect(r.sasl).toBeUndefined();
    expect(r.tls).toBeUndefined();
  });

  it('lets explicit options win over the URL', () => {
    const r = resolveKafkaOptions({ url: 'kafka://a:1?clientId=fromUrl', clientId: 'explicit', bootstrapServers: 'b:2,c:3' });
    expect(r.clientId).toBe('explicit');
    expect(r.brokers).toEqual(['b:2', 'c:3']);
  });

  it('rejects incoherent settings with errors naming Kafka and the fix', () => {
    expect(() => resolveKafkaOptions({ securityProtocol: 'SASL_PLAINTEXT' })).toThrow(/saslUsername and saslPassword/);
    expect(() => resolveKafkaOptions({ acks: 1, idempotent: true })).toThrow(ConfigurationError);
    expect(() => resolveKafkaOptions({ acks: 1, idempotent: false })).not.toThrow();
    expect(() => resolveKafkaOptions({ driver: 'rdkafka' as never })).toThrow(/driver must be/);
    expect(() => resolveKafkaOptions({ sslCafile: '/nonexistent/ca.pem' })).toThrow(/cannot read sslCafile/);
    expect(() => parseKafkaUrl('redis://h:1')).toThrow(/not a kafka:\/\/ URL/);
  });

  it('never prints a password', () => {
    expect(redact('kafka://user:secret@h:9092')).toBe('kafka://user:***@h:9092');
  });
});
