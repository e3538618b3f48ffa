// vitest globalSetup: fail the whole run at once, with the fix, when a broker it needs is down,
// instead of every broker test timing out one by one.
//
// CONTRACTBUS_BROKERS=redis,rabbitmq  only check these
// CONTRACTBUS_BROKERS=none            check nothing (unit tests only)
// CONTRACTBUS_BROKERS_AUTOSTART=1     start the missing ones with scripts/brokers.sh instead of failing
import { BROKER_NAMES, brokerEndpoint, isReachable, runBrokersScript, startCommand, type BrokerName } from './brokers.ts';

export function requiredBrokers(value: string | undefined = process.env.CONTRACTBUS_BROKERS): BrokerName[] {
  const raw = (value ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'all') return [...BROKER_NAMES];
  if (raw === 'none') return [];
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (s === 'rabbit' ? 'rabbitmq' : s));
  const unknown = names.filter((n) => !(BROKER_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new Error(
      `CONTRACTBUS_BROKERS has unknown broker(s): ${unknown.join(', ')}. ` +
        `Use a comma-separated list of ${BROKER_NAMES.join(', ')}, or "all", or "none".`,
    );
  }
  return [...new Set(names as BrokerName[])];
}

export default async function setup(): Promise<void> {
  const needed = requiredBrokers();
  if (needed.length === 0) return;
  // One retry: a broker that was just (re)started by a previous command may need a moment.
  const check = async (name: BrokerName): Promise<boolean> =>
    (await isReachable(name, 2_000)) || (await isReachable(name, 3_000));
  const results = await Promise.all(needed.map(async (name) => ({ name, up: await check(name) })));
  let down = results.filter((r) => !r.up).map((r) => r.name);
  if (down.length === 0) return;
  if (['1', 'true', 'yes'].includes((process.env.CONTRACTBUS_BROKERS_AUTOSTART ?? '').toLowerCase())) {
    console.log(`[global-setup] starting ${down.join(', ')} (CONTRACTBUS_BROKERS_AUTOSTART)`);
    const { output } = await runBrokersScript(['start', ...down]);
    console.log(output.trimEnd());
    const after = await Promise.all(down.map(async (name) => ({ name, up: await check(name) })));
    down = after.filter((r) => !r.up).map((r) => r.name);
    if (down.length === 0) return;
  }
  const lines = down.map((name) => {
    const { host, port } = brokerEndpoint(name);
    return `  - ${name} is not answering on ${host}:${port}. Start it with: ${startCommand(name)}`;
  });
  throw new Error(
    [
      `Broker(s) needed by this test run are down:`,
      ...lines,
      `Start all of them with: npm run brokers -- start`,
      `Or limit the check, e.g. CONTRACTBUS_BROKERS=${needed.filter((n) => !down.includes(n)).join(',') || 'none'}`,
    ].join('\n'),
  );
}
