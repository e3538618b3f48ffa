/**
 * Readers for stream command replies. The same command answers in three shapes: RESP2 arrays,
 * RESP3 maps flattened to arrays (ioredis 6 default, `replyMapping: 'legacy'`), or RESP3 maps as
 * objects (`replyMapping: 'resp3'`, possible on a client the user hands us).
 */

export interface RawEntry {
  id: string;
  /** null when the entry was deleted (trimmed) while still pending. */
  fields: Buffer[] | null;
}

/** XREAD/XREADGROUP reply for one stream → its entries. */
export function entriesOfReadReply(reply: unknown): RawEntry[] {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) {
    if (reply.length === 0) return [];
    // Flattened map: [key, entries, key, entries…]
    if (isStringLike(reply[0])) return entryList(reply[1]);
    // RESP2: [[key, entries], …]
    const first = reply[0];
    return Array.isArray(first) ? entryList(first[1]) : [];
  }
  if (typeof reply === 'object') {
    const values = Object.values(reply as Record<string, unknown>);
    return entryList(values[0]);
  }
  return [];
}

/** A list of `[id, fields]` pairs, as XRANGE, XCLAIM and XAUTOCLAIM return them. */
export function entryList(value: unknown): RawEntry[] {
  if (!Array.isArray(value)) return [];
  const out: RawEntry[] = [];
  for (const item of value) {
    if (!Array.isArray(item) || item.length < 1) continue;
    const fields = item[1];
    out.push({ id: String(item[0]), fields: Array.isArray(fields) ? (fields as Buffer[]) : null });
  }
  return out;
}

/** XAUTOCLAIM → next cursor, claimed entries, ids deleted while pending (Redis ≥ 7). */
export function autoclaimReply(reply: unknown): { cursor: string; entries: RawEntry[]; deleted: string[] } {
  if (!Array.isArray(reply)) return { cursor: '0-0', entries: [], deleted: [] };
  const deleted = Array.isArray(reply[2]) ? (reply[2] as unknown[]).map(String) : [];
  return { cursor: String(reply[0] ?? '0-0'), entries: entryList(reply[1]), deleted };
}

/** XPENDING key group start end count → id → delivery count. */
export function deliveryCounts(reply: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (!Array.isArray(reply)) return out;
  for (const row of reply) {
    if (Array.isArray(row) && row.length >= 4) out.set(String(row[0]), Number(row[3]));
  }
  return out;
}

/** XINFO GROUPS → one record per group, whatever the reply shape. */
export function groupInfos(reply: unknown): Array<Record<string, unknown>> {
  if (!Array.isArray(reply)) return [];
  return reply.map(toRecord);
}

export function toRecord(value: unknown): Record<string, unknown> {
  if (Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (let i = 0; i + 1 < value.length; i += 2) out[String(value[i])] = normalise(value[i + 1]);
    return out;
  }
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalise(v);
    return out;
  }
  return {};
}

function normalise(value: unknown): unknown {
  return Buffer.isBuffer(value) ? value.toString() : value;
}

function isStringLike(value: unknown): boolean {
  return typeof value === 'string' || Buffer.isBuffer(value);
}
