/**
 * Runs the deterministic simulator over many seeds, or replays one seed with a trace.
 *
 *   npm run sim -- --seeds 20000            seeds 1..20000
 *   npm run sim -- --seeds 500..900         a range
 *   npm run sim -- --seed 12345 --trace     replay one seed and print what happened
 *   npm run sim -- --seeds 1000 --ticks 10000 --voters 5
 */
import { parseArgs } from 'node:util';
import { runSimulation, SimulationFailure, type SimulationResult } from '../test/simulation/sim-cluster.js';
import type { SwarmOptions } from '../test/simulation/swarm-options.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    trace: { type: 'boolean', default: false },
    ticks: { type: 'string' },
    voters: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});

function seedRange(): [number, number] {
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    return [seed, seed];
  }
  const spec = values.seeds ?? '100';
  const range = /^(\d+)\.\.(\d+)$/.exec(spec);
  if (range) return [Number(range[1]), Number(range[2])];
  if (/^\d+$/.test(spec)) return [1, Number(spec)];
  throw new Error(`--seeds takes N or A..B, got ${spec}`);
}

const overrides: Partial<SwarmOptions> = {};
if (values.ticks !== undefined) Object.assign(overrides, { chaosTicks: Number(values.ticks) });
if (values.voters !== undefined) Object.assign(overrides, { voters: Number(values.voters) as 3 | 5 });

const [first, last] = seedRange();
const started = performance.now();
let totalTicks = 0;
let totalCommitted = 0;
let totalAcked = 0;
let totalLeaders = 0;
let totalReads = 0;
let totalCrashes = 0;
let ran = 0;
let lastProgress = 0;
for (let seed = first; seed <= last; seed++) {
  let result: SimulationResult;
  try {
    result = runSimulation({ seed, trace: values.trace, overrides });
  } catch (error) {
    if (error instanceof SimulationFailure) {
      if (values.trace) console.log(error.trace.join('\n'));
      console.error(`\nFAILED ${error.message}`);
      console.error(
        `replay: npm run sim -- --seed ${seed} --trace${values.ticks ? ` --ticks ${values.ticks}` : ''}${values.voters ? ` --voters ${values.voters}` : ''}`,
      );
      process.exitCode = 1; // not process.exit(): it would cut off a long trace on a pipe
      break;
    }
    throw error;
  }
  if (values.trace) {
    console.log(result.trace.join('\n'));
    console.log(`seed ${seed} options ${JSON.stringify(result.options)}`);
  }
  ran++;
  totalTicks += result.ticks;
  totalCommitted += result.committed;
  totalAcked += result.ackedWrites;
  totalLeaders += result.leadersElected;
  totalReads += result.reads;
  totalCrashes += result.crashes;
  const now = performance.now();
  if (!values.quiet && (now - lastProgress > 1000 || seed === last) && process.stderr.isTTY) {
    lastProgress = now;
    process.stderr.write(`\r${ran}/${last - first + 1} seeds, ${((now - started) / 1000).toFixed(1)} s`);
  }
}
const seconds = (performance.now() - started) / 1000;
if (process.stderr.isTTY) process.stderr.write('\n');
console.log(
  `${process.exitCode ? 'FAILED after' : 'ok:'} ${ran} seeds (${first}..${last}), ${totalTicks} ticks, ${totalLeaders} leaders elected, ` +
    `${totalCommitted} entries committed, ${totalAcked} writes acknowledged, ${totalReads} linearizable reads, ` +
    `${totalCrashes} crashes, ${seconds.toFixed(1)} s`,
);
