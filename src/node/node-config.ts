import type { NodeId } from '../raft/types.js';

/** Everything a node needs to start; built from flags and RAFTREE_* environment variables. */
export interface NodeConfig {
  readonly id: NodeId;
  /** host:port of the gRPC server (clients and peers). */
  readonly listen: string;
  /** host:port of the HTTP side port (/health, /status, /metrics), or null for none. */
  readonly http: string | null;
  /** Every founding member's gRPC address, this node included. */
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly dataDir: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly snapshotEveryEntries: number;
  /**
   * Join an existing cluster instead of founding one: the node starts empty and learns the
   * configuration from the leader (after `raftree cluster add ID ADDRESS`).
   */
  readonly join?: boolean;
  /** Keep this many revisions of history; older history is compacted automatically (0 or absent: never). */
  readonly autoCompactRetention?: number;
  readonly logLevel: string;
  readonly limits: RequestLimits;
}

export interface RequestLimits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
}

export const defaultLimits: RequestLimits = {
  maxKeyBytes: 4 * 1024,
  maxValueBytes: 1024 * 1024,
  maxRequestBytes: 1.5 * 1024 * 1024,
  maxTxnOps: 128,
};

/**
 * Timing defaults: a 50 ms tick, heartbeats every 2 ticks (100 ms, etcd's default) and an
 * election timeout drawn from [10, 20) ticks (500-1000 ms; etcd uses 1000 ms fixed plus
 * jitter), so a dead leader is replaced in well under a second with PreVote and CheckQuorum on.
 */
export const defaultTiming = { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 } as const;

/**
 * etcd's default. The log behind the latest snapshot is kept in memory and replayed on restart;
 * a small state snapshots sooner (see Replica's snapshotThreshold).
 */
export const DEFAULT_SNAPSHOT_EVERY_ENTRIES = 100_000;

/** Revisions of history automatic compaction keeps (see autoCompactorExtension). */
export const DEFAULT_AUTO_COMPACT_RETENTION = 100_000;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses `n1=127.0.0.1:7001,n2=127.0.0.1:7002`. */
export function parsePeers(spec: string): Map<NodeId, string> {
  const peers = new Map<NodeId, string>();
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(part);
    if (!match) throw new ConfigError(`--peers: "${part}" is not ID=HOST:PORT (e.g. n1=127.0.0.1:7001)`);
    const [, id, address] = match;
    validateAddress(address!, `--peers ${id}`);
    if (peers.has(id!)) throw new ConfigError(`--peers: ${id} is listed twice`);
    peers.set(id!, address!);
  }
  if (peers.size === 0) throw new ConfigError('--peers is empty: list every founding member as ID=HOST:PORT');
  return peers;
}

export function validateAddress(address: string, what: string): void {
  const match = /^(.+):(\d+)$/.exec(address);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(`${what}: "${address}" is not HOST:PORT (e.g. 127.0.0.1:7001)`);
  }
}

export function validateNodeConfig(config: NodeConfig): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(config.id)) {
    throw new ConfigError(`--id "${config.id}" may contain only letters, digits, '_', '.' and '-'`);
  }
  validateAddress(config.listen, '--listen');
  if (config.http !== null) validateAddress(config.http, '--http');
  if (!config.peers.has(config.id)) {
    throw new ConfigError(
      `--peers does not list this node (${config.id}); include it, e.g. ${config.id}=${config.listen}`,
    );
  }
  const positive: [string, number][] = [
    ['--tick-ms', config.tickMs],
    ['--election-ticks', config.electionTicks],
    ['--heartbeat-ticks', config.heartbeatTicks],
    ['--snapshot-entries', config.snapshotEveryEntries],
  ];
  for (const [flag, value] of positive) {
    if (!Number.isInteger(value) || value <= 0)
      throw new ConfigError(`${flag} must be a positive integer, got ${value}`);
  }
  if (config.heartbeatTicks >= config.electionTicks) {
    throw new ConfigError('--heartbeat-ticks must be smaller than --election-ticks');
  }
}
