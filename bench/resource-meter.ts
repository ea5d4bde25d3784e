/**
 * CPU of the client (this process) and of each server process over a row, the load average
 * around it, and from the leader's /metrics: group commit (log entries per fsync), how long its
 * fsyncs took and, for raftree, how long its followers took to acknowledge an append.
 */
import { loadavg } from 'node:os';
import { cpuSeconds, ownCpuSeconds } from './proc-stats.js';
import { nowMs } from './process-registry.js';
import { metric, type Metric } from './results.js';
import type { ReplicationCounters, StoreCluster } from './store.js';

export interface ResourceReading {
  readonly metrics: Metric[];
  readonly load: { readonly before: number; readonly after: number };
  readonly serverCpuByNode: Record<string, number | null>;
}

export class ResourceMeter {
  private readonly startedAt = nowMs();
  private readonly loadBefore = loadavg()[0]!;
  private readonly clientCpuBefore = ownCpuSeconds();
  private readonly serverCpuBefore: Map<string, number | null>;

  private constructor(
    private readonly cluster: StoreCluster,
    private readonly leaderNode: string | null,
    private readonly leaderBefore: ReplicationCounters | null,
  ) {
    this.serverCpuBefore = new Map(cluster.nodes.map((n) => [n.id, pidCpu(n.pid())]));
  }

  /** Starts metering; with `leaderNode`, also reads its fsyncs and its followers' acknowledgements. */
  static async start(cluster: StoreCluster, leaderNode: string | null): Promise<ResourceMeter> {
    const leaderBefore = leaderNode === null ? null : await cluster.replicationCounters(leaderNode);
    return new ResourceMeter(cluster, leaderNode, leaderBefore);
  }

  /** `ops`: operations done in the row, for CPU per operation. */
  async finish(ops: number | null): Promise<ResourceReading> {
    const elapsedSeconds = (nowMs() - this.startedAt) / 1000;
    const clientCores = (ownCpuSeconds() - this.clientCpuBefore) / elapsedSeconds;
    const serverCpuByNode: Record<string, number | null> = {};
    let serverSeconds: number | null = this.cluster.managed ? 0 : null;
    for (const node of this.cluster.nodes) {
      const before = this.serverCpuBefore.get(node.id) ?? null;
      const after = pidCpu(node.pid());
      const used = before === null || after === null ? null : after - before;
      serverCpuByNode[node.id] = used === null ? null : used / elapsedSeconds;
      if (serverSeconds !== null && used !== null) serverSeconds += used;
    }
    const busiest = Math.max(...Object.values(serverCpuByNode).map((v) => v ?? 0));
    const metrics: Metric[] = [
      metric('clientCores', 'client CPU (cores)', clientCores, 'info', 2),
      metric(
        'serverCores',
        'server CPU, 3 nodes (cores)',
        serverSeconds === null ? null : serverSeconds / elapsedSeconds,
        'info',
        2,
      ),
      metric(
        'busiestNodeCores',
        'busiest node CPU (cores)',
        this.cluster.managed ? busiest : null,
        'info',
        2,
      ),
    ];
    if (ops !== null && ops > 0 && serverSeconds !== null) {
      metrics.push(
        metric('serverCpuUsPerOp', 'server CPU per op (µs)', (serverSeconds * 1e6) / ops, 'lower'),
      );
    }
    if (this.leaderNode !== null && this.leaderBefore !== null) {
      const after = await this.cluster.replicationCounters(this.leaderNode);
      if (after !== null) metrics.push(...leaderMetrics(this.leaderBefore, after, elapsedSeconds));
    }
    return { metrics, load: { before: this.loadBefore, after: loadavg()[0]! }, serverCpuByNode };
  }
}

function pidCpu(pid: number | null): number | null {
  return pid === null ? null : cpuSeconds(pid);
}

/** Group commit and the mean fsync and append round trip on the leader between two readings. */
export function leaderMetrics(
  before: ReplicationCounters,
  after: ReplicationCounters,
  elapsedSeconds: number,
): Metric[] {
  const fsyncs = after.fsyncs - before.fsyncs;
  const perFsync = (total: number): number | null => (fsyncs > 0 ? total / fsyncs : null);
  const metrics = [
    metric('leaderFsyncsPerSecond', 'leader fsyncs/s', fsyncs / elapsedSeconds, 'info'),
    metric(
      'entriesPerFsync',
      'leader entries per fsync',
      perFsync(after.entries - before.entries),
      'info',
      1,
    ),
    // raftree times the whole LevelDB batch as its Raft loop waits for it, etcd the fdatasync alone.
    metric(
      'leaderFsyncMs',
      'leader synced write, mean (ms)',
      perFsync((after.fsyncSeconds - before.fsyncSeconds) * 1000),
      'unlike',
      2,
    ),
  ];
  if (before.appendRoundTrips !== null && after.appendRoundTrips !== null) {
    const count = after.appendRoundTrips.count - before.appendRoundTrips.count;
    const seconds = after.appendRoundTrips.seconds - before.appendRoundTrips.seconds;
    metrics.push(
      metric(
        'appendRoundTripMs',
        'append → follower ack, mean (ms)',
        count > 0 ? (seconds * 1000) / count : null,
        'info',
        2,
      ),
    );
  }
  return metrics;
}
