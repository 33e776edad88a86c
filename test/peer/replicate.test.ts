/**
 * Tests of src/peer/replicate.ts: grouping series by (endpoint, replica), the replica header, and
 * RF=3 fan-outs through real loopback peers: all up, one down (success), two down (503), conflicts
 * (409), early answer while a replica hangs, the forward timeout, and already replicated requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { distribute, parseReplicaHeader, Replicator, type FanoutParams, type ReplicaWrite } from '../../src/peer/replicate.js';
import { PeerClients } from '../../src/peer/client.js';
import { KetamaRing } from '../../src/peer/ketama.js';
import { HashmodRing } from '../../src/peer/hashmod.js';
import { WriteRequestEncoder } from '../../src/peer/encode.js';
import { ForwardMetrics } from '../../src/peer/metrics.js';
import { ErrorClass, OK_OUTCOME, type WriteOutcome } from '../../src/peer/quorum.js';
import { encodeLabelBlob, type Labels } from '../../src/model/labels.js';
import { loadRemoteWriteSchema } from '../../src/proto/schema.js';
import { ErrorCode, SluiceError } from '../../src/errors.js';
import type { Endpoint, Ring } from '../../src/peer/ring.js';
import { eps, seriesHash } from './helpers.js';
import { deadAddress, startPeer, type Behaviour, type FakePeer } from './peerServer.js';

const TENANT = 'team-a';
const N = 60;
const LABELS: Labels[] = Array.from({ length: N }, (_, i) => [['__name__', 'm'], ['i', String(i)]]);
const BLOBS = LABELS.map(encodeLabelBlob);
const HASH_LO = new Uint32Array(N);
const HASH_HI = new Uint32Array(N);
LABELS.forEach((ls, i) => { [HASH_LO[i], HASH_HI[i]] = seriesHash(TENANT, ls); });
const TS = Float64Array.from({ length: N }, (_, i) => 1000 + i);
const VW = new Uint32Array(2 * N);

/** encoder returns an `encode` callback over the test series, reusing one encoder. */
function encoder(): (series: Int32Array) => Uint8Array {
  const enc = new WriteRequestEncoder();
  return (series) => {
    enc.reset();
    for (const s of series) enc.addSeries(BLOBS[s]!, 0, BLOBS[s]!.length, TS, VW, s, s + 1);
    return enc.finish();
  };
}

/** seriesIn decodes a forwarded body and returns the test series indices it carries. */
function seriesIn(body: Uint8Array): number[] {
  const { WriteRequest } = loadRemoteWriteSchema();
  const req = WriteRequest.toObject(WriteRequest.decode(body)) as { timeseries?: { labels: { name: string; value: string }[] }[] };
  return (req.timeseries ?? []).map((t) => Number(t.labels.find((l) => l.name === 'i')!.value));
}

test('distribute groups every series once per replica, as the ring places it', () => {
  const ring = new KetamaRing(eps('a:1', 'b:1', 'c:1', 'd:1'), 3);
  const writes = distribute(ring, HASH_LO, HASH_HI, N, [0, 1, 2]);
  const seen = new Map<string, number>();
  let prev = -1;
  for (const w of writes) {
    assert.ok(w.replica * 10 + w.endpoint > prev, 'ordered by replica, then endpoint');
    prev = w.replica * 10 + w.endpoint;
    assert.ok(w.series.length > 0);
    for (let k = 0; k < w.series.length; k++) {
      const s = w.series[k]!;
      if (k > 0) assert.ok(s > w.series[k - 1]!, 'series ascending');
      assert.equal(ring.getN(HASH_LO[s]!, HASH_HI[s]!, w.replica), w.endpoint);
      const key = `${s}/${w.replica}`;
      assert.ok(!seen.has(key), `series ${s} replica ${w.replica} placed twice`);
      seen.set(key, w.endpoint);
    }
  }
  assert.equal(seen.size, N * 3);
  for (let s = 0; s < N; s++) {
    assert.equal(new Set([0, 1, 2].map((r) => seen.get(`${s}/${r}`))).size, 3, 'replicas on distinct endpoints');
  }
  const one = distribute(ring, HASH_LO, HASH_HI, N, [1]);
  assert.ok(one.every((w) => w.replica === 1));
  assert.equal(one.reduce((a, w) => a + w.series.length, 0), N);
});

test('parseReplicaHeader: absent = 0, 1..RF accepted, garbage and > RF are 400', () => {
  assert.equal(parseReplicaHeader(undefined, 3), 0);
  assert.equal(parseReplicaHeader('', 3), 0);
  assert.equal(parseReplicaHeader('0', 3), 0);
  assert.equal(parseReplicaHeader('3', 3), 3);
  for (const bad of ['4', '-1', 'one', '1.5', ' 1']) {
    assert.throws(() => parseReplicaHeader(bad, 3), (e: unknown) => e instanceof SluiceError && e.code === ErrorCode.BadRequest, bad);
  }
});

