/**
 * The package as users get it: `npm pack`, install the tarball into a fresh app, `npx generate`
 * (the bin alias), compile the app with the package's published .d.ts files, and run it on the
 * memory broker from the compiled dist/ (Node does not strip types under node_modules).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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
});
