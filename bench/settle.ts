/**
 * Before a row, wait until every server the bench started (both stores' clusters) is quiet.
 * Rows alternate between the stores, so without this a row can run while the other store is
 * still busy with what its own previous row left behind (garbage collection, compaction,
 * snapshots, expiring leases), and pay for it on a 2-core machine. Bounded: a cluster that
 * never goes quiet is measured anyway, and the row says so. A guard more than a correction: in
 * the first two full runs with it, every row started within 1.5 s (docs/benchmarks.md).
 */
import { benchServerCpuSeconds } from './noise-meter.js';
import { nowMs } from './process-registry.js';
import { sleep } from './wait.js';

export interface SettleOptions {
  /** Quiet means all servers together used at most this many cores over one window. */
  readonly quietCores: number;
  readonly windowMs: number;
  readonly maxWaitMs: number;
}

export const DEFAULT_SETTLE: SettleOptions = {
  // Six idle servers (raftree's heartbeats and ticks, etcd's) use 0.03-0.05 cores together.
  quietCores: 0.15,
  windowMs: 300,
  maxWaitMs: 8_000,
};

export interface Settling {
  /** How long the wait took (at least one window). */
  readonly waitedMs: number;
  /** The servers' CPU over the last window, in cores (null without /proc, or when every server started within it). */
  readonly lastCores: number | null;
  readonly quiet: boolean;
}

export async function settleServers(options: SettleOptions = DEFAULT_SETTLE): Promise<Settling> {
  const started = nowMs();
  if (benchServerCpuSeconds().size === 0) return { waitedMs: 0, lastCores: null, quiet: true }; // --endpoints
  for (;;) {
    const before = benchServerCpuSeconds();
    const windowStart = nowMs();
    await sleep(options.windowMs);
    const after = benchServerCpuSeconds();
    const seconds = (nowMs() - windowStart) / 1000;
    let used = 0;
    let measured = 0;
    for (const [pid, cpu] of after) {
      const previous = before.get(pid);
      if (previous === undefined) continue; // started during the window: no baseline
      used += cpu - previous;
      measured++;
    }
    const lastCores = measured === 0 ? null : used / seconds;
    const waitedMs = nowMs() - started;
    if (lastCores === null || lastCores <= options.quietCores) return { waitedMs, lastCores, quiet: true };
    if (waitedMs >= options.maxWaitMs) return { waitedMs, lastCores, quiet: false };
  }
}
