/**
 * Histories in the Jepsen shape: every operation is an `invoke` event followed by exactly one
 * completion: `ok` (it happened, with this output), `fail` (it certainly did not happen) or
 * `info` (unknown: a timeout, a lost connection). Times are monotonic milliseconds.
 *
 * `toOperations` turns that into the checker's input, one interval per operation:
 * - fail: dropped, it had no effect;
 * - info: it may have happened at any time after its invocation, so it gets an infinite return
 *   time and no output (as etcd's `patchLinearizableOperations` does);
 * - an invoke with no completion (the run ended first) counts as info.
 */

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

export type HistoryEvent<Input, Output> =
  | {
      readonly type: 'invoke';
      readonly id: number;
      readonly process: number;
      readonly time: number;
      readonly input: Input;
    }
  | { readonly type: 'ok'; readonly id: number; readonly time: number; readonly output: Output }
  | { readonly type: 'fail' | 'info'; readonly id: number; readonly time: number; readonly error?: string };

export interface Operation<Input, Output> {
  /** The id of the invocation in the history, for reports. */
  readonly id: number;
  readonly process: number;
  readonly input: Input;
  /** undefined: the outcome is unknown. */
  readonly output: Output | undefined;
  readonly call: number;
  /** Infinity when the outcome is unknown and nothing later bounds it. */
  readonly return: number;
}

export interface OperationsSummary {
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
  /** Invocations the run ended before they completed (counted in `info` too). */
  readonly unfinished: number;
}

export function toOperations<I, O>(
  events: readonly HistoryEvent<I, O>[],
): { operations: Operation<I, O>[]; summary: OperationsSummary } {
  const invocations = new Map<number, Extract<HistoryEvent<I, O>, { type: 'invoke' }>>();
  const operations: Operation<I, O>[] = [];
  let ok = 0;
  let fail = 0;
  let info = 0;
  for (const event of events) {
    if (event.type === 'invoke') {
      if (invocations.has(event.id)) throw new Error(`operation ${event.id} is invoked twice`);
      invocations.set(event.id, event);
      continue;
    }
    const invoke = invocations.get(event.id);
    if (invoke === undefined) throw new Error(`operation ${event.id} completes without an invocation`);
    invocations.delete(event.id);
    if (event.time < invoke.time) throw new Error(`operation ${event.id} completes before it was invoked`);
    const base = { id: event.id, process: invoke.process, input: invoke.input, call: invoke.time };
    if (event.type === 'ok') {
      ok++;
      operations.push({ ...base, output: event.output, return: event.time });
    } else if (event.type === 'fail') {
      fail++;
    } else {
      info++;
      operations.push({ ...base, output: undefined, return: Infinity });
    }
  }
  for (const invoke of invocations.values()) {
    operations.push({
      id: invoke.id,
      process: invoke.process,
      input: invoke.input,
      call: invoke.time,
      output: undefined,
      return: Infinity,
    });
  }
  return { operations, summary: { ok, fail, info: info + invocations.size, unfinished: invocations.size } };
}
