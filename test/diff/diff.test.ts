/**
 * `diffContracts` over a table of contract pairs: fixtures/base.yaml against one mutation each
 * (fixtures/<case>.yaml; `<case>.old.yaml` is compared the other way round; `a.yaml>b.yaml` compares
 * the two named files). Each row names the rules
 * that must be reported, and how, and nothing else may be. Then `runDiffCommand` on good and bad input.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { diffContracts, runDiffCommand } from '../../generator/diff.ts';
import type { Change } from '../../generator/diff.ts';
import { loadContract } from '../../generator/load.ts';
import { buildModel } from '../../generator/model.ts';
import type { ContractModel } from '../../generator/model.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (name: string): string => path.join(here, 'fixtures', name);
const repoRoot = path.resolve(here, '../..');

async function model(file: string): Promise<ContractModel> {
  return buildModel((await loadContract(file)).document);
}

type Row = [file: string, breaking: string[], nonBreaking: string[]];

// rule@where-suffix: where must end with the suffix.
const table: Row[] = [
  // Same contract, AsyncAPI 2.6 vs 3.0: nothing.
  ['base.v2.yaml', [], []],
  // Structure: breaks in both directions.
  ['channel-removed.yaml', ['operation-removed@publishPayment (send)', 'channel-removed@"orders.payments"'], []],
  ['operation-removed.yaml', ['operation-removed@onPlaceOrder (receive)'], []],
  ['operation-added.yaml', [], ['operation-added@onPayment (receive)']],
  ['operation-action-changed.yaml', ['operation-action-changed@onPlaceOrder (receive)'], []],
  ['message-removed.old.yaml', ['message-removed@message CancelOrder'], []],
  ['address-changed.yaml', ['address-changed@onPlaceOrder (receive)'], ['channel-added@"orders.commands.v2"']],
  ['parameter-added.yaml', ['address-changed@publishOrderCreated (send)', 'parameter-added@parameter region'], ['channel-added@"orders.{region}.{orderId}.created"']],
  ['parameter-removed.old.yaml', ['address-changed@publishOrderCreated (send)', 'parameter-removed@parameter region'], ['channel-added@"orders.{orderId}.created"']],
  ['parameter-changed.yaml', ['parameter-changed@parameter orderId'], []],
  ['send-message-added.yaml', ['message-added@message OrderAmended'], []],
  ['receive-message-added.yaml', [], ['message-added@message CancelOrder']],
  ['correlation-id-changed.yaml', ['correlation-id-changed@message PlaceOrder'], []],
  ['title-changed.yaml', [], ['title-changed@info.title']],
  ['content-type-changed.yaml', ['content-type-changed@message PlaceOrder'], []],
  // Fields: removed / made required / added.
  ['send-field-removed.yaml', ['property-removed@OrderCreated › payload.note'], []],
  ['receive-field-removed.yaml', [], ['property-removed@PlaceOrder › payload.note']],
  ['send-field-made-required.yaml', [], ['property-required@OrderCreated › payload.note']],
  ['receive-field-made-required.yaml', ['property-required@PlaceOrder › payload.note'], []],
  ['send-required-field-added.yaml', [], ['property-added-required@OrderCreated › payload.currency']],
  ['receive-required-field-added.yaml', ['property-added-required@PlaceOrder › payload.currency'], []],
  ['optional-field-added.yaml', [], ['property-added@PlaceOrder › payload.currency', 'property-added@OrderCreated › payload.currency']],
  ['send-required-made-optional.yaml', ['property-optional@OrderCreated › payload.quantity'], []],
  ['receive-required-made-optional.yaml', [], ['property-optional@PlaceOrder › payload.quantity']],
  ['receive-required-header-added.yaml', ['property-required@PlaceOrder › headers.tenant'], []],
  ['receive-object-closed.yaml', ['object-closed@PlaceOrder › payload'], []],
  ['receive-object-opened.old.yaml', [], ['object-opened@PlaceOrder › payload']],
  ['receive-object-closed.yaml>receive-closed-field-removed.yaml', ['property-removed@PlaceOrder › payload.note'], []],
  ['default-changed.yaml', [], ['default-changed@PlaceOrder › payload.status']],
  // Types and constraints.
  ['send-number-to-integer.yaml', [], ['type-narrowed@OrderCreated › payload.quantity']],
  ['receive-number-to-integer.yaml', ['type-narrowed@PlaceOrder › payload.quantity'], []],
  ['send-integer-to-number.old.yaml', ['type-widened@OrderCreated › payload.quantity'], []],
  ['send-type-widened-nullable.yaml', ['type-widened@OrderCreated › payload.note'], []],
  ['type-changed.yaml', ['type-changed@PlaceOrder › payload.id'], []],
  ['receive-string-gains-enum.yaml', ['enum-added@PlaceOrder › payload.id'], []],
  ['send-enum-removed.yaml', ['enum-removed@OrderCreated › payload.status'], []],
  ['receive-format-added.yaml', ['format-added@PlaceOrder › payload.id'], []],
  ['send-format-added.yaml', [], ['format-added@OrderCreated › payload.id']],
  ['receive-format-removed.old.yaml', [], ['format-removed@PlaceOrder › payload.id']],
  ['receive-format-added.yaml>receive-format-changed.yaml', ['format-changed@PlaceOrder › payload.id'], []],
  ['receive-pattern-added.yaml', ['pattern-added@PlaceOrder › payload.id'], []],
  ['receive-max-length-decreased.yaml', ['constraint-tightened@PlaceOrder › payload.note'], []],
  ['send-max-length-increased.yaml', ['constraint-relaxed@OrderCreated › payload.note'], []],
  ['receive-maximum-raised.yaml', [], ['constraint-relaxed@PlaceOrder › payload.quantity']],
  // Enums and unions.
  ['send-enum-value-added.yaml', ['enum-value-added@OrderCreated › payload.status'], []],
  ['receive-enum-value-added.yaml', [], ['enum-value-added@PlaceOrder › payload.status']],
  ['send-enum-value-removed.yaml', [], ['enum-value-removed@OrderCreated › payload.status']],
  ['receive-enum-value-removed.yaml', ['enum-value-removed@PlaceOrder › payload.status'], []],
  ['send-variant-added.yaml', ['variant-added@Payment › payload'], []],
  ['send-variant-removed.yaml', [], ['variant-removed@Payment › payload']],
  ['send-variant-field-removed.yaml', ['property-removed@payload.oneOf[kind="card"].last4'], []],
  // A recursive schema is walked once per level and terminates.
  ['recursive-field-changed.yaml', [], ['constraint-tightened@OrderCreated › payload.category.name']],
];

function matches(changes: Change[], expected: string[]): void {
  const actual = changes.map((c) => `${c.rule}@${c.where}`);
  expect(actual, `got ${JSON.stringify(actual)}`).toHaveLength(expected.length);
  for (const want of expected) {
    const [rule, suffix] = want.split('@') as [string, string];
    expect(
      changes.some((c) => c.rule === rule && c.where.endsWith(suffix)),
      `${want} not in ${JSON.stringify(actual)}`,
    ).toBe(true);
  }
}

describe('diffContracts: rule table', () => {
  let base: ContractModel;
  beforeAll(async () => {
    base = await model(fixture('base.yaml'));
  });

  it.each(table)('%s', async (file, breaking, nonBreaking) => {
    const [first, second] = file.split('>') as [string, string | undefined];
    const other = await model(fixture(first));
    const result = second !== undefined ? diffContracts(other, await model(fixture(second))) : first.endsWith('.old.yaml') ? diffContracts(other, base) : diffContracts(base, other);
    matches(result.breaking, breaking);
    matches(result.nonBreaking, nonBreaking);
    for (const c of [...result.breaking, ...result.nonBreaking]) expect(c.message.length).toBeGreaterThan(5);
  });

  it('is independent of the spec version on either side (2.6 old, 3.0 new)', async () => {
    const fromV2 = diffContracts(await model(fixture('base.v2.yaml')), await model(fixture('send-field-removed.yaml')));
    const fromV3 = diffContracts(base, await model(fixture('send-field-removed.yaml')));
    expect(fromV2).toEqual(fromV3);
  });

  it('a schema used in both directions changes compatibly only if neither side breaks (shop: OrderStatus)', async () => {
    const shop = await model(path.join(repoRoot, 'asyncapi/shop.yaml'));
    const changed = structuredClone(shop);
    const status = changed.schemas.find((s) => s.key === 'OrderStatus')?.json as { properties: { status: { enum: string[] } } };
    status.properties.status.enum.push('returned');
    const result = diffContracts(shop, changed);
    // publishOrderStatus sends it (consumers break), onOrderStatus receives it (fine).
    expect(result.breaking.map((c) => [c.operation, c.rule])).toEqual([['publishOrderStatus', 'enum-value-added']]);
    expect(result.nonBreaking.map((c) => [c.operation, c.rule])).toEqual([['onOrderStatus', 'enum-value-added']]);
  });

  it('the reference contracts: 2.6 and 3.0 of each are the same contract', async () => {
    for (const name of ['shop', 'users', 'notifications', 'critical']) {
      const result = diffContracts(await model(path.join(repoRoot, `asyncapi/${name}.v2.yaml`)), await model(path.join(repoRoot, `asyncapi/${name}.yaml`)));
      expect(result, name).toEqual({ breaking: [], nonBreaking: [] });
    }
  });
});

function capture(): { io: { out: (l: string) => void; err: (l: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}

describe('contractbus diff (runDiffCommand)', () => {
  it('no changes: exit 0', async () => {
    const c = capture();
    expect(await runDiffCommand([fixture('base.v2.yaml'), fixture('base.yaml')], c.io)).toBe(0);
    expect(c.out.join('\n')).toContain('No contract changes.');
    expect(c.err).toEqual([]);
  });

  it('breaking changes: exit 1, grouped by severity, with a version hint', async () => {
    const c = capture();
    expect(await runDiffCommand([fixture('base.yaml'), fixture('address-changed.yaml')], c.io)).toBe(1);
    const text = c.out.join('\n');
    expect(text).toMatch(/Breaking changes \(1\):\n {2}✗ operation onPlaceOrder \(receive\): address "orders.commands" → "orders.commands.v2"/);
    expect(text).toMatch(/Non-breaking changes \(1\):\n {2}✓ channel "orders.commands.v2": new channel/);
    expect(text).toContain('Hint: breaking changes without a new major info.version (1.0.0 → 1.0.0)');
    expect(text).toMatch(/1 breaking, 1 non-breaking → exit 1 \(--fail-on breaking\)$/);
  });

  it('--fail-on none / any', async () => {
    expect(await runDiffCommand([fixture('base.yaml'), fixture('address-changed.yaml'), '--fail-on', 'none'], capture().io)).toBe(0);
    expect(await runDiffCommand([fixture('base.yaml'), fixture('operation-added.yaml')], capture().io)).toBe(0);
    expect(await runDiffCommand([fixture('base.yaml'), fixture('operation-added.yaml'), '--fail-on', 'any'], capture().io)).toBe(1);
  });

  it('--json: one parseable document', async () => {
    const c = capture();
    expect(await runDiffCommand(['--json', fixture('base.yaml'), fixture('receive-format-added.yaml')], c.io)).toBe(1);
    const json = JSON.parse(c.out.join('\n')) as { old: { asyncapi: string }; breaking: Change[]; nonBreaking: Change[]; failed: boolean };
    expect(json.old.asyncapi).toBe('3.0.0');
    expect(json.failed).toBe(true);
    expect(json.breaking).toEqual([
      expect.objectContaining({ rule: 'format-added', severity: 'breaking', operation: 'onPlaceOrder', direction: 'receive', where: 'operation onPlaceOrder (receive) › message PlaceOrder › payload.id' }),
    ]);
  });

  it('usage errors: exit 2 with the usage', async () => {
    for (const argv of [[], [fixture('base.yaml')], ['a', 'b', 'c'], ['--fail-on', 'sometimes', 'a', 'b'], ['--nope', 'a', 'b']]) {
      const c = capture();
      expect(await runDiffCommand(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err.join('\n')).toMatch(/^contractbus diff: /);
    }
  });

  it('an unreadable or invalid contract: exit 2 naming which side and where', async () => {
    const missing = capture();
    expect(await runDiffCommand([fixture('nope.yaml'), fixture('base.yaml')], missing.io)).toBe(2);
    expect(missing.err.join('\n')).toMatch(/cannot read the old contract .*nope\.yaml:\n.*nope\.yaml error: cannot read the AsyncAPI document: file not found/);
    const invalid = capture();
    expect(await runDiffCommand([fixture('base.yaml'), path.join(repoRoot, 'test/generator/fixtures/invalid.yaml')], invalid.io)).toBe(2);
    expect(invalid.err.join('\n')).toMatch(/cannot read the new contract .*invalid\.yaml:\n.*invalid\.yaml:\d+:\d+ error/);
  });

  it('--help: exit 0', async () => {
    const c = capture();
    expect(await runDiffCommand(['--help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toContain('Exit codes: 0 nothing to fail on, 1 changes that fail');
  });
});
