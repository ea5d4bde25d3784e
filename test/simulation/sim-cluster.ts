import { SeededRandom } from '../../src/common/prng.js';
import { decodeConfChange } from '../../src/raft/conf-change.js';
import { defaultRaftConfig, type RaftConfig } from '../../src/raft/config.js';
import { RaftError } from '../../src/raft/errors.js';
import { RaftNode } from '../../src/raft/raft-node.js';
import {
  ConfChangeType,
  EntryType,
  mayPrecedePersistence,
  type ConfState,
  type HardState,
  type Message,
  type NodeId,
  type ProposalAck,
  type Ready,
} from '../../src/raft/types.js';
import { InvariantViolation, SafetyChecker } from './invariants.js';
import { SimDisk } from './sim-disk.js';
import { SimNetwork } from './sim-network.js';
import { swarmOptions, type SwarmOptions } from './swarm-options.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The replicated state machine of the simulation: a register per key, plus the applied index. */
class KvStateMachine {
  values = new Map<string, string>();
  appliedIndex = 0;

  apply(index: number, data: Uint8Array, type: number): void {
    this.appliedIndex = index;
    if (type !== EntryType.Normal || data.length === 0) return;
    const [op, key, value] = decoder.decode(data).split(' ');
    if (op === 'put' && key !== undefined && value !== undefined) this.values.set(key, value);
  }

  image(): Uint8Array {
    return encoder.encode(JSON.stringify({ appliedIndex: this.appliedIndex, values: [...this.values] }));
  }

  static fromImage(image: Uint8Array): KvStateMachine {
    const parsed = JSON.parse(decoder.decode(image)) as { appliedIndex: number; values: [string, string][] };
    const sm = new KvStateMachine();
    sm.appliedIndex = parsed.appliedIndex;
    sm.values = new Map(parsed.values);
    return sm;
  }
}

interface PendingProposal {
  readonly term: number;
  readonly key: string;
  readonly value: string;
}

interface PendingRead {
  readonly ackedBeforeRead: number;
  readIndex: number | null;
}

/** One simulated server: its disk survives crashes, everything else does not. */
class SimNode {
  readonly disk = new SimDisk();
  raft: RaftNode | null = null;
  sm: KvStateMachine | null = null;
  /** A Ready being persisted; a crash loses it whole. */
  inFlight: { ready: Ready; finishAt: number } | null = null;
  /** As the real node: a commit-index-only hard state is not written, but rides with the next write. */
  unwrittenHardState: HardState | null = null;
  nextTickAt: number;
  proposals = new Map<number, PendingProposal>();
  /** Commands forwarded to the leader, by proposal id, waiting for their place in its log. */
  forwards = new Map<number, { key: string; value: string }[]>();
  reads = new Map<string, PendingRead>();
  crashes = 0;

  constructor(
    readonly id: NodeId,
    readonly founder: boolean,
    readonly tickMs: number,
    firstTickAt: number,
  ) {
    this.nextTickAt = firstTickAt;
  }

  get alive(): boolean {
    return this.raft !== null;
  }
}

export interface SimulationResult {
  readonly seed: number;
  readonly options: SwarmOptions;
  readonly ticks: number;
  readonly leadersElected: number;
  readonly committed: number;
  readonly ackedWrites: number;
  readonly reads: number;
  readonly crashes: number;
  readonly messagesDelivered: number;
  readonly messagesDropped: number;
  readonly confChanges: number;
  /** What happened, line by line, when tracing was asked for. */
  readonly trace: readonly string[];
}

export class SimulationFailure extends Error {
  constructor(
    readonly seed: number,
    override readonly cause: Error,
    readonly trace: readonly string[],
  ) {
    super(`seed ${seed}: ${cause.message}`);
    this.name = 'SimulationFailure';
  }
}

export interface SimulationOptions {
  readonly seed: number;
  readonly trace?: boolean;
  readonly overrides?: Partial<SwarmOptions>;
}

