/**
 * One replica of a three-voter group (n1, n2, n3) on in-memory storage, its peers played by the
 * test through step(), with a journal of its synced writes and of what it hands the transport.
 */
import { pino } from 'pino';
import { expect } from 'vitest';
import { SeededRandom } from '../../../src/common/prng.js';
import { defaultRaftConfig, type RaftConfig } from '../../../src/raft/config.js';
import type { Message, NodeId } from '../../../src/raft/types.js';
import { Replica } from '../../../src/replica/replica.js';
import { MemoryRaftStorage, type PersistBatch } from '../../../src/storage/index.js';

/** Founding configuration entries 1-3 (term 1) come first in every fresh replica's log. */
export const FOUNDING_ENTRIES = 3;

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The order of writes and sends, as "persist <indexes>", "persisted", "send <types> now|soon". */
export class Journal {
  readonly events: string[] = [];
  readonly sent: Message[] = [];
  /** Called as each synced write starts. */
  onPersist: (batch: PersistBatch) => void = () => {};

  storage(): MemoryRaftStorage {
    const events = this.events;
    const onPersist = (batch: PersistBatch): void => this.onPersist(batch);
    return new (class extends MemoryRaftStorage {
      override async persist(batch: PersistBatch): Promise<void> {
        onPersist(batch);
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

  /** The first event `matches` accepts (failing the test, with the journal, when none does). */
  indexWhere(matches: (event: string) => boolean, what: string): number {
    const at = this.events.findIndex(matches);
    expect(at, `${what} in ${JSON.stringify(this.events)}`).toBeGreaterThanOrEqual(0);
    return at;
  }

  /** The messages of `type` sent so far. */
  sentOf<T extends Message['type']>(type: T): (Message & { type: T })[] {
    return this.sent.filter((m): m is Message & { type: T } => m.type === type);
  }
}

export class ReplicaHarness {
  private readonly replicas: Replica[] = [];

  async start(
    id: NodeId,
    journal: Journal,
    electionTicks: number,
    raftConfig: Partial<RaftConfig> = {},
  ): Promise<Replica> {
    const replica = await Replica.start({
      id,
      founders: ['n1', 'n2', 'n3'],
      raftConfig: { ...defaultRaftConfig, ...raftConfig, electionTicks },
      tickMs: 5,
      snapshotEveryEntries: 100_000,
      storage: journal.storage(),
      transport: journal.transport,
      random: new SeededRandom(11),
      logger: pino({ level: 'silent' }),
    });
    this.replicas.push(replica);
    return replica;
  }

  /**
   * Starts n1 and makes it leader with n2's PreVote and vote; its first entry is index 4. Its
   * election timeout is 200 ms: CheckQuorum makes it step down if the test's peers stay silent
   * longer.
   */
  async startLeader(journal: Journal, raftConfig: Partial<RaftConfig> = {}): Promise<Replica> {
    const replica = await this.start('n1', journal, 40, raftConfig);
    await waitFor(() => journal.sentOf('preVote').length > 0, 'a PreVote');
    const preVote = journal.sentOf('preVote')[0]!;
    replica.step({ type: 'preVoteResp', from: 'n2', to: 'n1', term: preVote.term, reject: false });
    await waitFor(() => journal.sentOf('vote').length > 0, 'a vote request');
    const vote = journal.sentOf('vote')[0]!;
    replica.step({ type: 'voteResp', from: 'n2', to: 'n1', term: vote.term, reject: false });
    await waitFor(() => replica.isLeader, 'leadership');
    return replica;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.replicas.splice(0).map((replica) => replica.stop()));
  }
}
