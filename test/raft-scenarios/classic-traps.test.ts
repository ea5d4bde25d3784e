import { describe, expect, it } from 'vitest';
import { RaftError } from '../../src/raft/errors.js';
import { ConfChangeType, SNAPSHOT_DATA_IN_STORAGE, type Message } from '../../src/raft/types.js';
import { command, ScenarioCluster, text } from './harness.js';

const isAppendCarrying = (m: Message, index: number): boolean =>
  m.type === 'append' && m.entries.some((e) => e.index === index);

describe('Figure 8 (§5.4.2): an old-term entry is never committed by counting replicas', () => {
  it('keeps a majority-replicated term-2 entry uncommitted until an entry of the current term commits', () => {
    // One entry per append, so each entry's delivery can be controlled.
    const c = new ScenarioCluster(['n1', 'n2', 'n3', 'n4', 'n5'], { maxAppendBytes: 1, checkQuorum: false });
    c.elect('n1');
    const base = c.raft('n1').commitIndex; // founding entries + n1's no-op, all committed
    expect(c.raft('n1').currentTerm).toBe(2);

    // (a) n1 (term 2) replicates X only to n2.
    c.dropIf = (m) => m.from === 'n1' && m.to !== 'n2';
    const x = c.propose('n1', 'X');
    c.stabilize();
    expect(x.index).toBe(base + 1);
    expect(c.raft('n2').lastIndex).toBe(x.index);
    expect(c.raft('n1').commitIndex).toBe(base);

    // (b) n1 crashes; n5 wins term 3 with n3 and n4, appends its no-op at the same index, then crashes.
    c.crash('n1');
    c.heal();
    c.isolate('n2');
    c.dropIf = (m) => m.from === 'n5' && m.type === 'append';
    c.elect('n5');
    expect(c.raft('n5').currentRole).toBe('leader');
    expect(c.raft('n5').logTerm(x.index)).toBe(c.raft('n5').currentTerm);
    c.crash('n5');
    c.heal();

    // (c) n1 restarts and wins a later term; it copies X to n3 but its own no-op reaches nobody.
    c.start('n1');
    c.stabilize();
    const noopIndex = x.index + 1;
    // A follower without X rejects the no-op's append and gets X by backtracking; once it
    // holds X, the no-op itself is dropped on the way.
    c.dropIf = (m) => isAppendCarrying(m, noopIndex) && c.nodes.get(m.to)?.raft?.logTerm(x.index) === 2;
    c.elect('n1');
    expect(c.raft('n1').currentRole).toBe('leader');
    c.stabilize();
    c.tickAll(3); // heartbeats: followers keep answering, the leader keeps probing
    for (const id of ['n1', 'n2', 'n3']) expect(c.raft(id).logTerm(x.index)).toBe(2);
    // X is on a majority (n1, n2, n3) but from an older term: it must not be committed.
    expect(c.raft('n1').commitIndex).toBe(base);
    expect(c.applied('n1')).not.toContain('X');

    // (d) Had it been committed, this would lose it: n1 dies, n5 returns and wins with
    // n2, n3, n4 (its term-3 entry at that index is more up to date), overwriting X everywhere.
    c.crash('n1');
    c.heal();
    c.start('n5');
    c.stabilize();
    c.elect('n5');
    expect(c.raft('n5').currentRole).toBe('leader');
    c.propose('n5', 'Y');
    c.stabilize();
    for (const id of ['n2', 'n3', 'n4', 'n5']) {
      expect(c.applied(id)).toEqual(['Y']);
      expect(c.raft(id).logTerm(x.index)).toBe(3);
    }
  });

  it('commits the old entry together with a current-term entry once that one reaches a majority', () => {
    // CheckQuorum's lease would make n2 and n3 ignore n1's new campaign right after its crash.
    const c = new ScenarioCluster(['n1', 'n2', 'n3'], { maxAppendBytes: 1, checkQuorum: false });
    c.elect('n1');
    c.dropIf = (m) => m.from === 'n1';
    const x = c.propose('n1', 'X');
    c.stabilize();
    c.crash('n1');
    c.start('n1');
    c.heal();
    c.stabilize();
    c.elect('n1');
    c.stabilize();
    expect(c.raft('n1').commitIndex).toBeGreaterThan(x.index);
    for (const id of ['n1', 'n2', 'n3']) expect(c.applied(id)).toEqual(['X']);
  });
});

