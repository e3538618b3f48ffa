/** Contract model and emitted files: snapshot per reference contract; AsyncAPI 2.6 ≡ 3.0. */
import { describe, expect, it } from 'vitest';
import { buildModel, generateFiles, loadContract } from '../../generator/index.ts';
import type { ContractModel } from '../../generator/index.ts';
import { contracts, specPath } from './helpers.ts';

async function modelOf(name: string, version: '3.0' | '2.6'): Promise<ContractModel> {
  const loaded = await loadContract(specPath(name, version));
  return buildModel(loaded.document);
}

function withoutSpecVersion(model: ContractModel): Omit<ContractModel, 'specVersion'> {
  const { specVersion: _ignored, ...rest } = model;
  return rest;
}

describe.each(contracts)('reference contract %s', (name) => {
  it('2.6 and 3.0 documents produce the same model', async () => {
    const [v3, v2] = await Promise.all([modelOf(name, '3.0'), modelOf(name, '2.6')]);
    expect(v3.specVersion).toBe('3.0.0');
    expect(v2.specVersion).toBe('2.6.0');
    expect(withoutSpecVersion(v2)).toEqual(withoutSpecVersion(v3));
  });

  it('model is JSON-serialisable and matches its snapshot', async () => {
    const model = await modelOf(name, '3.0');
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
    expect(model).toMatchSnapshot();
  });

  it('emitted files match their snapshots', async () => {
    const { files } = await generateFiles(specPath(name, '3.0'));
    expect(files.map((f) => f.path).sort()).toMatchSnapshot();
    for (const file of files) await expect(file.contents).toMatchFileSnapshot(`./__snapshots__/files/${file.path}.snap`);
  });
});

describe('model details', () => {
  it('reads 2.x publish as receive and subscribe as send (the parser normalises them)', async () => {
    const model = await modelOf('shop', '2.6');
    const byId = Object.fromEntries(model.operations.map((o) => [o.id, o.action]));
    expect(byId).toEqual({ publishOrderStatus: 'send', onOrderStatus: 'receive', onPayment: 'receive' });
  });

  it('names operations, channels, schemas and the client from the contract', async () => {
    const model = await modelOf('shop', '3.0');
    expect(model.clientFactory).toBe('createShopClient');
    expect(model.operations.map((o) => o.functionName)).toEqual(['onOrderStatus', 'onPayment', 'publishOrderStatus']);
    expect(model.channels.map((c) => [c.name, c.address, c.paramsSchema])).toEqual([
      ['OrdersStatus', 'orders.{orderId}.status', 'OrdersStatusParams'],
      ['ShopPayments', 'shop.payments', undefined],
    ]);
    expect(model.schemas.map((s) => s.identifier)).toContain('PaymentFailed');
    const publish = model.operations.find((o) => o.id === 'publishOrderStatus');
    expect(publish).toMatchObject({ headersRequired: true, correlationHeaderLiteral: '"correlationId"', hasParams: true, paramNames: ['orderId'] });
  });

  it('carries the dead-letter topic extension to the receive operation', async () => {
    const model = await modelOf('critical', '3.0');
    expect(model.operations.find((o) => o.id === 'onCriticalEvent')?.deadLetterTopicLiteral).toBe('"critical.events.dlq"');
  });

  it('names 2.6 operations without operationId from channel and action', async () => {
    const { document } = await loadContract(specPath('critical', '2.6'));
    const json = document.json() as { channels: Record<string, { subscribe?: { operationId?: string }; publish?: { operationId?: string } }> };
    const channel = json.channels['critical.events'];
    delete channel?.subscribe?.operationId;
    delete channel?.publish?.operationId;
    const { Parser } = await import('@asyncapi/parser');
    const reparsed = await new Parser().parse(json as never);
    const model = buildModel(reparsed.document as NonNullable<typeof reparsed.document>);
    expect(model.operations.map((o) => o.functionName).sort()).toEqual(['onCriticalEvents', 'publishCriticalEvents']);
  });
});
