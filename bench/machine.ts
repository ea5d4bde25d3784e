/** The machine the figures come from. */
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly loadAverage: readonly number[];
}

export function describeMachine(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

export function renderMachine(machine: MachineInfo): string {
  return (
    `machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, ` +
    `Node ${machine.node}, load average ${machine.loadAverage.join(' / ')}`
  );
}
