import { expect } from 'vitest';
import { runSimulation, SimulationFailure } from './sim-cluster.js';
import type { SwarmOptions } from './swarm-options.js';

/** Runs seeds [first, last]; a failure names the seed and the command that replays it. */
export function runSeeds(
  first: number,
  last: number,
  overrides: Partial<SwarmOptions>,
): { ticks: number; acked: number } {
  let ticks = 0;
  let acked = 0;
  for (let seed = first; seed <= last; seed++) {
    try {
      const result = runSimulation({ seed, overrides });
      ticks += result.ticks;
      acked += result.ackedWrites;
    } catch (error) {
      if (error instanceof SimulationFailure) {
        const voters = overrides.voters ? ` --voters ${overrides.voters}` : '';
        expect.fail(`${error.message}\nreplay: npm run sim -- --seed ${seed}${voters} --trace`);
      }
      throw error;
    }
  }
  return { ticks, acked };
}
