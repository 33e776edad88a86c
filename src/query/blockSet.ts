/**
 * BlockSet knows the blocks a query may read: the local ones (`<tsdb.path>/blocks/<ULID>`) and
 * those only in object storage (a store-gateway part: index and chunk byte ranges are read from
 * the bucket on demand, never whole blocks). Opened blocks stay open (their symbol table and
 * postings offset table are the index cache) and share one postings cache (decoded postings lists,
 * least recently used out first, within --query.postings-cache-size); the lists are refreshed at
 * most every few seconds.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlockReader, type BlockFiles } from '../blocks/reader.js';
import { parseMeta, type BlockMeta } from '../blocks/meta.js';
import { DEFAULT_POSTINGS_CACHE_BYTES, PostingsCache } from '../blocks/index/postingsCache.js';
import type { Bucket } from '../blocks/objstore/bucket.js';
import type { RangeReader } from '../blocks/index/rangereader.js';

/** A block a query can read: its meta and how to open it. */
export interface KnownBlock {
  ulid: string;
  meta: BlockMeta;
  where: 'local' | 'bucket';
}

const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const REFRESH_MS = 5000;

/** bucketFiles reads a block's files through byte-range GETs. */
function bucketFiles(bucket: Bucket, ulid: string): BlockFiles {
  return {
    async open(rel: string): Promise<RangeReader> {
      const name = `${ulid}/${rel}`;
      const { size } = await bucket.attributes(name);
      return {
        size,
        read: (offset, length) => bucket.getRange(name, offset, length),
        close: async () => {},
      };
    },
    async list(rel: string): Promise<string[]> {
      const out: string[] = [];
      for await (const n of bucket.iter(`${ulid}/${rel}`)) out.push(n.slice(n.lastIndexOf('/', n.length - 2) + 1).replace(/\/$/, ''));
      return out;
    },
  };
}

/** BlockSet lists and opens blocks for queries. */
export class BlockSet {
  private readonly localDir: string;
  private readonly bucket: Bucket | undefined;
  private known: KnownBlock[] = [];
  private refreshedAt = -Infinity;
  private refreshing: Promise<void> | undefined;
  /** Bumped by invalidate(): a listing begun before it must not count as fresh. */
  private generation = 0;
  /** The generation the running listing began in. */
  private refreshingGeneration = -1;
  private readonly open = new Map<string, Promise<BlockReader>>();

  /** postings is the postings cache every block opened here shares. */
  readonly postings: PostingsCache;

  constructor(localDir: string, bucket?: Bucket, postingsCacheBytes = DEFAULT_POSTINGS_CACHE_BYTES) {
    this.localDir = localDir;
    this.bucket = bucket;
    this.postings = new PostingsCache(postingsCacheBytes);
  }

  /** blocks returns the known blocks overlapping [mint, maxt] of `tenant` (by tenant label). */
  async blocks(tenantLabel: string, tenant: string, mint: number, maxt: number): Promise<KnownBlock[]> {
    await this.refresh();
    return this.known.filter((b) => b.meta.minTime <= maxt && b.meta.maxTime > mint && (b.meta.thanos?.labels?.[tenantLabel] ?? tenant) === tenant);
  }

  /** tenants returns the tenants (by tenant label) and the oldest time of the known blocks. */
  async tenants(tenantLabel: string): Promise<{ tenants: string[]; minTime: number }> {
    await this.refresh();
    const tenants = new Set<string>();
    let minTime = Infinity;
    for (const b of this.known) {
      const t = b.meta.thanos?.labels?.[tenantLabel];
      if (t !== undefined) tenants.add(t);
      minTime = Math.min(minTime, b.meta.minTime);
    }
    return { tenants: [...tenants], minTime };
  }

  /** reader opens (once) and returns the reader of a known block. */
  reader(b: KnownBlock): Promise<BlockReader> {
    let r = this.open.get(b.ulid);
    if (r === undefined) {
      r = b.where === 'local' ? BlockReader.openDir(join(this.localDir, b.ulid), this.postings) : BlockReader.open(bucketFiles(this.bucket!, b.ulid), this.postings);
      r.catch(() => this.open.delete(b.ulid));
      this.open.set(b.ulid, r);
    }
    return r;
  }

  /** invalidate forces the next query to list blocks again (after a cut or an upload). */
  invalidate(): void {
    this.generation++;
    this.refreshedAt = -Infinity;
  }

  /**
   * refresh lists the blocks again when the list is older than REFRESH_MS or was invalidated.
   * A listing still running from before an invalidate() may miss the block that caused it, so
   * it is not joined: a new one follows it.
   */
  private refresh(): Promise<void> {
    if (performance.now() - this.refreshedAt < REFRESH_MS) return Promise.resolve();
    if (this.refreshing !== undefined && this.refreshingGeneration === this.generation) return this.refreshing;
    const gen = this.generation;
    const after = this.refreshing ?? Promise.resolve();
    const run: Promise<void> = after.then(() => this.list(gen)).finally(() => { if (this.refreshing === run) this.refreshing = undefined; });
    this.refreshing = run;
    this.refreshingGeneration = gen;
    return run;
  }

  private async list(gen: number): Promise<void> {
    const found = new Map<string, KnownBlock>();
    if (existsSync(this.localDir)) {
      for (const ulid of readdirSync(this.localDir)) {
        if (!ULID_RE.test(ulid)) continue;
        try {
          found.set(ulid, { ulid, meta: parseMeta(readFileSync(join(this.localDir, ulid, 'meta.json'), 'utf8')), where: 'local' });
        } catch { /* being written or deleted */ }
      }
    }
    if (this.bucket) {
      try {
        for await (const name of this.bucket.iter('')) {
          const ulid = name.replace(/\/$/, '');
          if (!ULID_RE.test(ulid) || found.has(ulid)) continue;
          const known = this.known.find((k) => k.ulid === ulid && k.where === 'bucket');
          if (known) { found.set(ulid, known); continue; }
          try {
            const meta = parseMeta(Buffer.from(await this.bucket.get(`${ulid}/meta.json`)).toString('utf8'));
            found.set(ulid, { ulid, meta, where: 'bucket' });
          } catch { /* not whole yet (meta.json is uploaded last) */ }
        }
      } catch { /* bucket unreachable: query what is local */ }
    }
    // Close readers of blocks that went away (retention, or now local instead of bucket-only).
    for (const [ulid, r] of this.open) {
      const k = found.get(ulid);
      const was = this.known.find((x) => x.ulid === ulid);
      if (k === undefined || (was !== undefined && was.where !== k.where)) {
        this.open.delete(ulid);
        void r.then((x) => x.close(), () => {});
      }
    }
    this.known = [...found.values()].sort((a, b) => a.meta.minTime - b.meta.minTime);
    // Fresh only if nothing was invalidated while listing.
    if (gen === this.generation) this.refreshedAt = performance.now();
  }

  /** close closes every open block. */
  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((r) => r.then((x) => x.close(), () => {})));
  }
}