describe('a partitioned old leader', () => {
  it('keeps accepting proposals that never commit, steps down by CheckQuorum, and its entries are discarded', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.propose('n1', 'before');
    c.stabilize();
    c.isolate('n1');
    const lost = c.propose('n1', 'lost-1');
    c.propose('n1', 'lost-2');
    c.stabilize();
    expect(c.raft('n1').commitIndex).toBeLessThan(lost.index);

    // CheckQuorum: within two election timeouts without a quorum (one to notice the silence,
    // one to confirm it), the old leader steps down.
    c.tick('n1', c.config.electionTicks * 2);
    expect(c.raft('n1').currentRole).toBe('follower');
    expect(() => c.propose('n1', 'refused')).toThrow(/not the leader/);

    c.tickAll(c.config.electionTicks * 3);
    const [newLeader] = c.leaders().filter((id) => id !== 'n1');
    expect(newLeader).toBeDefined();
    c.propose(newLeader!, 'after');
    c.stabilize();

    c.heal();
    c.tickAll(3);
    for (const id of ['n1', 'n2', 'n3']) {
      expect(c.applied(id)).toEqual(['before', 'after']);
    }
    expect(c.raft('n1').logTerm(lost.index)).not.toBe(lost.term);
  });
});

describe('§5.4.1 election restriction', () => {
  it('a candidate with a stale log cannot win; an up-to-date one can', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3'], { checkQuorum: false });
    c.elect('n1');
    c.isolate('n3');
    c.propose('n1', 'A');
    c.propose('n1', 'B');
    c.stabilize();
    expect(c.applied('n2')).toEqual(['A', 'B']);
    c.crash('n1');
    c.heal();

    c.elect('n3');
    expect(c.raft('n3').currentRole).not.toBe('leader');
    c.tickAll(2);
    expect(c.leaders()).not.toContain('n3');

    c.elect('n2');
    expect(c.raft('n2').currentRole).toBe('leader');
    c.stabilize();
    expect(c.applied('n3')).toEqual(['A', 'B']);
  });

  it('without PreVote the stale candidate also loses, while bumping terms', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3'], { preVote: false, checkQuorum: false });
    c.elect('n1');
    c.isolate('n3');
    c.propose('n1', 'A');
    c.stabilize();
    c.crash('n1');
    c.heal();
    const termBefore = c.raft('n2').currentTerm;
    c.elect('n3');
    expect(c.raft('n3').currentRole).not.toBe('leader');
    expect(c.raft('n2').currentTerm).toBeGreaterThan(termBefore);
  });
});

describe('§5.3 a follower with extra uncommitted entries', () => {
  it('has them truncated and replaced by the new leader', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3', 'n4', 'n5'], { checkQuorum: false });
    c.elect('n1');
    c.propose('n1', 'committed');
    c.stabilize();
    // n1 reaches only n2: two of five, so these never commit.
    c.dropIf = (m) => m.from === 'n1' && m.to !== 'n2';
    const extra = c.propose('n1', 'extra-1');
    c.propose('n1', 'extra-2');
    c.stabilize();
    expect(c.raft('n2').lastIndex).toBe(extra.index + 1);
    c.crash('n1');
    c.heal();
    c.isolate('n2');
    c.elect('n3');
    expect(c.raft('n3').currentRole).toBe('leader');
    c.propose('n3', 'new-1');
    c.propose('n3', 'new-2');
    c.propose('n3', 'new-3');
    c.stabilize();

    c.heal();
    c.tickAll(3);
    expect(c.applied('n2')).toEqual(['committed', 'new-1', 'new-2', 'new-3']);
    expect(c.raft('n2').logTerm(extra.index)).toBe(c.raft('n3').logTerm(extra.index));
    expect(c.raft('n2').lastIndex).toBe(c.raft('n3').lastIndex);
  });
});

