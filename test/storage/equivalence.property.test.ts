/**
 * Property: on any sequence of writes (valid or not), reopens included, LevelRaftStorage and
 * MemoryRaftStorage accept and refuse the same writes and end up holding the same state.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { PersistedState } from '../../src/raft/types.js';
import { LevelRaftStorage } from '../../src/storage/level-raft-storage.js';
import { MemoryRaftStorage } from '../../src/storage/memory-raft-storage.js';
import { entries, snapshot } from './helpers.js';
import { TempDirs } from './temp-dirs.js';

/** Operations are relative to the log as it is when they run, so most of them are valid. */
type Op =
  | { kind: 'append'; back: number; gap: boolean; count: number; newTerm: boolean; hardState: boolean; vote: string | null; length: number }
  | { kind: 'installSnapshot'; offset: number; imageBytes: number; following: number }
  | { kind: 'compact'; offset: number; imageBytes: number }
  | { kind: 'hardStateOnly'; commitBack: number }
  | { kind: 'reopen' };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.integer({ min: 0, max: 8 }),
      gap: fc.integer({ min: 0, max: 9 }).map((roll) => roll === 0),
      count: fc.integer({ min: 0, max: 7 }),
      newTerm: fc.boolean(),
      hardState: fc.boolean(),
      vote: fc.constantFrom(null, 'n1', 'n2', ''),
      length: fc.integer({ min: 0, max: 40 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('installSnapshot' as const),
      offset: fc.integer({ min: -4, max: 6 }),
      imageBytes: fc.integer({ min: 0, max: 3000 }),
      following: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('compact' as const), offset: fc.integer({ min: -1, max: 10 }), imageBytes: fc.integer({ min: 0, max: 1500 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hardStateOnly' as const), commitBack: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

type Outcome = { ok: true } | { ok: false; code: string };

async function outcome(promise: Promise<void>): Promise<Outcome> {
  try {
    await promise;
    return { ok: true };
  } catch (error) {
    return { ok: false, code: (error as { code?: string }).code ?? String(error) };
  }
}

const temp = new TempDirs();
afterAll(() => temp.removeAll());

describe('LevelRaftStorage behaves like MemoryRaftStorage', () => {
  it('on random operation sequences with reopens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 25 }), async (ops) => {
        const dir = await temp.make('property');
        const options = { snapshotChunkBytes: 700 };
        let level = await LevelRaftStorage.open(dir, options);
        let memory = new MemoryRaftStorage();
        let term = 1;
        try {
          for (const op of ops) {
            const { snapshotIndex, lastIndex } = memory.logBounds();
            let levelOutcome: Outcome;
            let memoryOutcome: Outcome;
            switch (op.kind) {
              case 'reopen':
                await level.close();
                level = await LevelRaftStorage.open(dir, options);
                memory = memory.reopen();
                levelOutcome = memoryOutcome = { ok: true };
                break;
              case 'append': {
                if (op.newTerm) term += 1;
                const from = op.gap ? lastIndex + 2 : Math.max(1, lastIndex + 1 - op.back);
                const batch = {
                  hardState: op.hardState ? { term, vote: op.vote, commit: Math.max(0, from - 1) } : null,
                  entries: op.count === 0 ? [] : entries(from, from + op.count - 1, term, op.length),
                  snapshot: null,
                };
                [levelOutcome, memoryOutcome] = [await outcome(level.persist(batch)), await outcome(memory.persist(batch))];
                break;
              }
              case 'installSnapshot': {
                const index = Math.max(0, lastIndex + op.offset);
                const batch = {
                  hardState: { term, vote: null, commit: index },
                  entries: op.following === 0 ? [] : entries(index + 1, index + op.following, term),
                  snapshot: snapshot(index, term, op.imageBytes),
                };
                [levelOutcome, memoryOutcome] = [await outcome(level.persist(batch)), await outcome(memory.persist(batch))];
                break;
              }
              case 'compact': {
                const index = snapshotIndex + op.offset;
                const snap = snapshot(Math.max(0, index), term, op.imageBytes);
                [levelOutcome, memoryOutcome] = [await outcome(level.compact(snap)), await outcome(memory.compact(snap))];
                break;
              }
              case 'hardStateOnly': {
                const batch = { hardState: { term, vote: 'n3', commit: Math.max(0, lastIndex - op.commitBack) }, entries: [], snapshot: null };
                [levelOutcome, memoryOutcome] = [await outcome(level.persist(batch)), await outcome(memory.persist(batch))];
                break;
              }
            }
            expect(levelOutcome, `outcome of ${JSON.stringify(op)}`).toEqual(memoryOutcome);
            expect(level.logBounds()).toEqual(memory.logBounds());
            const [levelState, memoryState]: PersistedState[] = [await level.load(), await memory.load()];
            expect(levelState).toEqual(memoryState);
          }
          // Finally, what is on disk (not only what the handle remembers) matches.
          await level.close();
          level = await LevelRaftStorage.open(dir, options);
          expect(await level.load()).toEqual(await memory.load());
        } finally {
          await level.close();
        }
      }),
      { numRuns: 60, seed: Number(process.env.FC_SEED ?? 0x5eed), endOnFailure: true },
    );
  });
});
