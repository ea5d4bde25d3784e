/**
 * One chaos run, start to finish: cluster behind proxies, live watch, workload and nemesis for
 * the given time, healing, recovery, final reads, every check. Everything it starts it stops,
 * whatever happens (also on abort).
 */
import { RaftreeClient } from '../../src/client/index.js';
import { checkKvHistory, type CheckResult } from '../support/linearizability/index.js';
import { ChaosCluster } from './chaos-cluster.js';
import {
  checkAcknowledgedWrites,
  checkFinalState,
  checkNoCrash,
  checkNodesAgree,
  checkWatch,
  type CheckOutcome,
} from './checks.js';
import { HistoryRecorder, type ChaosEvent } from './history.js';
import { latencyBuckets, type LatencyBucket } from './latency.js';
import { Nemesis, type FaultKind, type TimelineEntry } from './nemesis.js';
import {
  readNodeHistory,
  readNodeState,
  waitForAgreement,
  waitForApplied,
  writeSentinel,
} from './recovery.js';
import { WatchRecorder, type RecordedEvent } from './watch-recorder.js';
import { keyNames, Workload } from './workload.js';

export interface ChaosOptions {
  readonly timeMs: number;
  readonly nodes: number;
  readonly nemesis: readonly FaultKind[];
  readonly clients: number;
  readonly keys: number;
  readonly seed: number;
  /** Each client operation's deadline (default 2000). */
  readonly opTimeoutMs?: number;
  /** --tick-ms of the nodes (default 25). */
  readonly tickMs?: number;
  /** --snapshot-entries of the nodes (default 500: snapshots happen during a run). */
  readonly snapshotEntries?: number;
  /** The built CLI to test (default: this checkout's dist/raftree.mjs). */
  readonly cliMain?: string;
  /** Bound on the linearizability search (default 120 s). */
  readonly checkTimeLimitMs?: number;
  /** Bound on recovery after healing (default 30 s). */
  readonly recoveryTimeoutMs?: number;
  readonly onProgress?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export type RunVerdict = 'pass' | 'fail' | 'unknown';

export interface OperationCounts {
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
  readonly byFunction: Readonly<Record<string, { ok: number; fail: number; info: number }>>;
}

export interface ChaosReport {
  readonly options: Omit<ChaosOptions, 'onProgress' | 'signal'>;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly verdict: RunVerdict;
  /** Harness-level failures (no leader at the start, no recovery after healing...). */
  readonly errors: readonly string[];
  readonly linearizability: CheckResult | null;
  readonly checks: readonly CheckOutcome[];
  readonly counts: OperationCounts;
  readonly timeline: readonly TimelineEntry[];
  readonly faultsInjected: number;
  readonly latency: readonly LatencyBucket[];
  readonly watch: { readonly events: number; readonly creations: number; readonly reconnects: number };
  readonly events: readonly ChaosEvent[];
  readonly logs: ReadonlyMap<string, string>;
  readonly aborted: boolean;
}

const PREFIX = '/chaos/';
const SENTINEL = `${PREFIX}~end`;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const progress = options.onProgress ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const errors: string[] = [];
  const checks: CheckOutcome[] = [];
  let linearizability: CheckResult | null = null;
  // Replaced when the workload starts, so that history times count from there.
  let recorder = new HistoryRecorder();
  const clock = () => recorder.now();
  let cluster: ChaosCluster | null = null;
  let liveWatch: WatchRecorder | null = null;
  let nemesis: Nemesis | null = null;
  let workload: Workload | null = null;
  let logs = new Map<string, string>();
  let runMs = 0;

