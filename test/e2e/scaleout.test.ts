/**
 * Scale-out 3 → 5 under load, with real `sluice receive` children on loopback: five receivers run,
 * the hashrings file (RF=3, ketama) lists three of them; the other two route only. While a
 * Prometheus-like client writes continuously to all five (retrying the same body on 5xx), the file
 * is replaced atomically (rename over) by one listing all five and every node reloads it. Checked:
 * every request is acknowledged in the end and none is refused for good; PromQL queries sent to
 * each node in turn before, during and after the change return every series acknowledged before the
 * query (and nothing never sent); series first written before the change live only on the three
 * old nodes, series first written after it only on their new ketama owners, which puts them on the
 * two new nodes too; every acknowledged sample is on at least two nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessCluster, LoadWriter, LoadBook, queryVector, ownSamples, ringJson, is2xx } from '../helpers/cluster.js';
import { seriesHash } from '../peer/helpers.js';
import { Hashrings } from '../../src/peer/hashrings.js';
import { parseHashringsConfig } from '../../src/peer/config.js';

const TENANT = 'team-s';
const RF = 3;
const LANES = 4;
const LANE_SERIES = 3;
const NEW_SERIES = 2;
const ALL = [{ type: '=~' as const, name: '__name__', value: 'so_.+' }];

/** QueryRun is one checked query of the query loop. */
interface QueryRun { node: number; start: number; end: number; series: number; error: string }