/** Cluster is a 3-node ring: this node (local, in-process) and two fake peers. */
interface Cluster {
  ring: Ring;
  endpoints: readonly Endpoint[];
  local: string;
  peers: FakePeer[];
  localWrites: { series: number[]; replica: number }[];
  close(): Promise<void>;
}

async function cluster(behaviours: [(Behaviour), (Behaviour)], deadPeer = -1): Promise<Cluster> {
  const peers = [await startPeer(() => behaviours[0]), await startPeer(() => behaviours[1])];
  const addrs = peers.map((p) => p.address);
  if (deadPeer >= 0) addrs[deadPeer] = await deadAddress();
  const local = '127.0.0.1:1'; // never dialled: matched by address
  const ring = new HashmodRing(eps(local, ...addrs), 3);
  return {
    ring, endpoints: ring.endpoints, local, peers, localWrites: [],
    close: async () => { for (const p of peers) await p.close(); },
  };
}

function params(c: Cluster, writeLocal: (series: Int32Array, replica: number) => Promise<WriteOutcome>, writes?: ReplicaWrite[], alreadyReplicated = false): FanoutParams {
  return {
    tenant: TENANT, numSeries: N,
    writes: writes ?? distribute(c.ring, HASH_LO, HASH_HI, N, [0, 1, 2]),
    endpoints: c.endpoints, localAddress: c.local, replicationFactor: 3, alreadyReplicated,
    writeLocal: async (series, replica) => { c.localWrites.push({ series: [...series], replica }); return writeLocal(series, replica); },
    encode: encoder(),
  };
}

const okLocal = async (): Promise<WriteOutcome> => OK_OUTCOME;

test('RF=3, all replicas up: success; every peer gets its series with the right replica header', async () => {
  const c = await cluster([200, 200]);
  const registry = new client.Registry();
  const metrics = new ForwardMetrics(registry);
  const clients = new PeerClients({ metrics });
  try {
    const p = params(c, okLocal);
    const err = await new Replicator({ clients, metrics }).fanout(p);
    assert.equal(err, null);
    await waitFor(() => c.peers.every((peer) => peer.received.length === 3));
    // Every series reached all three nodes, once per replica number.
    const got = new Map<string, string>();
    for (const w of c.localWrites) for (const s of w.series) got.set(`${s}/${w.replica}`, c.local);
    for (const peer of c.peers) {
      for (const r of peer.received) {
        assert.equal(r.headers['thanos-tenant'], TENANT);
        const replica = Number(r.headers['thanos-replica']) - 1;
        for (const s of seriesIn(r.body)) got.set(`${s}/${replica}`, peer.address);
      }
    }
    assert.equal(got.size, N * 3);
    for (let s = 0; s < N; s++) {
      for (let rep = 0; rep < 3; rep++) {
        assert.equal(got.get(`${s}/${rep}`), c.ring.endpoints[c.ring.getN(HASH_LO[s]!, HASH_HI[s]!, rep)]!.address);
      }
    }
    const text = await registry.metrics();
    assert.match(text, /thanos_receive_replications_total\{result="success"\} 9/);
  } finally {
    await clients.close();
    await c.close();
  }
});

test('RF=3, one peer down: success (quorum 2 of 3)', async () => {
  const c = await cluster([200, 200], 1);
  const clients = new PeerClients();
  try {
    assert.equal(await new Replicator({ clients }).fanout(params(c, okLocal)), null);
  } finally {
    await clients.close();
    await c.close();
  }
});

test('RF=3, two peers down: 503 naming the unreachable endpoints', async () => {
  const c = await cluster([503, 200], 1);
  const clients = new PeerClients();
  try {
    const err = await new Replicator({ clients }).fanout(params(c, okLocal));
    assert.ok(err !== null);
    assert.equal(err.code, ErrorCode.Unavailable);
    assert.match(err.message, /503 status 503 from fake peer/);
    assert.match(err.message, /ECONNREFUSED/);
    // Both peers are now backed off: the next fan-out fails at once, encoding and sending nothing.
    const before = c.peers[0]!.received.length;
    let encoded = 0;
    const p = params(c, okLocal);
    const enc = p.encode;
    p.encode = (series) => { encoded++; return enc(series); };
    const again = await new Replicator({ clients }).fanout(p);
    assert.equal(again?.code, ErrorCode.Unavailable);
    assert.match(again!.message, /backing off forward request/);
    assert.equal(encoded, 0);
    assert.equal(c.peers[0]!.received.length, before);
  } finally {
    await clients.close();
    await c.close();
  }
});

