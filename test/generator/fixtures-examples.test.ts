/** Message examples become fixtures; an example with headers but no payload is not a fixture. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { generateFiles } from '../../generator/index.ts';

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('leaves out header-only examples instead of emitting `payload: null` (which would not compile)', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'contractbus-examples-'));
  const spec = path.join(dir, 'asyncapi.yaml');
  await writeFile(
    spec,
    `asyncapi: 3.0.0
info: { title: Pings, version: 1.0.0 }
channels:
  pings:
    address: pings
    messages:
      ping:
        payload: { type: object, required: [n], properties: { n: { type: integer } } }
        headers: { type: object, properties: { source: { type: string } } }
        examples:
          - name: headersOnly
            headers: { source: cron }
          - name: full
            payload: { n: 1 }
            headers: { source: api }
operations:
  sendPing: { action: send, channel: { $ref: '#/channels/pings' } }
`,
  );
  const { files } = await generateFiles(spec);
  const fixtures = files.find((f) => f.path.endsWith('fixtures.ts'))?.contents ?? '';
  expect(fixtures).toContain('"full"');
  expect(fixtures).not.toContain('headersOnly');
  expect(fixtures).not.toContain('payload: null');
});
