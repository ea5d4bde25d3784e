/**
 * What the bench's own three-process clusters (raftree, etcd) share: finding the leader and
 * reading its fsync and replication counters through the nodes' Prometheus pages, killing and
 * restarting a node, and stopping everything (keeping the data and logs when asked, e.g. after
 * a failed start).
 */
import type { ChildProcess } from 'node:child_process';
import { fetchMetrics, metricValue } from './metrics-scrape.js';
import { isRunning, keepTempDir, removeTempDir, stopProcess } from './process-registry.js';
import type { ReplicationCounters, StoreNode } from './store.js';
import { pollUntil } from './wait.js';

export interface ManagedNodeState extends StoreNode {
  readonly dataDir: string;
  readonly logFile: string;
  process: ChildProcess | null;
}

/** The store's metric names, and how its processes are stopped at the end. */
export interface ManagedClusterTraits {
  /** For messages: "raftree" or "etcd". */
  readonly label: string;
  /** A gauge that is 1 on the leader. */
  readonly leaderMetric: string;
  /** A histogram of the synced log / WAL writes' durations (its _count and _sum are read). */
  readonly fsyncMetric: string;
  /** A counter of the log entries those writes carried (or the closest the store has). */
  readonly entriesMetric: string;
  /** A leader's histogram of append round trips to its followers (_count, _sum), if the store has one. */
  readonly appendRoundTripMetric: string | null;
  readonly stopSignal: NodeJS.Signals;
  readonly stopTimeoutMs?: number;
}

export abstract class ManagedCluster<N extends ManagedNodeState> {
  readonly managed = true;
  private stopped = false;

  protected constructor(
    protected readonly root: string,
    protected readonly nodeStates: N[],
    private readonly traits: ManagedClusterTraits,
  ) {}

  get nodes(): readonly StoreNode[] {
    return this.nodeStates;
  }

  /** Starts the process of `node`; returns the monotonic time (ms) of the spawn. */
  protected abstract spawn(node: N): number;

  async leaderId(timeoutMs: number): Promise<string | null> {
    return pollUntil(async () => {
      for (const node of this.nodeStates) {
        if (node.pid() === null) continue;
        const page = await fetchMetrics(node.metricsUrl!, 500);
        if (page !== null && metricValue(page, this.traits.leaderMetric) === 1) return node.id;
      }
      return null;
    }, timeoutMs);
  }

  async replicationCounters(nodeId: string): Promise<ReplicationCounters | null> {
    const page = await fetchMetrics(this.state(nodeId).metricsUrl!);
    if (page === null) return null;
    const { fsyncMetric, entriesMetric, appendRoundTripMetric } = this.traits;
    const fsyncs = metricValue(page, `${fsyncMetric}_count`);
    const fsyncSeconds = metricValue(page, `${fsyncMetric}_sum`);
    const entries = metricValue(page, entriesMetric);
    if (fsyncs === null || fsyncSeconds === null || entries === null) return null;
    return { fsyncs, entries, fsyncSeconds, appendRoundTrips: roundTrips(page, appendRoundTripMetric) };
  }

  async kill(nodeId: string): Promise<void> {
    await stopProcess(this.state(nodeId).process, 'SIGKILL');
  }

  restart(nodeId: string): number {
    const node = this.state(nodeId);
    if (isRunning(node.process)) throw new Error(`${nodeId} is still running`);
    return this.spawn(node);
  }

  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const { stopSignal, stopTimeoutMs } = this.traits;
    await Promise.all(this.nodeStates.map((n) => stopProcess(n.process, stopSignal, stopTimeoutMs)));
    if (options.keepData === true) {
      keepTempDir(this.root);
      process.stderr.write(`bench: ${this.traits.label} data and logs kept in ${this.root}\n`);
    } else removeTempDir(this.root);
  }

  protected state(nodeId: string): N {
    const node = this.nodeStates.find((n) => n.id === nodeId);
    if (node === undefined) throw new Error(`no ${this.traits.label} node ${nodeId}`);
    return node;
  }
}

/** A histogram's count and sum over all its label sets; zero before its first observation. */
function roundTrips(page: string, metric: string | null): ReplicationCounters['appendRoundTrips'] {
  if (metric === null) return null;
  return {
    count: metricValue(page, `${metric}_count`) ?? 0,
    seconds: metricValue(page, `${metric}_sum`) ?? 0,
  };
}
