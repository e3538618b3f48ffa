import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from './partitioner.ts';

describe('Kafka partitioner', () => {
  it("matches Kafka's murmur2 test vectors (UtilsTest#testMurmur2)", () => {
    const vectors: Record<string, number> = {
      '21': -973932308,
      foobar: -790332482,
      'a-little-bit-long-string': -985981536,
      'a-little-bit-longer-string': -1486304829,
      lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8: -58897971,
      abc: 479470107,
    };
    for (const [text, hash] of Object.entries(vectors)) expect(murmur2(Buffer.from(text)), text).toBe(hash);
  });

  it('places a key as the Java client does: (murmur2 & 0x7fffffff) % partitions, UTF-8 bytes', () => {
    expect(partitionForKey('foobar', 6)).toBe(0);
    expect(partitionForKey('21', 6)).toBe(0);
    expect(partitionForKey('abc', 6)).toBe(3);
    expect(partitionForKey('clé', 7)).toBe((murmur2(Buffer.from('clé', 'utf8')) & 0x7fffffff) % 7);
    expect(partitionForKey('', 4)).toBe((murmur2(new Uint8Array(0)) & 0x7fffffff) % 4);
  });
});