  try {
    progress(`starting ${options.nodes} nodes behind ${options.nodes * (options.nodes - 1)} link proxies`);
    cluster = await ChaosCluster.start({
      size: options.nodes,
      tickMs: options.tickMs ?? 25,
      snapshotEntries: options.snapshotEntries ?? 500,
      ...(options.cliMain !== undefined ? { cliMain: options.cliMain } : {}),
    });
    const firstLeader = await waitForAgreement(cluster, 30_000);
    progress(
      `leader ${firstLeader}; ${options.clients} clients on ${options.keys} keys for ${options.timeMs / 1000} s, nemesis: ${options.nemesis.join(', ') || 'none'}, seed ${options.seed}`,
    );

    liveWatch = new WatchRecorder(cluster.endpoints(), PREFIX);
    recorder = new HistoryRecorder();
    nemesis = new Nemesis(cluster, { kinds: options.nemesis, seed: options.seed }, clock);
    workload = new Workload(
      {
        endpoints: cluster.endpoints(),
        clients: options.clients,
        keys: options.keys,
        opTimeoutMs: options.opTimeoutMs ?? 2_000,
        seed: options.seed,
        prefix: PREFIX,
      },
      recorder,
    );
    workload.start();
    nemesis.start();
    const ticker = setInterval(() => progress(progressLine(recorder, nemesis!)), 5_000);
    try {
      await abortableSleep(options.timeMs, options.signal);
    } finally {
      clearInterval(ticker);
    }
    progress('healing: every link passes, every node running; stopping the clients');
    await nemesis.heal();
    await workload.stop();
    runMs = clock();
    if (options.signal?.aborted) throw new AbortedRun();

    const recoveryMs = options.recoveryTimeoutMs ?? 30_000;
    const leader = await waitForAgreement(cluster, recoveryMs);
    const sentinelRevision = await writeSentinel(cluster.endpoints(), SENTINEL, recoveryMs);
    await waitForApplied(cluster, leader, recoveryMs);
    progress(`recovered: leader ${leader}, sentinel at revision ${sentinelRevision}`);

    const finalValues = await finalReads(
      cluster.endpoints(),
      recorder,
      options.clients,
      keyNames(PREFIX, options.keys),
    );
    const states = new Map<string, Map<string, string | null> | Error>();
    const histories = new Map<string, RecordedEvent[]>();
    for (const id of cluster.ids) {
      const address = cluster.node(id).address;
      states.set(id, await readNodeState(address, PREFIX, SENTINEL).catch((e: unknown) => asError(e)));
      try {
        histories.set(id, await readNodeHistory(address, PREFIX, sentinelRevision, 20_000));
      } catch (error) {
        errors.push(`${id}: ${asError(error).message}`);
      }
    }
    const watchReached = await liveWatch.waitFor(sentinelRevision, 20_000);
    const watched = liveWatch.events.filter((e) => e.revision <= sentinelRevision);

    progress(`checking ${(recorder.events.length / 2) | 0} operations for linearizability`);
    linearizability = checkKvHistory(recorder.events, { timeLimitMs: options.checkTimeLimitMs ?? 120_000 });
    // The leader's history is the reference; every other node must match it.
    const reference = histories.get(leader) ?? [...histories.values()][0];
    if (reference !== undefined) {
      checks.push(checkNodesAgree(new Map([[leader, reference], ...histories])));
      checks.push(
        checkAcknowledgedWrites(
          reference.filter((e) => e.key !== SENTINEL),
          recorder.completed,
        ),
      );
      let watchCheck = checkWatch(watched, reference);
      if (!watchReached) {
        watchCheck = {
          ...watchCheck,
          passed: false,
          summary: 'the live watch did not reach the end of the history',
          problems: [
            `last revision seen ${watched.at(-1)?.revision ?? 0}, wanted ${sentinelRevision} (${liveWatch.error?.message ?? 'no error'})`,
            ...watchCheck.problems,
          ],
        };
      }
      checks.push(watchCheck);
    }
    checks.push(checkFinalState(finalValues, states));
    checks.push(checkNoCrash(cluster.crashes, (id) => cluster!.logs(id)));
  } catch (error) {
    if (error instanceof AbortedRun || options.signal?.aborted) errors.push('aborted');
    else errors.push(asError(error).message);
  } finally {
    liveWatch?.close();
    if (cluster !== null) {
      // Nothing may be left behind, even after a failure halfway through.
      await nemesis?.stop().catch(() => undefined);
      await workload?.stop().catch(() => undefined);
      logs = new Map(cluster.ids.map((id) => [id, cluster!.logs(id)]));
      await cluster.stop();
    }
  }

  const verdict: RunVerdict =
    errors.length > 0 || checks.some((c) => !c.passed) || linearizability?.verdict === 'not-linearizable'
      ? 'fail'
      : linearizability?.verdict === 'unknown'
        ? 'unknown'
        : linearizability === null
          ? 'fail'
          : 'pass';
  const { signal: _signal, onProgress: _onProgress, ...reportedOptions } = options;
  return {
    options: reportedOptions,
    startedAt,
    durationMs: runMs,
    verdict,
    errors,
    linearizability,
    checks,
    counts: countOperations(recorder),
    timeline: nemesis?.timeline ?? [],
    faultsInjected: nemesis?.stepsRun ?? 0,
    latency: latencyBuckets(recorder.completed, Math.max(runMs, 1)),
    watch: {
      events: liveWatch?.events.length ?? 0,
      creations: liveWatch?.creations ?? 0,
      reconnects: liveWatch?.reconnects ?? 0,
    },
    events: recorder.events,
    logs,
    aborted: options.signal?.aborted === true,
  };
}

class AbortedRun extends Error {}

/** One linearizable read per key, recorded in the history (by an extra "final" process). */
async function finalReads(
  endpoints: readonly string[],
  recorder: HistoryRecorder,
  process: number,
  keys: readonly string[],
): Promise<Map<string, string | null>> {
  const client = new RaftreeClient({ endpoints, deadlineMs: 5_000 });
  const values = new Map<string, string | null>();
  try {
    for (const key of keys) {
      const id = recorder.invoke(process, { f: 'get', key });
      const result = await client.get(key);
      const value = result.kvs[0]?.text() ?? null;
      recorder.ok(id, { f: 'get', value }, { revision: result.revision, member: result.header.memberId });
      values.set(key, value);
    }
  } finally {
    client.close();
  }
  return values;
}

function countOperations(recorder: HistoryRecorder): OperationCounts {
  const byFunction: Record<string, { ok: number; fail: number; info: number }> = {};
  let ok = 0;
  let fail = 0;
  let info = 0;
  for (const op of recorder.completed) {
    const entry = (byFunction[op.input.f] ??= { ok: 0, fail: 0, info: 0 });
    entry[op.type]++;
    if (op.type === 'ok') ok++;
    else if (op.type === 'fail') fail++;
    else info++;
  }
  return { ok, fail, info, byFunction };
}

function progressLine(recorder: HistoryRecorder, nemesis: Nemesis): string {
  let ok = 0;
  let fail = 0;
  let info = 0;
  for (const op of recorder.completed) {
    if (op.type === 'ok') ok++;
    else if (op.type === 'fail') fail++;
    else info++;
  }
  const now = recorder.now();
  const active = nemesis.activeAt(now);
  return `t=${(now / 1000).toFixed(0)}s ok ${ok} fail ${fail} info ${info}; ${active.length > 0 ? active.join(' + ') : 'no fault'}`;
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
