/**
 * Model-based test: random command sequences run against the state machine and against a
 * deliberately naive reference (a full copy of the key space per revision), comparing every
 * result, error code and read.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../../src/state-machine/commands.js';
import { StateMachineError } from '../../../src/state-machine/errors.js';
import { KvStateMachine } from '../../../src/state-machine/state-machine.js';
import type {
  ChildEntry,
  Command,
  CommandResult,
  Compare,
  KeyValue,
  RangeRequest,
  RangeResult,
  TxnOp,
  TxnOpResult,
} from '../../../src/state-machine/types.js';

type State = ReadonlyMap<string, KeyValue>;

class ReferenceModel {
  /** states[r]: the key space at revision r. */
  readonly states: State[] = [new Map()];
  compactRevision = 0;

  get revision(): number {
    return this.states.length - 1;
  }

  apply(command: Command): CommandResult | string {
    const invalid = this.invalid(command);
    if (invalid !== undefined) return invalid;
    const current = this.states[this.revision]!;
    switch (command.type) {
      case 'noop':
        return { type: 'noop', revision: this.revision };
      case 'compact':
        if (command.revision > this.revision) return 'FUTURE_REVISION';
        if (command.revision <= this.compactRevision) return 'COMPACTED';
        this.compactRevision = command.revision;
        return { type: 'compact', revision: this.revision, compactRevision: this.compactRevision };
      case 'txn': {
        const succeeded = command.compare.every((c) => compareHolds(current, c));
        const ops = succeeded ? command.success : command.failure;
        for (const op of ops) {
          if (op.type !== 'range' || op.revision === undefined || op.revision === 0) continue;
          if (op.revision > this.revision) return 'FUTURE_REVISION';
          if (op.revision < this.compactRevision) return 'COMPACTED';
        }
        const work = new Map(current);
        const nextRevision = this.revision + 1;
        let wrote = false;
        const responses: TxnOpResult[] = ops.map((op) => {
          if (op.type === 'range') {
            const at = op.revision === undefined || op.revision === 0 ? work : this.states[op.revision]!;
            return rangeOf(at, op, 0);
          }
          const result = writeOp(work, op, nextRevision);
          wrote ||= result.wrote;
          return result.result;
        });
        if (wrote) this.states.push(work);
        const revision = this.revision;
        return { type: 'txn', revision, succeeded, responses: responses.map((r) => ({ ...r, revision })) };
      }
      default: {
        const work = new Map(current);
        const { result, wrote } = writeOp(work, command, this.revision + 1);
        if (wrote) this.states.push(work);
        return { ...result, revision: this.revision } as CommandResult;
      }
    }
  }

  range(request: RangeRequest): RangeResult | string {
    const revision = request.revision ?? 0;
    if (revision > this.revision) return 'FUTURE_REVISION';
    if (revision !== 0 && revision < this.compactRevision) return 'COMPACTED';
    return rangeOf(this.states[revision === 0 ? this.revision : revision]!, request, this.revision);
  }

  private invalid(command: Command): string | undefined {
    if (command.type === 'put' || command.type === 'delete')
      return command.key === '' ? 'INVALID_ARGUMENT' : undefined;
    if (command.type === 'deleteRange') return command.prefix === '' ? 'INVALID_ARGUMENT' : undefined;
    if (command.type === 'compact') return command.revision < 1 ? 'INVALID_ARGUMENT' : undefined;
    if (command.type !== 'txn') return undefined;
    for (const branch of [command.success, command.failure]) {
      const puts = branch.filter((op) => op.type === 'put').map((op) => op.key);
      const deletes = branch.flatMap((op) => (op.type === 'delete' ? [op.key] : []));
      const prefixes = branch.flatMap((op) => (op.type === 'deleteRange' ? [op.prefix] : []));
      if (new Set(puts).size !== puts.length) return 'DUPLICATE_KEY';
      if (puts.some((k) => deletes.includes(k) || prefixes.some((p) => k.startsWith(p))))
        return 'DUPLICATE_KEY';
    }
    return undefined;
  }
}

function compareHolds(state: State, compare: Compare): boolean {
  const kv = state.get(compare.key);
  let order: number;
  if (compare.target === 'value') {
    if (kv === undefined) return false;
    order = Buffer.compare(Buffer.from(kv.value), Buffer.from(compare.value));
  } else {
    order = (kv?.[compare.target] ?? 0) - compare.value;
  }
  return { '=': order === 0, '!=': order !== 0, '<': order < 0, '>': order > 0 }[compare.op];
}

function writeOp(
  work: Map<string, KeyValue>,
  op: Exclude<TxnOp, { type: 'range' }>,
  revision: number,
): { result: TxnOpResult; wrote: boolean } {
  if (op.type === 'put') {
    const previous = work.get(op.key);
    work.set(op.key, {
      key: op.key,
      value: op.value,
      createRevision: previous?.createRevision ?? revision,
      modRevision: revision,
      version: (previous?.version ?? 0) + 1,
    });
    const result: TxnOpResult =
      op.prevKv === true && previous
        ? { type: 'put', revision, prevKv: previous }
        : { type: 'put', revision };
    return { result, wrote: true };
  }
  const doomed = [...work.values()].filter((kv) =>
    op.type === 'delete' ? kv.key === op.key : kv.key.startsWith(op.prefix),
  );
  doomed.sort((a, b) => (a.key < b.key ? -1 : 1));
  for (const kv of doomed) work.delete(kv.key);
  const result: TxnOpResult =
    op.prevKv === true
      ? { type: op.type, revision: 0, deleted: doomed.length, prevKvs: doomed }
      : { type: op.type, revision: 0, deleted: doomed.length };
  return { result, wrote: doomed.length > 0 };
}

