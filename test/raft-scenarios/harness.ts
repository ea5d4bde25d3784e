import { SeededRandom } from '../../src/common/prng.js';
import { defaultRaftConfig, type RaftConfig } from '../../src/raft/config.js';
import { RaftNode } from '../../src/raft/raft-node.js';
import type { Entry, Message, NodeId, ProposalAck, ReadState } from '../../src/raft/types.js';
import { SimDisk } from '../simulation/sim-disk.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function command(text: string): Uint8Array {
  return encoder.encode(text);
}

export function text(entry: Entry): string {
  return decoder.decode(entry.data);
}

interface ScenarioNode {
  raft: RaftNode | null;
  readonly disk: SimDisk;
  /** What this node's state machine applied, in order (reset on restart from its snapshot). */
  applied: Entry[];
  readStates: ReadState[];
  proposalAcks: ProposalAck[];
}

/**
 * A synchronous, hand-driven cluster for scripted scenarios (etcd's raft_test.go `network`):
 * nothing happens unless the test ticks a node or calls stabilize(), which carries out every
 * Ready and delivers every message, in order, until the cluster is quiet. Links can be cut
 * and individual messages dropped by a filter, so each classic trap is set up exactly.
 */
export class ScenarioCluster {
  readonly nodes = new Map<NodeId, ScenarioNode>();
  private readonly cuts = new Set<string>();
  private readonly rng = new SeededRandom(7);
  /** Messages for which this returns true are dropped. */
  dropIf: (m: Message) => boolean = () => false;
  /** Every message that was delivered, for assertions. */
  readonly delivered: Message[] = [];
  readonly config: RaftConfig;

  constructor(
    readonly ids: readonly NodeId[],
    config: Partial<RaftConfig> = {},
  ) {
    this.config = { ...defaultRaftConfig, ...config };
    for (const id of ids) {
      this.nodes.set(id, { raft: null, disk: new SimDisk(), applied: [], readStates: [], proposalAcks: [] });
      this.start(id);
    }
    this.stabilize();
  }

  /** Adds an empty node that is not (yet) a member; the leader can then add it. */
  addBlankNode(id: NodeId): void {
    this.nodes.set(id, { raft: null, disk: new SimDisk(), applied: [], readStates: [], proposalAcks: [] });
    this.start(id, false);
  }

  raft(id: NodeId): RaftNode {
    const raft = this.node(id).raft;
    if (!raft) throw new Error(`${id} is down`);
    return raft;
  }

  node(id: NodeId): ScenarioNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  applied(id: NodeId): string[] {
    return this.node(id)
      .applied.filter((e) => e.data.length > 0 && e.type === 0)
      .map(text);
  }

  start(id: NodeId, founder = true): void {
    const node = this.node(id);
    const persisted = node.disk.load();
    node.raft = new RaftNode({
      id,
      config: this.config,
      random: this.rng.fork(),
      persisted,
      ...(founder ? { bootstrapVoters: this.ids } : {}),
    });
    node.applied = [];
  }

  crash(id: NodeId): void {
    this.node(id).raft = null;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut(id, other);
      this.cut(other, id);
    }
  }

  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
  }

  heal(): void {
    this.cuts.clear();
    this.dropIf = () => false;
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.raft(id).tick();
  }

  /** Tick every live node `times` times, stabilizing after each round. */
  tickAll(times: number): void {
    for (let i = 0; i < times; i++) {
      for (const node of this.nodes.values()) node.raft?.tick();
      this.stabilize();
    }
  }

  /**
   * Make `id` campaign (PreVote and vote rounds included). A candidate behind on terms learns
   * the current term from the rejections, so it gets a few attempts; it may still lose.
   */
  elect(id: NodeId, attempts = 3): void {
    for (let i = 0; i < attempts && this.raft(id).currentRole !== 'leader'; i++) {
      this.raft(id).campaign();
      this.stabilize();
    }
  }

  propose(id: NodeId, data: string): { index: number; term: number } {
    const accepted = this.raft(id).propose(command(data));
    return accepted;
  }

  /** Run Readies and deliver messages until nothing moves. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      const outbox: Message[] = [];
      for (const [id, node] of this.nodes) {
        const raft = node.raft;
        if (!raft || !raft.hasReady()) continue;
        const ready = raft.ready();
        node.disk.persist(ready.hardState, ready.entries, ready.snapshot);
        outbox.push(...ready.messages);
        if (ready.snapshot) node.applied = [];
        node.applied.push(...ready.committedEntries);
        node.readStates.push(...ready.readStates);
        node.proposalAcks.push(...ready.proposalAcks);
        raft.advance();
        if (raft.id !== id) throw new Error('node identity mismatch');
      }
      if (outbox.length === 0) return;
      for (const m of outbox) {
        if (this.cuts.has(`${m.from}>${m.to}`) || this.dropIf(m)) continue;
        const target = this.nodes.get(m.to)?.raft;
        if (!target) continue;
        this.delivered.push(m);
        target.step(m);
      }
    }
    throw new Error('cluster did not stabilize');
  }

  /** Compact `id`'s log at its applied index (the scenario's state machine image is a label). */
  compact(id: NodeId): void {
    const raft = this.raft(id);
    const snapshot = raft.compact(raft.appliedIndex, command(`image@${raft.appliedIndex}`));
    this.node(id).disk.compact(snapshot);
  }

  leaders(): NodeId[] {
    return [...this.nodes.entries()].filter(([, n]) => n.raft?.currentRole === 'leader').map(([id]) => id);
  }
}