describe('membership changes', () => {
  it('a leader removed from the configuration steps down and the rest elect a new one', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.raft('n1').proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 'n1' });
    c.stabilize();
    expect(c.raft('n1').currentRole).toBe('follower');
    expect(c.raft('n2').configuration.voters).toEqual(['n2', 'n3']);
    c.tickAll(c.config.electionTicks * 3);
    const leaders = c.leaders();
    expect(leaders).toHaveLength(1);
    expect(['n2', 'n3']).toContain(leaders[0]);
    c.propose(leaders[0]!, 'after-removal');
    c.stabilize();
    expect(c.applied('n2')).toEqual(['after-removal']);
    expect(c.applied('n1')).toEqual([]);
  });

  it('adds a learner that catches up without voting, then promotes it to voter', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.propose('n1', 'A');
    c.stabilize();
    c.addBlankNode('n4');
    c.raft('n1').proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 'n4' });
    c.stabilize();
    c.tickAll(2);
    expect(c.applied('n4')).toEqual(['A']);
    expect(c.raft('n1').configuration.learners).toEqual(['n4']);
    // A learner never campaigns.
    c.tickAll(c.config.electionTicks * 3);
    expect(c.raft('n4').currentRole).toBe('follower');

    c.raft('n1').proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: 'n4' });
    c.stabilize();
    expect(c.raft('n1').configuration.voters).toEqual(['n1', 'n2', 'n3', 'n4']);
    // Only one change at a time: a second one while the first is unapplied is refused.
    c.raft('n1').proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 'n2' });
    expect(() => c.raft('n1').proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 'n3' })).toThrow(
      /still being applied/,
    );
  });
});

describe('snapshots', () => {
  it('brings a lagging follower up to date by InstallSnapshot after the log was compacted', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.crash('n3');
    for (let i = 0; i < 30; i++) c.propose('n1', `v${i}`);
    c.stabilize();
    c.compact('n1');
    c.compact('n2');
    expect(c.raft('n1').snapshotIndex).toBe(c.raft('n1').appliedIndex);

    c.start('n3');
    c.stabilize();
    c.tickAll(2);
    const snapshots = c.delivered.filter((m) => m.type === 'snapshot' && m.to === 'n3');
    expect(snapshots).toHaveLength(1);
    expect(c.raft('n3').snapshotIndex).toBe(c.raft('n1').snapshotIndex);
    expect(c.raft('n3').appliedIndex).toBe(c.raft('n1').appliedIndex);
    // Entries after the snapshot arrive by normal replication.
    c.propose('n1', 'after');
    c.stabilize();
    expect(c.applied('n3')).toEqual(['after']);
    expect(c.raft('n3').appliedIndex).toBe(c.raft('n1').appliedIndex);
  });
});

describe('snapshot images kept only in storage', () => {
  it('sends SNAPSHOT_DATA_IN_STORAGE once the host had the core forget the image, for the host to fill in', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.crash('n3');
    for (let i = 0; i < 10; i++) c.propose('n1', `v${i}`);
    c.stabilize();
    c.compact('n1');
    const index = c.raft('n1').snapshotIndex;
    // Not the newest snapshot's index: ignored, so the image is still sent as it is.
    c.raft('n1').forgetSnapshotData(index - 1);
    c.start('n3');
    c.stabilize();
    c.tickAll(2);
    const first = c.delivered.filter((m) => m.type === 'snapshot' && m.to === 'n3');
    expect(first).toHaveLength(1);
    expect(first[0]!.type === 'snapshot' && first[0]!.snapshot.data).not.toBe(SNAPSHOT_DATA_IN_STORAGE);

    c.crash('n3');
    for (let i = 0; i < 10; i++) c.propose('n1', `w${i}`);
    c.stabilize();
    c.compact('n1');
    const newer = c.raft('n1').snapshotIndex;
    c.raft('n1').forgetSnapshotData(newer);
    const held: Message[] = [];
    c.dropIf = (m) => {
      if (m.type !== 'snapshot') return false;
      held.push(m);
      return true;
    };
    c.start('n3');
    c.stabilize();
    c.tickAll(2);
    expect(held).toHaveLength(1);
    const request = held[0]!;
    if (request.type !== 'snapshot') throw new Error('unreachable');
    expect(request.snapshot.data).toBe(SNAPSHOT_DATA_IN_STORAGE);
    expect(request.snapshot.meta.index).toBe(newer);

    // The host sends the stored snapshot instead; the follower catches up from it.
    c.dropIf = () => false;
    c.raft('n3').step({ ...request, snapshot: c.node('n1').disk.snapshot! });
    c.stabilize();
    expect(c.raft('n3').snapshotIndex).toBe(newer);
    c.propose('n1', 'after');
    c.stabilize();
    expect(c.applied('n3')).toEqual(['after']);
  });
});

