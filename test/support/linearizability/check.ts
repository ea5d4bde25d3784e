/**
 * Linearizability of a whole KV history: P-compositional, so each key is checked on its own
 * (a history is linearizable iff every per-key sub-history is), which keeps each search small.
 *
 * The verdict has three values, and "unknown" is not "fine": it means the search ran out of
 * its budget (steps or time) on some key before it could decide.
 */
import { boundUnknownWrites, type KvOperation } from './kv-patch.js';
import { kvModel, type KvInput, type KvOutput, type KvState } from './kv-model.js';
import { toOperations, type HistoryEvent, type OperationsSummary } from './history.js';
import { ILLEGAL } from './model.js';
import { searchLinearization, type PartialLinearization } from './search.js';

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface CheckOptions {
  /** Steps per key before the verdict for that key is "unknown" (default 20 million). */
  readonly maxStepsPerKey?: number;
  /** Wall-clock budget for the whole check, in ms (default 60 s). */
  readonly timeLimitMs?: number;
}

export interface KeyResult {
  readonly key: string;
  readonly verdict: Verdict;
  readonly operations: number;
  /** Operations whose outcome stayed unknown (open-ended) after bounding. */
  readonly unknownOutcome: number;
  readonly steps: number;
  readonly ms: number;
  /** For "unknown": which budget ran out. */
  readonly exhausted?: 'steps' | 'time';
  /** For "not-linearizable": why, for a person. */
  readonly explanation?: string;
}

export interface CheckResult {
  readonly verdict: Verdict;
  readonly keys: readonly KeyResult[];
  readonly summary: OperationsSummary;
  /** Unknown writes whose interval an observation closed (see kv-patch.ts). */
  readonly boundedUnknownWrites: number;
}

export type KvEvent = HistoryEvent<KvInput, KvOutput>;

export function checkKvHistory(events: readonly KvEvent[], options: CheckOptions = {}): CheckResult {
  const { operations, summary } = toOperations(events);
  const result = checkKvOperations(operations, options);
  return { ...result, summary };
}

export function checkKvOperations(
  operations: readonly KvOperation[],
  options: CheckOptions = {},
): Omit<CheckResult, 'summary'> {
  const maxSteps = options.maxStepsPerKey ?? 20_000_000;
  const deadline = performance.now() + (options.timeLimitMs ?? 60_000);
  // Unknown reads observed nothing and change nothing.
  const relevant = operations.filter((o) => !(o.input.f === 'get' && o.output === undefined));
  const { operations: patched, bounded } = boundUnknownWrites(relevant);

  const byKey = new Map<string, KvOperation[]>();
  for (const o of patched) {
    const list = byKey.get(o.input.key) ?? [];
    list.push(o);
    byKey.set(o.input.key, list);
  }
  // Small keys first, so one hard key cannot starve the easy ones of the shared time budget.
  const partitions = [...byKey.entries()].sort((a, b) => a[1].length - b[1].length);
  const keys = partitions.map(([key, ops]) => checkKey(key, ops, { maxSteps, deadline }));
  const verdict: Verdict = keys.some((k) => k.verdict === 'not-linearizable')
    ? 'not-linearizable'
    : keys.some((k) => k.verdict === 'unknown')
      ? 'unknown'
      : 'linearizable';
  return { verdict, keys: keys.sort((a, b) => a.key.localeCompare(b.key)), boundedUnknownWrites: bounded };
}

function checkKey(
  key: string,
  operations: readonly KvOperation[],
  budget: { maxSteps: number; deadline: number },
): KeyResult {
  const started = performance.now();
  const base = {
    key,
    operations: operations.length,
    unknownOutcome: operations.filter((o) => o.return === Infinity).length,
  };
  const result = searchLinearization(kvModel, operations, budget);
  if (result.verdict === 'linearizable') {
    return { ...base, verdict: 'linearizable', steps: result.steps, ms: performance.now() - started };
  }
  if (result.verdict === 'unknown') {
    return {
      ...base,
      verdict: 'unknown',
      steps: result.steps,
      ms: performance.now() - started,
      exhausted: result.reason,
    };
  }
  // Confirm with the exact memo: a hash collision must never be what fails a run.
  const exact = searchLinearization(kvModel, operations, budget, { exact: true });
  const steps = result.steps + exact.steps;
  const ms = performance.now() - started;
  if (exact.verdict === 'linearizable') return { ...base, verdict: 'linearizable', steps, ms };
  if (exact.verdict === 'unknown') {
    return {
      ...base,
      verdict: 'unknown',
      steps,
      ms,
      exhausted: exact.reason,
      explanation: `the hashed search found no linearization; the exact confirmation ran out of ${exact.reason}`,
    };
  }
  return { ...base, verdict: 'not-linearizable', steps, ms, explanation: explain(operations, exact.longest) };
}

/**
 * Where the search got stuck, for a person: the longest linearizable prefix it found (its last
 * few operations), the state after it, and every operation that could have come next with the
 * reason the model refused it.
 */
export function explain(
  operations: readonly KvOperation[],
  longest: PartialLinearization<KvState>,
  tail = 8,
): string {
  const done = new Set(longest.order);
  const pending = operations.map((o, i) => ({ o, i })).filter(({ i }) => !done.has(i));
  const firstReturn = Math.min(...pending.map(({ o }) => o.return));
  const candidates = pending.filter(({ o }) => o.call <= firstReturn).sort((a, b) => a.o.call - b.o.call);
  const lines: string[] = [];
  const show = (o: KvOperation) =>
    `#${o.id} p${o.process} [${o.call.toFixed(1)}, ${o.return === Infinity ? '∞' : o.return.toFixed(1)}] ` +
    kvModel.describeOperation(o.input, o.output);
  lines.push(
    `linearized ${longest.order.length} of ${operations.length} operations; ` +
      `the last ${Math.min(tail, longest.order.length)}:`,
  );
  for (const i of longest.order.slice(-tail)) lines.push(`  ${show(operations[i]!)}`);
  lines.push(`state then: ${kvModel.describeState(longest.state)}`);
  lines.push('none of these could come next:');
  for (const { o } of candidates) lines.push(`  ${show(o)}${why(o, longest.state)}`);
  return lines.join('\n');
}

function why(o: KvOperation, state: KvState): string {
  return kvModel.step(state, o.input, o.output) === ILLEGAL
    ? '  ← impossible in this state'
    : '  (legal here, but every order from there is a dead end)';
}