/**
 * A whole cluster in one process on virtual time (1 ms steps), driven by one seed: nodes
 * tick, exchange messages through a faulty network, persist Readies after a disk delay,
 * crash (losing whatever was not yet durable) and restart from disk, while clients propose,
 * read, change membership and transfer leadership. After the chaos phase the network heals
 * and every node restarts; a leader must then emerge and commit a fresh proposal everywhere.
 */
export class SimCluster {
  private readonly rng: SeededRandom;
  private readonly options: SwarmOptions;
  private readonly network: SimNetwork;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly checker = new SafetyChecker();
  private readonly raftConfig: RaftConfig;
  private readonly founders: NodeId[];
  private readonly traceLines: string[] | null;
  private now = 0;
  private valueCounter = 0;
  private readCounter = 0;
  private forwardCounter = 0;
  /** Highest log index of a write acknowledged to its client so far. */
  private maxAckedIndex = 0;
  private ackedWrites = 0;
  private readsServed = 0;
  private confChanges = 0;
  private addedSpares = new Set<NodeId>();

  constructor(private readonly simOptions: SimulationOptions) {
    this.rng = new SeededRandom(simOptions.seed);
    this.options = swarmOptions(this.rng.fork(), simOptions.overrides);
    this.network = new SimNetwork(this.rng.fork(), {
      loss: this.options.messageLoss,
      duplication: this.options.messageDuplication,
      delayMinMs: this.options.delayMinMs,
      delayMaxMs: this.options.delayMaxMs,
    });
    this.raftConfig = {
      ...defaultRaftConfig,
      preVote: this.options.preVote,
      checkQuorum: this.options.checkQuorum,
      maxInflightMessages: this.options.maxInflightMessages,
      maxAppendBytes: this.options.maxAppendBytes,
    };
    this.traceLines = simOptions.trace ? [] : null;
    this.founders = Array.from({ length: this.options.voters }, (_, i) => `n${i + 1}`);
    const total = this.options.voters + this.options.spares;
    for (let i = 1; i <= total; i++) {
      const id = `n${i}`;
      const founder = i <= this.options.voters;
      // Clocks drift: each node's tick period differs a little.
      const tickMs = this.options.tickMs + this.rng.between(-1, 1);
      const node = new SimNode(id, founder, tickMs, this.rng.between(1, tickMs));
      this.nodes.set(id, node);
      this.start(node);
    }
  }

  private trace(line: string | (() => string)): void {
    if (this.traceLines)
      this.traceLines.push(`[${String(this.now).padStart(6)}] ${typeof line === 'string' ? line : line()}`);
  }

  private start(node: SimNode): void {
    const persisted = node.disk.load();
    node.raft = new RaftNode({
      id: node.id,
      config: this.raftConfig,
      random: this.rng.fork(),
      persisted,
      ...(node.founder ? { bootstrapVoters: this.founders } : {}),
    });
    node.sm = persisted.snapshot ? KvStateMachine.fromImage(persisted.snapshot.data) : new KvStateMachine();
    node.inFlight = null;
    node.proposals.clear();
    node.forwards.clear();
    node.reads.clear();
    this.trace(
      `${node.id} start term=${persisted.hardState.term} commit=${persisted.hardState.commit} entries=${persisted.entries.length} snapshot=${persisted.snapshot?.meta.index ?? 0}`,
    );
  }

  private crash(node: SimNode): void {
    node.raft = null;
    node.sm = null;
    node.inFlight = null;
    node.unwrittenHardState = null;
    node.disk.crash();
    node.crashes++;
    this.trace(`${node.id} CRASH`);
  }

  run(): SimulationResult {
    const chaosEnd = this.options.chaosTicks * this.options.tickMs;
    const end = chaosEnd + this.options.livenessTicks * this.options.tickMs;
    try {
      for (this.now = 0; this.now < chaosEnd; this.now++) {
        this.step();
        if (this.now % this.options.tickMs === 0) this.chaos();
      }
      this.heal();
      let marker: { leader: NodeId; index: number; term: number } | null = null;
      for (; this.now < end; this.now++) {
        this.step();
        if (this.now % this.options.tickMs !== 0) continue;
        marker = this.pursueLiveness(marker);
        if (marker && this.livenessReached(marker)) {
          return this.result();
        }
      }
      throw new InvariantViolation(
        'liveness',
        `no leader committed a proposal on every member within ${this.options.livenessTicks} ticks after healing (${this.describe()})`,
      );
    } catch (error) {
      if (error instanceof InvariantViolation || error instanceof Error) {
        throw new SimulationFailure(this.simOptions.seed, error, this.traceLines ?? []);
      }
      throw error;
    }
  }

