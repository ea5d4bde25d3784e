/**
 * A three-node raftree cluster of `raftree serve` processes on loopback (free ports, a temp
 * data root), built code from dist/. The HTTP side port is on, for /metrics.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { RaftreeClient } from '../src/client/index.js';
import { gitRevision } from './build-info.js';
import { ManagedCluster, type ManagedNodeState } from './managed-cluster.js';
import { freePorts } from './ports.js';
import { isRunning, registerTempDir, spawnServer } from './process-registry.js';
import { RaftreeKvClient } from './raftree-kv-client.js';
import { etcd3KvClient } from './etcd-kv-client.js';
import type { KvClient, KvClientOptions, StoreCluster } from './store.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..');
export const DEFAULT_CLI_MAIN = join(REPO_ROOT, 'dist', 'raftree.mjs');

/** The defaults of `raftree serve`, stated explicitly so the report names them. */
export const RAFTREE_TIMING = { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 } as const;

export interface RaftreeClusterOptions {
  /** Extra flags for `node` itself (e.g. --cpu-prof --cpu-prof-dir DIR). */
  readonly nodeFlags?: readonly string[];
  readonly logLevel?: string;
  /** The built CLI to run (default: this repo's dist). */
  readonly cliMain?: string;
  /** Which client the workloads use: raftree's own, or etcd3 through the etcd-compatible API. */
  readonly client?: BenchClientKind;
}

export type BenchClientKind = 'native' | 'etcd3';

const CLIENT_ROUTING: Readonly<Record<BenchClientKind, string>> = {
  native:
    'raftree client: writes to the leader (learned from Status), reads to one sticky endpoint (a follower: listed first)',
  etcd3:
    'etcd3 client on the etcd-compatible API: each call to a member picked at random (followers forward writes)',
};

interface RaftreeNodeState extends ManagedNodeState {
  readonly httpPort: number;
}

export class RaftreeCluster extends ManagedCluster<RaftreeNodeState> implements StoreCluster {
  readonly kind = 'raftree' as const;
  readonly clientRouting: string;
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  /** Node id of every process started, by pid (to name --cpu-prof files, CPU.<date>.<pid>...). */
  readonly nodeIdByPid = new Map<number, string>();

  private constructor(
    readonly version: string,
    root: string,
    nodeStates: RaftreeNodeState[],
    private readonly options: RaftreeClusterOptions,
  ) {
    super(root, nodeStates, {
      label: 'raftree',
      leaderMetric: 'raftree_is_leader',
      fsyncMetric: 'raftree_fsync_duration_seconds',
      entriesMetric: 'raftree_entries_per_fsync_sum',
      appendRoundTripMetric: 'raftree_peer_append_round_trip_seconds',
      // SIGTERM: a node stops cleanly (and writes its --cpu-prof profile, if asked for one).
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 10_000,
    });
    this.clientRouting = CLIENT_ROUTING[options.client ?? 'native'];
    const { tickMs, electionTicks, heartbeatTicks } = RAFTREE_TIMING;
    this.settings = {
      tickMs,
      heartbeatMs: tickMs * heartbeatTicks,
      electionTimeoutMs: `${tickMs * electionTicks}-${tickMs * electionTicks * 2} (randomized)`,
      preVote: true,
      checkQuorum: true,
      fsync: 'every Ready batch (group commit)',
      snapshotEveryEntries: 'default (100000)',
      logLevel: options.logLevel ?? 'info',
      nodeFlags: (options.nodeFlags ?? []).join(' ') || 'none',
      build: options.cliMain ?? DEFAULT_CLI_MAIN,
      commit: gitRevision(dirname(options.cliMain ?? DEFAULT_CLI_MAIN)),
      dataDir: root,
    };
  }

  static async start(options: RaftreeClusterOptions = {}): Promise<RaftreeCluster> {
    const cliMain = resolve(options.cliMain ?? DEFAULT_CLI_MAIN);
    if (!existsSync(cliMain)) throw new Error(`${cliMain} is missing: run "npm run build" first`);
    const ports = await freePorts(6);
    const root = mkdtempSync(join(tmpdir(), 'raftree-bench-'));
    registerTempDir(root);
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    const nodes: RaftreeNodeState[] = [0, 1, 2].map((i) => {
      const grpcPort = ports[i]!;
      const httpPort = ports[i + 3]!;
      const state: RaftreeNodeState = {
        id: `n${i + 1}`,
        clientEndpoint: `127.0.0.1:${grpcPort}`,
        metricsUrl: `http://127.0.0.1:${httpPort}/metrics`,
        httpPort,
        dataDir: join(root, `n${i + 1}`),
        logFile: join(root, `n${i + 1}.log`),
        process: null,
        pid: () => (isRunning(state.process) ? (state.process.pid ?? null) : null),
      };
      return state;
    });
    const cluster = new RaftreeCluster(version, root, nodes, { ...options, cliMain });
    try {
      for (const node of nodes) cluster.spawn(node);
      if ((await cluster.leaderId(20_000)) === null)
        throw new Error(`no raftree leader within 20 s; logs in ${root}`);
    } catch (error) {
      await cluster.stop({ keepData: true });
      throw error;
    }
    return cluster;
  }

  client(options: KvClientOptions): KvClient {
    const endpoints = options.endpoints ?? this.nodeStates.map((n) => n.clientEndpoint);
    if (this.options.client === 'etcd3') return etcd3KvClient(endpoints, options);
    return new RaftreeKvClient(
      new RaftreeClient({
        endpoints: [...endpoints],
        deadlineMs: options.deadlineMs,
        ...(options.probe === true
          ? { retry: { maxAttempts: 1 }, connectTimeoutMs: 200, attemptTimeoutMs: options.deadlineMs }
          : {}),
      }),
    );
  }

  protected spawn(node: RaftreeNodeState): number {
    const peers = this.nodeStates.map((n) => `${n.id}=${n.clientEndpoint}`).join(',');
    const { tickMs, electionTicks, heartbeatTicks } = RAFTREE_TIMING;
    const args = [
      ...(this.options.nodeFlags ?? []),
      this.options.cliMain ?? DEFAULT_CLI_MAIN,
      'serve',
      '--id',
      node.id,
      '--listen',
      node.clientEndpoint,
      '--http',
      `127.0.0.1:${node.httpPort}`,
      '--peers',
      peers,
      '--data',
      node.dataDir,
      '--tick-ms',
      String(tickMs),
      '--election-ticks',
      String(electionTicks),
      '--heartbeat-ticks',
      String(heartbeatTicks),
      '--log-level',
      this.options.logLevel ?? 'info',
    ];
    const env = { ...process.env };
    // Flags name everything; stray RAFTREE_* settings of the developer must not leak in.
    for (const key of Object.keys(env)) if (key.startsWith('RAFTREE_')) delete env[key];
    const { child, spawnedAtMs } = spawnServer(process.execPath, args, node.logFile, env);
    node.process = child;
    if (child.pid !== undefined) this.nodeIdByPid.set(child.pid, node.id);
    return spawnedAtMs;
  }
}
