/**
 * `contractbus dlq replay <dead-letter-topic> [--url URL] [--target topic] [--limit n] [--group g] [--idle-ms ms]`:
 * moves dead-lettered messages back to their original topic (or `--target`), each acked on the
 * dead-letter topic only after its republish was confirmed. The broker comes from `--url`, else
 * MESSAGE_BROKER_URL. Exit 0 with the count, 1 on a broker or replay error, 2 on usage errors.
 */
import { parseArgs } from 'node:util';
import { connect } from '../runtime/core/connect.ts';
import { replayDeadLetters, type ReplayOptions } from '../runtime/core/client.ts';
import { redactString } from '../runtime/observability/redact.ts';

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const HELP = `contractbus dlq replay <dead-letter-topic> [options]

Moves dead-lettered messages back to the topic they came from (read from their
x-contractbus-dlq-original-topic header), without their dead-letter headers, keeping their ids.

Options:
  --url <url>        broker URL (default: MESSAGE_BROKER_URL), e.g. amqp://…, kafka://…, redis+streams://…
  --target <topic>   send every message here instead of its original topic
  --limit <n>        stop after n messages (default: all)
  --group <name>     consumer group reading the dead-letter topic (default: contractbus-dlq-replay)
  --idle-ms <ms>     stop once no message arrived for this long (default: 1000)
`;

export async function runDlqCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'replay') {
    io.err(`contractbus dlq: unknown command ${JSON.stringify(sub)} (expected replay)\n${HELP}`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        target: { type: 'string' },
        limit: { type: 'string' },
        group: { type: 'string' },
        'idle-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.err(`contractbus dlq replay: ${(error as Error).message}\n${HELP}`);
    return 2;
  }
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const topic = positionals[0];
  if (topic === undefined || positionals.length > 1) {
    io.err(`contractbus dlq replay: give exactly one dead-letter topic\n${HELP}`);
    return 2;
  }
  const options: ReplayOptions = {};
  if (typeof values.target === 'string') options.targetTopic = values.target;
  if (typeof values.group === 'string') options.group = values.group;
  for (const [flag, key] of [['limit', 'limit'], ['idle-ms', 'idleMs']] as const) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) {
      io.err(`contractbus dlq replay: --${flag} must be a positive whole number, got ${JSON.stringify(raw)}`);
      return 2;
    }
    options[key] = n;
  }
  const url = typeof values.url === 'string' ? values.url : process.env['MESSAGE_BROKER_URL'];
  if (url === undefined) {
    io.err('contractbus dlq replay: no broker: pass --url or set MESSAGE_BROKER_URL');
    return 2;
  }
  try {
    const broker = await connect(url);
    try {
      const { replayed } = await replayDeadLetters(broker, topic, options);
      io.out(`replayed ${replayed} message${replayed === 1 ? '' : 's'} from ${topic}${options.targetTopic ? ` to ${options.targetTopic}` : ''} (${redactString(url)})`);
      return 0;
    } finally {
      await broker.disconnect();
    }
  } catch (error) {
    io.err(`contractbus dlq replay: ${redactString(error instanceof Error ? error.message : String(error))}`);
    return 1;
  }
}
