/**
 * A request whose series for one shard could never fit that shard's write ring is refused with
 * TooLarge (413) before anything of it is written, instead of 503 forever (a retry could never
 * succeed); smaller requests go on being accepted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShardPool } from '../../src/shards/pool.js';
import { ShardLink } from '../../src/shards/link.js';
import { Ingest } from '../../src/gateway/ingest.js';
import { ErrorCode, isSluiceError } from '../../src/errors.js';
import { encodeBody, series } from '../helpers/node.js';

const T0 = 1_700_000_000_000;

test('a batch over half the ring is 413 naming the ring; nothing of it is stored; small requests still pass', async () => {
  const pool = new ShardPool({ shards: 2, gateways: 1, ringBytes: 65536, blockDurationMs: 2 * 3_600_000 });
  await pool.ready();
  try {
    const ingest = new Ingest(pool.shards.map((s, i) => new ShardLink(i, s.rings[0]!, s.ctlSab)), { maxDecompressedBytes: 64 << 20 });
    // ~600 series of ~120 label bytes: ~40 KiB for each of the two shards, over half of 64 KiB.
    const big = Array.from({ length: 1200 }, (_, i) => series({ __name__: 'big', pod: `pod-${i}-${'x'.repeat(80)}` }, [[T0, i]]));
    await assert.rejects(ingest.write('t', encodeBody({ timeseries: big })), (e: unknown) => {
      assert.ok(isSluiceError(e) && e.code === ErrorCode.TooLarge, String(e));
      assert.match((e as Error).message, /exceed half its write ring \(65536 bytes, --receive\.ring-bytes\)/);
      return true;
    });
    const small = Array.from({ length: 50 }, (_, i) => series({ __name__: 'small', pod: `p${i}` }, [[T0, i]]));
    assert.equal((await ingest.write('t', encodeBody({ timeseries: small }))).appended, 50);
    let stored = 0;
    for (const sh of pool.shards) {
      const refs = await sh.query<number[]>({ type: 'query', op: 'refs', q: { tenant: 't', matcherSets: [], mint: -Infinity, maxt: Infinity } });
      stored += refs.length;
    }
    assert.equal(stored, 50, 'only the small request\'s series are stored');
  } finally {
    await pool.stop();
  }
});
