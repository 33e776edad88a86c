/**
 * A real Prometheus server as a child process, for tests that compare with Prometheus: remote-write
 * receiver on, TSDB in a fresh temp dir, no scrape targets, listening on a free loopback port.
 * Touches only its own temp dir and the child it starts; stop() kills the child (SIGTERM, then
 * SIGKILL) and removes the dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitReady } from './node.js';

/** PROMETHEUS_BIN is the Prometheus 2.42 binary the test runs against (PROMETHEUS_BIN overrides). */
export const PROMETHEUS_BIN = process.env['PROMETHEUS_BIN'] ?? '/usr/bin/prometheus';

/** hasPrometheus says whether the binary exists, so that a test can skip with a reason. */
export function hasPrometheus(): boolean {
  return existsSync(PROMETHEUS_BIN);
}

/** PrometheusServer is a running Prometheus child with its base URLs. */
export interface PrometheusServer {
  /** url: base of the HTTP API (`/api/v1/query`, `/-/ready`). */
  readonly url: string;
  /** writeUrl: the remote-write endpoint (`/api/v1/write`). */
  readonly writeUrl: string;
  /** stderr: what the child logged so far (kept for failure messages). */
  log(): string;
  /** stop ends the child and removes its data dir; safe to call twice. */
  stop(): Promise<void>;
}

// An empty scrape config: the server holds only what is remote-written to it.
const CONFIG = 'global:\n  evaluation_interval: 1m\nscrape_configs: []\n';

/** waitExit resolves once `child` has exited, or after `ms` with false. */
function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
}

/**
 * startPrometheus starts Prometheus with `--web.enable-remote-write-receiver` and waits for
 * `/-/ready`. The caller must stop() it, in a `finally`.
 */
export async function startPrometheus(): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-prom-'));
  writeFileSync(join(dir, 'prometheus.yml'), CONFIG);
  const port = await freePort();
  const child = spawn(PROMETHEUS_BIN, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-remote-write-receiver',
    '--query.lookback-delta=5m',
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => { if (stderr.length < 64 << 10) stderr += s; });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!await waitExit(child, 5_000)) {
        child.kill('SIGKILL');
        await waitExit(child, 5_000);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReady(`${url}/-/ready`, child, 30_000);
  } catch (e) {
    await stop();
    throw new Error(`prometheus did not start: ${e instanceof Error ? e.message : String(e)}\n${stderr}`);
  }
  return { url, writeUrl: `${url}/api/v1/write`, log: () => stderr, stop };
}
