/**
 * Bounded memory without a limits file: a gateway thread buffers at most its share of
 * --receive.max-inflight-body-bytes of request bodies at once. Many slow uploads arrive together:
 * those that fit are buffered and answered 200 once their bodies are complete; the rest are
 * answered 503 with Retry-After as soon as their headers arrive, while their bodies are still being
 * sent (nothing of them is buffered); once the budget is free again, writes succeed. Checked for
 * both HTTP engines (uWebSockets.js and node:http), on real loopback sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { encodeBody, series, write, RW_HEADERS } from '../helpers/node.js';
import { ReceiveNode } from '../../src/receive/node.js';
import { parseReceiveFlags, toConfig, type ReceiveConfig } from '../../src/receive/flags.js';
import { Logger } from '../../src/util/log.js';

const T0 = 1_700_000_000_000;
const UPLOADS = 12;
/** Bodies that fit in the budget at once. */
const FIT = 4;

/** SlowUpload is a request that has sent its headers and part of its body. */
interface SlowUpload {
  req: ClientRequest;
  /** status resolves with the answer's status, Retry-After and body (0 on a connection error). */
  answer: Promise<{ status: number; retryAfter: string | undefined; text: string }>;
  answered: boolean;
  /** finish sends the rest of the body. */
  finish(): void;
}

function slowUpload(port: number, body: Uint8Array): SlowUpload {
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/receive', headers: { ...RW_HEADERS, 'content-length': String(body.length) } });
  const u: SlowUpload = {
    req, answered: false,
    answer: new Promise((resolve) => {
      req.once('response', (res) => {
        u.answered = true;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; });
        res.once('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], text }));
      });
      req.once('error', (e) => resolve({ status: 0, retryAfter: undefined, text: e.message }));
    }),
    finish: () => { req.end(body.subarray(4096)); },
  };
  req.write(body.subarray(0, 4096));
  return u;
}

/** bigBody is a valid remote-write body of about `bytes` compressed bytes (random label values). */
function bigBody(tag: string, bytes: number): Uint8Array {
  const n = Math.ceil(bytes / 80);
  return encodeBody({ timeseries: Array.from({ length: n }, (_, i) => series({ __name__: 'slow', tag, i: String(i), r: randomBytes(32).toString('hex') }, [[T0, i]])) });
}

async function metric(httpUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

for (const engine of ['uws', 'node'] as const) {
  test(`${engine}: concurrent slow uploads past --receive.max-inflight-body-bytes are refused with 503 before their bodies are buffered`, { timeout: 30_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bodies-'));
    const before = process.env['SLUICE_HTTP_ENGINE'];
    if (engine === 'node') process.env['SLUICE_HTTP_ENGINE'] = 'node';
    else delete process.env['SLUICE_HTTP_ENGINE'];
    const bodies = Array.from({ length: UPLOADS }, (_, i) => bigBody(String(i), 200_000));
    const largest = Math.max(...bodies.map((b) => b.length));
    // Room for FIT of the bodies, not one more.
    const cfg: ReceiveConfig = toConfig(parseReceiveFlags([
      `--tsdb.path=${dir}`, '--remote-write.address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0',
      '--receive.shards=1', '--receive.gateways=1', '--query.workers=0', '--tsdb.wal.fsync=off',
      `--receive.max-inflight-body-bytes=${FIT * largest}`,
    ]));
    const node = new ReceiveNode(cfg, new Logger('error'));
    const uploads: SlowUpload[] = [];
    try {
      await node.start();
      const port = node.remoteWritePort;
      const httpUrl = `http://127.0.0.1:${node.http!.port}`;
      for (const b of bodies) {
        uploads.push(slowUpload(port, b));
        // In order, so that the first FIT are the ones buffered.
        await new Promise((r) => setTimeout(r, 20));
      }
      // The refused ones are answered while their bodies are still incomplete.
      const until = Date.now() + 5000;
      while (uploads.filter((u) => u.answered).length < UPLOADS - FIT && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(uploads.map((u) => u.answered), uploads.map((_, i) => i >= FIT), 'only the uploads past the budget are answered before their bodies end');
      for (const u of uploads.slice(FIT)) {
        const a = await u.answer;
        assert.equal(a.status, 503, a.text);
        assert.equal(a.retryAfter, '1');
        assert.match(a.text, /receiver is busy: buffering this request's body \(\d+ bytes\) would pass the limit of \d+ bytes of request bodies in flight per gateway thread .*--receive\.max-inflight-body-bytes/);
      }
      const held = await metric(httpUrl, 'sluice_receive_inflight_body_bytes');
      assert.equal(held, bodies.slice(0, FIT).reduce((a, b) => a + b.length, 0), 'the buffered bodies are counted');
      assert.equal(await metric(httpUrl, 'sluice_receive_inflight_body_refused_total'), UPLOADS - FIT);
      t.diagnostic(`${FIT} bodies of ~${Math.round(largest / 1024)} KiB buffered (${held} bytes), ${UPLOADS - FIT} refused before their bodies were read`);

      // The buffered ones complete normally.
      for (const u of uploads.slice(0, FIT)) u.finish();
      for (const u of uploads.slice(0, FIT)) {
        const a = await u.answer;
        assert.equal(a.status, 200, a.text);
      }
      assert.equal(await metric(httpUrl, 'sluice_receive_inflight_body_bytes'), 0, 'the budget is free again');
      // And new writes, big or small, are taken again.
      assert.equal((await write(`http://127.0.0.1:${port}`, [series({ __name__: 'after' }, [[T0, 1]])])).status, 200);
      const again = await fetch(`http://127.0.0.1:${port}/api/v1/receive`, { method: 'POST', body: bodies[UPLOADS - 1]!, headers: RW_HEADERS });
      assert.equal(again.status, 200, await again.text());
    } finally {
      for (const u of uploads) u.req.destroy();
      await node.stop();
      if (before === undefined) delete process.env['SLUICE_HTTP_ENGINE'];
      else process.env['SLUICE_HTTP_ENGINE'] = before;
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
