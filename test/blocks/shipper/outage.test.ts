/**
 * The shipper against a real S3-protocol server (s3rver on loopback) that goes away: blocks
 * written during the outage stay queued and on disk, failures are counted, the backlog goes up
 * in order when the server is back, and across shipper restarts every meta.json is PUT once.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import client from 'prom-client';
import { newBucket, parseObjstoreConfig } from '../../../src/blocks/objstore/config.js';
import { Shipper } from '../../../src/blocks/shipper.js';
import { SHIPPER_STATE_FILE } from '../../../src/blocks/shipperState.js';
import { applyRetention } from '../../../src/blocks/retention.js';
import { Logger } from '../../../src/util/log.js';
import { startS3Server } from '../../helpers/s3server.js';
import { metricValue, waitFor, writeFakeBlock } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-outage-'));
after(() => rmSync(root, { recursive: true, force: true }));
const quiet = new Logger('error');
const HOUR = 3_600_000;
const T0 = Date.now() - 100 * HOUR;

test('S3 outage: queued blocks survive, failures are counted, the backlog goes up once after restart', async () => {
  const server = await startS3Server();
  const dir = join(root, 'tsdb');
  mkdirSync(dir);
  // One SDK attempt and short retries keep each failed pass fast.
  const mkBucket = () => newBucket(parseObjstoreConfig(server.yaml({ part_size: 5 * 1024 * 1024 })), { s3: { maxAttempts: 1, partAttempts: 1 } });
  const registry = new client.Registry();
  const opts = { dir, registry, logger: quiet, intervalMs: 60_000, backoffInitialMs: 20, backoffMaxMs: 100 };
  const bucket1 = mkBucket();
  let shipper = new Shipper({ ...opts, bucket: bucket1 });
  try {
    const a = writeFakeBlock(dir, { minTime: T0, maxTime: T0 + 2 * HOUR, chunkSizes: [2000, 1000] });
    assert.deepEqual((await shipper.sync()).uploaded, [a]);

    // Outage: the next two blocks are cut while the server is down.
    await server.stop();
    shipper.start();
    const b = writeFakeBlock(dir, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR, chunkSizes: [3000] });
    const c = writeFakeBlock(dir, { minTime: T0 + 4 * HOUR, maxTime: T0 + 6 * HOUR, chunkSizes: [4000] });
    shipper.notify();
    await waitFor(() => shipper.consecutiveFailures >= 4, 'failed passes during the outage');
    assert.ok(await metricValue(registry, 'thanos_shipper_upload_failures_total') >= 4);
    assert.ok(await metricValue(registry, 'thanos_shipper_dir_sync_failures_total') >= 4);
    assert.equal(await metricValue(registry, 'sluice_shipper_queue_blocks'), 2);
    assert.equal(await metricValue(registry, 'sluice_shipper_queue_bytes'), 3000 + 500 + 4000 + 500);
    assert.equal(shipper.isUploaded(b), false);
    // Retention past the blocks' age still keeps them: they are not uploaded.
    assert.deepEqual(await applyRetention(dir, HOUR, shipper, Date.now(), quiet), [a]);
    assert.ok(existsSync(join(dir, b)) && existsSync(join(dir, c)), 'queued blocks are still on disk');

    // The receiver restarts while the blocks are queued (the server is still down).
    await shipper.stop();
    await bucket1.close();
    await server.start();
    const bucket2 = mkBucket();
    shipper = new Shipper({ ...opts, bucket: bucket2 });
    shipper.start();
    await waitFor(() => shipper.isUploaded(b) && shipper.isUploaded(c), 'backlog uploaded after restart');
    await shipper.stop();

    for (const id of [a, b, c]) assert.equal(server.count('PUT', `${id}/meta.json`), 1, `meta.json of ${id} PUT once`);
    // Order on the wire: each block's data before its meta.json, block b wholly before block c.
    const puts = server.requests.filter((r) => r.method === 'PUT').map((r) => r.url.split('?')[0]!.split('/').slice(2).join('/'));
    const at = (key: string): number => puts.indexOf(key);
    assert.ok(at(`${b}/chunks/000001`) < at(`${b}/index`) && at(`${b}/index`) < at(`${b}/meta.json`));
    assert.ok(at(`${b}/meta.json`) < at(`${c}/chunks/000001`));
    assert.ok(at(`${c}/index`) < at(`${c}/meta.json`));
    const got = await bucket2.get(`${c}/chunks/000001`);
    assert.ok(Buffer.from(got).equals(readFileSync(join(dir, c, 'chunks', '000001'))), 'bytes intact');

    // Another restart: the state file says everything is uploaded; nothing is sent again.
    const before = server.requests.filter((r) => r.method === 'PUT').length;
    const third = new Shipper({ ...opts, bucket: bucket2 });
    const res = await third.sync();
    assert.deepEqual([res.uploaded, res.found], [[], []]);
    assert.equal(server.requests.filter((r) => r.method === 'PUT').length, before);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, SHIPPER_STATE_FILE), 'utf8')), { version: 1, uploaded: [b, c] });
    await bucket2.close();
  } finally {
    await shipper.stop();
    await server.close();
  }
});
