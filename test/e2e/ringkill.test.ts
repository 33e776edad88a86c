/**
 * A 3-process ring (RF=3, ketama, real `sluice receive` children on loopback) under continuous
 * remote-write load from a Prometheus-like client (lanes sending in order, retrying the same body on
 * 5xx and connection errors, each try to the next node as behind a Service):
 *   (a) one node SIGKILLed → every try that reaches a live node is still a 2xx (quorum 2 of 3), and a
 *       PromQL query on a survivor returns every acknowledged series;
 *   (b) a second node SIGKILLed → the last one answers 503; both restarted on their ports and data
 *       dirs (WAL replay) → the client's retries of the very same requests succeed;
 *   (c) every acknowledged sample is held by at least 2 of the 3 nodes, each node read alone over its
 *       own StoreAPI (a receiver's Series never asks peers), and no node holds a sample never sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessCluster, LoadWriter, LoadBook, queryVector, ownSamples, is2xx, type Attempt } from '../helpers/cluster.js';

const TENANT = 'team-k';
const RF = 3;
const LANES = 4;
/** Series every request of a lane repeats (increasing timestamps) and new series per request. */
const LANE_SERIES = 3;
const NEW_SERIES = 4;
/** 2xx tries that must follow each kill and the restart. */
const AFTER = 60;
const ALL = [{ type: '=~' as const, name: '__name__', value: 'rk_.+' }];

test('RF=3 ring under load: one node SIGKILLed keeps writes and reads whole; two down → 503, restart → retries succeed; nothing acknowledged lost', { timeout: 90_000 }, async () => {
  const started = Date.now();
  const c = await ProcessCluster.start({ size: 3, replicationFactor: RF, algorithm: 'ketama' });
  const book = new LoadBook('rk', LANE_SERIES, NEW_SERIES);
  const { sent, requests, acked, ackedSeries } = book;
  const writer = new LoadWriter({ targets: c.nodes.map((n) => n.writeUrl), lanes: LANES, tenant: TENANT, build: book.build, onAck: book.ack });
  const phase: Record<string, number> = {};
  try {
    writer.start();
    await writer.waitAcks(AFTER);
    phase['load'] = Date.now() - started;

    // (a) One node SIGKILLed under load.
    const kill1 = Date.now();
    await c.kill(0);
    const deadAddr = 0;
    const failedLive = (): boolean => writer.attempts.some((a) => a.end >= kill1 && a.target !== deadAddr && !is2xx(a));
    await writer.waitAcks(writer.acked + AFTER, 15_000, failedLive);
    const liveTries = writer.attempts.filter((a) => a.end >= kill1 && a.target !== deadAddr);
    const bad = liveTries.filter((a) => !is2xx(a));
    assert.deepEqual(bad, [], 'every try that reached a live node after the kill was a 2xx (quorum 2 of 3)');
    assert.ok(liveTries.length >= AFTER, `${liveTries.length} tries to live nodes after the kill`);
    const toDead = writer.attempts.filter((a) => a.start > kill1 && a.target === deadAddr);
    assert.ok(toDead.length > 0, 'some tries went to the dead node and were rerouted');
    assert.ok(toDead.every((a) => a.status === 0), `tries to the dead node fail to connect: ${JSON.stringify(toDead.slice(0, 3))}`);

    // Queries on the survivors (each reads its own heads and its live peer's) return every series
    // acknowledged before the query, while the load goes on; the answer names the dead peer.
    for (let q = 0; q < 4; q++) {
      const wantSeries = new Set(ackedSeries);
      const ans = await queryVector(c.nodes[1 + (q % 2)]!.httpUrl, TENANT, 'last_over_time({__name__=~"rk_.+"}[1h])', Date.now() + 60_000);
      const missing = [...wantSeries].filter((k) => !ans.series.has(k));
      assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged series missing from query ${q} on a survivor`);
      for (const [k, v] of ans.series) {
        const m = sent.get(k);
        assert.ok(m !== undefined, `query returned a series never sent: ${k}`);
        if (k.startsWith('{__name__="rk_req"')) assert.equal(v, [...m.values()][0], `value of ${k}`);
      }
      assert.ok(ans.warnings.some((w) => w.includes(c.nodes[0]!.address)), `the partial answer names the dead peer: ${JSON.stringify(ans.warnings)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Load kept flowing through the survivors meanwhile.
    const liveAfter = writer.attempts.filter((a) => a.end >= kill1 && a.target !== deadAddr);
    assert.deepEqual(liveAfter.filter((a) => !is2xx(a)), [], 'still only 2xx from live nodes');
    phase['oneDown'] = Date.now() - started;

    // (b) A second node SIGKILLed: no series can reach quorum, the last node answers 503.
    await c.kill(1);
    const killed2 = Date.now();
    const until = Date.now() + 10_000;
    const refused = (): Attempt[] => writer.attempts.filter((a) => a.start > killed2 && a.target === 2);
    // At least a second of outage and five answers from the survivor.
    while ((refused().length < 5 || Date.now() < killed2 + 1000) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const duringOutage = writer.attempts.filter((a) => a.start > killed2);
    assert.ok(refused().length >= 5, `the surviving node was tried: ${refused().length}`);
    assert.deepEqual(refused().filter((a) => a.status !== 503), [], 'the surviving node answers 503 while quorum is out of reach');
    assert.deepEqual(duringOutage.filter(is2xx), [], 'nothing is acknowledged with two of three nodes down');
    const refusedRequests = new Set(refused().map((a) => `${a.lane}/${a.seq}`));
    phase['twoDown'] = Date.now() - started;

    // Both back on their ports and data dirs (WAL replay); the client's retries go through.
    await Promise.all([c.restart(0), c.restart(1)]);
    const back = Date.now();
    await writer.waitAcks(writer.acked + AFTER, 20_000);
    phase['restarted'] = back - started;
    await writer.stop(10_000);
    const ackedRequests = new Set(writer.attempts.filter(is2xx).map((a) => `${a.lane}/${a.seq}`));
    for (const r of refusedRequests) assert.ok(ackedRequests.has(r), `request ${r}, refused with 503, was acknowledged on a retry`);
    assert.deepEqual(writer.dropped, [], 'no request was dropped on a non-retryable answer');
    assert.equal(ackedRequests.size, requests.size, 'every request sent was acknowledged in the end');

    // (c) Each node alone, over its own StoreAPI: its WAL-replayed heads plus what it took since.
    const own = await Promise.all(c.nodes.map((n) => ownSamples(n.grpcAddress, TENANT, ALL)));
    const copies = [0, 0, 0, 0];
    for (const [k, t, v] of acked) {
      let n = 0;
      for (const o of own) if (o.get(k)?.get(t) === v) n++;
      copies[n]!++;
      assert.ok(n >= 2, `acknowledged sample ${k}@${t}=${v} is on ${n} of 3 nodes`);
    }
    for (const [i, o] of own.entries()) {
      for (const [k, m] of o) {
        for (const [t, v] of m) assert.equal(sent.get(k)?.get(t), v, `node ${i} holds ${k}@${t}=${v}, never sent`);
      }
    }
    const retried = writer.attempts.length - new Set(writer.attempts.map((a) => `${a.lane}/${a.seq}`)).size;
    console.log(`# ringkill: ${writer.acked} requests acked (${acked.length} samples, ${ackedSeries.size} series), ${retried} retries; ` +
      `acked samples on 2 nodes: ${copies[2]}, on 3: ${copies[3]}; phases (ms from start) ${JSON.stringify(phase)}; total ${Date.now() - started} ms`);
  } finally {
    await writer.stop();
    await c.stop();
  }
});
