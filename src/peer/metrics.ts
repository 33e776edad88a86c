/**
 * Self-metrics of hashrings and replication, under Thanos Receive's names (reference §2), so the
 * dashboards and alerts written for Thanos read them unchanged. Registered into a registry the
 * caller owns (a gateway thread's registry for forwarding, the main thread's for the watcher).
 * Updated once per forward request or per file refresh, never per series.
 */
import client from 'prom-client';

/** Result label values of the forward and replication counters. */
export const RESULT_SUCCESS = 'success';
export const RESULT_ERROR = 'error';

/** ForwardMetrics counts writes sent to peers and replica writes made by this node. */
export class ForwardMetrics {
  /** thanos_receive_forward_requests_total{result}: every request sent to a peer (replicated or not). */
  readonly forwardRequests: client.Counter<'result'>;
  /**
   * thanos_receive_replications_total{result}: every (endpoint, replica) write of a fan-out this
   * node originated, the local one included. Conflicts count as neither success nor error.
   */
  readonly replications: client.Counter<'result'>;
  /** thanos_receive_replication_factor (the same in every gateway thread: not summed). */
  readonly replicationFactor: client.Gauge;

  /** Registers the metrics in `registry`; `replicationFactor` sets thanos_receive_replication_factor. */
  constructor(registry: client.Registry, replicationFactor?: number) {
    this.forwardRequests = new client.Counter({
      name: 'thanos_receive_forward_requests_total', help: 'The number of forward requests.',
      labelNames: ['result'], registers: [registry],
    });
    this.replications = new client.Counter({
      name: 'thanos_receive_replications_total', help: 'The number of replication operations done by the receiver. The success of replication is fulfilled when a quorum is met.',
      labelNames: ['result'], registers: [registry],
    });
    this.replicationFactor = new client.Gauge({
      name: 'thanos_receive_replication_factor', help: 'The replication factor.', registers: [registry], aggregator: 'first',
    });
    if (replicationFactor !== undefined) this.replicationFactor.set(replicationFactor);
    // Both results exist from the start, so rate() and ratios work before the first error.
    for (const r of [RESULT_SUCCESS, RESULT_ERROR]) {
      this.forwardRequests.inc({ result: r }, 0);
      this.replications.inc({ result: r }, 0);
    }
  }
}

/** HashringMetrics describes the hashring file and its reloads (watcher.ts). */
export class HashringMetrics {
  readonly configHash: client.Gauge;
  readonly lastReloadSuccessful: client.Gauge;
  readonly lastReloadSuccessTimestamp: client.Gauge;
  readonly fileChanges: client.Counter;
  readonly fileErrors: client.Counter;
  readonly fileRefreshes: client.Counter;
  readonly nodes: client.Gauge<'name'>;
  readonly tenants: client.Gauge<'name'>;

  constructor(registry: client.Registry) {
    const r = [registry];
    this.configHash = new client.Gauge({ name: 'thanos_receive_config_hash', help: 'Hash of the currently loaded hashring configuration file.', registers: r });
    this.lastReloadSuccessful = new client.Gauge({ name: 'thanos_receive_config_last_reload_successful', help: 'Whether the last hashring configuration file reload attempt was successful.', registers: r });
    this.lastReloadSuccessTimestamp = new client.Gauge({ name: 'thanos_receive_config_last_reload_success_timestamp_seconds', help: 'Timestamp of the last successful hashring configuration file reload.', registers: r });
    this.fileChanges = new client.Counter({ name: 'thanos_receive_hashrings_file_changes_total', help: 'The number of times the hashrings configuration file has changed.', registers: r });
    this.fileErrors = new client.Counter({ name: 'thanos_receive_hashrings_file_errors_total', help: 'The number of errors watching the hashrings configuration file.', registers: r });
    this.fileRefreshes = new client.Counter({ name: 'thanos_receive_hashrings_file_refreshes_total', help: 'The number of refreshes of the hashrings configuration file.', registers: r });
    this.nodes = new client.Gauge({ name: 'thanos_receive_hashring_nodes', help: 'The number of nodes per hashring.', labelNames: ['name'], registers: r });
    this.tenants = new client.Gauge({ name: 'thanos_receive_hashring_tenants', help: 'The number of tenants per hashring.', labelNames: ['name'], registers: r });
  }
}
