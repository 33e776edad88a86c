/**
 * Shipper test fixtures: fake TSDB block directories (chunks/, index, meta.json written last)
 * with valid ULIDs, and a Bucket wrapper that records uploads and can be made to fail.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, SluiceError } from '../../../src/errors.js';
import type { Bucket, IterOptions, ObjectAttributes, UploadSource } from '../../../src/blocks/objstore/bucket.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** ulid makes a valid ULID for time `ms` with a deterministic random part from `n`. */
export function ulid(ms: number, n = 0): string {
  let t = '';
  for (let i = 0, v = ms; i < 10; i++, v = Math.floor(v / 32)) t = CROCKFORD[v % 32]! + t;
  let r = '';
  for (let i = 0, v = n; i < 16; i++, v = Math.floor(v / 32)) r = CROCKFORD[v % 32]! + r;
  return t + r;
}

/** FakeBlockSpec describes a block to write. */
export interface FakeBlockSpec {
  minTime: number;
  maxTime: number;
  /** chunkSizes are the sizes of chunks/000001, 000002 … (default one file of 1000 bytes). */
  chunkSizes?: number[];
  indexSize?: number;
  numSamples?: number;
  /** id overrides the ULID (default: ulid(minTime)). */
  id?: string;
}

/** writeFakeBlock writes `<dir>/<ULID>/` with meta.json last, as a block writer must; returns the ULID. */
export function writeFakeBlock(dir: string, spec: FakeBlockSpec): string {
  const id = spec.id ?? ulid(spec.minTime);
  const bdir = join(dir, id);
  mkdirSync(join(bdir, 'chunks'), { recursive: true });
  (spec.chunkSizes ?? [1000]).forEach((size, i) => {
    writeFileSync(join(bdir, 'chunks', String(i + 1).padStart(6, '0')), Buffer.alloc(size, i + 1));
  });
  writeFileSync(join(bdir, 'index'), Buffer.alloc(spec.indexSize ?? 500, 0xee));
  const meta = {
    ulid: id, minTime: spec.minTime, maxTime: spec.maxTime, version: 1,
    stats: { numSamples: spec.numSamples ?? 100, numSeries: 1, numChunks: 1 },
    compaction: { level: 1, sources: [id] },
    thanos: { labels: { receive_replica: '0', tenant_id: 'default-tenant' }, downsample: { resolution: 0 }, source: 'receive' },
  };
  writeFileSync(join(bdir, 'meta.json'), JSON.stringify(meta, null, '\t'));
  return id;
}

/** RecordingBucket passes calls to `inner`, records uploaded names, and fails uploads on demand. */
export class RecordingBucket implements Bucket {
  readonly name: string;
  readonly inner: Bucket;
  /** uploads lists every successful upload's name, in order. */
  readonly uploads: string[] = [];
  /** failing makes every call fail with Unavailable while true. */
  failing = false;
  /** failAfter, when ≥ 0, lets that many more uploads succeed, then fails uploads. */
  failAfter = -1;
  /** calls counts every call, failed ones included. */
  calls = 0;

  constructor(inner: Bucket) {
    this.inner = inner;
    this.name = inner.name;
  }

  private check(op: string): void {
    this.calls++;
    if (this.failing) throw new SluiceError(ErrorCode.Unavailable, `fake outage: ${op}`);
  }

  async upload(name: string, src: UploadSource): Promise<void> {
    this.check(`upload ${name}`);
    if (this.failAfter === 0) throw new SluiceError(ErrorCode.Unavailable, `fake failure: upload ${name}`);
    if (this.failAfter > 0) this.failAfter--;
    await this.inner.upload(name, src);
    this.uploads.push(name);
  }
  async get(name: string): Promise<Uint8Array> { this.check('get'); return this.inner.get(name); }
  async getRange(name: string, o: number, l: number): Promise<Uint8Array> { this.check('getRange'); return this.inner.getRange(name, o, l); }
  async attributes(name: string): Promise<ObjectAttributes> { this.check('attributes'); return this.inner.attributes(name); }
  async exists(name: string): Promise<boolean> { this.check('exists'); return this.inner.exists(name); }
  iter(dir: string, opts?: IterOptions): AsyncIterable<string> { this.check('iter'); return this.inner.iter(dir, opts); }
  async delete(name: string): Promise<void> { this.check('delete'); return this.inner.delete(name); }
  close(): Promise<void> { return this.inner.close(); }
}

/** waitFor polls `cond` every 10 ms until it holds or `ms` pass (then throws `what`). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** metricValue sums the current values of metric `name` in `registry` (0 when absent). */
export async function metricValue(registry: { getSingleMetric(name: string): unknown }, name: string): Promise<number> {
  const m = registry.getSingleMetric(name) as { get(): Promise<{ values: Array<{ value: number }> }> } | undefined;
  if (m === undefined) return 0;
  return (await m.get()).values.reduce((s, v) => s + v.value, 0);
}