describe('PreVote (§9.6) and CheckQuorum', () => {
  const runRejoin = (preVote: boolean) => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3'], { preVote, checkQuorum: false });
    c.elect('n1');
    const term = c.raft('n1').currentTerm;
    c.isolate('n3');
    c.tick('n3', c.config.electionTicks * 5);
    c.stabilize();
    c.heal();
    c.tickAll(1);
    return { c, term };
  };

  it('a rejoining partitioned node does not depose a healthy leader', () => {
    const { c, term } = runRejoin(true);
    expect(c.raft('n3').currentTerm).toBe(term);
    expect(c.raft('n1').currentRole).toBe('leader');
    expect(c.raft('n1').currentTerm).toBe(term);
  });

  it('without PreVote the same node does disrupt the leader', () => {
    const { c, term } = runRejoin(false);
    expect(c.raft('n3').currentTerm).toBeGreaterThan(term);
    c.tickAll(c.config.electionTicks * 3);
    expect(Math.max(...['n1', 'n2', 'n3'].map((id) => c.raft(id).currentTerm))).toBeGreaterThan(term);
  });
});

describe('leadership transfer (§3.10)', () => {
  it('catches a lagging follower up, then hands it leadership with TimeoutNow', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.isolate('n3');
    for (let i = 0; i < 5; i++) c.propose('n1', `v${i}`);
    c.stabilize();
    expect(c.raft('n3').lastIndex).toBeLessThan(c.raft('n1').lastIndex);
    c.heal();
    const term = c.raft('n1').currentTerm;
    c.raft('n1').transferLeadership('n3');
    expect(() => c.propose('n1', 'during-transfer')).toThrow(/transferred/);
    c.stabilize();
    expect(c.raft('n3').currentRole).toBe('leader');
    expect(c.raft('n3').currentTerm).toBe(term + 1);
    expect(c.raft('n1').currentRole).toBe('follower');
    expect(c.delivered.some((m) => m.type === 'timeoutNow' && m.to === 'n3')).toBe(true);
    c.propose('n3', 'after');
    c.stabilize();
    for (const id of ['n1', 'n2', 'n3']) {
      expect(c.applied(id)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'after']);
    }
  });

  it('gives up when the target does not respond within an election timeout', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.crash('n3');
    c.raft('n1').transferLeadership('n3');
    c.tickAll(c.config.electionTicks + 1);
    expect(c.raft('n1').currentRole).toBe('leader');
    expect(() => c.propose('n1', 'after')).not.toThrow();
  });
});

