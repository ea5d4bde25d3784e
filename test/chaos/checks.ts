/**
 * The checks besides linearizability, all on the same run:
 * - every node ends with the same committed history (read back as a watch from revision 1);
 * - that history holds every acknowledged write at the revision it was acknowledged with,
 *   no write that failed, no value nobody wrote, and no write applied twice;
 * - the live watch opened at the start saw exactly that history: in order, nothing missing,
 *   nothing duplicated, across every failover;
 * - every node's final state (a serializable read once it has applied everything) equals the
 *   final linearizable reads.
 */
import type { Crash } from './chaos-cluster.js';
import type { CompletedOperation } from './history.js';
import { formatEvent, type RecordedEvent } from './watch-recorder.js';

export interface CheckOutcome {
  readonly name: string;
  readonly passed: boolean;
  readonly summary: string;
  /** The first few problems, for a person. */
  readonly problems: readonly string[];
}

const MAX_PROBLEMS = 10;

function outcome(name: string, problems: string[], okSummary: string): CheckOutcome {
  return {
    name,
    passed: problems.length === 0,
    summary: problems.length === 0 ? okSummary : `${problems.length} problem(s)`,
    problems: problems.slice(0, MAX_PROBLEMS),
  };
}

/** Every node's history (up to the sentinel) is the same, event for event. */
export function checkNodesAgree(histories: ReadonlyMap<string, readonly RecordedEvent[]>): CheckOutcome {
  const problems: string[] = [];
  const entries = [...histories];
  const [referenceId, reference] = entries[0] ?? ['-', []];
  for (const [id, history] of entries.slice(1)) {
    const at = firstDifference(reference, history);
    if (at !== -1) {
      problems.push(
        `${id} differs from ${referenceId} at event #${at}: ` +
          `${show(history[at])} vs ${show(reference[at])} (${history.length} vs ${reference.length} events)`,
      );
    }
  }
  return outcome(
    'node histories agree',
    problems,
    `${entries.length} nodes, ${reference.length} events each`,
  );
}

/** The committed history against what clients were told. */
export function checkAcknowledgedWrites(
  history: readonly RecordedEvent[],
  operations: readonly CompletedOperation[],
): CheckOutcome {
  const problems: string[] = [];
  const byRevision = new Map<number, RecordedEvent[]>();
  const timesWritten = new Map<string, number>();
  for (const event of history) {
    byRevision.set(event.revision, [...(byRevision.get(event.revision) ?? []), event]);
    if (event.type === 'put')
      timesWritten.set(
        valueKey(event.key, event.value),
        (timesWritten.get(valueKey(event.key, event.value)) ?? 0) + 1,
      );
  }
  const writes = new Map<string, CompletedOperation>();
  let acknowledged = 0;
  for (const op of operations) {
    const input = op.input;
    if (input.f === 'put' || input.f === 'cas') writes.set(valueKey(input.key, input.value), op);
    if (op.type !== 'ok') continue;
    const expected = expectedEvent(op);
    if (expected === null) continue;
    acknowledged++;
    const atRevision = byRevision.get(expected.revision) ?? [];
    if (!atRevision.some((e) => formatEvent(e) === formatEvent(expected))) {
      problems.push(
        `acknowledged ${describe(op)} (revision ${expected.revision}) is not in the history` +
          (atRevision.length > 0
            ? `; revision ${expected.revision} holds ${atRevision.map(formatEvent).join(', ')}`
            : ''),
      );
    }
  }
  for (const [key, count] of timesWritten) {
    const [k, v] = key.split('\u0000') as [string, string];
    const writer = writes.get(key);
    if (writer === undefined) problems.push(`${k} = ${v} is in the history but nobody wrote it`);
    else if (writer.type === 'fail')
      problems.push(`${describe(writer)} failed (${writer.error}) but is in the history`);
    else if (
      writer.input.f === 'cas' &&
      writer.type === 'ok' &&
      writer.output?.f === 'cas' &&
      !writer.output.succeeded
    ) {
      problems.push(`${describe(writer)} reported a failed compare but its value is in the history`);
    }
    if (count > 1) problems.push(`${k} = ${v} was applied ${count} times`);
  }
  return outcome('acknowledged writes', problems, `${acknowledged} acknowledged writes all in the history`);
}

