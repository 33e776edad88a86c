/**
 * TenantQuerier is the PromQL engine's storage (src/query/promql/storage.ts) for one tenant: the
 * shards' heads (read from shared memory; the shard only answers which series match) merged with
 * the blocks the BlockSet knows, local and in object storage. A series present in several places
 * (the head and a just-cut block, or a block both local and uploaded) becomes one series whose
 * samples are merged by timestamp, each counted once. External labels and the tenant label are
 * added to every series, as Thanos Receive's StoreAPI presents them; matchers on them are decided
 * here.
 */
import { XorIterator } from '../chunkenc/xor.js';
import { compileMatcher, type Matcher } from '../model/matchers.js';
import { tenantExternalLabels, withLabels, type Labels } from '../model/labels.js';
import type { ShardPool } from '../shards/pool.js';
import type { BlockSet } from './blockSet.js';
import type { Querier, SeriesData } from './promql/storage.js';

/** SampleBuf collects one series' samples. */
class SampleBuf {
  t = new Float64Array(64);
  v = new Float64Array(64);
  n = 0;
  push(t: number, v: number): void {
    if (this.n === this.t.length) {
      const nt = new Float64Array(this.n * 2); nt.set(this.t); this.t = nt;
      const nv = new Float64Array(this.n * 2); nv.set(this.v); this.v = nv;
    }
    this.t[this.n] = t;
    this.v[this.n++] = v;
  }
}

const it = new XorIterator();

/** decodeInto appends the samples of an XOR chunk within [mint, maxt] to `buf`. */
function decodeInto(data: Uint8Array, mint: number, maxt: number, buf: SampleBuf): void {
  it.reset(data, 0, data.length);
  while (it.next()) {
    const t = it.t;
    if (t < mint) continue;
    if (t > maxt) break;
    buf.push(t, it.v);
  }
}

/** finish sorts and de-duplicates a buffer filled from several sources into SeriesData arrays. */
function finish(labels: Labels, buf: SampleBuf, merged: boolean): SeriesData {
  let t = buf.t.subarray(0, buf.n);
  let v = buf.v.subarray(0, buf.n);
  if (merged) {
    const idx = Array.from({ length: buf.n }, (_, i) => i).sort((a, b) => t[a]! - t[b]!);
    const nt = new Float64Array(buf.n);
    const nv = new Float64Array(buf.n);
    let k = 0;
    for (const i of idx) {
      if (k > 0 && nt[k - 1] === t[i]) continue;
      nt[k] = t[i]!;
      nv[k++] = v[i]!;
    }
    t = nt.subarray(0, k);
    v = nv.subarray(0, k);
  }
  return { labels, t: t.slice(), v: v.slice() };
}

/** QuerierOptions configures TenantQuerier. */
export interface QuerierOptions {
  pool: ShardPool;
  blocks?: BlockSet;
  tenantLabelName: string;
  externalLabels: [string, string][];
}

/** TenantQuerier selects one tenant's series from heads and blocks. */
export class TenantQuerier implements Querier {
  private readonly opts: QuerierOptions;
  private readonly tenant: string;
  private readonly ext: Labels;

  constructor(opts: QuerierOptions, tenant: string) {
    this.opts = opts;
    this.tenant = tenant;
    this.ext = tenantExternalLabels(opts.externalLabels, opts.tenantLabelName, tenant);
  }

  async select(matchers: Matcher[], mint: number, maxt: number): Promise<SeriesData[]> {
    const extMap = new Map(this.ext);
    const rest: Matcher[] = [];
    for (const m of matchers) {
      const v = extMap.get(m.name);
      if (v === undefined) rest.push(m);
      else if (!compileMatcher(m).matches(v)) return [];
    }
    const byKey = new Map<string, { labels: Labels; buf: SampleBuf; sources: number }>();
    const entry = (labels: Labels): { labels: Labels; buf: SampleBuf; sources: number } => {
      const key = labels.map(([n, v]) => `${n}\xff${v}`).join('\xff');
      let e = byKey.get(key);
      if (e === undefined) {
        e = { labels, buf: new SampleBuf(), sources: 0 };
        byKey.set(key, e);
      }
      e.sources++;
      return e;
    };
    // Heads: the shard names the matching refs; chunks are copied from shared memory here.
    const { pool } = this.opts;
    await Promise.all(pool.shards.map(async (sh) => {
      const refs = await sh.query<number[]>({ type: 'query', op: 'refs', q: { tenant: this.tenant, matcherSets: [rest], mint, maxt } });
      const view = sh.view;
      for (const ref of refs) {
        const e = entry(view.labels(ref));
        for (const c of view.chunks(ref, mint, maxt)) decodeInto(c.data, mint, maxt, e.buf);
      }
    }));
    // Blocks: local and in the bucket.
    const bs = this.opts.blocks;
    if (bs) {
      for (const b of await bs.blocks(this.opts.tenantLabelName, this.tenant, mint, maxt)) {
        const r = await bs.reader(b);
        for await (const s of r.select(rest, mint, maxt)) {
          const e = entry(s.labels);
          for (const c of s.chunks) decodeInto(c.data, mint, maxt, e.buf);
        }
      }
    }
    const out: SeriesData[] = [];
    for (const e of byKey.values()) {
      if (e.buf.n === 0) continue;
      out.push(finish(withLabels(e.labels, this.ext), e.buf, e.sources > 1));
    }
    return out;
  }
}