test('RF=3, two replicas conflict: 409, answered without waiting for the third', async () => {
  const c = await cluster([409, 409]);
  const clients = new PeerClients();
  let release: (o: WriteOutcome) => void = () => {};
  const localPending = new Promise<WriteOutcome>((r) => { release = r; });
  try {
    // The local write does not finish until after the answer: conflicts alone decide.
    const err = await new Replicator({ clients, timeoutMs: 5000 }).fanout(params(c, () => localPending));
    assert.ok(err !== null);
    assert.equal(err.code, ErrorCode.Conflict);
    assert.match(err.message, /409/);
  } finally {
    release(OK_OUTCOME);
    await clients.close();
    await c.close();
  }
});

test('RF=3, local conflict + one peer conflict + one peer ok: 409 with the local reason', async () => {
  const c = await cluster([409, 200]);
  const clients = new PeerClients();
  try {
    const conflictLocal = async (): Promise<WriteOutcome> => { throw new SluiceError(ErrorCode.Conflict, 'add 1 samples: out of order sample'); };
    const err = await new Replicator({ clients }).fanout(params(c, conflictLocal));
    assert.equal(err?.code, ErrorCode.Conflict);
    assert.match(err!.message, /add 1 samples: out of order sample/);
  } finally {
    await clients.close();
    await c.close();
  }
});

test('RF=3, one replica hangs: success before the timeout, the hanging write is left to finish', async () => {
  const c = await cluster(['hang', 200]);
  const clients = new PeerClients({ timeoutMs: 3000 });
  try {
    const t0 = Date.now();
    const err = await new Replicator({ clients }).fanout(params(c, okLocal));
    const took = Date.now() - t0;
    assert.equal(err, null);
    assert.ok(took < 1500, `answered after ${took} ms, should not wait for the hanging peer`);
    assert.ok(c.peers[0]!.received.length > 0, 'the hanging peer was written to');
  } finally {
    await c.close(); // first: it cuts the hanging request, which close() below would wait for
    await clients.close();
  }
});

test('RF=3, local write hangs and one peer is down: 503 at the forward timeout', async () => {
  const c = await cluster([200, 200], 0);
  const clients = new PeerClients({ timeoutMs: 300 });
  try {
    const t0 = Date.now();
    const err = await new Replicator({ clients }).fanout(params(c, () => new Promise<WriteOutcome>(() => {})));
    const took = Date.now() - t0;
    assert.equal(err?.code, ErrorCode.Unavailable);
    assert.match(err!.message, /no answer within 300 ms/);
    assert.ok(took >= 250 && took < 2000, `took ${took} ms`);
  } finally {
    await clients.close();
    await c.close();
  }
});

test('an already replicated request: quorum 1, no replication counted', async () => {
  const c = await cluster([200, 200]);
  const registry = new client.Registry();
  const metrics = new ForwardMetrics(registry);
  const clients = new PeerClients({ metrics });
  try {
    // As a gateway does for THANOS-REPLICA: 2: every series is written locally as replica 1.
    const all = Int32Array.from({ length: N }, (_, i) => i);
    const localIndex = c.endpoints.findIndex((e) => e.address === c.local);
    const err = await new Replicator({ clients, metrics }).fanout(params(c, async () => ({ cls: ErrorClass.OK, message: '' }), [{ endpoint: localIndex, replica: 1, series: all }], true));
    assert.equal(err, null);
    assert.equal(c.localWrites.length, 1);
    assert.equal(c.localWrites[0]!.replica, 1);
    assert.equal(c.peers[0]!.received.length + c.peers[1]!.received.length, 0);
    assert.match(await registry.metrics(), /thanos_receive_replications_total\{result="success"\} 0/);

    const failing = await new Replicator({ clients }).fanout(params(c, async () => ({ cls: ErrorClass.UNAVAILABLE, message: 'shard busy' }), [{ endpoint: localIndex, replica: 1, series: all }], true));
    assert.equal(failing?.code, ErrorCode.Unavailable);
    assert.equal(failing?.message, 'shard busy');
  } finally {
    await clients.close();
    await c.close();
  }
});

test('an empty request succeeds without writing anything', async () => {
  const clients = new PeerClients();
  try {
    const err = await new Replicator({ clients }).fanout({
      tenant: TENANT, numSeries: 0, writes: [], endpoints: [], localAddress: '', replicationFactor: 3, alreadyReplicated: false,
      writeLocal: async () => { throw new Error('must not be called'); }, encode: () => new Uint8Array(0),
    });
    assert.equal(err, null);
  } finally {
    await clients.close();
  }
});

/** waitFor polls `cond` every 10 ms for up to 3 s. */
async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail('condition not reached within 3 s');
}
