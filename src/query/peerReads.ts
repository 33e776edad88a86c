/**
 * Multi-node reads: with a hashring, a series lives on its replicas only, so a PromQL query sent to
 * any node also asks every other endpoint of the tenant's hashring for the selector's series, over
 * the peers' StoreAPI (src/query/storeapi/client.ts). Replicas of a series carry the same labels
 * (after dropping `--query.replica-label`s) and are merged sample by sample in the series set, so
 * each sample counts once. A peer that cannot answer makes the answer partial: the query goes on
 * with the others and says so in a warning.
 *
 * A peer's StoreAPI port is discovered from its remote-write listener (src/peer/discovery.ts).
 */
import { request } from 'undici';
import { StoreClient } from './storeapi/client.js';
import { STORE_API_PATH } from '../peer/discovery.js';
import type { Hashrings } from '../peer/hashrings.js';
import type { Matcher } from '../model/matchers.js';
import type { Labels } from '../model/labels.js';

/** PeerSeries is one series a peer returned: labels and raw chunks. */
export interface PeerSeries { labels: Labels; chunks: { minT: number; maxT: number; data: Uint8Array }[] }

/** PeerReadsOptions configures PeerReads. */
export interface PeerReadsOptions {
  /** This node's own endpoint in the hashring (not asked). */
  localEndpoint: string;
  tenantLabelName: string;
  /** Deadline of one peer's answer. */
  timeoutMs: number;
}


/** PeerReads fans a selection out to the other endpoints of a tenant's hashring. */
export class PeerReads {
  private readonly opts: PeerReadsOptions;
  private rings: Hashrings;
  private readonly clients = new Map<string, Promise<StoreClient>>();

  constructor(rings: Hashrings, opts: PeerReadsOptions) {
    this.rings = rings;
    this.opts = opts;
  }

  /** setRings takes a reloaded hashring file. */
  setRings(rings: Hashrings): void {
    this.rings = rings;
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
   * hands each to `add`; returns one warning per peer that could not answer.
   */
  async select(tenant: string, matchers: Matcher[], mint: number, maxt: number, add: (s: PeerSeries) => void): Promise<string[]> {
    const peers = this.peersOf(tenant);
    const warnings: string[] = [];
    await Promise.all(peers.map(async (peer) => {
      // Collected first and added only when the whole answer arrived: a peer that fails halfway
      // adds nothing rather than a part of its series.
      const got: PeerSeries[] = [];
      try {
        const c = await this.client(peer);
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), this.opts.timeoutMs);
        try {
          const req = { minTime: mint, maxTime: maxt, matchers: [...matchers, { type: '=' as const, name: this.opts.tenantLabelName, value: tenant }] };
          for await (const x of c.series(req, ac.signal)) {
            if ('warning' in x) warnings.push(`peer ${peer}: ${x.warning}`);
            else got.push({ labels: x.labels, chunks: x.chunks });
          }
        } finally {
          clearTimeout(timer);
        }
        for (const s of got) add(s);
      } catch (e) {
        this.clients.delete(peer);
        warnings.push(`peer ${peer} could not be read, the answer may be partial: ${e instanceof Error ? e.message : String(e)}`);
      }
    }));
    return warnings;
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
