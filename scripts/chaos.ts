/**
 * Jepsen-style chaos run against real `raftree serve` processes (build first: npm run build).
 *
 *   npm run chaos -- --time 60 --nodes 3 --nemesis kill,pause,partition --clients 8 --keys 8 [--seed N]
 *
 * Prints progress, the verdict, op counts, the nemesis timeline and latency over time. On a
 * failed check it saves history, timeline and node logs under chaos-results/<timestamp>/ and
 * prints the seed to replay. Exit code: 0 pass, 1 fail, 2 unknown (checker out of budget),
 * 130 interrupted. See docs/testing.md ("Chaos").
 */
import { Command, InvalidArgumentError } from 'commander';
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FAULT_KINDS, type FaultKind } from '../test/chaos/nemesis.js';
import { formatReport, replayCommand, saveResults } from '../test/chaos/report.js';
import { runChaos, type ChaosReport } from '../test/chaos/runner.js';

function positive(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number`);
    return n;
  };
}

function nemesisList(value: string): FaultKind[] {
  if (value === 'none' || value === '') return [];
  const kinds = value === 'all' ? [...FAULT_KINDS] : value.split(',').map((k) => k.trim());
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new InvalidArgumentError(
        `unknown nemesis "${kind}" (choose from ${FAULT_KINDS.join(', ')}, all, none)`,
      );
    }
  }
  return kinds as FaultKind[];
}

const program = new Command()
  .name('chaos')
  .description('run a chaos test: faults, concurrent clients, linearizability and watch checks')
  .option('--time <s>', 'seconds of workload under faults', positive('--time'), 60)
  .option('--nodes <n>', 'cluster size (3 or 5)', positive('--nodes'), 3)
  .option(
    '--nemesis <list>',
    `faults: comma-separated ${FAULT_KINDS.join(', ')}; "all"; "none"`,
    nemesisList,
    [...FAULT_KINDS],
  )
  .option('--clients <n>', 'concurrent clients', positive('--clients'), 8)
  .option('--keys <n>', 'keys they share', positive('--keys'), 8)
  .option('--seed <n>', 'seed of the fault schedule and the workload (default: random)', positive('--seed'))
  .option('--op-timeout <ms>', 'deadline of each client operation', positive('--op-timeout'), 2000)
  .option('--tick-ms <ms>', 'Raft tick of the nodes', positive('--tick-ms'), 25)
  .option('--cli <path>', 'the built raftree CLI to test (default dist/raftree.mjs), e.g. a mutant build')
  .option('--results <dir>', 'where failed runs are saved', 'chaos-results')
  .option('--summary-file <path>', 'append a one-line JSON summary of the run here (for batches of runs)');

interface Flags {
  time: number;
  nodes: number;
  nemesis: FaultKind[];
  clients: number;
  keys: number;
  seed?: number;
  opTimeout: number;
  tickMs: number;
  cli?: string;
  results: string;
  summaryFile?: string;
}

async function main(): Promise<number> {
  const flags = program.parse().opts<Flags>();
  const seed = flags.seed ?? Math.floor(Math.random() * 2 ** 31) + 1;
  const abort = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    // The first Ctrl-C stops cleanly (kills every node, closes every proxy); a second one exits
    // at once, and the exit hook still SIGKILLs every node.
    if (++interrupts > 1) process.exit(130);
    console.error('\ninterrupted: stopping the nodes and proxies (Ctrl-C again to exit at once)');
    abort.abort();
  });
  process.on('SIGTERM', () => abort.abort());

  const started = Date.now();
  const report = await runChaos({
    timeMs: flags.time * 1000,
    nodes: Math.round(flags.nodes),
    nemesis: flags.nemesis,
    clients: Math.round(flags.clients),
    keys: Math.round(flags.keys),
    seed: Math.round(seed),
    opTimeoutMs: flags.opTimeout,
    tickMs: flags.tickMs,
    ...(flags.cli !== undefined ? { cliMain: resolve(flags.cli) } : {}),
    signal: abort.signal,
    onProgress: (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${line}`),
  });
  console.log(formatReport(report));
  if (report.aborted) return 130;
  if (flags.summaryFile !== undefined)
    appendFileSync(flags.summaryFile, JSON.stringify(summarize(report)) + '\n');
  if (report.verdict !== 'pass') {
    const dir = saveResults(report, resolve(flags.results));
    console.log(`\nsaved history, timeline and node logs in ${dir}`);
    console.log(`replay the schedule with: ${replayCommand(report)}`);
  } else {
    console.log(`(seed ${report.options.seed}; replay with: ${replayCommand(report)})`);
  }
  return report.verdict === 'pass' ? 0 : report.verdict === 'unknown' ? 2 : 1;
}

function summarize(report: ChaosReport) {
  const unknownWrites = report.linearizability?.keys.reduce((sum, k) => sum + k.unknownOutcome, 0) ?? null;
  return {
    startedAt: report.startedAt,
    seed: report.options.seed,
    nodes: report.options.nodes,
    nemesis: report.options.nemesis,
    seconds: report.options.timeMs / 1000,
    verdict: report.verdict,
    linearizability: report.linearizability?.verdict ?? null,
    checks: Object.fromEntries(report.checks.map((c) => [c.name, c.passed])),
    errors: report.errors,
    ok: report.counts.ok,
    fail: report.counts.fail,
    info: report.counts.info,
    unknownWritesLeftOpen: unknownWrites,
    faultSteps: report.faultsInjected,
    watchEvents: report.watch.events,
    watchCreations: report.watch.creations,
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
