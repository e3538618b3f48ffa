/**
 * Generator benchmark: load + model + render (no tsc, no disk writes of the output) for a synthetic
 * AsyncAPI 3.0 contract with 1,000 parameterised channels (2,000 operations). Target: under 3 s.
 * Also measures validation cost per message with the generated-style validator (zod 4, compiled).
 * `npm run bench -- generator`, or directly: `node --conditions=development bench/generator.ts`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import * as z from 'zod';
import { buildModel, loadContract, renderContract } from '../generator/index.ts';
import { zodValidator } from '../runtime/core/validation.ts';
import type { BenchResult } from './lib.ts';

export function syntheticContract(channels: number): string {
  const doc = {
    asyncapi: '3.0.0',
    info: { title: 'Synthetic', version: '1.0.0' },
    channels: {} as Record<string, unknown>,
    operations: {} as Record<string, unknown>,
    components: { messages: {} as Record<string, unknown>, schemas: { Money: { type: 'object', required: ['currency', 'amount'], properties: { currency: { type: 'string', pattern: '^[A-Z]{3}$' }, amount: { type: 'integer', minimum: 0 } } } } },
  };
  for (let i = 0; i < channels; i++) {
    const name = `Event${i}`;
    doc.components.messages[name] = {
      name,
      headers: { type: 'object', required: ['correlationId'], properties: { correlationId: { type: 'string' } } },
      payload: {
        type: 'object',
        required: ['id', 'kind', 'at'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          kind: { type: 'string', enum: ['created', 'updated', 'deleted'] },
          at: { type: 'string', format: 'date-time' },
          price: { $ref: '#/components/schemas/Money' },
          tags: { type: 'array', items: { type: 'string' }, maxItems: 10 },
          note: { type: ['string', 'null'], maxLength: 200 },
        },
      },
    };
    doc.channels[`c${i}`] = { address: `domain${i}.{entityId}.events`, parameters: { entityId: {} }, messages: { [name]: { $ref: `#/components/messages/${name}` } } };
    doc.operations[`publishEvent${i}`] = { action: 'send', channel: { $ref: `#/channels/c${i}` }, messages: [{ $ref: `#/channels/c${i}/messages/${name}` }] };
    doc.operations[`onEvent${i}`] = { action: 'receive', channel: { $ref: `#/channels/c${i}` }, messages: [{ $ref: `#/channels/c${i}/messages/${name}` }] };
  }
  return JSON.stringify(doc);
}

export async function runGeneratorBench(channels = 1000): Promise<{ name: string; ms: number; channels: number; loadMs: number; modelMs: number; renderMs: number; files: number; bytes: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'contractbus-bench-'));
  try {
    const file = path.join(dir, 'synthetic.json');
    await writeFile(file, syntheticContract(channels));
    const t0 = performance.now();
    const loaded = await loadContract(file);
    const t1 = performance.now();
    const model = buildModel(loaded.document);
    const t2 = performance.now();
    const files = renderContract(model);
    const t3 = performance.now();
    return {
      name: `generate ${channels} channels (load+model+render)`,
      ms: t3 - t0,
      channels,
      loadMs: t1 - t0,
      modelMs: t2 - t1,
      renderMs: t3 - t2,
      files: files.length,
      bytes: files.reduce((n, f) => n + f.contents.length, 0),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** µs per validation of a 10-field message: compiled (what generated code uses) vs plain zod safeParse. */