  get traceOutput(): readonly string[] {
    return this.traceLines ?? [];
  }

  private result(): SimulationResult {
    let crashes = 0;
    for (const node of this.nodes.values()) crashes += node.crashes;
    return {
      seed: this.simOptions.seed,
      options: this.options,
      ticks: Math.ceil(this.now / this.options.tickMs),
      leadersElected: this.checker.leadersElected,
      committed: this.checker.maxCommitted,
      ackedWrites: this.ackedWrites,
      reads: this.readsServed,
      crashes,
      messagesDelivered: this.network.delivered,
      messagesDropped: this.network.dropped,
      confChanges: this.confChanges,
      trace: this.traceLines ?? [],
    };
  }

  private describe(): string {
    return [...this.nodes.values()]
      .map((n) => {
        if (!n.raft) return `${n.id}:down`;
        const r = n.raft;
        return `${n.id}:${r.currentRole}/t${r.currentTerm}/c${r.commitIndex}/a${r.appliedIndex}/l${r.lastIndex}/v[${r.configuration.voters.join(',')}]`;
      })
      .join(' ');
  }

  // ---------------------------------------------------------------------------------------
  // One millisecond of virtual time

  private step(): void {
    for (const m of this.network.arrivals(this.now)) {
      const node = this.nodes.get(m.to);
      if (!node?.raft) continue;
      this.trace(() => `${m.from}->${m.to} ${describeMessage(m)}`);
      node.raft.step(m);
      this.checker.observeRole(node.raft);
    }
    for (const node of this.nodes.values()) {
      if (!node.raft) continue;
      if (this.now >= node.nextTickAt) {
        node.nextTickAt += node.tickMs;
        node.raft.tick();
        this.checker.observeRole(node.raft);
      }
      if (node.inFlight && node.inFlight.finishAt <= this.now) this.finishReady(node);
      if (!node.inFlight && node.raft.hasReady()) {
        const ready = node.raft.ready();
        // As the real node does: leader traffic leaves before the fsync, the rest after it; a
        // Ready with nothing to make durable writes nothing and is carried out at once.
        for (const m of ready.messages) if (mayPrecedePersistence(m)) this.network.send(m, this.now);
        const finishAt = ready.mustSync
          ? this.now + this.rng.between(0, this.options.diskDelayMaxMs)
          : this.now;
        node.inFlight = { ready, finishAt };
        if (ready.softState)
          this.trace(
            `${node.id} is ${ready.softState.role} term=${ready.softState.term} leader=${ready.softState.leader ?? '-'}`,
          );
        if (node.inFlight.finishAt <= this.now) this.finishReady(node);
      }
    }
  }

