/**
 * Runs the deterministic simulator over many seeds, or replays one seed with a trace.
 *
 *   npm run sim -- --seeds 20000            seeds 1..20000
 *   npm run sim -- --seeds 500..900         a range
 *   npm run sim -- --seed 12345 --trace     replay one seed and print what happened
 *   npm run sim -- --seeds 1000 --ticks 10000 --voters 5
 */
import { Command, InvalidArgumentError } from 'commander';
import { runSimulation, SimulationFailure, type SimulationResult } from '../test/simulation/sim-cluster.js';
import type { SwarmOptions } from '../test/simulation/swarm-options.js';

function nonNegativeInteger(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`${flag} takes a whole number, got "${value}"`);
    }
    return n;
  };
}

/** "N" (seeds 1..N) or "A..B". */
function seedSpec(value: string): [number, number] {
  const range = /^(\d+)\.\.(\d+)$/.exec(value);
  if (range) {
    const [first, last] = [Number(range[1]), Number(range[2])];
    if (first > last) throw new InvalidArgumentError(`--seeds ${value}: the range is empty`);
    return [first, last];
  }
  if (/^\d+$/.test(value) && Number(value) >= 1) return [1, Number(value)];
  throw new InvalidArgumentError(`--seeds takes N (seeds 1..N) or A..B, got "${value}"`);
}

function voterCount(value: string): 3 | 5 {
  if (value === '3' || value === '5') return Number(value) as 3 | 5;
  throw new InvalidArgumentError(`--voters takes 3 or 5, got "${value}"`);
}

const values = new Command()
  .name('sim')
  .description('run the deterministic simulator over many seeds, or replay one seed')
  .option('--seeds <N|A..B>', 'seeds 1..N, or A..B (default: 100)', seedSpec)
  .option('--seed <n>', 'one seed (replay; with --trace, print what happened)', nonNegativeInteger('--seed'))
  .option('--trace', 'print the trace of each seed', false)
  .option('--ticks <n>', 'ticks of faults per seed', nonNegativeInteger('--ticks'))
  .option('--voters <n>', 'cluster size: 3 or 5', voterCount)
  .option('--quiet', 'no progress line', false)
  .parse()
  .opts<{ seeds?: [number, number]; seed?: number; trace: boolean; ticks?: number; voters?: 3 | 5; quiet: boolean }>();

function seedRange(): [number, number] {
  return values.seed === undefined ? (values.seeds ?? [1, 100]) : [values.seed, values.seed];
}

const overrides: Partial<SwarmOptions> = {};
if (values.ticks !== undefined) Object.assign(overrides, { chaosTicks: values.ticks });
if (values.voters !== undefined) Object.assign(overrides, { voters: values.voters });

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
