/**
 * The node:http engine (used where uWebSockets.js cannot load) serves the same contract.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, write, getJson, series, post } from '../helpers/node.js';

test('with SLUICE_HTTP_ENGINE=node the receiver serves remote-write and the read API', async () => {
  process.env['SLUICE_HTTP_ENGINE'] = 'node';
  const n = await startNode(['--receive.gateways=2']);
  try {
    assert.equal(n.node.http!.engine, 'node');
    const r = await write(n.writeUrl, [series({ __name__: 'via_node_http', a: 'b' }, [[1_700_000_000_000, 1]])]);
    assert.equal(r.status, 200, r.text);
    const bad = await post(n.writeUrl, 'not snappy');
    assert.equal(bad.status, 400);
    const s = await getJson(`${n.httpUrl}/api/v1/series?match[]=via_node_http`);
    assert.equal((s.body.data as unknown[]).length, 1);
  } finally {
    await n.stop();
    delete process.env['SLUICE_HTTP_ENGINE'];
  }
});
