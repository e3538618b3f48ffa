/**
 * templates/mirror.ts.hbs rendered for the shop contract and run: a small service built on the
 * generated client is driven through its real handlers by the mirror, over the test broker. A second
 * test type-checks the mirror of every reference contract (3.0 and 2.6) and the hostile one.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateFiles, writeFiles } from '../../generator/index.ts';
import type { ModelOptions } from '../../generator/model.ts';
import { createTestBroker, type TestBroker } from '../../runtime/testing/index.ts';
import { renderMirror } from './render-mirror.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outRoot = path.join(repoRoot, 'test/testing-kit/__generated__');
const spec = (name: string): string => path.join(repoRoot, 'asyncapi', name);

async function generateWithMirror(outDir: string, specFile: string, options: ModelOptions = {}): Promise<string> {
  const { model, files } = await generateFiles(specFile, options);
  await writeFiles(outDir, [...files, { path: `${model.slug}/mirror.ts`, contents: renderMirror(model) }]);
  return path.join(outDir, model.slug);
}

// The generated modules are imported at run time; their types are proven by the tsc test below.
interface ShopModule {
  createShopClient(broker: TestBroker): {
    onPayment(handler: (event: { kind: string; orderId: string; paymentId: string }, meta: { contractHeaders: { correlationId: string } }) => Promise<void>, options?: object): Promise<{ close(): Promise<void> }>;
    publishOrderStatus(params: { orderId: string }, payload: object, options: object): Promise<unknown>;
  };
}
interface Received {
  payload: Record<string, unknown>;
  params: Record<string, string>;
  headers: Record<string, string>;
}
interface ShopMirror {
  onPayment: { send(payload: object, options?: object): Promise<unknown>; sendUnchecked(payload: unknown, options?: object): Promise<unknown> };
  onOrderStatus: { send(params: object, payload: object, options?: object): Promise<unknown> };
  publishOrderStatus: { received: Received[]; waitFor(matcher?: unknown, options?: { timeout?: number }): Promise<Received>; expectReceived(matcher?: unknown): Received };
  $violations(): unknown[];
  $expectNoViolations(): void;
  $close(): Promise<void>;
}

const orderId = '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00';
const paymentId = '0b8e5d3c-2f1a-4e6b-9c7d-8a9b0c1d2e3f';
const captured = { kind: 'captured', paymentId, orderId, amount: { currency: 'EUR', amountMinor: 1999 }, capturedAt: '2026-03-01T12:00:00Z' };

describe('mirror client (templates/mirror.ts.hbs)', () => {
  let shop: ShopModule;
  let createMirror: (broker: TestBroker, options?: object) => Promise<ShopMirror>;
  const cleanup: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    const dir = await generateWithMirror(path.join(outRoot, 'mirror-run'), spec('shop.yaml'), { importExtension: '.ts' });
    shop = (await import(path.join(dir, 'index.ts'))) as ShopModule;
    ({ createMirror } = (await import(path.join(dir, 'mirror.ts'))) as { createMirror: typeof createMirror });
  });

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** The service under test: marks an order paid when its payment is captured. */
  async function startService(broker: TestBroker): Promise<void> {
    const client = shop.createShopClient(broker);
    const subscription = await client.onPayment(async (event, meta) => {
      if (event.kind === 'captured') await client.publishOrderStatus({ orderId: event.orderId }, { orderId: event.orderId, status: 'paid', changedAt: '2026-03-01T12:00:01Z' }, { headers: { correlationId: meta.contractHeaders.correlationId } });
    }, { maxRetries: 0 });
    cleanup.push(() => subscription.close());
  }

  async function setup(): Promise<{ broker: TestBroker; mirror: ShopMirror }> {
    const broker = await createTestBroker();
    cleanup.push(() => broker.disconnect());
    const mirror = await createMirror(broker);
    cleanup.push(() => mirror.$close());
    await startService(broker);
    return { broker, mirror };
  }

  it('drives the service through the contract and records what it sends, typed parameters and headers included', async () => {
    const { mirror } = await setup();
    await mirror.onPayment.send(captured, { headers: { correlationId: 'pay-1' } });
    const sent = await mirror.publishOrderStatus.waitFor({ status: 'paid' });
    expect(sent.params).toEqual({ orderId });
    expect(sent.headers).toEqual({ correlationId: 'pay-1' });
    expect(sent.payload).toMatchObject({ orderId, status: 'paid' });
    mirror.publishOrderStatus.expectReceived({ orderId });
    mirror.$expectNoViolations();
  });

  it('refuses to send what no real producer could (payload or required headers off-contract)', async () => {
    const { mirror } = await setup();
    await expect(mirror.onPayment.send({ ...captured, amount: { currency: 'euro', amountMinor: 1 } }, { headers: { correlationId: 'x' } })).rejects.toThrow(/amount\.currency/);
    await expect(mirror.onPayment.send(captured)).rejects.toThrow(/correlationId/);
  });

  it('sendUnchecked reaches the service, which dead-letters it as invalid', async () => {
    const { broker, mirror } = await setup();
    await mirror.onPayment.sendUnchecked({ kind: 'refunded' }, { headers: { correlationId: 'x' } });
    const dead = await broker.waitForDeadLetter('shop.payments');
    expect(dead.reason).toBe('validation failed');
    await broker.idle();
    broker.expectNotPublished('orders.*.status');
  });

  it('a message the service sends off-contract fails waitFor at once with the issues', async () => {
    const { broker, mirror } = await setup();
    const waiting = mirror.publishOrderStatus.waitFor({ status: 'paid' }, { timeout: 5000 });
    // Around the generated client (which would refuse it): a hand-written publish.
    await broker.publish(`orders.${orderId}.status`, { orderId, status: 'lost' }, { headers: { correlationId: 'c' } });
    const started = Date.now();
    await expect(waiting).rejects.toThrow(/breaks the contract: status: .*; changedAt/);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(mirror.$violations()).toHaveLength(1);
    expect(() => mirror.$expectNoViolations()).toThrow(/1 contract violation/);
  });

  it('does not echo its own messages on a channel the service both sends and receives on', async () => {
    const { broker, mirror } = await setup();
    await mirror.onOrderStatus.send({ orderId }, { orderId, status: 'shipped', changedAt: '2026-03-01T12:00:00Z' }, { headers: { correlationId: 'own' } });
    await broker.idle();
    expect(broker.published('orders.*.status')).toHaveLength(1);
    expect(mirror.publishOrderStatus.received).toEqual([]);
  });

  it('waitFor times out naming what the service did send', async () => {
    const { mirror } = await setup();
    await mirror.onPayment.send(captured, { headers: { correlationId: 'pay-2' } });
    await mirror.publishOrderStatus.waitFor();
    await expect(mirror.publishOrderStatus.waitFor({ status: 'shipped' }, { timeout: 50 })).rejects.toThrow(/sent no message matching \{ status: 'shipped' \}[\s\S]*status: 'paid'/);
  });
});

