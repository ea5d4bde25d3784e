/**
 * The Wing–Gong linearizability search with Lowe's memoization, as porcupine implements it, for
 * the operations of ONE partition (one key).
 *
 * Calls and returns sit in one time-ordered doubly linked list. The search walks it: at a call
 * it tries to linearize that operation next (the model must accept it in the current state);
 * if it can, the operation's call and return leave the list and the walk restarts at the
 * head; at a return it has reached an operation that had to be linearized by now and was not,
 * so it backtracks, undoing the last choice and trying the next candidate. A memo of
 * (set of linearized operations, state) pairs already explored keeps it from exploring the
 * same configuration twice, which turns the exponential search into something that finishes
 * for realistic histories.
 *
 * Operations with an unknown outcome have an infinite return time: they may be linearized
 * anywhere after their call, including "after everything", which is how "it never happened"
 * is expressed. Once only such operations are left the history is linearizable (the model
 * must accept an unknown outcome in any state).
 *
 * The memo keys the linearized set by a 2×32-bit Zobrist hash (O(1) to update); `exact: true`
 * keys it by the whole set instead, to confirm a "not linearizable" verdict beyond any doubt
 * about hash collisions.
 */
import { SeededRandom } from '../../../src/common/prng.js';
import { Bitset } from './bitset.js';
import type { Operation } from './history.js';
import { ILLEGAL, type Model } from './model.js';

export interface SearchBudget {
  /** Give up after this many steps (a step: one entry visited). */
  readonly maxSteps: number;
  /** Give up at this performance.now() time. */
  readonly deadline: number;
}

export interface PartialLinearization<State> {
  /** Indexes (into the searched array) of the longest prefix the search could linearize, in order. */
  readonly order: readonly number[];
  /** The model's state after it. */
  readonly state: State;
}

export type SearchResult<State> =
  | { readonly verdict: 'linearizable'; readonly steps: number; readonly order: readonly number[] }
  | {
      readonly verdict: 'not-linearizable';
      readonly steps: number;
      readonly longest: PartialLinearization<State>;
    }
  | { readonly verdict: 'unknown'; readonly steps: number; readonly reason: 'steps' | 'time' };

interface Entry {
  readonly kind: 'call' | 'return';
  /** Index of the operation in the searched array. */
  readonly op: number;
  readonly time: number;
  /** A call's return entry. */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

export function searchLinearization<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  budget: SearchBudget,
  options: { readonly exact?: boolean } = {},
): SearchResult<S> {
  const head = buildEntryList(operations);
  const n = operations.length;
  const linearized = new Bitset(n);
  const zobrist = zobristTable(n);
  let hashLow = 0;
  let hashHigh = 0;
  const memo = new Set<string>();
  const stack: { entry: Entry; state: S }[] = [];
  let state = model.init();
  // Operations that still must be linearized before their (finite) return.
  let definiteLeft = operations.filter((o) => o.return !== Infinity).length;
  let longest: PartialLinearization<S> = { order: [], state };
  let steps = 0;

  const toggle = (op: number) => {
    hashLow ^= zobrist[2 * op]!;
    hashHigh ^= zobrist[2 * op + 1]!;
  };
  const memoKey = (next: S) =>
    options.exact === true
      ? `${linearized.key()}|${model.stateKey(next)}`
      : `${hashLow}:${hashHigh}|${model.stateKey(next)}`;

  let entry = head.next;
  while (head.next !== null && definiteLeft > 0) {
    steps++;
    if (steps > budget.maxSteps) return { verdict: 'unknown', steps, reason: 'steps' };
    if ((steps & 0x3ff) === 0 && performance.now() > budget.deadline) {
      return { verdict: 'unknown', steps, reason: 'time' };
    }
    const current = entry!;
    if (current.kind === 'call') {
      const op = operations[current.op]!;
      const next = model.step(state, op.input, op.output);
      if (next !== ILLEGAL) {
        linearized.set(current.op);
        toggle(current.op);
        const key = memoKey(next);
        if (!memo.has(key)) {
          memo.add(key);
          stack.push({ entry: current, state });
          state = next;
          lift(current);
          if (op.return !== Infinity) definiteLeft--;
          if (stack.length > longest.order.length) {
            longest = { order: stack.map((s) => s.entry.op), state };
          }
          entry = head.next;
          continue;
        }
        linearized.clear(current.op);
        toggle(current.op);
      }
      entry = current.next;
    } else {
      // An operation's return is reached and it is not linearized yet: undo the last choice.
      const top = stack.pop();
      if (top === undefined) return { verdict: 'not-linearizable', steps, longest };
      state = top.state;
      linearized.clear(top.entry.op);
      toggle(top.entry.op);
      unlift(top.entry);
      if (operations[top.entry.op]!.return !== Infinity) definiteLeft++;
      entry = top.entry.next;
    }
  }
  return { verdict: 'linearizable', steps, order: stack.map((s) => s.entry.op) };
}

/**
 * A sentinel head, then every call and return by time. At equal times calls come first: two
 * operations that touch at an instant count as concurrent (the permissive reading, since
 * clocks this coarse cannot order them).
 */
function buildEntryList<I, O>(operations: readonly Operation<I, O>[]): Entry {
  const entries: Entry[] = [];
  operations.forEach((operation, op) => {
    if (!(operation.return >= operation.call)) {
      throw new Error(
        `operation ${operation.id} returns (${operation.return}) before its call (${operation.call})`,
      );
    }
    const ret: Entry = { kind: 'return', op, time: operation.return, match: null, prev: null, next: null };
    const call: Entry = { kind: 'call', op, time: operation.call, match: ret, prev: null, next: null };
    entries.push(call, ret);
  });
  entries.sort((a, b) => a.time - b.time || (a.kind === b.kind ? a.op - b.op : a.kind === 'call' ? -1 : 1));
  const head: Entry = { kind: 'call', op: -1, time: -Infinity, match: null, prev: null, next: null };
  let previous = head;
  for (const entry of entries) {
    previous.next = entry;
    entry.prev = previous;
    previous = entry;
  }
  return head;
}

/** Takes a call and its return out of the list. */
function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Puts them back, exactly where they were (the reverse of lift). */
function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next !== null) call.next.prev = call;
}

function zobristTable(n: number): Uint32Array {
  // A fixed seed: verdicts must not depend on luck, and a collision would be reproducible.
  const random = new SeededRandom(0x5eed);
  const table = new Uint32Array(2 * n);
  for (let i = 0; i < table.length; i++) table[i] = Math.floor(random.next() * 4294967296);
  return table;
}
