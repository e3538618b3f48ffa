/** Input formats beyond the reference YAML: JSON documents and AsyncAPI 3.1. */
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildModel, generateFiles, loadContract } from '../../generator/index.ts';
import { syntheticContract } from '../../bench/generator.ts';
import { freshDir, repoRoot, specPath } from './helpers.ts';

describe('input formats', () => {
  it('reads JSON documents', async () => {
    const dir = await freshDir('formats-json');
    const file = path.join(dir, 'synthetic.json');
    await writeFile(file, syntheticContract(3));
    const { model, files } = await generateFiles(file);
    expect(model.operations.map((o) => o.functionName)).toEqual(['onEvent0', 'onEvent1', 'onEvent2', 'publishEvent0', 'publishEvent1', 'publishEvent2']);
    expect(files.map((f) => f.path)).toEqual(['synthetic/schemas.ts', 'synthetic/client.ts', 'synthetic/index.ts']);
  });

  it('applies message and operation traits (the Streetlights example shape)', async () => {
    const { model } = await generateFiles(path.join(repoRoot, 'test/generator/fixtures/streetlights.yaml'));
    expect(model.clientFactory).toBe('createStreetlightsKafkaApiClient');
    expect(model.operations.map((o) => [o.functionName, o.action, o.paramNames, o.headersType])).toEqual([
      ['receiveLightMeasurement', 'receive', ['streetlightId'], 'LightMeasuredHeaders'],
      ['turnOn', 'send', ['streetlightId'], 'TurnOnHeaders'],
    ]);
    const headers = model.schemas.find((s) => s.identifier === 'LightMeasuredHeaders');
    expect(headers?.zod).toContain('"my-app-header": z.int().gte(0).lte(100).optional()');
    expect(model.operations[0]?.bindings).toEqual({ kafka: { clientId: { type: 'string', enum: ['my-app-id'] } } });
  });

  it('AsyncAPI 3.1 gives the same model as 3.0 (and 2.6)', async () => {
    const dir = await freshDir('formats-31');
    await cp(path.join(repoRoot, 'asyncapi/schemas'), path.join(dir, 'schemas'), { recursive: true });
    const file = path.join(dir, 'shop.yaml');
    await writeFile(file, (await readFile(specPath('shop'), 'utf8')).replace('asyncapi: 3.0.0', 'asyncapi: 3.1.0'));
    const v31 = buildModel((await loadContract(file)).document);
    const v30 = buildModel((await loadContract(specPath('shop'))).document);
    expect(v31.specVersion).toBe('3.1.0');
    expect({ ...v31, specVersion: '' }).toEqual({ ...v30, specVersion: '' });
  });
});
