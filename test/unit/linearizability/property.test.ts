/**
 * Property tests: a history produced by really executing operations one at a time (each at an
 * instant inside its recorded interval) is always accepted, however the intervals overlap and
 * whichever writes are recorded with an unknown outcome; changing one read's value to one
 * nobody wrote is always rejected.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkKvOperations,
  kvModel,
  ILLEGAL,
  type KvInput,
  type KvOperation,
  type KvOutput,
  type KvState,
} from '../../support/linearizability/index.js';

interface PlannedOp {
  readonly kind: 'put' | 'get' | 'cas' | 'delete';
  readonly key: number;
  /** For cas: whether to expect the current value (so it succeeds) or a stale one. */
  readonly expectCurrent: boolean;
  readonly process: number;
  /** How far the interval stretches before and after the instant the op took effect. */
  readonly before: number;
  readonly after: number;
  /** Record it as "unknown outcome" (writes only). */
  readonly unknown: boolean;
}

const plannedOp = fc.record({
  kind: fc.constantFrom<PlannedOp['kind']>('put', 'get', 'get', 'cas', 'delete'),
  key: fc.integer({ min: 0, max: 2 }),
  expectCurrent: fc.boolean(),
  process: fc.integer({ min: 0, max: 5 }),
  before: fc.integer({ min: 0, max: 40 }),
  after: fc.integer({ min: 0, max: 40 }),
  unknown: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
});

/** Runs the plan sequentially against the model; op i takes effect at time 10·i. */
function execute(plan: readonly PlannedOp[]): KvOperation[] {
  const state = new Map<string, KvState>();
  const operations: KvOperation[] = [];
  plan.forEach((p, i) => {
    const key = `k${p.key}`;
    const current = state.get(key) ?? null;
    const value = `v${i}`;
    const at = 10 * i;
    let input: KvInput;
    switch (p.kind) {
      case 'put':
        input = { f: 'put', key, value };
        break;
      case 'get':
        input = { f: 'get', key };
        break;
      case 'cas':
        input = { f: 'cas', key, expected: p.expectCurrent ? current : `stale${i}`, value };
        break;
      case 'delete':
        input = { f: 'delete', key };
        break;
    }
    const output = outputOf(input, current);
    const next = kvModel.step(current, input, output);
    if (next === ILLEGAL) throw new Error('the generator disagrees with the model');
    state.set(key, next);
    const unknown = p.unknown && p.kind !== 'get';
    operations.push({
      id: i,
      process: p.process,
      input,
      call: at - p.before,
      return: unknown ? Infinity : at + p.after,
      output: unknown ? undefined : output,
    });
  });
  return operations;
}

function outputOf(input: KvInput, current: KvState): KvOutput {
  switch (input.f) {
    case 'put':
      return { f: 'put' };
    case 'get':
      return { f: 'get', value: current };
    case 'cas':
      return { f: 'cas', succeeded: current === input.expected };
    case 'delete':
      return { f: 'delete', deleted: current === null ? 0 : 1 };
  }
}

describe('checker properties', () => {
  it('accepts every history of a sequential execution, with overlapping windows and unknown outcomes', () => {
    fc.assert(
      fc.property(fc.array(plannedOp, { minLength: 1, maxLength: 60 }), (plan) => {
        const result = checkKvOperations(execute(plan));
        expect(result.verdict).toBe('linearizable');
      }),
      { numRuns: 300 },
    );
  });

  it('rejects the same history once one read returns a value nobody wrote', () => {
    fc.assert(
      fc.property(fc.array(plannedOp, { minLength: 1, maxLength: 60 }), fc.nat(), (plan, pick) => {
        const operations = execute(plan);
        const reads = operations.filter((o) => o.input.f === 'get');
        fc.pre(reads.length > 0);
        const victim = reads[pick % reads.length]!;
        const mutated = operations.map((o) =>
          o === victim ? { ...o, output: { f: 'get' as const, value: 'never-written' } } : o,
        );
        expect(checkKvOperations(mutated).verdict).toBe('not-linearizable');
      }),
      { numRuns: 300 },
    );
  });

  it('rejects a stale read in a history without concurrency', () => {
    const sequential = plannedOp.map((p) => ({ ...p, before: 0, after: 4, unknown: false }));
    fc.assert(
      fc.property(fc.array(sequential, { minLength: 2, maxLength: 40 }), fc.nat(), (plan, pick) => {
        const operations = execute(plan);
        // Reads whose key held some other value earlier: return that one instead.
        const candidates = operations.flatMap((read, index) => {
          if (read.output?.f !== 'get') return [];
          const seen = read.output.value;
          const earlier = operations
            .slice(0, index)
            .flatMap((w) =>
              w.input.key === read.input.key && w.input.f !== 'get' && w.input.f !== 'delete'
                ? [w.input.value]
                : [],
            )
            .filter((v) => v !== seen);
          return earlier.length > 0 ? [{ read, stale: earlier[pick % earlier.length]! }] : [];
        });
        fc.pre(candidates.length > 0);
        const { read, stale } = candidates[pick % candidates.length]!;
        const mutated = operations.map((o) =>
          o === read ? { ...o, output: { f: 'get' as const, value: stale } } : o,
        );
        expect(checkKvOperations(mutated).verdict).toBe('not-linearizable');
      }),
      { numRuns: 300 },
    );
  });
});