function rangeOf(state: State, request: RangeRequest, revision: number): RangeResult {
  const mode = request.range ?? 'exact';
  const limit = request.limit ?? 0;
  const sorted = [...state.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  const strip = (kv: KeyValue): KeyValue =>
    request.keysOnly === true ? { ...kv, value: new Uint8Array(0) } : kv;
  if (mode === 'children') {
    const prefix = request.key.endsWith('/') ? request.key : `${request.key}/`;
    const names = new Set<string>();
    for (const kv of sorted) {
      if (!kv.key.startsWith(prefix)) continue;
      const name = kv.key.slice(prefix.length).split('/')[0]!;
      if (name !== '') names.add(name);
    }
    const all = [...names].sort();
    const shown = limit > 0 ? all.slice(0, limit) : all;
    const children: ChildEntry[] =
      request.countOnly === true
        ? []
        : shown.map((name) => {
            const kv = state.get(prefix + name);
            return kv
              ? { name, key: prefix + name, hasKey: true, kv: strip(kv) }
              : { name, key: prefix + name, hasKey: false };
          });
    return {
      type: 'range',
      revision,
      kvs: [],
      count: all.length,
      more: limit > 0 && all.length > limit,
      children,
    };
  }
  const matches = sorted.filter((kv) =>
    mode === 'exact' ? kv.key === request.key : kv.key.startsWith(request.key),
  );
  const shown = limit > 0 ? matches.slice(0, limit) : matches;
  return {
    type: 'range',
    revision,
    kvs: request.countOnly === true ? [] : shown.map(strip),
    count: matches.length,
    more: limit > 0 && matches.length > limit,
  };
}

// --- generators over a small key space, so commands collide often -----------------------------

const key = fc.constantFrom('/a', '/a/b', '/a/b/c', '/a/c', '/a!', '/ab', '/b', '/b/x');
const prefix = fc.constantFrom('/a', '/a/', '/b', '/');
const value = fc.constantFrom('1', '2', '22', '').map((v) => new TextEncoder().encode(v));
const revision = fc.integer({ min: 0, max: 25 });
const rangeRequest = fc.record(
  {
    key: fc.oneof(key, prefix),
    range: fc.constantFrom('exact' as const, 'prefix' as const, 'children' as const),
    revision,
    limit: fc.integer({ min: 0, max: 3 }),
    keysOnly: fc.boolean(),
    countOnly: fc.boolean(),
  },
  { requiredKeys: ['key', 'range'] },
);
const put = fc.record({ type: fc.constant('put' as const), key, value, prevKv: fc.boolean() });
const del = fc.record({ type: fc.constant('delete' as const), key, prevKv: fc.boolean() });
const delRange = fc.record({ type: fc.constant('deleteRange' as const), prefix, prevKv: fc.boolean() });
const compare: fc.Arbitrary<Compare> = fc.oneof(
  fc.record({
    key,
    target: fc.constant('value' as const),
    op: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const),
    value,
  }),
  fc.record({
    key,
    target: fc.constantFrom('version' as const, 'createRevision' as const, 'modRevision' as const),
    op: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const),
    value: fc.integer({ min: 0, max: 6 }),
  }),
);
const txnOp: fc.Arbitrary<TxnOp> = fc.oneof(
  put,
  del,
  delRange,
  rangeRequest.map((r) => ({ ...r, type: 'range' as const })),
);
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: put },
  { weight: 2, arbitrary: del },
  { weight: 1, arbitrary: delRange },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('txn' as const),
      compare: fc.array(compare, { maxLength: 2 }),
      success: fc.array(txnOp, { maxLength: 3 }),
      failure: fc.array(txnOp, { maxLength: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('compact' as const),
      revision: fc.integer({ min: 0, max: 25 }),
    }),
  },
);

function outcomeOf(machine: KvStateMachine, index: number, cmd: Command): CommandResult | string {
  const outcome = machine.apply(index, encodeCommand(cmd));
  return outcome.ok ? outcome.result : outcome.error.code;
}

function readOf(machine: KvStateMachine, request: RangeRequest): RangeResult | string {
  try {
    return machine.range(request);
  } catch (error) {
    if (error instanceof StateMachineError) return error.code;
    throw error;
  }
}

describe('state machine against a reference model', () => {
  it('agrees on every result, error and read', () => {
    fc.assert(
      fc.property(
        fc.array(command, { minLength: 1, maxLength: 40 }),
        fc.array(rangeRequest, { minLength: 6, maxLength: 6 }),
        (commands, reads) => {
          const machine = new KvStateMachine();
          const model = new ReferenceModel();
          commands.forEach((cmd, i) => {
            expect(outcomeOf(machine, i + 1, cmd)).toEqual(model.apply(cmd));
            expect(machine.revision).toBe(model.revision);
            for (const read of reads) expect(readOf(machine, read)).toEqual(model.range(read));
          });
          // A restored copy answers every read the same way.
          const restored = KvStateMachine.fromSnapshot(machine.snapshot());
          for (let r = 0; r <= model.revision; r++) {
            const all: RangeRequest = { key: '', range: 'prefix', revision: r };
            expect(readOf(restored, all)).toEqual(model.range(all));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
