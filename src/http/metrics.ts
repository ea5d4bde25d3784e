import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CompletedRequest, RaftreeNode } from '../node/raftree-node.js';
import type { ReplicaCounters } from '../replica/replica.js';
import type { Role } from '../raft/types.js';

const ROLES: readonly Role[] = ['follower', 'preCandidate', 'candidate', 'leader'];

const REQUEST_SECONDS_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** For fsyncs and peer round trips: a fraction of a millisecond when all is well. */
const SHORT_SECONDS_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];
const ENTRIES_PER_FSYNC_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** The Prometheus metrics of one node. */
export interface NodeMetrics {
  readonly registry: Registry;
  /** Stops listening to the node (the registry stays readable). */
  dispose(): void;
}

/**
 * Builds a registry of its own for one node, so several nodes in one process (tests, the
 * simulator) never share or clash over metric names. Most values are read from the node at
 * scrape time; only latencies are observed as they happen.
 */
export function createNodeMetrics(node: RaftreeNode): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: node.config.id });
  collectDefaultMetrics({ register: registry });
  const replica = node.replica;
  const registers = [registry];

  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  };
  gauge('raftree_term', 'Current Raft term.', () => replica.term);
  gauge(
    'raftree_commit_index',
    'Highest log index known to be committed.',
    () => replica.status().commitIndex,
  );
  gauge(
    'raftree_applied_index',
    'Highest log index applied to the state machine.',
    () => replica.status().appliedIndex,
  );
  gauge('raftree_last_index', 'Index of the last entry in the local log.', () => replica.status().lastIndex);
  gauge('raftree_snapshot_index', 'Index of the latest snapshot.', () => replica.status().snapshotIndex);
  gauge('raftree_is_leader', '1 on the leader, 0 elsewhere.', () => (replica.isLeader ? 1 : 0));
  gauge('raftree_has_leader', '1 when this node knows a leader.', () => (replica.leaderId === null ? 0 : 1));
  gauge('raftree_keys', 'Keys currently stored.', () => replica.stateMachine.keyCount);
  gauge('raftree_revision', 'Current MVCC revision.', () => replica.stateMachine.revision);
  gauge(
    'raftree_active_watchers',
    'Watches currently open on this node.',
    () => replica.stateMachine.watches.watcherCount,
  );

  new Gauge({
    name: 'raftree_role',
    help: 'Raft role of this node: 1 for the current role, 0 for the others.',
    labelNames: ['role'],
    registers,
    collect() {
      const role = replica.status().role;
      for (const r of ROLES) this.set({ role: r }, r === role ? 1 : 0);
    },
  });
  new Gauge({
    name: 'raftree_members',
    help: 'Cluster members by kind, as this node sees the configuration.',
    labelNames: ['kind'],
    registers,
    collect() {
      const conf = replica.status().conf;
      this.set({ kind: 'voter' }, conf.voters.length);
      this.set({ kind: 'learner' }, conf.learners.length);
    },
  });

  // The replica keeps cumulative counts; mirror them at scrape time instead of hooking every site.
  const replicaCounter = (name: string, help: string, field: keyof ReplicaCounters): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(replica.counters[field]);
      },
    });
  };
  replicaCounter(
    'raftree_proposals_committed_total',
    'Proposals made on this node that were applied.',
    'proposalsCommitted',
  );
  replicaCounter(
    'raftree_proposals_failed_total',
    'Proposals made on this node that were dropped or lost with leadership.',
    'proposalsFailed',
  );
  replicaCounter('raftree_leader_changes_total', 'Times this node saw the leader change.', 'leaderChanges');
  replicaCounter('raftree_snapshots_taken_total', 'Snapshots taken to compact the log.', 'snapshotsTaken');
  replicaCounter(
    'raftree_snapshots_installed_total',
    'Snapshots received from a leader and installed.',
    'snapshotsInstalled',
  );
  replicaCounter(
    'raftree_linearizable_reads_total',
    'Reads served after a ReadIndex confirmation.',
    'readsServed',
  );

  const peerCounter = (
    name: string,
    help: string,
    read: (peer: { sent: number; dropped: number }) => number,
  ): void => {
    new Counter({
      name,
      help,
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const [peer, stats] of Object.entries(node.transport.stats().peers))
          this.inc({ peer }, read(stats));
      },
    });
  };
  peerCounter('raftree_peer_messages_sent_total', 'Raft messages handed to a peer stream.', (s) => s.sent);
  peerCounter(
    'raftree_peer_messages_dropped_total',
    'Raft messages dropped for a peer (queue full, oversize, closed).',
    (s) => s.dropped,
  );

  const fsyncSeconds = new Histogram({
    name: 'raftree_fsync_duration_seconds',
    help: 'Duration of each synced write of Raft state (one per Ready batch).',
    buckets: SHORT_SECONDS_BUCKETS,
    registers,
  });
  const entriesPerFsync = new Histogram({
    name: 'raftree_entries_per_fsync',
    help: 'Log entries carried by each synced write that carried any (group commit).',
    buckets: ENTRIES_PER_FSYNC_BUCKETS,
    registers,
  });
  const appendRoundTripSeconds = new Histogram({
    name: 'raftree_peer_append_round_trip_seconds',
    help:
      'Leader only: an append carrying entries, sent to a follower → its acknowledgement ' +
      "(the follower's synced write included).",
    labelNames: ['peer'],
    buckets: SHORT_SECONDS_BUCKETS,
    registers,
  });
  const heartbeatRoundTripSeconds = new Histogram({
    name: 'raftree_peer_heartbeat_round_trip_seconds',
    help: 'Leader only: a heartbeat sent to a follower → its answer (no disk write on the way).',
    labelNames: ['peer'],
    buckets: SHORT_SECONDS_BUCKETS,
    registers,
  });
  const requestSeconds = new Histogram({
    name: 'raftree_grpc_request_duration_seconds',
    help: 'Client gRPC requests by method and status code.',
    labelNames: ['method', 'code'],
    buckets: REQUEST_SECONDS_BUCKETS,
    registers,
  });

  const onPersisted = (ms: number, entries: number): void => {
    fsyncSeconds.observe(ms / 1000);
    if (entries > 0) entriesPerFsync.observe(entries);
  };
  const onAppendRoundTrip = (peer: string, ms: number): void =>
    appendRoundTripSeconds.observe({ peer }, ms / 1000);
  const onHeartbeatRoundTrip = (peer: string, ms: number): void =>
    heartbeatRoundTripSeconds.observe({ peer }, ms / 1000);
  replica.on('persisted', onPersisted);
  replica.on('appendRoundTrip', onAppendRoundTrip);
  replica.on('heartbeatRoundTrip', onHeartbeatRoundTrip);
  let disposed = false;
  node.onRequest((request: CompletedRequest) => {
    if (!disposed) requestSeconds.observe({ method: request.method, code: request.code }, request.seconds);
  });

  return {
    registry,
    dispose() {
      disposed = true;
      replica.off('persisted', onPersisted);
      replica.off('appendRoundTrip', onAppendRoundTrip);
      replica.off('heartbeatRoundTrip', onHeartbeatRoundTrip);
    },
  };
}
