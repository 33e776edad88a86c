/**
 * GatewayPool starts the gateway threads on the remote-write address. The first one binds (port 0
 * picks a free port in tests); the others bind the same port (SO_REUSEPORT), so the kernel spreads
 * connections over them.
 */
import { Worker } from 'node:worker_threads';
import { workerExecArgv } from '../util/profile.js';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { FromGateway, GatewayInit, ToGateway } from './protocol.js';
import type { EngineName } from './http.js';
import type { ReceiveOptions } from './receiveHandler.js';
import type { ShardPool } from '../shards/pool.js';
import type { HeadSeriesOverAck, HeadSeriesOverMessage } from './limits.js';

/**
 * claimPort binds `port` on `host` exclusively (no SO_REUSEPORT) and releases it, returning the
 * bound port. This fails with EADDRINUSE when another process listens there: without it, a second
 * receiver started on the same port would silently share its traffic through SO_REUSEPORT.
 */
function claimPort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => {
      reject(new Error(e.code === 'EADDRINUSE' ? `listen tcp ${host}:${port}: address already in use` : `listen tcp ${host}:${port}: ${e.message}`));
    });
    srv.listen({ port, host, exclusive: true }, () => {
      const a = srv.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(p));
    });
  });
}

/** GatewayPoolOptions configures the gateway threads. */
export interface GatewayPoolOptions {
  gateways: number;
  host: string;
  port: number;
  engine: EngineName;
  nodeCtl: SharedArrayBuffer;
  receive: ReceiveOptions;
  logLevel: string;
  logFormat: string;
}

interface Gateway {
  worker: Worker;
  exited: boolean;
  metricWaiters: Map<number, (v: unknown) => void>;
  stopped: Promise<void>;
}

/** GatewayPool is the main thread's handle on the gateway threads. */
export class GatewayPool {
  private readonly gws: Gateway[] = [];
  private nextId = 1;
  /** The bound remote-write port. */
  port = 0;

  /** start starts every gateway thread and resolves once all listen. */
  async start(opts: GatewayPoolOptions, shards: ShardPool): Promise<void> {
    // The gateways share the port with SO_REUSEPORT; claim it exclusively first so that another
    // process on it is an error, and so that port 0 (which cannot be shared) becomes a real port.
    let port = await claimPort(opts.host, opts.port);
    for (let g = 0; g < opts.gateways; g++) {
      const init: GatewayInit = {
        index: g, host: opts.host, port, engine: opts.engine,
        rings: shards.shards.map((s) => s.rings[g]!),
        shardCtls: shards.shards.map((s) => s.ctlSab),
        nodeCtl: opts.nodeCtl, receive: { ...opts.receive, gateways: opts.gateways }, logLevel: opts.logLevel, logFormat: opts.logFormat,
      };
      const worker = new Worker(fileURLToPath(new URL('./worker.js', import.meta.url)), {
        workerData: init, name: `sluice-gateway-${g}`, execArgv: workerExecArgv(), env: process.env,
      });
      const metricWaiters = new Map<number, (v: unknown) => void>();
      let stoppedResolve!: () => void;
      const stopped = new Promise<void>((r) => { stoppedResolve = r; });
      const listening = new Promise<number>((resolve, reject) => {
        worker.on('message', (m: FromGateway | HeadSeriesOverAck) => {
          switch (m.type) {
            case 'listening': resolve(m.port); break;
            // Acks share the waiters map (and its ids) with metric snapshots.
            case 'head-series-over-ack': metricWaiters.get(m.id)?.(undefined); metricWaiters.delete(m.id); break;
            case 'listen-failed': reject(new Error(`gateway ${g}: ${m.message}`)); break;
            case 'metrics': metricWaiters.get(m.id)?.(m.metrics); metricWaiters.delete(m.id); break;
            case 'hashrings-ack': metricWaiters.get(m.id)?.(m.error); metricWaiters.delete(m.id); break;
            case 'stopped': stoppedResolve(); break;
          }
        });
        worker.on('error', reject);
        worker.on('exit', (code) => {
          reject(new Error(`gateway ${g} exited with code ${code}`));
          stoppedResolve();
          for (const w of metricWaiters.values()) w([]);
          metricWaiters.clear();
        });
      });
      const gw: Gateway = { worker, exited: false, metricWaiters, stopped };
      worker.once('exit', () => { gw.exited = true; });
      this.gws.push(gw);
      port = await listening;
    }
    this.port = port;
  }

  /** snapshots collects each gateway thread's metrics as JSON, for aggregation. */
  async snapshots(): Promise<MetricObjectWithValues<MetricValue<string>>[][]> {
    return Promise.all(this.gws.filter((g) => !g.exited).map((g) => new Promise<MetricObjectWithValues<MetricValue<string>>[]>((resolve) => {
      const id = this.nextId++;
      g.metricWaiters.set(id, resolve as (v: unknown) => void);
      g.worker.postMessage({ type: 'metrics', id } satisfies ToGateway);
    })));
  }

  /**
   * setHeadSeriesOver tells every gateway thread which tenants are at their head-series limit
   * (refused with 429 until the next call drops them) and resolves once all have applied it.
   */
  async setHeadSeriesOver(tenants: [string, number][]): Promise<void> {
    await Promise.all(this.gws.filter((g) => !g.exited).map((g) => new Promise<void>((resolve) => {
      const id = this.nextId++;
      g.metricWaiters.set(id, () => resolve());
      g.worker.postMessage({ type: 'head-series-over', id, tenants } satisfies HeadSeriesOverMessage);
    })));
  }

  /**
   * setHashrings hands a new version of the hashring file (JSON) to every gateway thread and
   * resolves once all use it for new requests; resolves with the first thread's refusal ('' if none).
   */
  async setHashrings(text: string): Promise<string> {
    const errors = await Promise.all(this.gws.filter((g) => !g.exited).map((g) => new Promise<string>((resolve) => {
      const id = this.nextId++;
      g.metricWaiters.set(id, (v) => resolve(typeof v === 'string' ? v : ''));
      g.worker.postMessage({ type: 'hashrings', id, text } satisfies ToGateway);
    })));
    return errors.find((e) => e !== '') ?? '';
  }

  /**
   * stop closes the listeners and waits for in-flight requests, at most `graceMs`. Each thread
   * cuts its own requests off (ReceiveOptions.closeGraceMs, which should end before `graceMs`)
   * and ends by itself once its connections are closed. Only a thread that is still not done
   * after `graceMs` is terminated; that is a last resort, as ending a thread with connections
   * open aborts the process (uWebSockets.js).
   */
  async stop(graceMs: number): Promise<void> {
    for (const g of this.gws) g.worker.postMessage({ type: 'stop' } satisfies ToGateway);
    const exited = Promise.all(this.gws.map((g) => g.stopped.then(() => (g.exited ? undefined : new Promise((r) => g.worker.once('exit', r))))));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(true), Math.max(0, graceMs)); }),
    ]);
    clearTimeout(timer);
    if (timedOut) await Promise.all(this.gws.map((g) => (g.exited ? undefined : g.worker.terminate())));
  }
}
