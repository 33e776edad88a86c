/**
 * Multi-node reads: with a hashring, a series lives on its replicas only, so a PromQL query sent to
 * any node also asks every other endpoint of the tenant's hashring for the selector's series, over
 * the peers' StoreAPI (src/query/storeapi/client.ts). Replicas of a series carry the same labels
 * (after dropping `--query.replica-label`s) and are merged sample by sample in the series set, so
 * each sample counts once. A peer that cannot answer makes the answer partial: the query goes on
 * with the others and says so in a warning. The metadata endpoints (/api/v1/series, /labels,
 * /label/<name>/values, src/query/metadata.ts) ask the peers the same way: Series without chunks,
 * LabelNames and LabelValues.
 *
 * A peer's StoreAPI port is discovered from its remote-write listener (src/peer/discovery.ts).
 */
import { request } from 'undici';
import { StoreClient, type StoreLabelsRequest } from './storeapi/client.js';
import { STORE_API_PATH } from '../peer/discovery.js';
import type { Hashrings } from '../peer/hashrings.js';
import type { Matcher } from '../model/matchers.js';
import type { Labels } from '../model/labels.js';

/** PeerSeries is one series a peer returned: labels and raw chunks. */
export interface PeerSeries { labels: Labels; chunks: { minT: number; maxT: number; data: Uint8Array }[] }

/** PeerMetadataQuery is what the metadata calls ask each peer (one matcher set per call). */
export interface PeerMetadataQuery {
  matchers: Matcher[];
  mint: number;
  maxt: number;
  /** At most this many answers per peer (0: all). */
  limit: number;
  /** Label names the peer drops before it sorts and limits (--query.replica-label). */
  withoutReplicaLabels: string[];
}

/** PeerReadsOptions configures PeerReads. */
export interface PeerReadsOptions {
  /** This node's own endpoint in the hashring (not asked). */
  localEndpoint: string;
  tenantLabelName: string;
  /** Deadline of one peer's answer (--query.timeout); a query's own deadline shortens it. */
  timeoutMs: number;
}

/**
 * PeerReads fans a selection, or a metadata call (series, label names, label values), out to the
 * other endpoints of a tenant's hashring.
 */
export class PeerReads {
  private readonly opts: PeerReadsOptions;
  private rings: Hashrings;
  private readonly clients = new Map<string, Promise<StoreClient>>();

  constructor(rings: Hashrings, opts: PeerReadsOptions) {
    this.rings = rings;
    this.opts = opts;
  }

  /** setRings takes a (re)loaded hashring file. */
  setRings(rings: Hashrings): void {
    this.rings = rings;
  }

  /**
   * connect finds every endpoint's StoreAPI and opens its connection now, in the background, so
   * that the first query after a ring change finds its peers ready instead of paying both inside
   * its deadline. Called on a reload, when the peers run: at a node's start they may not be up
   * yet (and a connect to a loopback port nobody listens on can take that very port as its own
   * source port, which the peer then fails to bind). A peer that is not up is found at the first
   * query that asks it.
   */
  connect(): void {
    for (const peer of this.rings.addresses()) {
      if (peer === this.opts.localEndpoint) continue;
      this.client(peer).then((c) => c.connect(this.opts.timeoutMs)).catch(() => { /* found again when a query asks */ });
    }
  }

  /** peersOf lists the endpoints (other than this node) of the tenant's hashring. */
  peersOf(tenant: string): string[] {
    let ring;
    try {
      ring = this.rings.ringFor(tenant).ring;
    } catch {
      return [];
    }
    return [...new Set(ring.endpoints.map((e) => e.address))].filter((a) => a !== this.opts.localEndpoint);
  }

  /**
   * select asks every peer of `tenant` for the series matching `matchers` in [mint, maxt] and
   * hands each to `add`; returns one warning per peer that could not answer by `deadline` (epoch
   * ms, the query's; else --query.timeout from now).
   */
  async select(tenant: string, matchers: Matcher[], mint: number, maxt: number, add: (s: PeerSeries) => void, deadline?: number): Promise<string[]> {
    const said: string[] = [];
    const { answers, warnings } = await this.each(tenant, async (c, peer, signal) => {
      // Collected first and added only when the whole answer arrived: a peer that fails halfway
      // adds nothing rather than a part of its series.
      const got: PeerSeries[] = [];
      const req = { minTime: mint, maxTime: maxt, matchers: this.withTenant(tenant, matchers) };
      for await (const x of c.series(req, signal)) {
        if ('warning' in x) said.push(`peer ${peer}: ${x.warning}`);
        else got.push({ labels: x.labels, chunks: x.chunks });
      }
      return got;
    }, deadline);
    for (const got of answers) for (const s of got) add(s);
    return [...said, ...warnings];
  }