describe('ReadIndex (§6.4)', () => {
  it('a leader answers after a heartbeat round; a follower asks the leader', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    const w = c.propose('n1', 'A');
    c.stabilize();
    c.raft('n1').readIndex(['leader-read']);
    c.raft('n2').readIndex(['follower-read']);
    c.stabilize();
    expect(c.node('n1').readStates).toEqual([{ requestId: 'leader-read', index: w.index }]);
    expect(c.node('n2').readStates).toEqual([{ requestId: 'follower-read', index: w.index }]);
  });

  it('an isolated leader cannot confirm a read', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.isolate('n1');
    c.raft('n1').readIndex(['stale?']);
    c.stabilize();
    c.tick('n1', 3);
    c.stabilize();
    expect(c.node('n1').readStates).toEqual([]);
  });

  it('a new leader defers reads until an entry of its own term commits', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3'], { checkQuorum: false });
    c.elect('n1');
    c.dropIf = (m) => m.type === 'append' && m.from === 'n2';
    c.elect('n2');
    expect(c.raft('n2').currentRole).toBe('leader');
    c.raft('n2').readIndex(['early']);
    c.stabilize();
    expect(c.node('n2').readStates).toEqual([]);
    c.heal();
    c.tickAll(2);
    expect(c.node('n2').readStates.map((r) => r.requestId)).toEqual(['early']);
    expect(c.node('n2').readStates[0]!.index).toBe(c.raft('n2').commitIndex);
  });
});

describe('ReadIndex rounds', () => {
  /** The read contexts of the heartbeats the leader sent, in order, without repeats. */
  const readRounds = (c: ScenarioCluster): number[] => [
    ...new Set(
      c.delivered.flatMap((m) => (m.type === 'heartbeat' && m.readContext > 0 ? [m.readContext] : [])),
    ),
  ];

  it('reads arriving while a round is in flight share the next round, started once it is confirmed', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.propose('n1', 'A');
    c.stabilize();
    c.raft('n1').readIndex(['first']);
    const w = c.propose('n1', 'B'); // committed before the next round starts
    c.raft('n1').readIndex(['second']);
    c.raft('n1').readIndex(['third']);
    c.stabilize();
    expect(readRounds(c)).toHaveLength(2);
    const states = c.node('n1').readStates;
    expect(states.map((r) => r.requestId)).toEqual(['first', 'second', 'third']);
    // The second round's index was recorded after the reads that share it arrived.
    expect(states[1]!.index).toBeGreaterThanOrEqual(w.index - 1);
    expect(states[2]!.index).toBe(states[1]!.index);
  });

  it('a round whose heartbeats were lost is confirmed by the next periodic heartbeat', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.propose('n1', 'A');
    c.stabilize();
    c.dropIf = (m) => m.type === 'heartbeat';
    c.raft('n1').readIndex(['lost']);
    c.stabilize();
    c.raft('n1').readIndex(['behind']);
    c.stabilize();
    expect(c.node('n1').readStates).toEqual([]);
    c.heal();
    c.tick('n1', c.config.heartbeatTicks);
    c.stabilize();
    expect(c.node('n1').readStates.map((r) => r.requestId)).toEqual(['lost', 'behind']);
  });
});

describe('proposals forwarded by a follower (MsgProp)', () => {
  it('the leader appends them in order and says where; every node applies them there', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.raft('n2').forwardProposals(7, [command('F1'), command('F2')]);
    c.stabilize();
    const [ack] = c.node('n2').proposalAcks;
    expect(ack).toEqual({
      proposalId: 7,
      index: expect.any(Number),
      term: c.raft('n1').currentTerm,
      rejected: false,
    });
    for (const id of ['n1', 'n2', 'n3']) {
      const applied = c.node(id).applied;
      const at = (index: number) => applied.find((e) => e.index === index);
      expect(text(at(ack!.index)!)).toBe('F1');
      expect(text(at(ack!.index + 1)!)).toBe('F2');
      expect(at(ack!.index)!.term).toBe(ack!.term);
    }
  });

  it('a node that no longer leads refuses them, appending nothing', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    const lastIndex = c.raft('n1').lastIndex;
    c.raft('n1').transferLeadership('n3');
    // The transfer is under way until n3 campaigns: n1 takes no proposals meanwhile.
    c.dropIf = (m) => m.type === 'timeoutNow';
    c.stabilize();
    c.raft('n2').forwardProposals(1, [command('late')]);
    c.stabilize();
    expect(c.node('n2').proposalAcks).toEqual([
      { proposalId: 1, index: 0, term: c.raft('n1').currentTerm, rejected: true },
    ]);
    expect(c.raft('n1').lastIndex).toBe(lastIndex);
  });

  it('a node that knows no leader cannot forward, and a leader proposes itself', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    expect(() => c.raft('n2').forwardProposals(1, [command('x')])).toThrow(RaftError);
    c.elect('n1');
    expect(() => c.raft('n1').forwardProposals(1, [command('x')])).toThrow(RaftError);
  });
});