/** The live watch against the committed history (both cut at the sentinel). */
export function checkWatch(
  watched: readonly RecordedEvent[],
  history: readonly RecordedEvent[],
): CheckOutcome {
  const problems: string[] = [];
  const seen = new Set<string>();
  let previous = 0;
  for (const event of watched) {
    const id = formatEvent(event);
    if (seen.has(id)) problems.push(`duplicate event ${id}`);
    seen.add(id);
    if (event.revision < previous) problems.push(`out of order: ${id} after revision ${previous}`);
    previous = event.revision;
  }
  const at = firstDifference(history, watched);
  if (at !== -1) {
    problems.push(
      `the watch diverges from the history at event #${at}: saw ${show(watched[at])}, the history has ${show(history[at])} ` +
        `(${watched.length} vs ${history.length} events)`,
    );
  }
  return outcome(
    'watch saw the committed sequence',
    problems,
    `${watched.length} events, in order, none missed or repeated`,
  );
}

/** Every node's final values against the final linearizable reads. */
export function checkFinalState(
  finalValues: ReadonlyMap<string, string | null>,
  perNode: ReadonlyMap<string, ReadonlyMap<string, string | null> | Error>,
): CheckOutcome {
  const problems: string[] = [];
  for (const [id, state] of perNode) {
    if (state instanceof Error) {
      problems.push(`${id}: could not read its final state: ${state.message}`);
      continue;
    }
    for (const [key, value] of finalValues) {
      const local = state.get(key) ?? null;
      if (local !== value)
        problems.push(`${id}: ${key} = ${String(local)}, the cluster says ${String(value)}`);
    }
  }
  return outcome(
    'final state on every node',
    problems,
    `${perNode.size} nodes × ${finalValues.size} keys agree`,
  );
}

/** No node exited unless the nemesis killed it. */
export function checkNoCrash(crashes: readonly Crash[], logOf: (id: string) => string): CheckOutcome {
  const problems = crashes.map((crash) => {
    const tail = logOf(crash.id).trimEnd().split('\n').slice(-3).join(' | ');
    return `${crash.id} exited on its own (code ${String(crash.code)}, signal ${String(crash.signal)}); log tail: ${tail.slice(0, 600)}`;
  });
  return outcome('no node crashed', problems, 'every exit was a SIGKILL from the nemesis');
}

function expectedEvent(op: CompletedOperation): RecordedEvent | null {
  const revision = op.revision;
  if (revision === undefined) return null;
  const input = op.input;
  if (input.f === 'put') return { revision, type: 'put', key: input.key, value: input.value };
  if (input.f === 'cas' && op.output?.f === 'cas' && op.output.succeeded) {
    return { revision, type: 'put', key: input.key, value: input.value };
  }
  if (input.f === 'delete' && op.output?.f === 'delete' && op.output.deleted === 1) {
    return { revision, type: 'delete', key: input.key, value: '' };
  }
  return null;
}

function describe(op: CompletedOperation): string {
  const input = op.input;
  const what =
    input.f === 'put'
      ? `put ${input.key} = ${input.value}`
      : input.f === 'cas'
        ? `cas ${input.key} ${String(input.expected)} → ${input.value}`
        : `${input.f} ${input.key}`;
  return `#${op.id} (p${op.process}) ${what}`;
}

const valueKey = (key: string, value: string) => `${key}\u0000${value}`;

const show = (event: RecordedEvent | undefined) => (event === undefined ? '(nothing)' : formatEvent(event));

function firstDifference(a: readonly RecordedEvent[], b: readonly RecordedEvent[]): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined || formatEvent(x) !== formatEvent(y)) return i;
  }
  return -1;
}
