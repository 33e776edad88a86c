/**
 * Gateway thread entry. Each gateway thread listens on the remote-write address (the kernel
 * spreads connections over the threads: SO_REUSEPORT), decodes and routes requests, and writes
 * each shard's part into its own ring to that shard.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { nameThread } from '../util/thread.js';
import { listen, type Listener } from './http.js';
import { ReceiveHandler } from './receiveHandler.js';
import { ShardLink } from '../shards/link.js';
import { GatewayMetrics } from '../metrics/gateway.js';
import { Logger } from '../util/log.js';
import type { FromGateway, GatewayInit, ToGateway } from './protocol.js';
import type { HeadSeriesOverAck, HeadSeriesOverMessage } from './limits.js';

const init = workerData as GatewayInit;
nameThread(`sluice-gw-${init.index}`);
const port = parentPort!;
const post = (m: FromGateway): void => port.postMessage(m);
const log = new Logger(init.logLevel, init.logFormat, { gateway: init.index });
const links = init.rings.map((r, s) => new ShardLink(s, r, init.shardCtls[s]!));
const metrics = new GatewayMetrics();
const handler = new ReceiveHandler(links, new Int32Array(init.nodeCtl), metrics, init.receive, log);
let listener: Listener | undefined;

port.on('message', (m: ToGateway | HeadSeriesOverMessage) => {
  switch (m.type) {
    case 'head-series-over':
      // Tenants at their head-series limit (polled by the main thread): refused with 429 from now.
      handler.limits.setHeadSeriesOver(m.tenants);
      port.postMessage({ type: 'head-series-over-ack', id: m.id } satisfies HeadSeriesOverAck);
      break;
    case 'hashrings': {
      // A new hashring version: requests already placed keep their rings.
      let error = '';
      try { handler.replication?.setHashrings(m.text); } catch (e) { error = e instanceof Error ? e.message : String(e); }
      if (error !== '') log.error('hashring reload refused by gateway; keeping the rings in use', { err: error });
      post({ type: 'hashrings-ack', id: m.id, error });
      break;
    }
    case 'metrics':
      void metrics.registry.getMetricsAsJSON().then((json) => post({ type: 'metrics', id: m.id, metrics: json }));
      break;
    case 'stop':
      // Stop accepting, finish what is in flight, then let the thread end.
      listener?.close();
      // In flight = headers received: bodies still uploading are read and answered too.
      void (listener?.drained() ?? Promise.resolve()).then(() => {
        // Idle keep-alive connections would keep the thread (and its sockets) alive.
        listener?.closeAll();
        // Forwards still in flight finish (or time out) before the peer pools close.
        void (handler.replication?.close() ?? Promise.resolve()).finally(() => {
          post({ type: 'stopped' });
          port.unref();
        });
      });
      break;
  }
});

listen(init.engine, init.host, init.port, handler.routes(), log).then(
  (l) => { listener = l; post({ type: 'listening', port: l.port }); },
  (e: unknown) => post({ type: 'listen-failed', message: e instanceof Error ? e.message : String(e) }),
);