describe('mirror template type-checks', () => {
  it('for every reference contract (3.0 and 2.6), the hostile one, and wrong calls do not compile', async () => {
    const dir = path.join(outRoot, 'mirror-typecheck');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    for (const name of ['shop', 'users', 'notifications', 'critical']) {
      await generateWithMirror(path.join(dir, 'v3'), spec(`${name}.yaml`));
      await generateWithMirror(path.join(dir, 'v2'), spec(`${name}.v2.yaml`));
    }
    await generateWithMirror(path.join(dir, 'ts-imports'), spec('shop.yaml'), { importExtension: '.ts' });
    await generateWithMirror(path.join(dir, 'hostile'), path.join(repoRoot, 'test/generator/fixtures/hostile.yaml'));
    await generateWithMirror(path.join(dir, 'streetlights'), path.join(repoRoot, 'test/generator/fixtures/streetlights.yaml'));
    await copyFile(path.join(repoRoot, 'test/testing-kit/type-level/mirror.ts.txt'), path.join(dir, 'type-level.ts'));
    const runtime = path.relative(dir, path.join(repoRoot, 'runtime')).split(path.sep).join('/');
    await writeFile(
      path.join(dir, 'contractbus-shim.ts'),
      `export type * from '${runtime}/core/types.ts';\nexport * from '${runtime}/core/errors.ts';\nexport * from '${runtime}/core/validation.ts';\nexport * from '${runtime}/core/channel.ts';\n`,
    );
    await writeFile(path.join(dir, 'testing-shim.ts'), `export * from '${runtime}/testing/mirror.ts';\n`);
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
        noUnusedLocals: true,
        allowImportingTsExtensions: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        paths: { contractbus: ['./contractbus-shim.ts'], 'contractbus/testing': ['./testing-shim.ts'] },
      },
      include: ['**/*.ts'],
    };
    await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    const result = await promisify(execFile)(path.join(repoRoot, 'node_modules/.bin/tsc'), ['--noEmit', '-p', path.join(dir, 'tsconfig.json')], { cwd: repoRoot }).then(
      (r) => r.stdout + r.stderr,
      (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
    expect(result).toBe('');
  }, 120_000);
});
