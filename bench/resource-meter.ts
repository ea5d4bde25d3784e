/**
 * CPU of the client (this process) and of each server process over a row, the load average
 * around it, and group commit on the leader (log entries per fsync, from /metrics).
 */
import { loadavg } from 'node:os';
import { cpuSeconds, ownCpuSeconds } from './proc-stats.js';
import { nowMs } from './process-registry.js';
import { metric, type Metric } from './results.js';
import type { FsyncCounters, StoreCluster } from './store.js';

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
    private readonly fsyncNode: string | null,
    private readonly fsyncBefore: FsyncCounters | null,
  ) {
    this.serverCpuBefore = new Map(cluster.nodes.map((n) => [n.id, pidCpu(n.pid())]));
  }

  /** Starts metering; with `fsyncNode` (the leader), also counts its fsyncs. */
  static async start(cluster: StoreCluster, fsyncNode: string | null): Promise<ResourceMeter> {
    const fsyncBefore = fsyncNode === null ? null : await cluster.fsyncCounters(fsyncNode);
    return new ResourceMeter(cluster, fsyncNode, fsyncBefore);
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
    if (this.fsyncNode !== null && this.fsyncBefore !== null) {
      const after = await this.cluster.fsyncCounters(this.fsyncNode);
      if (after !== null) {
        const fsyncs = after.fsyncs - this.fsyncBefore.fsyncs;
        const entries = after.entries - this.fsyncBefore.entries;
        metrics.push(metric('leaderFsyncsPerSecond', 'leader fsyncs/s', fsyncs / elapsedSeconds, 'info'));
        metrics.push(
          metric(
            'entriesPerFsync',
            'leader entries per fsync',
            fsyncs > 0 ? entries / fsyncs : null,
            'info',
            1,
          ),
        );
      }
    }
    return { metrics, load: { before: this.loadBefore, after: loadavg()[0]! }, serverCpuByNode };
  }
}

function pidCpu(pid: number | null): number | null {
  return pid === null ? null : cpuSeconds(pid);
}
