/**
 * How busy the rest of the machine was during a row: the CPU the machine spent minus what this
 * process and every server the bench started spent (both stores' clusters), in cores. On a
 * shared machine this says more than the load average, which counts the bench's own threads.
 * Also what the other store's servers spent meanwhile (they should be idle: see settle.ts).
 */
import { cpuSeconds, machineBusySeconds, ownCpuSeconds } from './proc-stats.js';
import { benchPids, nowMs } from './process-registry.js';

export class NoiseMeter {
  private readonly startedAt = nowMs();
  private readonly machineBefore = machineBusySeconds();
  private readonly serversBefore = benchServerCpuSeconds();
  private readonly ownBefore = ownCpuSeconds();

  /** `rowPids`: the processes of the store whose row this is (read at the end: a restart changes them). */
  constructor(private readonly rowPids: () => readonly (number | null)[]) {}

  /**
   * Cores used since the meter started by other processes at normal priority, and by niced
   * ones (which yield to the bench); null where /proc is missing or the row was too short.
   */
  otherCores(): { normal: number; niced: number } | null {
    const machineAfter = machineBusySeconds();
    if (this.machineBefore === null || machineAfter === null) return null;
    const elapsedSeconds = (nowMs() - this.startedAt) / 1000;
    // /proc/stat counts in 10 ms ticks: too short a row says nothing.
    if (elapsedSeconds < 0.5) return null;
    // A server started during the row used all its CPU in it; one that died took its last
    // figures along (counted as other processes: approximate, hence the clamp at zero).
    let ours = ownCpuSeconds() - this.ownBefore;
    for (const [pid, after] of benchServerCpuSeconds()) ours += after - (this.serversBefore.get(pid) ?? 0);
    const normal = machineAfter.normal - this.machineBefore.normal - ours;
    const niced = machineAfter.niced - this.machineBefore.niced;
    return { normal: Math.max(0, normal) / elapsedSeconds, niced: niced / elapsedSeconds };
  }

  /** Cores the bench's other servers (the other store's cluster) used during the row; null if none runs. */
  otherStoreCores(): number | null {
    const elapsedSeconds = (nowMs() - this.startedAt) / 1000;
    if (elapsedSeconds < 0.5) return null;
    const own = new Set(this.rowPids());
    let used = 0;
    let others = 0;
    for (const [pid, after] of benchServerCpuSeconds()) {
      if (own.has(pid)) continue;
      used += after - (this.serversBefore.get(pid) ?? 0);
      others++;
    }
    return others === 0 ? null : used / elapsedSeconds;
  }
}

/** CPU seconds of each server the bench has running, by pid. */
export function benchServerCpuSeconds(): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const pid of benchPids()) {
    const used = cpuSeconds(pid);
    if (used !== null) seconds.set(pid, used);
  }
  return seconds;
}
