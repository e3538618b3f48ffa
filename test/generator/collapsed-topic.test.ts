/** Collapsed routing in the contract model: each parameterised channel's one topic on brokers without pattern subscribe. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, ContractModelError, loadContract } from '../../generator/index.ts';
import type { ContractModel } from '../../generator/index.ts';
import { collapseAddress } from '../../generator/model.ts';
import { specPath } from './helpers.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'contractbus-collapse-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function modelOfYaml(name: string, yaml: string): Promise<ContractModel> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  return buildModel((await loadContract(file)).document);
}

function v3(channels: string): string {
  return `asyncapi: 3.0.0
info: { title: Collapse, version: '1' }
channels:
${channels}
`;
}

describe('collapseAddress', () => {
  it.each([
    ['orders.{orderId}.status', 'orders.status'],
    ['t.{tenant}.orders.{orderId}', 't.orders'],
    ['orders.pre-{x}.status', 'orders.pre-.status'],
    ['{tenant}.orders', 'orders'],
    ['orders.{id}', 'orders'],
    ['users/{userId}/signedup', 'users/signedup'],
    ['{a}-{b}.events', '-.events'],
  ])('%s → %s', (address, topic) => {
    expect(collapseAddress(address)).toBe(topic);
  });

  it('an address made only of parameters has no collapsed topic', () => {
    expect(collapseAddress('{tenant}.{event}')).toBeUndefined();
    expect(collapseAddress('{all}')).toBeUndefined();
  });
});

describe('collapsedTopic in the model', () => {
  it('shop: orders.{orderId}.status → orders.status; channels without parameters have none', async () => {
    for (const version of ['3.0', '2.6'] as const) {
      const model = buildModel((await loadContract(specPath('shop', version))).document);
      const byAddress = Object.fromEntries(model.channels.map((c) => [c.address, c.collapsedTopic]));
      expect(byAddress).toEqual({ 'orders.{orderId}.status': 'orders.status', 'shop.payments': undefined });
      const publish = model.operations.find((o) => o.functionName === 'publishOrderStatus');
      expect(publish?.routeLiteral).toBe('{ address: "orders.{orderId}.status", collapsedTopic: "orders.status" }');
    }
  });

  it('the Kafka channel binding topic wins (3.0)', async () => {
    const model = await modelOfYaml(
      'binding-v3',
      v3(`  status:
    address: orders.{orderId}.status
    parameters: { orderId: {} }
    bindings: { kafka: { topic: shop-order-status, bindingVersion: 0.5.0 } }
    messages: { m: { payload: { type: string } } }`),
    );
    expect(model.channels[0]?.collapsedTopic).toBe('shop-order-status');
  });

  it('the Kafka channel binding topic wins (2.6)', async () => {
    const model = await modelOfYaml(
      'binding-v2',
      `asyncapi: 2.6.0
info: { title: Collapse, version: '1' }
channels:
  orders.{orderId}.status:
    parameters: { orderId: { schema: { type: string } } }
    bindings: { kafka: { topic: shop-order-status, bindingVersion: 0.4.0 } }
    subscribe:
      message: { payload: { type: string } }
`,
    );
    expect(model.channels[0]?.collapsedTopic).toBe('shop-order-status');
  });

  it('an address of parameters only: no collapsed topic (the runtime names the fix on Kafka)', async () => {
    const model = await modelOfYaml(
      'only-params',
      v3(`  any:
    address: '{tenant}.{event}'
    parameters: { tenant: {}, event: {} }
    messages: { m: { payload: { type: string } } }`),
    );
    expect(model.channels[0]?.collapsedTopic).toBeUndefined();
    expect(model.operations).toEqual([]);
  });

  it('a binding topic with a parameter or wildcard is refused', async () => {
    await expect(
      modelOfYaml(
        'bad-binding',
        v3(`  status:
    address: orders.{orderId}.status
    parameters: { orderId: {} }
    bindings: { kafka: { topic: 'orders.{orderId}' } }
    messages: { m: { payload: { type: string } } }`),
      ),
    ).rejects.toThrow(/bindings\.kafka\.topic "orders\.\{orderId\}" must be one concrete topic/);
  });
});

describe('collisions on brokers without patterns', () => {
  it('two parameterised channels that collapse to one topic: fails naming both and the fix', async () => {
    const error = await modelOfYaml(
      'collide-two',
      v3(`  byOrder:
    address: orders.{orderId}.status
    parameters: { orderId: {} }
    messages: { m: { payload: { type: string } } }
  byShop:
    address: orders.{shopId}.status
    parameters: { shopId: {} }
    messages: { m: { payload: { type: string } } }`),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractModelError);
    const message = (error as Error).message;
    expect(message).toContain('"byOrder" ("orders.{orderId}.status")');
    expect(message).toContain('"byShop" ("orders.{shopId}.status")');
    expect(message).toContain('"orders.status"');
    expect(message).toContain('set bindings.kafka.topic');
  });

  it("a collapsed topic equal to another channel's address fails too", async () => {
    const error = await modelOfYaml(
      'collide-address',
      v3(`  status:
    address: orders.{orderId}.status
    parameters: { orderId: {} }
    messages: { m: { payload: { type: string } } }
  all:
    address: orders.status
    messages: { m: { payload: { type: string } } }`),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractModelError);
    expect((error as Error).message).toMatch(/"all" \("orders\.status"\) and "status" \("orders\.\{orderId\}\.status"\)|"status" \("orders\.\{orderId\}\.status"\) and "all" \("orders\.status"\)/);
  });

  it('a Kafka binding topic resolves the collision', async () => {
    const model = await modelOfYaml(
      'collide-fixed',
      v3(`  status:
    address: orders.{orderId}.status
    parameters: { orderId: {} }
    bindings: { kafka: { topic: orders.status.by-order } }
    messages: { m: { payload: { type: string } } }
  all:
    address: orders.status
    messages: { m: { payload: { type: string } } }`),
    );
    expect(model.channels.map((c) => c.collapsedTopic).sort()).toEqual(['orders.status.by-order', undefined]);
  });
});
