/** `contractbus dlq replay`: dead letters go back to their original topic through a real broker. */
import { expect, it } from 'vitest';
import { main } from '../../../generator/cli.ts';
import { RedisStreamsClient } from '../../../runtime/bindings/redis/index.ts';
import { brokerUrls } from '../../support/brokers.ts';

function capture(): { io: { out: (l: string) => void; err: (l: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}

it('replays dead-lettered messages to their original topic (Redis Streams)', { timeout: 60_000 }, async () => {
  const url = brokerUrls().redis.replace(/^(rediss?):/, '$1+streams:');
  const topic = `cli-dlq.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
  const broker = new RedisStreamsClient(url);
  await broker.connect();
  try {
    await broker.sendToDlq({ topic, payload: { n: 1 }, messageId: `${topic}-1`, error: new Error('boom') }, 'handler failed');
    await broker.sendToDlq({ topic, payload: { n: 2 }, messageId: `${topic}-2`, error: new Error('boom') }, 'handler failed');
    const run = capture();
    expect(await main(['dlq', 'replay', `${topic}.dlq`, '--url', url, '--idle-ms', '500'], run.io), run.err.join('\n')).toBe(0);
    expect(run.out.join('\n')).toMatch(/replayed 2 messages/);
    const seen: Array<{ n: number; reason: string | undefined }> = [];
    const subscription = await broker.subscribe<{ n: number }>(topic, (payload, meta) => {
      seen.push({ n: payload.n, reason: meta.headers['x-contractbus-dlq-reason'] });
    }, { group: 'check', startFrom: 'earliest' });
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 20_000;
      const tick = setInterval(() => {
        if (seen.length >= 2) { clearInterval(tick); resolve(); }
        else if (Date.now() > deadline) { clearInterval(tick); reject(new Error(`got ${JSON.stringify(seen)}`)); }
      }, 20);
    });
    await subscription.close();
    expect(seen.map((s) => s.n).sort()).toEqual([1, 2]);
    expect(seen.every((s) => s.reason === undefined)).toBe(true);
  } finally {
    await broker.disconnect();
  }
});

it('usage errors exit 2 with the help', async () => {
  const run = capture();
  expect(await main(['dlq', 'replay'], run.io)).toBe(2);
  expect(run.err.join('\n')).toMatch(/give exactly one dead-letter topic/);
  const bad = capture();
  expect(await main(['dlq', 'replay', 'x.dlq', '--url', 'memory://', '--limit', 'zero'], bad.io)).toBe(2);
});
