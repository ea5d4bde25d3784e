/**
 * When a replica snapshots: after as many entries as its latest snapshot holds versions, at
 * least 10,000 and at most --snapshot-entries. A single-voter replica on in-memory storage, so
 * tens of thousands of entries commit in a few seconds.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../src/common/prng.js';
import { defaultRaftConfig } from '../../../src/raft/config.js';
import { Replica } from '../../../src/replica/replica.js';
import { encodeCommand } from '../../../src/state-machine/index.js';
import { MemoryRaftStorage } from '../../../src/storage/index.js';

const replicas: Replica[] = [];

afterEach(async () => {
  await Promise.all(replicas.splice(0).map((replica) => replica.stop()));
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function startReplica(snapshotEveryEntries: number): Promise<Replica> {
  const replica = await Replica.start({
    id: 'n1',
    founders: ['n1'],
    raftConfig: defaultRaftConfig,
    tickMs: 10,
    snapshotEveryEntries,
    storage: new MemoryRaftStorage(),
    transport: { send: () => {} },
    random: new SeededRandom(7),
    logger: pino({ level: 'silent' }),
  });
  replicas.push(replica);
  await waitFor(() => replica.isLeader, 'leadership');
  return replica;
}

/** Writes until the log reaches `lastIndex`, 500 puts in flight, each to a key of its own. */
async function writeUntil(replica: Replica, lastIndex: number): Promise<void> {
  const value = new Uint8Array(16);
  while (replica.status().lastIndex < lastIndex) {
    const first = replica.status().lastIndex;
    const count = Math.min(500, lastIndex - first);
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        replica.propose(encodeCommand({ type: 'put', key: `/k/${first + i}`, value })),
      ),
    );
  }
}

/** Waits for the snapshot count to settle at `count`; returns the latest snapshot's index. */
async function snapshotsSettle(replica: Replica, count: number): Promise<number> {
  await waitFor(() => replica.counters.snapshotsTaken >= count, `${count} snapshots`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(replica.counters.snapshotsTaken).toBe(count);
  return replica.status().snapshotIndex;
}

describe('snapshot policy', () => {
  it('snapshots after as many entries as the last snapshot holds versions', { timeout: 30_000 }, async () => {
    const replica = await startReplica(100_000);
    await writeUntil(replica, 9_000);
    expect(await snapshotsSettle(replica, 0)).toBe(0); // at least 10,000 entries
    await writeUntil(replica, 10_600);
    const first = await snapshotsSettle(replica, 1);
    expect(first).toBeGreaterThanOrEqual(10_000);
    expect(first).toBeLessThan(10_600);
    // The first snapshot holds ~10k versions: the next comes ~10k entries later.
    await writeUntil(replica, first + 10_600);
    const second = await snapshotsSettle(replica, 2);
    expect(second - first).toBeGreaterThanOrEqual(10_000);
    // It holds ~20k versions: 15k entries later there is none yet (a fixed 10k would have one)...
    await writeUntil(replica, second + 15_000);
    await snapshotsSettle(replica, 2);
    // ...but there is one once the log behind it is as long as the snapshot.
    const versions = replica.stateMachine.storedVersions;
    await writeUntil(replica, second + 21_000);
    const third = await snapshotsSettle(replica, 3);
    expect(third - second).toBeGreaterThanOrEqual(second - 100); // ~ the versions it held
    expect(versions).toBeGreaterThan(second);
  });

  it(
    'never waits longer than --snapshot-entries, nor snapshots sooner when that is small',
    { timeout: 30_000 },
    async () => {
      const capped = await startReplica(12_000);
      await writeUntil(capped, 10_600);
      const first = await snapshotsSettle(capped, 1);
      await writeUntil(capped, first + 10_600);
      const second = await snapshotsSettle(capped, 2);
      // The second snapshot holds ~20k versions, but 12,000 entries is the most between two.
      await writeUntil(capped, second + 11_500);
      await snapshotsSettle(capped, 2);
      await writeUntil(capped, second + 12_600);
      const third = await snapshotsSettle(capped, 3);
      expect(third - second).toBeGreaterThanOrEqual(12_000);
      expect(third - second).toBeLessThan(12_600);

      const small = await startReplica(300);
      await writeUntil(small, 1_000);
      await waitFor(() => small.counters.snapshotsTaken >= 2, 'snapshots every 300 entries');
    },
  );
});