export function runValidationBench(iterations = 200_000): { compiledUs: number; plainUs: number } {
  const schema = z.looseObject({
    orderId: z.guid(),
    status: z.enum(['created', 'paid', 'shipped']),
    changedAt: z.iso.datetime({ offset: true }),
    amount: z.int().gte(0),
    currency: z.string().regex(/^[A-Z]{3}$/u),
    customerId: z.string().min(1),
    items: z.int().gte(1),
    express: z.boolean(),
    note: z.string().max(280).nullable().optional(),
    tags: z.array(z.string()).max(10),
  });
  const message = { orderId: '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00', status: 'paid', changedAt: '2026-03-01T12:00:00Z', amount: 1999, currency: 'EUR', customerId: 'c-1', items: 2, express: false, note: null, tags: ['a', 'b'] };
  const validate = zodValidator(schema, { topic: 'bench', direction: 'incoming' });
  const time = (fn: () => unknown): number => {
    for (let i = 0; i < 20_000; i++) fn();
    const start = performance.now();
    for (let i = 0; i < iterations; i++) fn();
    return ((performance.now() - start) * 1000) / iterations;
  };
  const plainUs = time(() => schema.safeParse(message));
  const compiledUs = time(() => validate(message));
  return { compiledUs, plainUs };
}

/** µs per validation with the schemas generated from asyncapi/shop.yaml (the example service's copy). */
export async function runGeneratedSchemaBench(iterations = 200_000): Promise<Array<{ name: string; us: number }>> {
  const shop = await import('../examples/generated-service/src/generated/shop/schemas.ts');
  const cases: Array<{ name: string; schema: z.ZodType; value: unknown }> = [
    { name: 'OrderStatus (4 fields)', schema: shop.OrderStatus, value: { orderId: '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00', status: 'paid', changedAt: '2026-03-01T12:00:00Z' } },
    { name: 'PaymentEvent (discriminated union, nested Money)', schema: shop.PaymentEvent, value: { kind: 'captured', paymentId: '0b8e5d3c-2f1a-4e6b-9c7d-8a9b0c1d2e3f', orderId: '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00', amount: { currency: 'EUR', amountMinor: 1999 }, capturedAt: '2026-03-01T12:00:00Z' } },
  ];
  return cases.map(({ name, schema, value }) => {
    const validate = zodValidator(schema, { topic: 'bench', direction: 'incoming' });
    for (let i = 0; i < 20_000; i++) validate(value);
    const start = performance.now();
    for (let i = 0; i < iterations; i++) validate(value);
    return { name, us: ((performance.now() - start) * 1000) / iterations };
  });
}

/** Entry point for bench/run.ts. */
export async function run(): Promise<BenchResult[]> {
  const gen = await runGeneratorBench();
  const validation = runValidationBench();
  const generated = await runGeneratedSchemaBench();
  return [
    ...generated.map((g) => ({ suite: 'generator', case: `validate generated ${g.name}`, note: `${g.us.toFixed(2)} µs/msg` })),
    { suite: 'generator', case: gen.name, ms: gen.ms, note: `load ${gen.loadMs.toFixed(0)} ms, model ${gen.modelMs.toFixed(0)} ms, render ${gen.renderMs.toFixed(0)} ms; ${(gen.bytes / 1024).toFixed(0)} KiB in ${gen.files} files; target < 3000 ms; load average ${loadavg()[0]?.toFixed(1)}` },
    { suite: 'generator', case: 'validate 10-field message (zodValidator, z.compile)', note: `${validation.compiledUs.toFixed(2)} µs/msg (plain zod safeParse ${validation.plainUs.toFixed(2)} µs/msg)` },
  ];
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname;
if (invokedDirectly) {
  const gen = await runGeneratorBench();
  console.log(`${gen.name}: ${gen.ms.toFixed(0)} ms (load ${gen.loadMs.toFixed(0)}, model ${gen.modelMs.toFixed(0)}, render ${gen.renderMs.toFixed(0)}); ${gen.files} files, ${(gen.bytes / 1024).toFixed(0)} KiB; target < 3000 ms (machine load average ${loadavg()[0]?.toFixed(1)})`);
  const v = runValidationBench();
  console.log(`validation, 10-field message: ${v.compiledUs.toFixed(2)} µs/msg compiled (zodValidator), ${v.plainUs.toFixed(2)} µs/msg plain safeParse`);
  for (const g of await runGeneratedSchemaBench()) console.log(`validation, generated ${g.name}: ${g.us.toFixed(2)} µs/msg`);
}
