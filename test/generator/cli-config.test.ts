/** `contractbus init` then `contractbus generate` with no spec: the config file drives generation. */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { main } from '../../generator/cli.ts';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return await fn();
  } finally {
    process.chdir(before);
  }
}

function capture(): { io: { out: (l: string) => void; err: (l: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}

it('init, then generate without arguments reads contractbus.config.json (with --mirror)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'contractbus-config-'));
  dirs.push(dir);
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'svc', version: '1.0.0' }));
  const init = capture();
  expect(await inDir(dir, () => main(['init'], init.io))).toBe(0);
  const gen = capture();
  expect(await inDir(dir, () => main(['generate', '--mirror'], gen.io)), gen.err.join('\n')).toBe(0);
  expect((await readdir(path.join(dir, 'src/generated/svc'))).sort()).toEqual(['client.ts', 'fixtures.ts', 'index.ts', 'mirror.ts', 'schemas.ts']);
  const check = capture();
  expect(await inDir(dir, () => main(['generate', '--mirror', '--check'], check.io))).toBe(0);
});

it('a bad config file is one clear error naming the key, exit 1', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'contractbus-config-'));
  dirs.push(dir);
  await writeFile(path.join(dir, 'contractbus.config.json'), JSON.stringify({ input: 'asyncapi.yaml', bogus: 1 }));
  const run = capture();
  expect(await inDir(dir, () => main(['generate'], run.io))).toBe(1);
  expect(run.err.join('\n')).toMatch(/contractbus\.config\.json: invalid configuration[\s\S]*bogus: unknown key/);
  expect(run.err.join('\n')).not.toMatch(/\n\s+at /);
});
