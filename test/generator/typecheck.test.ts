/**
 * Every emitted file type-checks under `tsc --strict` (plus noUncheckedIndexedAccess,
 * exactOptionalPropertyTypes, verbatimModuleSyntax), and the type-level files prove that wrong
 * payloads, parameters and headers do not compile (their `@ts-expect-error` lines must be used).
 * One tsc run for everything: it is the slow part.
 */
import { execFile } from 'node:child_process';
import { copyFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { contracts, fixturePath, freshDir, generateInto, repoRoot, specPath, writeRuntimeShim } from './helpers.ts';

const run = promisify(execFile);

const tsconfig = {
  compilerOptions: {
    target: 'ES2023',
    lib: ['ES2023', 'ESNext.Disposable'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    verbatimModuleSyntax: true,
    noImplicitOverride: true,
    noUnusedLocals: true,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    // Until runtime/index.ts re-exports the generator helpers (validation.ts, channel.ts).
    paths: { contractbus: ['./contractbus-shim.ts'] },
  },
  include: ['**/*.ts'],
};

describe('generated code type-checks', () => {
  it('tsc --strict accepts every contract (3.0 and 2.6), the hostile one, and the type-level tests', async () => {
    const dir = await freshDir('typecheck');
    await writeRuntimeShim(dir);
    for (const name of contracts) {
      await generateInto(path.join(dir, 'default'), specPath(name, '3.0'));
      await generateInto(path.join(dir, 'from-2.6'), specPath(name, '2.6'));
      await generateInto(path.join(dir, 'ts-imports'), specPath(name, '3.0'), { importExtension: '.ts', objectMode: 'strict' });
    }
    await generateInto(path.join(dir, 'hostile'), fixturePath('hostile.yaml'));
    await generateInto(path.join(dir, 'fixtures'), fixturePath('param-default.yaml'));
    await generateInto(path.join(dir, 'fixtures'), fixturePath('streetlights.yaml'));
    const typeLevel = path.join(repoRoot, 'test/generator/type-level');
    await import('node:fs/promises').then((fs) => fs.mkdir(path.join(dir, 'type-level'), { recursive: true }));
    for (const file of await readdir(typeLevel)) {
      if (file.endsWith('.ts.txt')) await copyFile(path.join(typeLevel, file), path.join(dir, 'type-level', file.replace(/\.txt$/, '')));
    }
    await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    const tsc = path.join(repoRoot, 'node_modules/.bin/tsc');
    const result = await run(tsc, ['--noEmit', '-p', path.join(dir, 'tsconfig.json')], { cwd: repoRoot }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  }, 120_000);
});
