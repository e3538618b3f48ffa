/**
 * Redis Cluster through ioredis's own Cluster (option `cluster: { nodes }`): a three-master cluster
 * started by this test on free ports (redis-server --cluster-enabled + redis-cli --cluster create),
 * stopped by PID afterwards. Streams with groups and private groups across slots, Pub/Sub with
 * patterns. Skipped, saying why, when redis-cli cannot create clusters here.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPubSubClient, RedisStreamsClient } from '../../../runtime/bindings/redis/index.ts';
import { privateRedis, unique, waitFor, wipe } from './support.ts';

const cliHelp = spawnSync('redis-cli', ['--cluster', 'help'], { encoding: 'utf8' });
const skipReason = cliHelp.error ? `redis-cli is not installed (${cliHelp.error.message})` : /create/.test(`${cliHelp.stdout}${cliHelp.stderr}`) ? undefined : 'redis-cli has no --cluster create';

const masters = ['a', 'b', 'c'].map((n) => privateRedis(`redis-cluster-${n}`, { clusterBus: true, args: ['--save', '', '--appendonly', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] }));

describe.skipIf(skipReason !== undefined)(`Redis Cluster${skipReason ? ` — skipped: ${skipReason}` : ''}`, () => {
  beforeAll(async () => {
    for (const m of masters) wipe(m.dir);
    await Promise.all(masters.map((m) => m.start()));
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...masters.map((m) => `127.0.0.1:${m.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    // Slots are assigned; wait until every node agrees the cluster is up.
    await waitFor(() => masters.every((m) => /cluster_state:ok/.test(spawnSync('redis-cli', ['-p', String(m.port), 'cluster', 'info'], { encoding: 'utf8' }).stdout)), 20_000, 'cluster_state:ok');
  });
  afterAll(async () => {
    await Promise.all(masters.map((m) => m.stop()));
    for (const m of masters) wipe(m.dir);
  });

  const nodes = (): Array<{ host: string; port: number }> => masters.map((m) => ({ host: '127.0.0.1', port: m.port }));

  it('Streams: groups and private groups on streams spread over the slots', async () => {
    const client = new RedisStreamsClient({ cluster: { nodes: nodes() }, blockMs: 300 });
    await client.connect();
    const topics = ['a', 'b', 'c', 'd', 'e'].map((t) => unique(`cluster.${t}`));
    const grouped: string[] = [];
    const fanned: string[] = [];
    for (const topic of topics) {
      await client.subscribe<{ topic: string }>(topic, (m) => void grouped.push(m.topic), { group: 'billing' });
      await client.subscribe<{ topic: string }>(topic, (m) => void fanned.push(m.topic));
    }
    for (const topic of topics) await client.publish(topic, { topic });
    await waitFor(() => grouped.length === topics.length && fanned.length === topics.length, 10_000, 'deliveries on every stream');
    expect(grouped.sort()).toEqual([...topics].sort());
    // A tick of publishes per stream goes as one script call on the node that owns the stream's slot.
    const burst = await Promise.all(topics.flatMap((topic) => Array.from({ length: 20 }, (_, i) => client.publish(topic, { topic, i }))));
    for (const topic of topics) {
      const offsets = burst.filter((r) => r.topic === topic).map((r) => r.offset ?? '');
      expect(new Set(offsets).size).toBe(20);
      expect(offsets.every((o) => /^\d+-\d+$/.test(o))).toBe(true);
    }
    await waitFor(() => grouped.length === topics.length * 21, 10_000, 'the burst on every stream');
    expect((await client.healthCheck()).isHealthy).toBe(true);
    await client.disconnect();
  });

  it('Pub/Sub: channels and patterns', async () => {
    const client = new RedisPubSubClient({ cluster: { nodes: nodes() } });
    await client.connect();
    const base = unique('cluster.user');
    const seen: string[] = [];
    await client.subscribePattern(`${base}.*`, (_m, meta) => void seen.push(meta.topic));
    await client.subscribe(`${base}-exact`, (_m, meta) => void seen.push(meta.topic));
    await client.publish(`${base}.created`, 1);
    await client.publish(`${base}-exact`, 2);
    await waitFor(() => seen.length === 2, 5000, 'both messages');
    expect(seen.sort()).toEqual([`${base}-exact`, `${base}.created`]);
    await client.disconnect();
  });
});
