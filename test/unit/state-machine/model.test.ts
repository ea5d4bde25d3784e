/**
 * Model-based test: random command sequences run against the state machine and against a
 * deliberately naive reference (a full copy of the key space per revision, sessions in a map,
 * ownership read off the keys), comparing every result, error code, read and session.
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
  CreateCommand,
  DeleteNodeCommand,
  KeyValue,
  RangeRequest,
  RangeResult,
  SessionInfo,
  TxnOp,
  TxnOpResult,
} from '../../../src/state-machine/types.js';

type State = ReadonlyMap<string, KeyValue>;

const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

class ReferenceModel {
  /** states[r]: the key space at revision r. */
  readonly states: State[] = [new Map()];
  compactRevision = 0;
  readonly sessions = new Map<number, { ttlMs: number; checkpoint: number | null }>();
  readonly sequences = new Map<string, number>();

  get revision(): number {
    return this.states.length - 1;
  }

  sessionInfos(): SessionInfo[] {
    const current = this.states[this.revision]!;
    return [...this.sessions.keys()]
      .sort((a, b) => a - b)
      .map((sessionId) => ({
        sessionId,
        ttlMs: this.sessions.get(sessionId)!.ttlMs,
        checkpointRemainingMs: this.sessions.get(sessionId)!.checkpoint,
        keys: [...current.values()]
          .filter((kv) => kv.session === sessionId)
          .map((kv) => kv.key)
          .sort(byKey),
      }));
  }

  apply(index: number, command: Command): CommandResult | string {
    const invalid = this.invalid(command);
    if (invalid !== undefined) return invalid;
    const current = this.states[this.revision]!;
    switch (command.type) {
      case 'openSession':
        this.sessions.set(index, { ttlMs: command.ttlMs, checkpoint: null });
        return { type: 'openSession', sessionId: index, ttlMs: command.ttlMs, revision: this.revision };
      case 'checkpointSessions':
        for (const { sessionId, remainingMs } of command.sessions) {
          const session = this.sessions.get(sessionId);
          if (session) session.checkpoint = Math.min(remainingMs, session.ttlMs);
        }
        return { type: 'checkpointSessions', revision: this.revision };
      case 'closeSession': {
        if (!this.sessions.has(command.sessionId)) return 'SESSION_NOT_FOUND';
        const owned = [...current.values()]
          .filter((kv) => kv.session === command.sessionId)
          .map((kv) => kv.key);
        owned.sort(byKey);
        if (owned.length > 0) {
          const work = new Map(current);
          for (const key of owned) work.delete(key);
          this.states.push(work);
        }
        this.sessions.delete(command.sessionId);
        return {
          type: 'closeSession',
          sessionId: command.sessionId,
          revision: this.revision,
          deletedKeys: owned,
        };
      }
      case 'create':
        return this.create(current, command);
      case 'deleteNode':
        return this.deleteNode(current, command);
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
          if (op.type === 'put' && op.session !== undefined && !this.sessions.has(op.session))
            return 'SESSION_NOT_FOUND';
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
        if (command.type === 'put' && command.session !== undefined && !this.sessions.has(command.session))
          return 'SESSION_NOT_FOUND';
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

  private create(current: State, command: CreateCommand): CommandResult | string {
    if (command.session !== undefined && !this.sessions.has(command.session)) return 'SESSION_NOT_FOUND';
    const full = command.sequential === true ? `${command.path}0` : command.path;
    const parent = full.slice(0, full.lastIndexOf('/')) || '/';
    const ancestors: string[] = []; // parent first, up to (not including) the root
    for (let p = parent; p !== '/'; p = p.slice(0, p.lastIndexOf('/')) || '/') ancestors.push(p);
    const missing = ancestors.filter((p) => !current.has(p));
    // The nearest existing ancestor: everything below it must be missing.
    const nearest = ancestors.find((p) => current.has(p));
    const toCreate = nearest === undefined ? missing : ancestors.slice(0, ancestors.indexOf(nearest));
    if (toCreate.length > 0 && command.parents !== true) return 'NO_PARENT';
    let path = command.path;
    let sequence = 0;
    if (command.sequential === true) {
      sequence = this.sequences.get(parent) ?? 0;
      while (current.has(command.path + String(sequence).padStart(10, '0'))) sequence++;
      path = command.path + String(sequence).padStart(10, '0');
    } else if (current.has(path)) {
      return 'NODE_EXISTS';
    }
    if (nearest !== undefined && current.get(nearest)!.session !== 0) return 'EPHEMERAL_PARENT';
    const revision = this.revision + 1;
    const work = new Map(current);
    for (const ancestor of toCreate) {
      work.set(ancestor, {
        key: ancestor,
        value: new Uint8Array(0),
        createRevision: revision,
        modRevision: revision,
        version: 1,
        session: 0,
      });
    }
    work.set(path, {
      key: path,
      value: command.value,
      createRevision: revision,
      modRevision: revision,
      version: 1,
      session: command.session ?? 0,
    });
    this.states.push(work);
    if (command.sequential === true) this.sequences.set(parent, sequence + 1);
    return { type: 'create', path, revision, createRevision: revision };
  }

  private deleteNode(current: State, command: DeleteNodeCommand): CommandResult | string {
    const kv = current.get(command.path);
    if (kv === undefined) return 'NO_NODE';
    if (command.expectedVersion !== undefined && kv.version !== command.expectedVersion) return 'BAD_VERSION';
    if ([...current.keys()].some((key) => key.startsWith(`${command.path}/`))) return 'NOT_EMPTY';
    const work = new Map(current);
    work.delete(command.path);
    this.states.push(work);
    return { type: 'deleteNode', revision: this.revision };
  }

  private invalid(command: Command): string | undefined {
    if (command.type === 'openSession')
      return command.ttlMs >= 1000 && command.ttlMs <= 3_600_000 ? undefined : 'INVALID_ARGUMENT';
    if (command.type === 'checkpointSessions') {
      const ids = command.sessions.map((c) => c.sessionId);
      return new Set(ids).size === ids.length ? undefined : 'INVALID_ARGUMENT';
    }
    if (command.type === 'create') {
      const path = command.sequential === true ? `${command.path}0` : command.path;
      const ok = path.startsWith('/') && path !== '/' && !path.endsWith('/') && !path.includes('//');
      return ok ? undefined : 'INVALID_PATH';
    }
    if (command.type === 'deleteNode') {
      const path = command.path;
      const ok = path.startsWith('/') && path !== '/' && !path.endsWith('/') && !path.includes('//');
      return ok ? undefined : 'INVALID_PATH';
    }
    if (command.type === 'closeSession') return undefined;
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
      session: op.session ?? 0,
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
// Mostly the sessions every run opens first (1-3), sometimes one opened later or never.
const sessionId = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4, max: 12 }) },
);
const put = fc.record(
  { type: fc.constant('put' as const), key, value, prevKv: fc.boolean(), session: sessionId },
  { requiredKeys: ['type', 'key', 'value', 'prevKv'] },
);
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
const createPath = fc.constantFrom('/a', '/a/b', '/a/b/c', '/a/c', '/b', '/b/x', '/q/r/s', '/a/', 'x');
const sequentialBase = fc.constantFrom('/a/s-', '/q/', '/b/x/n', '/');
const create = fc.oneof(
  fc.record(
    {
      type: fc.constant('create' as const),
      path: createPath,
      value,
      session: sessionId,
      parents: fc.constant(true as const),
    },
    { requiredKeys: ['type', 'path', 'value'] },
  ),
  fc.record(
    {
      type: fc.constant('create' as const),
      path: sequentialBase,
      value,
      session: sessionId,
      sequential: fc.constant(true as const),
      parents: fc.constant(true as const),
    },
    { requiredKeys: ['type', 'path', 'value', 'sequential'] },
  ),
);
const deleteNode = fc.record(
  {
    type: fc.constant('deleteNode' as const),
    path: fc.oneof(
      key,
      fc.constantFrom(
        '/a/s-0000000000',
        '/a/s-0000000001',
        '/q/0000000000',
        '/q',
        '/q/r/s',
        '/0000000000',
        '/',
      ),
    ),
    expectedVersion: fc.integer({ min: 0, max: 2 }),
  },
  { requiredKeys: ['type', 'path'] },
);
const openSession = fc.record({
  type: fc.constant('openSession' as const),
  ttlMs: fc.constantFrom(999, 1000, 5000, 3_600_000, 3_600_001),
});
const closeSession = fc.record({
  type: fc.constant('closeSession' as const),
  sessionId,
  reason: fc.constantFrom('closed' as const, 'expired' as const),
});
const checkpointSessions = fc.record({
  type: fc.constant('checkpointSessions' as const),
  sessions: fc.array(fc.record({ sessionId, remainingMs: fc.constantFrom(0, 10, 1000, 5000, 99_999) }), {
    maxLength: 3,
  }),
});
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: put },
  { weight: 3, arbitrary: create },
  { weight: 2, arbitrary: deleteNode },
  { weight: 1, arbitrary: openSession },
  { weight: 1, arbitrary: closeSession },
  { weight: 1, arbitrary: checkpointSessions },
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
          // Sessions 1-3 exist from the start, so session-bearing commands often name a live one.
          const opening: Command[] = [1, 2, 3].map(() => ({ type: 'openSession', ttlMs: 10_000 }));
          [...opening, ...commands].forEach((cmd, i) => {
            expect(outcomeOf(machine, i + 1, cmd)).toEqual(model.apply(i + 1, cmd));
            expect(machine.revision).toBe(model.revision);
            expect(machine.sessions()).toEqual(model.sessionInfos());
            for (const read of reads) expect(readOf(machine, read)).toEqual(model.range(read));
          });
          // A restored copy answers every read the same way and has the same sessions.
          const restored = KvStateMachine.fromSnapshot(machine.snapshot());
          for (let r = 0; r <= model.revision; r++) {
            const all: RangeRequest = { key: '', range: 'prefix', revision: r };
            expect(readOf(restored, all)).toEqual(model.range(all));
          }
          expect(restored.sessions()).toEqual(model.sessionInfos());
          // ... and goes on identically (sessions, counters) with the same commands.
          const index = opening.length + commands.length;
          commands.forEach((cmd, i) => {
            expect(outcomeOf(restored, index + i + 1, cmd)).toEqual(model.apply(index + i + 1, cmd));
          });
          expect(restored.sessions()).toEqual(model.sessionInfos());
          expect(readOf(restored, { key: '', range: 'prefix' })).toEqual(
            model.range({ key: '', range: 'prefix' }),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
