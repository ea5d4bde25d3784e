/**
 * A leader's write rounds (Replica.holdsCommands): a lone write is appended at once; writes
 * arriving while a round is in flight, its own clients' and those followers forward, wait for
 * that round to be applied and then go into the log together, in one synced write; writes held
 * when leadership moves go to the new leader, never appended here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RaftConfig } from '../../../src/raft/config.js';
import type { Replica } from '../../../src/replica/replica.js';
import { encodeCommand } from '../../../src/state-machine/index.js';
import { Journal, ReplicaHarness, waitFor } from './harness.js';

const harness = new ReplicaHarness();
afterEach(() => harness.stopAll());

const put = (key: string): Uint8Array => encodeCommand({ type: 'put', key, value: new Uint8Array([1]) });

/** n2 acknowledges everything up to `index`: with the leader that is a quorum. */
function ack(replica: Replica, index: number): void {
  replica.step({
    type: 'appendResp',
    from: 'n2',
    to: 'n1',
    term: replica.term,
    reject: false,
    index,
    rejectHintIndex: 0,
    rejectHintTerm: 0,
  });
}

/** Lets the replica run a few turns of its event loop. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30));

/** A leader whose first entry (index 4) is committed and applied. */
async function idleLeader(journal: Journal, raftConfig: Partial<RaftConfig> = {}): Promise<Replica> {
  const leader = await harness.startLeader(journal, raftConfig);
  await waitFor(() => journal.events.includes('persist 4'), 'the first entry written');
  ack(leader, 4);
  await waitFor(() => leader.status().appliedIndex === 4, 'the first entry applied');
  return leader;
}

describe('leader write rounds', () => {
  it(
    'holds writes that arrive while a round is in flight, then appends them in one write',
    { timeout: 10_000 },
    async () => {
      const journal = new Journal();
      const leader = await idleLeader(journal);

      const first = leader.propose(put('/a'));
      await waitFor(() => journal.events.includes('persist 5'), 'the lone write appended at once');

      const later = [leader.propose(put('/b')), leader.propose(put('/c'))];
      leader.step({
        type: 'propose',
        from: 'n3',
        to: 'n1',
        term: leader.term,
        proposalId: 1,
        commands: [put('/d')],
      });
      await settle();
      expect(journal.events.filter((e) => e.startsWith('persist 6'))).toEqual([]);
      expect(journal.sentOf('proposeResp')).toEqual([]);
      expect(leader.status().lastIndex).toBe(5);

      ack(leader, 5);
      await expect(first).resolves.toMatchObject({ ok: true });
      // n3's forwarded command and the leader's own two, in one synced write.
      await waitFor(() => journal.events.includes('persist 6,7,8'), 'the held writes appended together');
      expect(journal.sentOf('proposeResp')).toMatchObject([{ to: 'n3', index: 6, reject: false }]);
      ack(leader, 8);
      for (const outcome of await Promise.all(later)) expect(outcome).toMatchObject({ ok: true });
    },
  );

  it(
    'holds at most maxAppendBytes, then appends the held writes first, in order',
    { timeout: 10_000 },
    async () => {
      const journal = new Journal();
      const command = put('/a');
      // Room for two held commands: the third write, in the same turn, finds the round full
      // and goes at once, after the two.
      const leader = await idleLeader(journal, { maxAppendBytes: command.byteLength * 2 });
      const first = leader.propose(command);
      await waitFor(() => journal.events.includes('persist 5'), 'a round in flight');
      const held = [leader.propose(put('/b')), leader.propose(put('/c'))];
      const third = leader.propose(put('/d'));
      await waitFor(() => journal.events.includes('persist 6,7,8'), 'all three appended');
      ack(leader, 8);
      const outcomes = await Promise.all([first, ...held, third]);
      expect(outcomes.map((o) => o.index)).toEqual([5, 6, 7, 8]);
    },
  );

  it(
    'sends writes it held to the next leader when it loses leadership, never appending them',
    { timeout: 10_000 },
    async () => {
      const journal = new Journal();
      const leader = await idleLeader(journal);
      const inFlight = leader.propose(put('/a')).catch((error: unknown) => error);
      await waitFor(() => journal.events.includes('persist 5'), 'a round in flight');
      const held = put('/held');
      const heldWrite = leader.propose(held).catch((error: unknown) => error);
      await settle();

      // n2 won an election in the next term (n1's entry 5 never reached a quorum).
      leader.step({
        type: 'heartbeat',
        from: 'n2',
        to: 'n1',
        term: leader.term + 1,
        commit: 4,
        readContext: 0,
      });
      await waitFor(() => journal.sentOf('propose').length > 0, 'the held write forwarded');
      expect(journal.sentOf('propose')).toMatchObject([{ to: 'n2', commands: [held] }]);
      expect(leader.status().lastIndex).toBe(5);
      expect(journal.events.filter((e) => e.startsWith('persist 6'))).toEqual([]);

      await harness.stopAll();
      // Both fail now that the node stops, the held one as never applied.
      expect(await heldWrite).toMatchObject({ code: 'STOPPED' });
      expect(await inFlight).toBeInstanceOf(Error);
    },
  );
});