  /** Steps 1-4 of the Ready contract: persist, send, apply, advance. */
  private finishReady(node: SimNode): void {
    const raft = node.raft!;
    const sm = node.sm!;
    const { ready } = node.inFlight!;
    node.inFlight = null;

    if (ready.mustSync) {
      const previousCommit = node.disk.hardState.commit;
      const hardState = ready.hardState ?? node.unwrittenHardState;
      node.disk.persist(hardState, ready.entries, ready.snapshot);
      node.unwrittenHardState = null;
      if (hardState) this.checker.observeDurableCommit(node.id, previousCommit, hardState.commit);
    } else if (ready.hardState) {
      node.unwrittenHardState = ready.hardState;
    }
    this.checker.observePersisted(node.id, ready.entries, (index) => diskTerm(node.disk, index));

    for (const m of ready.messages) if (!mayPrecedePersistence(m)) this.network.send(m, this.now);

    let stateMachine = sm;
    if (ready.snapshot) {
      stateMachine = KvStateMachine.fromImage(ready.snapshot.data);
      node.sm = stateMachine;
      this.trace(`${node.id} restores snapshot ${ready.snapshot.meta.index}`);
    }
    for (const ack of ready.proposalAcks) this.noteProposalAck(node, ack);
    for (const entry of ready.committedEntries) {
      this.checker.observeApply(raft, stateMachine.appliedIndex, entry);
      stateMachine.apply(entry.index, entry.data, entry.type);
      this.settleProposal(node, entry.index, entry.term);
      if (entry.type === EntryType.ConfChange)
        this.trace(
          () =>
            `${node.id} applies conf change ${JSON.stringify(decodeConfChange(entry.data))} at ${entry.index}`,
        );
    }
    for (const rs of ready.readStates) {
      const read = node.reads.get(rs.requestId);
      if (!read) continue;
      this.checker.observeReadIndex(node.id, rs.requestId, rs.index, read.ackedBeforeRead);
      read.readIndex = rs.index;
    }
    raft.advance();
    this.checker.observeRole(raft);
    for (const [id, read] of node.reads) {
      if (read.readIndex !== null && read.readIndex <= stateMachine.appliedIndex) {
        node.reads.delete(id);
        this.readsServed++;
      }
    }
    if (stateMachine.appliedIndex - raft.snapshotIndex >= this.options.snapshotInterval) {
      const snapshot = raft.compact(stateMachine.appliedIndex, stateMachine.image());
      node.disk.compact(snapshot);
      this.trace(`${node.id} compacts to ${snapshot.meta.index}`);
    }
  }

  /** As the real node: a forwarded command is ours if the entry applied at its index has the ack's term. */
  private noteProposalAck(node: SimNode, ack: ProposalAck): void {
    const commands = node.forwards.get(ack.proposalId);
    if (!commands) return;
    node.forwards.delete(ack.proposalId);
    if (ack.rejected) return;
    commands.forEach((c, i) => node.proposals.set(ack.index + i, { term: ack.term, ...c }));
    this.trace(`${node.id}'s forwarded ${ack.proposalId} sits at ${ack.index} term ${ack.term}`);
  }

  private settleProposal(node: SimNode, index: number, term: number): void {
    const proposal = node.proposals.get(index);
    if (!proposal) return;
    node.proposals.delete(index);
    if (proposal.term !== term) return; // overwritten by another leader: the client sees a failure
    this.ackedWrites++;
    if (index > this.maxAckedIndex) this.maxAckedIndex = index;
  }

  // ---------------------------------------------------------------------------------------
  // Clients and the nemesis (once per tick period)

  private chaos(): void {
    const o = this.options;
    const rng = this.rng;
    let proposals = Math.floor(o.proposeChance) + (rng.chance(o.proposeChance % 1) ? 1 : 0);
    while (proposals-- > 0) this.propose();
    if (rng.chance(o.readChance)) this.read();
    if (rng.chance(o.partitionChance)) this.partition();
    if (rng.chance(o.healChance) && this.network.describeCuts() !== '') {
      this.network.heal();
      this.trace('HEAL');
    }
    if (rng.chance(o.crashChance)) {
      const alive = [...this.nodes.values()].filter((n) => n.alive);
      const leader = this.currentLeader();
      const victim = leader && rng.chance(0.5) ? leader : alive.length > 0 ? rng.pick(alive) : null;
      if (victim) this.crash(victim);
    }
    if (rng.chance(o.restartChance)) {
      const down = [...this.nodes.values()].filter((n) => !n.alive);
      if (down.length > 0) this.start(rng.pick(down));
    }
    if (rng.chance(o.confChangeChance)) this.changeMembership();
    if (rng.chance(o.transferChance)) this.transfer();
  }