  /**
   * series asks every peer of `tenant` for the label sets of its series matching `q` (Series
   * without chunks), at most `q.limit` from each; they carry the peer's tenant and external labels.
   */
  async series(tenant: string, q: PeerMetadataQuery): Promise<{ series: Labels[]; warnings: string[] }> {
    const said: string[] = [];
    const { answers, warnings } = await this.each(tenant, async (c, peer, signal) => {
      const got: Labels[] = [];
      const req = {
        minTime: q.mint, maxTime: q.maxt, matchers: this.withTenant(tenant, q.matchers), skipChunks: true,
        withoutReplicaLabels: q.withoutReplicaLabels, limit: q.limit,
      };
      for await (const x of c.series(req, signal)) {
        if ('warning' in x) said.push(`peer ${peer}: ${x.warning}`);
        else got.push(x.labels);
      }
      return got;
    });
    return { series: answers.flat(), warnings: [...said, ...warnings] };
  }

  /** labelNames asks every peer of `tenant` for the label names of its series matching `q`. */
  async labelNames(tenant: string, q: PeerMetadataQuery): Promise<{ names: string[]; warnings: string[] }> {
    const said: string[] = [];
    const { answers, warnings } = await this.each(tenant, async (c, peer) => {
      const w: string[] = [];
      const names = await c.labelNames({ ...this.labelsRequest(tenant, q), warnings: w });
      for (const x of w) said.push(`peer ${peer}: ${x}`);
      return names;
    });
    return { names: answers.flat(), warnings: [...said, ...warnings] };
  }

  /** labelValues asks every peer of `tenant` for the values of label `name` among its series matching `q`. */
  async labelValues(tenant: string, name: string, q: PeerMetadataQuery): Promise<{ values: string[]; warnings: string[] }> {
    const said: string[] = [];
    const { answers, warnings } = await this.each(tenant, async (c, peer) => {
      const w: string[] = [];
      const values = await c.labelValues(name, { ...this.labelsRequest(tenant, q), warnings: w });
      for (const x of w) said.push(`peer ${peer}: ${x}`);
      return values;
    });
    return { values: answers.flat(), warnings: [...said, ...warnings] };
  }

  /** withTenant adds the matcher picking `tenant` on a peer's StoreAPI. */
  private withTenant(tenant: string, matchers: Matcher[]): Matcher[] {
    return [...matchers, { type: '=', name: this.opts.tenantLabelName, value: tenant }];
  }

  private labelsRequest(tenant: string, q: PeerMetadataQuery): StoreLabelsRequest {
    return { start: q.mint, end: q.maxt, matchers: this.withTenant(tenant, q.matchers), limit: q.limit, withoutReplicaLabels: q.withoutReplicaLabels };
  }

  /**
   * each runs `call` on every peer of `tenant` in parallel, each under the read deadline:
   * --query.timeout from now, or `deadline` (epoch ms) where that comes first. The deadline
   * covers finding the peer's StoreAPI too; its signal aborts a stream (unary calls carry the
   * client's own deadline). Returns the answers of the peers that answered and one warning per
   * peer that failed (a call's own warnings are the caller's to keep: this list exists only once
   * every peer is done).
   */
  private async each<T>(
    tenant: string, call: (c: StoreClient, peer: string, signal: AbortSignal) => Promise<T>, deadline?: number,
  ): Promise<{ answers: T[]; warnings: string[] }> {
    const answers: T[] = [];
    const warnings: string[] = [];
    const ms = Math.min(this.opts.timeoutMs, deadline === undefined ? Infinity : deadline - Date.now());
    await Promise.all(this.peersOf(tenant).map(async (peer) => {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(new Error(`no answer within ${Math.max(0, Math.round(ms))} ms`)), Math.max(0, ms));
      let found = false;
      try {
        const c = await untilAborted(this.client(peer), ac.signal);
        found = true;
        answers.push(await call(c, peer, ac.signal));
      } catch (e) {
        // A discovery still under way when this query's deadline came is left to finish for the
        // next query (client() forgets it if it fails); a peer that failed is found again.
        if (found || !ac.signal.aborted) this.clients.delete(peer);
        warnings.push(`peer ${peer} could not be read, the answer may be partial: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        clearTimeout(timer);
      }
    }));
    return { answers, warnings };
  }

  /** client returns the StoreAPI client of a peer, discovering its port once. */
  private client(peer: string): Promise<StoreClient> {
    let c = this.clients.get(peer);
    if (c === undefined) {
      c = (async () => {
        const r = await request(`http://${peer}${STORE_API_PATH}`, { headersTimeout: this.opts.timeoutMs, bodyTimeout: this.opts.timeoutMs });
        const body = await r.body.text();
        if (r.statusCode !== 200) throw new Error(`StoreAPI discovery answered ${r.statusCode}`);
        const port = (JSON.parse(body) as { port?: unknown }).port;
        if (typeof port !== 'number' || port <= 0) throw new Error(`StoreAPI discovery answered ${body}`);
        const host = peer.slice(0, peer.lastIndexOf(':'));
        return new StoreClient(`${host}:${port}`, { timeoutMs: this.opts.timeoutMs });
      })();
      c.catch(() => this.clients.delete(peer));
      this.clients.set(peer, c);
    }
    return c;
  }

  /** close closes the peers' clients. */
  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    for (const c of all) await c.then((x) => x.close(), () => {});
  }
}

/** untilAborted settles as `p` does, or rejects with the signal's reason once `signal` aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
