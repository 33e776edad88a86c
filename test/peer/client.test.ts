/**
 * Tests of src/peer/client.ts (PeerClients) against real loopback HTTP servers: the request a peer
 * receives, the classification of 200 / 409 / 503 / 400 / timeouts / refused connections, the
 * backoff of unavailable peers, the resend after a dropped connection, and the forward counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { PeerClients } from '../../src/peer/client.js';
import { ErrorClass } from '../../src/peer/quorum.js';
import { ForwardMetrics } from '../../src/peer/metrics.js';
import { deadAddress, startPeer } from './peerServer.js';

const BODY = new TextEncoder().encode('a remote-write body stand-in');

test('a write reaches the peer with the Thanos headers and a snappy body', async () => {
  const peer = await startPeer(() => 200);
  const clients = new PeerClients({ tenantHeader: 'X-Scope-Tenant' });
  try {
    const o = await clients.write(peer.address, 'team-a', 2, BODY);
    assert.equal(o.cls, ErrorClass.OK);
    assert.equal(peer.received.length, 1);
    const r = peer.received[0]!;
    assert.equal(r.path, '/api/v1/receive');
    assert.equal(r.headers['x-scope-tenant'], 'team-a');
    assert.equal(r.headers['thanos-replica'], '3', 'replica is 1-based on the wire');
    assert.equal(r.headers['content-encoding'], 'snappy');
    assert.equal(r.headers['content-type'], 'application/x-protobuf');
    assert.equal(r.headers['x-prometheus-remote-write-version'], '0.1.0');
    assert.deepEqual(Buffer.from(r.body), Buffer.from(BODY));
    // Connections are kept alive: a second write reuses the pool.
    assert.equal((await clients.write(peer.address, 'team-a', 0, BODY)).cls, ErrorClass.OK);
    assert.equal(peer.received[1]!.headers['thanos-replica'], '1');
  } finally {
    await clients.close();
    await peer.close();
  }
});

test('answers are classified: 409 conflict, 503 and 500 unavailable, 400 other', async () => {
  let status = 409;
  const peer = await startPeer(() => status);
  const clients = new PeerClients({ random: () => 0, now: () => 0 });
  try {
    const conflict = await clients.write(peer.address, 't', 0, BODY);
    assert.equal(conflict.cls, ErrorClass.CONFLICT);
    assert.match(conflict.message, /^forwarding request to endpoint 127\.0\.0\.1:\d+: 409 status 409 from fake peer$/);
    status = 400;
    assert.equal((await clients.write(peer.address, 't', 0, BODY)).cls, ErrorClass.OTHER);
    assert.equal(clients.backoffUntil(peer.address), 0, 'conflicts and 4xx do not back a peer off');
    status = 500;
    assert.equal((await clients.write(peer.address, 't', 0, BODY)).cls, ErrorClass.UNAVAILABLE);
  } finally {
    await clients.close();
    await peer.close();
  }
});

test('an unavailable peer is backed off exponentially (100 ms doubling, capped) and reset by a success', async () => {
  let status = 503;
  const peer = await startPeer(() => status);
  let now = 1_000_000;
  const clients = new PeerClients({ now: () => now, random: () => 1, maxBackoffMs: 1000 });
  try {
    const first = await clients.write(peer.address, 't', 0, BODY);
    assert.equal(first.cls, ErrorClass.UNAVAILABLE);
    assert.equal(clients.backoffUntil(peer.address), now + 100);
    const skipped = await clients.write(peer.address, 't', 0, BODY);
    assert.equal(skipped.cls, ErrorClass.UNAVAILABLE);
    assert.match(skipped.message, /backing off forward request/);
    assert.equal(peer.received.length, 1, 'a backed-off peer is not contacted');
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      now = clients.backoffUntil(peer.address);
      await clients.write(peer.address, 't', 0, BODY);
      waits.push(clients.backoffUntil(peer.address) - now);
    }
    assert.deepEqual(waits, [200, 400, 800, 1000, 1000, 1000]);
    status = 200;
    now = clients.backoffUntil(peer.address);
    assert.equal((await clients.write(peer.address, 't', 0, BODY)).cls, ErrorClass.OK);
    assert.equal(clients.backoffUntil(peer.address), 0);
  } finally {
    await clients.close();
    await peer.close();
  }
});

test('a peer that does not answer times out as unavailable; a refused connection is unavailable', async () => {
  const peer = await startPeer(() => 'hang');
  const clients = new PeerClients({ timeoutMs: 200 });
  try {
    const t0 = Date.now();
    const o = await clients.write(peer.address, 't', 0, BODY);
    const took = Date.now() - t0;
    assert.equal(o.cls, ErrorClass.UNAVAILABLE);
    assert.match(o.message, /no answer within the forward timeout/);
    assert.ok(took >= 150 && took < 2000, `timed out after ${took} ms`);
    const dead = await deadAddress();
    const refused = await clients.write(dead, 't', 0, BODY);
    assert.equal(refused.cls, ErrorClass.UNAVAILABLE);
    assert.match(refused.message, /ECONNREFUSED/);
  } finally {
    await clients.close();
    await peer.close();
  }
});

test('a connection dropped by the peer is resent once', async () => {
  let n = 0;
  const peer = await startPeer(() => (n++ === 0 ? 'drop' : 200));
  const clients = new PeerClients();
  try {
    const o = await clients.write(peer.address, 't', 0, BODY);
    assert.equal(o.cls, ErrorClass.OK);
    assert.equal(peer.received.length, 2);
  } finally {
    await clients.close();
    await peer.close();
  }
});

test('thanos_receive_forward_requests_total counts successes and errors, not conflicts', async () => {
  const statuses = [200, 200, 409, 503];
  const peer = await startPeer(() => statuses.shift() ?? 200);
  const registry = new client.Registry();
  const clients = new PeerClients({ metrics: new ForwardMetrics(registry, 3), now: () => 0 });
  try {
    for (let i = 0; i < 4; i++) await clients.write(peer.address, 't', 0, BODY);
    const text = await registry.metrics();
    assert.match(text, /thanos_receive_forward_requests_total\{result="success"\} 2/);
    assert.match(text, /thanos_receive_forward_requests_total\{result="error"\} 1/);
    assert.match(text, /thanos_receive_replication_factor 3/);
  } finally {
    await clients.close();
    await peer.close();
  }
});
