/**
 * Every workload against every store under test. The stores run side by side, row by row
 * (raftree's put at 16 in flight, then etcd's, then the next row...), so that both see the
 * same machine: on a shared box the load drifts over minutes, much less over seconds. The
 * order keeps rows independent: memory idle, warm-up, puts, gets, watches, the restart data
 * set, memory after the load and again after a quiet spell, restart, coordination (sessions,
 * locks, elections; one of its rows kills the leader and brings it back), and failover last (it
 * kills leaders). With `--rounds N` the puts, gets, watches, keep-alives and locks run N times
 * over (see rounds.ts).
 */
import { createContext, type BenchContext } from './context.js';
import type { BenchProfile } from './profile.js';
import { Progress } from './progress.js';
import type { RowResult, StoreResults } from './results.js';
import { task, type RowTask } from './row-task.js';
import { electionTasks, sessionAndLockTasks } from './rows/coordination.js';
import { failoverRow } from './rows/failover.js';
import { getTasks } from './rows/get.js';
import { memoryAfterQuietRow, memoryRow } from './rows/memory.js';
import { putTasks, warmUp } from './rows/put.js';
import { loadRestartKeys, restartRow } from './rows/restart.js';
import { mergeRounds } from './rounds.js';
import { watchTasks } from './rows/watch.js';
import type { StoreCluster } from './store.js';
import { sleep } from './wait.js';

export const ROW_GROUPS = ['memory', 'put', 'get', 'watch', 'restart', 'coordination', 'failover'] as const;
export type RowGroup = (typeof ROW_GROUPS)[number];

/** Groups that need the processes the bench started. */
const NEEDS_PROCESSES: ReadonlySet<RowGroup> = new Set(['memory', 'restart', 'failover']);

interface Phase {
  /** Runs when any of these groups is wanted; empty = always. */
  readonly groups: readonly RowGroup[];
  readonly tasks: (ctx: BenchContext) => RowTask[];
  /** Runs `rounds` times (see rounds.ts); the others once. */
  readonly repeated?: boolean;
}

const PHASES: readonly Phase[] = [
  {
    groups: ['memory'],
    tasks: (ctx) => [
      task('memory idle', async () => {
        await sleep(1_000);
        return memoryRow(ctx, 'memory-idle', 'memory, idle');
      }),
    ],
  },
  { groups: [], tasks: (ctx) => [task('warm-up', () => warmUp(ctx))] },
  { groups: ['put'], tasks: putTasks, repeated: true },
  { groups: ['get'], tasks: getTasks, repeated: true },
  { groups: ['watch'], tasks: watchTasks, repeated: true },
  { groups: ['restart', 'memory'], tasks: (ctx) => [task('restart data set', () => loadRestartKeys(ctx))] },
  {
    groups: ['memory'],
    tasks: (ctx) => [
      task('memory after load', () => memoryRow(ctx, 'memory-after-load', 'memory, after the load')),
    ],
  },
  {
    groups: ['memory'],
    tasks: (ctx) => {
      const quietMs = ctx.profile.memoryQuietMs;
      return quietMs === null
        ? []
        : [task('memory after a quiet spell', () => memoryAfterQuietRow(ctx, quietMs))];
    },
  },
  { groups: ['restart'], tasks: (ctx) => [task('restart', () => restartRow(ctx))] },
  { groups: ['coordination'], tasks: sessionAndLockTasks, repeated: true },
  { groups: ['coordination'], tasks: electionTasks },
  { groups: ['failover'], tasks: (ctx) => [task('failover', () => failoverRow(ctx))] },
];

export interface RunStoresOptions {
  readonly profile: BenchProfile;
  readonly groups: ReadonlySet<RowGroup>;
  /** How many times the repeated phases run (1: once). */
  readonly rounds: number;
}

export interface StoresRun {
  readonly results: StoreResults[];
  readonly errors: string[];
}

interface StoreState {
  readonly ctx: BenchContext;
  readonly rows: RowResult[];
  readonly startedAt: Date;
}

export async function runStores(
  clusters: readonly StoreCluster[],
  options: RunStoresOptions,
): Promise<StoresRun> {
  const errors: string[] = [];
  const states: StoreState[] = clusters.map((cluster) => ({
    ctx: createContext(cluster, options.profile, new Progress(cluster.kind)),
    rows: [],
    startedAt: new Date(),
  }));
  for (const group of options.groups) {
    if (!NEEDS_PROCESSES.has(group)) continue;
    for (const { ctx } of states)
      if (!ctx.cluster.managed)
        ctx.progress.note(`skipping ${group}: it needs server processes started by the bench`);
  }
  const wanted = (phase: Phase, cluster: StoreCluster): boolean =>
    phase.groups.length === 0 ||
    phase.groups.some((g) => options.groups.has(g) && (cluster.managed || !NEEDS_PROCESSES.has(g)));

  for (const phase of PHASES) {
    for (let round = 0; round < (phase.repeated ? options.rounds : 1); round++) {
      const taskLists = states.map((state) =>
        wanted(phase, state.ctx.cluster) ? phase.tasks(state.ctx) : [],
      );
      const steps = Math.max(0, ...taskLists.map((t) => t.length));
      for (let step = 0; step < steps; step++) {
        for (const [i, state] of states.entries()) {
          const next = taskLists[i]![step];
          if (next === undefined) continue;
          try {
            state.rows.push(...(await next.run()));
          } catch (error) {
            const message = `${state.ctx.cluster.kind}: ${next.label}: ${error instanceof Error ? error.message : String(error)}`;
            errors.push(message);
            state.ctx.progress.note(`FAILED ${message}`);
          }
        }
      }
    }
  }
  for (const { ctx } of states) ctx.progress.clear();

  return {
    results: states.map(({ ctx, rows, startedAt }) => ({
      kind: ctx.cluster.kind,
      version: ctx.cluster.version,
      settings: ctx.cluster.settings,
      clientRouting: ctx.cluster.clientRouting,
      rows: mergeRounds(rows),
      startedAt: startedAt.toISOString(),
      elapsedSeconds: (Date.now() - startedAt.getTime()) / 1000,
    })),
    errors,
  };
}