describe('restart', () => {
  it('a node recovers term, vote, log and commit from its disk', () => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.propose('n1', 'A');
    c.stabilize();
    const before = c.raft('n2');
    const { currentTerm, commitIndex, lastIndex } = before;
    c.crash('n2');
    c.start('n2');
    c.stabilize();
    expect(c.raft('n2').currentTerm).toBe(currentTerm);
    expect(c.raft('n2').lastIndex).toBe(lastIndex);
    expect(c.raft('n2').commitIndex).toBeGreaterThanOrEqual(commitIndex);
    expect(c.applied('n2')).toEqual(['A']);
    expect(text(c.node('n2').applied.at(-1)!)).toBe('A');
  });
});

describe('commit-only appends (AppendRequest.commitOnly)', () => {
  const from = (c: ScenarioCluster, start: number, peer: string): Message[] =>
    c.delivered.slice(start).filter((m) => m.from === peer || m.to === peer);

  /** n1 leads and has committed one entry, so both followers are in the pipeline (replicate). */
  const pipelined = (): ScenarioCluster => {
    const c = new ScenarioCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.propose('n1', 'warm');
    c.stabilize();
    return c;
  };

  it('carry the commit to a follower in the pipeline, which applies it without answering', () => {
    const c = pipelined();
    const start = c.delivered.length;
    const { index } = c.propose('n1', 'A');
    c.stabilize();
    const exchange = from(c, start, 'n2').map((m) => ({
      type: m.type,
      entries: m.type === 'append' ? m.entries.length : undefined,
      commitOnly: m.type === 'append' ? (m.commitOnly ?? false) : undefined,
    }));
    expect(exchange).toEqual([
      { type: 'append', entries: 1, commitOnly: false },
      { type: 'appendResp', entries: undefined, commitOnly: undefined },
      { type: 'append', entries: 0, commitOnly: true },
    ]);
    for (const id of ['n1', 'n2', 'n3']) {
      expect(c.raft(id).commitIndex).toBe(index);
      expect(c.applied(id)).toEqual(['warm', 'A']);
    }
  });

  it('are answered with a reject by a follower that missed the entries, which then gets them', () => {
    const c = pipelined();
    const { index } = c.propose('n1', 'A');
    let dropped = false;
    c.dropIf = (m) => {
      if (dropped || m.to !== 'n3' || !isAppendCarrying(m, index)) return false;
      dropped = true;
      return true;
    };
    const start = c.delivered.length;
    c.stabilize();
    expect(dropped).toBe(true);
    const toN3 = from(c, start, 'n3');
    expect(toN3[0]).toMatchObject({ type: 'append', entries: [], commitOnly: true, prevLogIndex: index });
    expect(toN3[1]).toMatchObject({ type: 'appendResp', reject: true });
    expect(c.applied('n3')).toEqual(['warm', 'A']);
    expect(c.raft('n1').status().progress.get('n3')?.match).toBe(index);
  });

  it('leave a lost answer to be found by the next heartbeat round, whose probe is answered', () => {
    const c = pipelined();
    const { index } = c.propose('n1', 'A');
    c.dropIf = (m) => m.type === 'appendResp' && m.from === 'n2';
    c.stabilize();
    expect(c.applied('n2')).toEqual(['warm', 'A']); // the commit-only append reached it
    expect(c.raft('n1').status().progress.get('n2')?.match).toBeLessThan(index);
    c.heal();
    c.tickAll(c.config.heartbeatTicks);
    expect(c.raft('n1').status().progress.get('n2')?.match).toBe(index);
  });
});