test('ring 3 → 5 under load (RF=3, ketama): no write lost or refused for good, every series queryable throughout', { timeout: 90_000 }, async () => {
  const started = Date.now();
  const c = await ProcessCluster.start({ size: 5, ring: [0, 1, 2], replicationFactor: RF, algorithm: 'ketama' });
  const book = new LoadBook('so', LANE_SERIES, NEW_SERIES);
  const { sent, requests, ackedSeries, labelsOf } = book;
  const writer = new LoadWriter({ targets: c.nodes.map((n) => n.writeUrl), lanes: LANES, tenant: TENANT, pauseMs: 10, build: book.build, onAck: book.ack });

  // Every query checks acked-before ⊆ answer ⊆ sent; a loop asks each node in turn all along.
  const runs: QueryRun[] = [];
  const checkedQuery = async (node: number): Promise<void> => {
    const want = [...ackedSeries];
    const run: QueryRun = { node, start: Date.now(), end: 0, series: 0, error: '' };
    try {
      const ans = await queryVector(c.nodes[node]!.httpUrl, TENANT, 'last_over_time({__name__=~"so_.+"}[1h])', Date.now() + 60_000);
      run.series = ans.series.size;
      const missing = want.filter((k) => !ans.series.has(k));
      const unknown = [...ans.series.keys()].filter((k) => !sent.has(k));
      if (missing.length > 0) run.error = `${missing.length} of ${want.length} acknowledged series missing, e.g. ${missing[0]}`;
      else if (unknown.length > 0) run.error = `never sent: ${unknown[0]}`;
      else if (ans.warnings.length > 0) run.error = `warnings: ${JSON.stringify(ans.warnings)}`;
    } catch (e) {
      run.error = e instanceof Error ? e.message : String(e);
    }
    run.end = Date.now();
    runs.push(run);
  };
  let querying = true;
  const queryLoop = (async () => {
    for (let q = 0; querying; q++) {
      await checkedQuery(q % c.nodes.length);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  /** waitQueries waits until `n` queries begun after `t` have finished. */
  const waitQueries = async (t: number, n: number): Promise<void> => {
    const until = Date.now() + 20_000;
    while (runs.filter((r) => r.start > t).length < n) {
      if (Date.now() > until) throw new Error(`fewer than ${n} queries in 20 s: ${JSON.stringify(runs.map((r) => [r.node, r.end - r.start]))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  try {
    writer.start();
    await writer.waitAcks(80);
    await waitQueries(started, 3);

    // The change: all five in the ring, file replaced by rename; wait until every node applied it.
    const marks = c.nodes.map((n) => n.log.length);
    const changeAt = Date.now();
    c.setRing([0, 1, 2, 3, 4]);
    // One more query per node sent right away, while the nodes pick up the new file.
    const duringQueries = Promise.all(c.nodes.map((n) => checkedQuery(n.index)));
    await Promise.all(c.nodes.map((n) => c.waitLog(n.index, /hashring file reloaded/, marks[n.index]!)));
    const applied = Date.now();
    await duringQueries;
    const ackedAtChange = writer.acked;

    await writer.waitAcks(writer.acked + 100, 20_000);
    await waitQueries(applied, 5);
    await writer.stop(10_000);
    querying = false;
    await queryLoop;

    // Writes: every request acknowledged, retries only on 503s (never a 4xx or another 5xx).
    const ackedRequests = new Set(writer.attempts.filter(is2xx).map((a) => `${a.lane}/${a.seq}`));
    assert.deepEqual(writer.dropped, [], 'no request refused for good');
    assert.equal(ackedRequests.size, requests.size, 'every request acknowledged in the end');
    const failed = writer.attempts.filter((a) => !is2xx(a));
    assert.deepEqual(failed.filter((a) => a.status !== 503), [], 'failed tries are 503s only');

    // Queries: none missed an acknowledged series, before, during or after the change.
    const before = runs.filter((r) => r.end <= changeAt);
    const during = runs.filter((r) => r.end >= changeAt && r.start <= applied);
    const after = runs.filter((r) => r.start > applied);
    assert.deepEqual(runs.filter((r) => r.error !== ''), [], 'every query returned every acknowledged series');
    assert.ok(before.length >= 3 && during.length >= 5 && after.length >= 5, `queries before ${before.length}, during ${during.length}, after ${after.length}`);
    assert.ok(after.some((r) => r.node >= 3), 'the new nodes answered queries after the change');

    // Placement, each node read alone over its own StoreAPI.
    const own = await Promise.all(c.nodes.map((n) => ownSamples(n.grpcAddress, TENANT, ALL)));
    const ring = new Hashrings(parseHashringsConfig(ringJson(c.nodes.map((n) => n.address))), { algorithm: 'ketama', replicationFactor: RF }).ringFor(TENANT).ring;
    const ownersOf = (key: string): Set<number> => {
      const [lo, hi] = seriesHash(TENANT, labelsOf.get(key)!);
      return new Set([0, 1, 2].map((r) => c.nodes.findIndex((n) => n.address === ring.endpoints[ring.getN(lo, hi, r)]!.address)));
    };
    // A request's own series were sent only by its tries: all over before the change → old ring;
    // all begun after every node applied it → new ring.
    const tries = new Map<string, { start: number; end: number }>();
    for (const a of writer.attempts) {
      const id = `${a.lane}/${a.seq}`;
      const t = tries.get(id);
      if (t === undefined) tries.set(id, { start: a.start, end: a.end });
      else t.end = Math.max(t.end, a.end);
    }
    let oldSeries = 0;
    let newSeries = 0;
    const onNew = [0, 0, 0, 0, 0];
    for (const key of sent.keys()) {
      if (!key.startsWith('{__name__="so_req"')) continue;
      const holders = own.flatMap((o, i) => (o.has(key) ? [i] : []));
      const ls = new Map(labelsOf.get(key)!);
      const t = tries.get(`${ls.get('lane')}/${ls.get('seq')}`)!;
      if (t.end < changeAt) {
        oldSeries++;
        assert.ok(holders.every((i) => i < 3), `${key}, written before the change, is on ${holders}`);
      } else if (t.start > applied) {
        newSeries++;
        const owners = ownersOf(key);
        assert.ok(holders.every((i) => owners.has(i)), `${key} is on ${holders}, its owners are ${[...owners]}`);
        assert.ok(holders.length >= 2, `${key} is on ${holders}`);
        for (const i of holders) onNew[i]!++;
      }
    }
    assert.ok(oldSeries > 0 && newSeries > 0, `series before ${oldSeries}, after ${newSeries}`);
    assert.ok(onNew[3]! > 0 && onNew[4]! > 0, `series written after the change per node: ${onNew}`);

    // Every acknowledged sample is on at least two nodes; no node holds a sample never sent.
    let samples = 0;
    for (const r of ackedRequests) {
      for (const [k, t, v] of requests.get(r)!) {
        samples++;
        const n = own.filter((o) => o.get(k)?.get(t) === v).length;
        assert.ok(n >= 2, `acknowledged sample ${k}@${t}=${v} is on ${n} nodes`);
      }
    }
    for (const [i, o] of own.entries()) {
      for (const [k, m] of o) for (const [t, v] of m) assert.equal(sent.get(k)?.get(t), v, `node ${i} holds ${k}@${t}=${v}, never sent`);
    }
    console.log(`# scaleout: ${writer.acked} requests acked (${ackedAtChange} before the change, ${samples} samples, ${ackedSeries.size} series), ` +
      `${writer.retries} retries (${failed.length} failed tries), reload applied on all 5 in ${applied - changeAt} ms; queries before/during/after: ` +
      `${before.length}/${during.length}/${after.length} (slowest ${Math.max(...runs.map((r) => r.end - r.start))} ms); series first written after the change per node: ${onNew}; total ${Date.now() - started} ms`);
  } finally {
    querying = false;
    await writer.stop();
    await queryLoop;
    await c.stop();
  }
});
