import { MemoryBroker, MemoryHub } from '../../runtime/bindings/memory/index.ts';
import { MEMORY_CAPABILITIES } from '../../runtime/bindings/memory/transport.ts';
import { runConformanceSuite } from './suite.ts';

// One hub for the run: clients created by the suite share it like services sharing one server.
const hub = new MemoryHub();

runConformanceSuite({
  name: 'memory',
  capabilities: MEMORY_CAPABILITIES,
  timeoutMs: 3000,
  async create() {
    const broker = new MemoryBroker({ hub });
    await broker.connect();
    return broker;
  },
  // The hub's simulated outage: publishes fail fast, deliveries stop, data is kept.
  async restartBroker() {
    hub.simulateOutage();
    await new Promise((resolve) => setImmediate(resolve));
    hub.restore();
  },
  async stopBroker() {
    hub.simulateOutage();
  },
  async startBroker() {
    hub.restore();
  },
});
