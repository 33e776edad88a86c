/**
 * Test helper: read every sample a running node's shards hold for a tenant, straight from their
 * heads (the shared-memory HeadView), keyed by the series' label set.
 */
import { XorIterator } from '../../src/chunkenc/xor.js';
import type { ShardPool } from '../../src/shards/pool.js';
import type { Matcher } from '../../src/model/matchers.js';

/** labelKey renders a label set as `{a="1",b="2"}` (sorted, as the head stores it). */
export function labelKey(ls: [string, string][]): string {
  return `{${ls.map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(',')}}`;
}

/** readHeads returns labelKey → [t, v] samples of every series of `tenant` matching `matchers`. */
export async function readHeads(pool: ShardPool, tenant: string, matchers: Matcher[] = []): Promise<Map<string, [number, number][]>> {
  const out = new Map<string, [number, number][]>();
  const it = new XorIterator();
  for (const sh of pool.shards) {
    const refs = await sh.query<number[]>({ type: 'query', op: 'refs', q: { tenant, matcherSets: [matchers], mint: -Infinity, maxt: Infinity } });
    for (const ref of refs) {
      const samples: [number, number][] = [];
      for (const c of sh.view.chunks(ref)) {
        it.reset(c.data, 0, c.data.length);
        while (it.next()) samples.push([it.t, it.v]);
      }
      out.set(labelKey(sh.view.labels(ref)), samples);
    }
  }
  return out;
}
