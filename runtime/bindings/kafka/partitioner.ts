/**
 * Kafka's default partitioner for keyed records, as the Java client, kafkajs's DefaultPartitioner
 * and (configured so) the platformatic driver compute it: murmur2 of the key's UTF-8 bytes,
 * & 0x7fffffff, modulo the partition count. The transport uses it to place the records of a
 * coalesced publish itself (their receipts then carry exact partitions and offsets).
 */

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils#murmur2): seed 0x9747b28c, 32-bit. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const blocks = length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const at = i * 4;
    let k = ((data[at] as number) & 0xff) | (((data[at + 1] as number) & 0xff) << 8) | (((data[at + 2] as number) & 0xff) << 16) | (((data[at + 3] as number) & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = blocks * 4;
  switch (length & 3) {
    case 3:
      h ^= ((data[tail + 2] as number) & 0xff) << 16;
    // falls through
    case 2:
      h ^= ((data[tail + 1] as number) & 0xff) << 8;
    // falls through
    case 1:
      h ^= (data[tail] as number) & 0xff;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's toPositive(murmur2(key)): the number Kafka takes modulo the partition count. */
export function keyHash(key: Uint8Array): number {
  return murmur2(key) & 0x7fffffff;
}

/** The partition Kafka's Java client picks for `key` on a topic of `partitions` partitions. */
export function partitionForKey(key: string, partitions: number): number {
  return keyHash(Buffer.from(key, 'utf8')) % partitions;
}