  private currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    for (const node of this.nodes.values()) {
      if (node.raft?.currentRole === 'leader' && (!best || node.raft.currentTerm > best.raft!.currentTerm))
        best = node;
    }
    return best;
  }

  private propose(): void {
    // Mostly the leader, sometimes a random node (which forwards it, or must refuse it).
    const leader = this.currentLeader();
    const alive = [...this.nodes.values()].filter((n) => n.alive);
    const node = leader && this.rng.chance(0.9) ? leader : alive.length > 0 ? this.rng.pick(alive) : null;
    if (!node?.raft) return;
    // Clients bound their requests in flight; an unbounded backlog would only measure how long
    // a slow simulated disk takes to drain it, not whether Raft makes progress.
    if (node.proposals.size >= 64) return;
    const key = `k${this.rng.int(5)}`;
    const value = `v${++this.valueCounter}`;
    const command = encoder.encode(`put ${key} ${value}`);
    try {
      if (node.raft.currentRole !== 'leader' && this.rng.chance(0.5)) {
        // A follower hands it to the leader inside Raft, as the real node does.
        if (node.forwards.size >= 16) return;
        const proposalId = ++this.forwardCounter;
        node.raft.forwardProposals(proposalId, [command]);
        node.forwards.set(proposalId, [{ key, value }]);
        return;
      }
      const { index, term } = node.raft.propose(command);
      node.proposals.set(index, { term, key, value });
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
    }
  }

  private read(): void {
    const alive = [...this.nodes.values()].filter((n) => n.alive);
    if (alive.length === 0) return;
    const node = this.rng.pick(alive);
    const requestId = `r${++this.readCounter}`;
    try {
      node.raft!.readIndex([requestId]);
      node.reads.set(requestId, { ackedBeforeRead: this.maxAckedIndex, readIndex: null });
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
    }
  }

  private partition(): void {
    const ids = [...this.nodes.keys()];
    const shuffled = [...ids].sort(() => this.rng.next() - 0.5);
    const kind = this.rng.int(4);
    if (kind === 0) {
      const isolated = this.rng.pick(ids);
      this.network.split(
        [isolated],
        ids.filter((id) => id !== isolated),
      );
      this.trace(`PARTITION isolate ${isolated}`);
    } else if (kind === 1) {
      const cut = 1 + this.rng.int(ids.length - 1);
      this.network.split(shuffled.slice(0, cut), shuffled.slice(cut));
      this.trace(`PARTITION split ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
    } else if (kind === 2) {
      // A bridge: one node sees both halves, which do not see each other.
      const [bridge, ...rest] = shuffled;
      const half = Math.ceil(rest.length / 2);
      this.network.split(rest.slice(0, half), rest.slice(half));
      this.trace(
        `PARTITION bridge ${bridge} between ${rest.slice(0, half).join(',')} | ${rest.slice(half).join(',')}`,
      );
    } else {
      const from = this.rng.pick(ids);
      const to = this.rng.pick(ids.filter((id) => id !== from));
      this.network.cut(from, to);
      this.trace(`PARTITION one-way ${from} -/-> ${to}`);
    }
  }

  private changeMembership(): void {
    const leader = this.currentLeader();
    if (!leader?.raft) return;
    const conf = leader.raft.configuration;
    const spare = [...this.nodes.values()].find((n) => !n.founder && !this.addedSpares.has(n.id));
    let change;
    if (conf.learners.length > 0 && this.rng.chance(0.7)) {
      change = { type: ConfChangeType.AddVoter, nodeId: this.rng.pick(conf.learners) };
    } else if (spare && this.rng.chance(0.5)) {
      change = { type: ConfChangeType.AddLearner, nodeId: spare.id };
    } else if (conf.voters.length > 3) {
      change = { type: ConfChangeType.RemoveNode, nodeId: this.rng.pick(conf.voters) };
    } else {
      return;
    }
    try {
      leader.raft.proposeConfChange(change);
      if (change.type === ConfChangeType.AddLearner) this.addedSpares.add(change.nodeId);
      this.confChanges++;
      this.trace(`${leader.id} proposes ${change.type} ${change.nodeId}`);
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
    }
  }

  private transfer(): void {
    const leader = this.currentLeader();
    if (!leader?.raft) return;
    const others = leader.raft.configuration.voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const target = this.rng.pick(others);
    this.trace(`${leader.id} transfers leadership to ${target}`);
    leader.raft.transferLeadership(target);
  }

  // ---------------------------------------------------------------------------------------
  // Liveness

  private heal(): void {
    this.network.heal();
    this.network.faults = { ...this.network.faults, loss: 0, duplication: 0 };
    for (const node of this.nodes.values()) if (!node.alive) this.start(node);
    this.trace('LIVENESS PHASE: network healed, every node up');
  }

  /** The configuration as the most advanced live node has applied it. */
  private latestConf(): ConfState {
    let best: RaftNode | null = null;
    for (const node of this.nodes.values()) {
      if (node.raft && (!best || node.raft.appliedIndex > best.appliedIndex)) best = node.raft;
    }
    return best!.configuration;
  }

  private pursueLiveness(
    marker: { leader: NodeId; index: number; term: number } | null,
  ): { leader: NodeId; index: number; term: number } | null {
    const leader = this.currentLeader();
    if (!leader?.raft) return marker;
    if (marker && marker.leader === leader.id && marker.term === leader.raft.currentTerm) return marker;
    try {
      const { index, term } = leader.raft.propose(encoder.encode(`put liveness ${++this.valueCounter}`));
      this.trace(`${leader.id} proposes the liveness marker at ${index}`);
      return { leader: leader.id, index, term };
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
      return marker;
    }
  }

  private livenessReached(marker: { index: number; term: number }): boolean {
    if (this.checker.appliedTermAt(marker.index) !== marker.term) return false;
    const conf = this.latestConf();
    for (const id of [...conf.voters, ...conf.learners]) {
      const node = this.nodes.get(id);
      if (!node?.raft || node.raft.appliedIndex < marker.index) return false;
    }
    return true;
  }
}

function diskTerm(disk: SimDisk, index: number): number | undefined {
  const base = disk.snapshot?.meta.index ?? 0;
  if (index === base) return disk.snapshot?.meta.term ?? 0;
  return disk.entries[index - base - 1]?.term;
}

export function describeMessage(m: Message): string {
  switch (m.type) {
    case 'vote':
    case 'preVote':
      return `${m.type} t${m.term} last=${m.lastLogIndex}/${m.lastLogTerm}${m.transfer ? ' transfer' : ''}`;
    case 'voteResp':
    case 'preVoteResp':
      return `${m.type} t${m.term} ${m.reject ? 'REJECT' : 'grant'}`;
    case 'append':
      return `append t${m.term} prev=${m.prevLogIndex}/${m.prevLogTerm} n=${m.entries.length} commit=${m.commit}`;
    case 'appendResp':
      return `appendResp t${m.term} ${m.reject ? `REJECT ${m.index} hint=${m.rejectHintIndex}/${m.rejectHintTerm}` : `ok ${m.index}`}`;
    case 'heartbeat':
      return `heartbeat t${m.term} commit=${m.commit}${m.readContext ? ` ctx=${m.readContext}` : ''}`;
    case 'heartbeatResp':
      return `heartbeatResp t${m.term}${m.readContext ? ` ctx=${m.readContext}` : ''}`;
    case 'snapshot':
      return `snapshot t${m.term} index=${m.snapshot.meta.index}/${m.snapshot.meta.term}`;
    case 'timeoutNow':
      return `timeoutNow t${m.term}`;
    case 'readIndex':
      return `readIndex t${m.term} ids=${m.requestIds.join(',')}`;
    case 'readIndexResp':
      return `readIndexResp t${m.term} index=${m.index}${m.reject ? ' REJECT' : ''}`;
    case 'propose':
      return `propose t${m.term} id=${m.proposalId} n=${m.commands.length}`;
    case 'proposeResp':
      return `proposeResp t${m.term} id=${m.proposalId} ${m.reject ? 'REJECT' : `index=${m.index}`}`;
  }
}

export function runSimulation(options: SimulationOptions): SimulationResult {
  return new SimCluster(options).run();
}
