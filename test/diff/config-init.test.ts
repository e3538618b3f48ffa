/**
 * `contractbus.config.json` (generator/config.ts) and `contractbus init` (generator/init.ts), in
 * process with a captured io, in fresh folders under test/diff/__generated__. One test also runs
 * `init` as a child process (node --conditions=development) to prove the exit code end to end.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { configJsonSchemaText, CONFIG_SCHEMA_PATH, ConfigError, loadConfig } from '../../generator/config.ts';
import { generateFiles } from '../../generator/index.ts';
import { runInitCommand, starterContract } from '../../generator/init.ts';
import { loadContract } from '../../generator/load.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const root = path.join(here, '__generated__');

// Only this file writes here: start clean so runs do not accumulate folders.
beforeAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function fresh(name: string): Promise<string> {
  const dir = path.join(root, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

function capture(): { io: { out: (l: string) => void; err: (l: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}

async function caught(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('config (generator/config.ts)', () => {
  it('the committed JSON Schema is generated from the zod schema (up to date)', async () => {
    const committed = await readFile(path.join(repoRoot, CONFIG_SCHEMA_PATH), 'utf8');
    expect(committed, `out of date: run node --conditions=development generator/config.ts --write-schema`).toBe(configJsonSchemaText());
  });

  it('no config file: undefined', async () => {
    expect(await loadConfig(await fresh('none'))).toBeUndefined();
  });

  it('reads contractbus.config.json, applies defaults and resolves paths against its folder', async () => {
    const dir = await fresh('json');
    await writeFile(path.join(dir, 'contractbus.config.json'), JSON.stringify({ input: ['a.yaml', 'specs/b.yaml'], options: { importExtension: '.ts', additionalProperties: 'strict' } }));
    const loaded = await loadConfig(dir);
    expect(loaded?.inputs).toEqual([path.join(dir, 'a.yaml'), path.join(dir, 'specs/b.yaml')]);
    expect(loaded?.outDir).toBe(path.join(dir, 'src/generated'));
    expect(loaded?.modelOptions).toEqual({ importExtension: '.ts', objectMode: 'strict' });
  });

  it('reads contractbus.config.mjs (default export)', async () => {
    const dir = await fresh('mjs');
    await writeFile(path.join(dir, 'contractbus.config.mjs'), `export default { input: 'x.yaml', output: 'gen', templates: 'tpl' };\n`);
    const loaded = await loadConfig(dir);
    expect(loaded?.outDir).toBe(path.join(dir, 'gen'));
    expect(loaded?.templatesDir).toBe(path.join(dir, 'tpl'));
  });

  it('reads contractbus.config.ts (default export, typed with ContractbusConfigInput)', async () => {
    const dir = await fresh('ts');
    const types = path.join(repoRoot, 'generator/config.ts');
    await writeFile(path.join(dir, 'contractbus.config.ts'), `import type { ContractbusConfigInput } from ${JSON.stringify(types)};\nconst config: ContractbusConfigInput = { input: 'x.yaml', options: { mirror: true } };\nexport default config;\n`);
    const loaded = await loadConfig(dir);
    expect(loaded?.inputs).toEqual([path.join(dir, 'x.yaml')]);
    expect(loaded?.mirror).toBe(true);
  });

  it('bad keys fail with their path; bad JSON says so', async () => {
    const dir = await fresh('bad');
    const file = path.join(dir, 'contractbus.config.json');
    await writeFile(file, JSON.stringify({ input: 'a.yaml', options: { importExtension: 'js', fixture: true }, outptu: 'x' }));
    const error = await caught(() => loadConfig(dir));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/contractbus\.config\.json: invalid configuration/);
    expect(error.message).toMatch(/ {2}outptu: unknown key \(known: \$schema, input, output, templates, options\)/);
    expect(error.message).toMatch(/ {2}options\.fixture: unknown key \(known: importExtension, runtimeImport, fixtures, additionalProperties, mirror\)/);
    expect(error.message).toMatch(/ {2}options\.importExtension: Invalid option: expected one of "\.js"\|"\.ts"/);

    await writeFile(file, JSON.stringify({}));
    expect((await caught(() => loadConfig(dir))).message).toMatch(/ {2}input: /);
    await writeFile(file, JSON.stringify({ input: [] }));
    expect((await caught(() => loadConfig(dir))).message).toMatch(/ {2}input: /);

    await writeFile(file, '{\n  "input": "a.yaml",\n  "output": \n}\n');
    expect((await caught(() => loadConfig(dir))).message).toMatch(/contractbus\.config\.json: not valid JSON: Unexpected token/);
  });
});

describe('contractbus init (generator/init.ts)', () => {
  it('the starter contract is valid AsyncAPI 3.0 that generates', async () => {
    const dir = await fresh('starter');
    const spec = path.join(dir, 'asyncapi.yaml');
    await writeFile(spec, starterContract('my-service: "quoted" & odd'));
    const loaded = await loadContract(spec, { recommendedRules: false });
    expect(loaded.document.version()).toBe('3.0.0');
    const { model, files } = await generateFiles(spec);
    expect(model.title).toBe('my-service: "quoted" & odd');
    expect(model.operations.map((o) => `${o.id}:${o.action}`)).toEqual(['onItemRequested:receive', 'publishItemCreated:send']);
    expect(files.map((f) => path.basename(f.path)).sort()).toEqual(['client.ts', 'fixtures.ts', 'index.ts', 'schemas.ts']);
  });

  it('scaffolds the contract, the config and the scripts in an existing project, keeping package.json as it was', async () => {
    const dir = await fresh('init');
    const pkgText = `{\n    "name": "@acme/orders",\n    "scripts": {\n        "test": "vitest"\n    }\n}\n`;
    await writeFile(path.join(dir, 'package.json'), pkgText);
    const c = capture();
    expect(await runInitCommand(['--cwd', dir], c.io)).toBe(0);
    expect(c.err).toEqual([]);
    expect(c.out.join('\n')).toMatch(/created {2}asyncapi\.yaml\ncreated {2}contractbus\.config\.json\nupdated {2}package\.json scripts: contractbus:generate, contractbus:check/);
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts).toEqual({
      test: 'vitest',
      'contractbus:generate': 'contractbus generate asyncapi.yaml -o src/generated',
      'contractbus:check': 'contractbus generate asyncapi.yaml -o src/generated --check',
    });
    // The original 4-space indentation is kept.
    expect(await readFile(path.join(dir, 'package.json'), 'utf8')).toMatch(/^\{\n {4}"name"/);
    const loaded = await loadConfig(dir);
    expect(loaded?.inputs).toEqual([path.join(dir, 'asyncapi.yaml')]);
    expect(loaded?.config.$schema).toBe('./node_modules/contractbus/schema/contractbus.config.schema.json');
    const contract = await loadContract(path.join(dir, 'asyncapi.yaml'));
    expect(contract.document.info().title()).toBe('orders');
  });

  it('never overwrites without --force: lists every conflict and writes nothing', async () => {
    const dir = await fresh('conflict');
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', scripts: { 'contractbus:check': 'echo mine' } }));
    await writeFile(path.join(dir, 'asyncapi.yaml'), 'mine\n');
    const c = capture();
    expect(await runInitCommand(['--cwd', dir], c.io)).toBe(1);
    expect(c.err.join('\n')).toBe(
      'contractbus init: nothing written, because:\n  - asyncapi.yaml exists\n  - package.json script "contractbus:check" exists ("echo mine")\nRun `contractbus init --force` to overwrite them.',
    );
    expect(await readFile(path.join(dir, 'asyncapi.yaml'), 'utf8')).toBe('mine\n');
    await expect(readFile(path.join(dir, 'contractbus.config.json'))).rejects.toThrow();

    const forced = capture();
    expect(await runInitCommand(['--cwd', dir, '--force', '--spec', 'contracts/orders.yaml', '-o', 'gen'], forced.io)).toBe(0);
    // --spec elsewhere: the old asyncapi.yaml is not in the way any more, only the script was.
    expect(forced.out[0]).toBe('created  contracts/orders.yaml');
    expect(await readFile(path.join(dir, 'asyncapi.yaml'), 'utf8')).toBe('mine\n');
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['contractbus:check']).toBe('contractbus generate contracts/orders.yaml -o gen --check');
    // Running it again is a no-op conflict-wise for identical scripts, but the files exist now.
    expect(await runInitCommand(['--cwd', dir, '--spec', 'contracts/orders.yaml', '-o', 'gen'], capture().io)).toBe(1);
  });

  it('no package.json, bad package.json, usage errors', async () => {
    const dir = await fresh('nopkg');
    const none = capture();
    expect(await runInitCommand(['--cwd', dir], none.io)).toBe(1);
    expect(none.err.join('\n')).toMatch(/no package\.json in .*nopkg.*`npm init -y` first/);
    await writeFile(path.join(dir, 'package.json'), '{ nope');
    const bad = capture();
    expect(await runInitCommand(['--cwd', dir], bad.io)).toBe(1);
    expect(bad.err.join('\n')).toMatch(/package\.json is not valid JSON/);
    for (const argv of [['--nope'], ['positional'], ['--spec', '../outside.yaml'], ['-o', '/abs']]) {
      const c = capture();
      expect(await runInitCommand(['--cwd', dir, ...argv], c.io), argv.join(' ')).toBe(2);
      expect(c.err.join('\n')).toMatch(/^contractbus init: /);
    }
    const help = capture();
    expect(await runInitCommand(['--help'], help.io)).toBe(0);
    expect(help.out.join('\n')).toContain('nothing written; use --force');
  });

  it('as a process: exit codes through node --conditions=development', async () => {
    const dir = await fresh('process');
    await writeFile(path.join(dir, 'package.json'), '{"name":"p"}\n');
    const script = `import { runInitCommand } from ${JSON.stringify(path.join(repoRoot, 'generator/init.ts'))};\nprocess.exitCode = await runInitCommand(process.argv.slice(2));\n`;
    const file = path.join(dir, 'run-init.ts');
    await writeFile(file, script);
    const node = path.join(repoRoot, 'node_modules/.bin/node');
    const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      promisify(execFile)(node, ['--conditions=development', file, ...args], { cwd: dir }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
      );
    const first = await run([]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('created  asyncapi.yaml');
    const second = await run([]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('nothing written');
  });
});
