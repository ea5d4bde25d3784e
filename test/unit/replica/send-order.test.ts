/**
 * When a replica's messages leave relative to its synced write (Replica.handleReady): a
 * leader's appends go to the transport, to be written at once, before the write starts (the
 * followers' fsyncs are on the commit path, not the leader's); a follower's acknowledgement
 * only after the write is durable, also to be written at once. One replica of a three-voter
 * group on in-memory storage, its peers played by the test through step().
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../src/common/prng.js';
import { defaultRaftConfig } from '../../../src/raft/config.js';
import { EntryType, type Message, type NodeId } from '../../../src/raft/types.js';
import { Replica } from '../../../src/replica/replica.js';
import { encodeCommand } from '../../../src/state-machine/index.js';
import { MemoryRaftStorage, type PersistBatch } from '../../../src/storage/index.js';

const replicas: Replica[] = [];

afterEach(async () => {
  await Promise.all(replicas.splice(0).map((replica) => replica.stop()));
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The order of writes and sends, as "persist <indexes>", "persisted", "send <types> now|soon". */
class Journal {
  readonly events: string[] = [];
  readonly sent: Message[] = [];

  storage(): MemoryRaftStorage {
    const events = this.events;
    return new (class extends MemoryRaftStorage {
      override async persist(batch: PersistBatch): Promise<void> {
        events.push(`persist ${batch.entries.map((e) => e.index).join(',')}`);
        await super.persist(batch);
        events.push('persisted');
      }
    })();
  }

  readonly transport = {
    send: (messages: readonly Message[], options?: { readonly now?: boolean }): void => {
      this.sent.push(...messages);
      this.events.push(
        `send ${messages.map((m) => m.type).join(',')} ${options?.now === true ? 'now' : 'soon'}`,
      );
    },
  };

  indexOf(event: string): number {
    const at = this.events.indexOf(event);
    expect(at, `${event} in ${JSON.stringify(this.events)}`).toBeGreaterThanOrEqual(0);
    return at;
  }
}

async function startReplica(id: NodeId, journal: Journal, electionTicks: number): Promise<Replica> {
  const replica = await Replica.start({
    id,
    founders: ['n1', 'n2', 'n3'],
    raftConfig: { ...defaultRaftConfig, electionTicks },
    tickMs: 5,
    snapshotEveryEntries: 100_000,
    storage: journal.storage(),
    transport: journal.transport,
    random: new SeededRandom(11),
    logger: pino({ level: 'silent' }),
  });
  replicas.push(replica);
  return replica;
}

describe('replica send order', () => {
  it(
    'a leader hands its appends over to be written now, before its synced write',
    { timeout: 10_000 },
    async () => {
      const journal = new Journal();
      const replica = await startReplica('n1', journal, 4);
      // Grant n1's PreVote and then its vote, as n2 would.
      await waitFor(() => journal.sent.some((m) => m.type === 'preVote'), 'a PreVote');
      const preVote = journal.sent.find((m) => m.type === 'preVote')!;
      replica.step({ type: 'preVoteResp', from: 'n2', to: 'n1', term: preVote.term, reject: false });
      await waitFor(() => journal.sent.some((m) => m.type === 'vote'), 'a vote request');
      const vote = journal.sent.find((m) => m.type === 'vote')!;
      replica.step({ type: 'voteResp', from: 'n2', to: 'n1', term: vote.term, reject: false });
      await waitFor(() => replica.isLeader, 'leadership');

      // The new leader's first entry (after the three founding ones) goes to both followers
      // before it is written.
      await waitFor(() => journal.events.includes('persist 4'), 'the first entry written');
      expect(journal.indexOf('send append,append now')).toBeLessThan(journal.indexOf('persist 4'));
      // Its vote request, which promises the persisted term and vote, waited for its write.
      expect(journal.events.filter((e) => e.startsWith('send vote')).every((e) => e.endsWith('now'))).toBe(
        true,
      );
    },
  );

  it(
    'a follower hands its acknowledgement over to be written now, after its synced write',
    { timeout: 10_000 },
    async () => {
      const journal = new Journal();
      const replica = await startReplica('n2', journal, 1_000); // never campaigns during the test
      await waitFor(() => journal.events.includes('persisted'), 'the founding entries written');
      // After the founding configuration (entries 1-3, term 1), n1's first entry of term 2.
      const data = encodeCommand({ type: 'put', key: '/k', value: new Uint8Array([1]) });
      replica.step({
        type: 'append',
        from: 'n1',
        to: 'n2',
        term: 2,
        prevLogIndex: 3,
        prevLogTerm: 1,
        entries: [{ index: 4, term: 2, type: EntryType.Normal, data }],
        commit: 0,
      });
      await waitFor(() => journal.sent.some((m) => m.type === 'appendResp'), 'the acknowledgement');
      const writing = journal.indexOf('persist 4');
      expect(journal.events[writing + 1]).toBe('persisted');
      expect(journal.indexOf('send appendResp now')).toBeGreaterThan(writing + 1);
    },
  );
});
