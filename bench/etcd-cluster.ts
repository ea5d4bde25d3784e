/**
 * A three-node etcd cluster on loopback (free ports, temp data dirs), with etcd's own default
 * durability (fsync of the WAL on every Ready; no unsafe flags) and timing stated explicitly:
 * heartbeat 100 ms, election timeout 1000 ms (etcd's defaults).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcd3KvClient } from './etcd-kv-client.js';
import { etcdVersion } from './etcd-binary.js';
import { ManagedCluster, type ManagedNodeState } from './managed-cluster.js';
import { freePorts } from './ports.js';
import { isRunning, registerTempDir, spawnServer } from './process-registry.js';
import type { KvClient, KvClientOptions, StoreCluster } from './store.js';

export const ETCD_TIMING = { heartbeatIntervalMs: 100, electionTimeoutMs: 1000 } as const;

interface EtcdNodeState extends ManagedNodeState {
  readonly peerUrl: string;
}

export class EtcdCluster extends ManagedCluster<EtcdNodeState> implements StoreCluster {
  readonly kind = 'etcd' as const;
  readonly clientRouting = 'etcd3 client: each call to a member picked at random (followers forward writes)';
  readonly settings: Readonly<Record<string, string | number | boolean>>;

  private constructor(
    private readonly binary: string,
    readonly version: string,
    root: string,
    private readonly clusterToken: string,
    nodeStates: EtcdNodeState[],
  ) {
    super(root, nodeStates, {
      label: 'etcd',
      leaderMetric: 'etcd_server_is_leader',
      fsyncMetric: 'etcd_disk_wal_fsync_duration_seconds',
      // Proposals committed stand for the entries the fsyncs carried (the closest etcd counter).
      entriesMetric: 'etcd_server_proposals_committed_total',
      // etcd_network_peer_round_trip_time_seconds times a prober's pings every few seconds, not appends.
      appendRoundTripMetric: null,
      stopSignal: 'SIGKILL',
    });
    this.settings = {
      heartbeatMs: ETCD_TIMING.heartbeatIntervalMs,
      electionTimeoutMs: `${ETCD_TIMING.electionTimeoutMs}-${ETCD_TIMING.electionTimeoutMs * 2} (randomized)`,
      preVote: 'off (etcd 3.4 default)',
      fsync: 'WAL fsync every Ready (default; no unsafe flags)',
      snapshotCount: 'default (100000)',
      binary,
      dataDir: root,
    };
  }

  static async start(binary: string): Promise<EtcdCluster> {
    const ports = await freePorts(6);
    const root = mkdtempSync(join(tmpdir(), 'raftree-bench-etcd-'));
    registerTempDir(root);
    const nodes: EtcdNodeState[] = [0, 1, 2].map((i) => {
      const clientEndpoint = `127.0.0.1:${ports[i]!}`;
      const state: EtcdNodeState = {
        id: `e${i + 1}`,
        clientEndpoint,
        metricsUrl: `http://${clientEndpoint}/metrics`,
        peerUrl: `http://127.0.0.1:${ports[i + 3]!}`,
        dataDir: join(root, `e${i + 1}`),
        logFile: join(root, `e${i + 1}.log`),
        process: null,
        pid: () => (isRunning(state.process) ? (state.process.pid ?? null) : null),
      };
      return state;
    });
    const cluster = new EtcdCluster(
      binary,
      etcdVersion(binary),
      root,
      `bench-${randomBytes(4).toString('hex')}`,
      nodes,
    );
    try {
      for (const node of nodes) cluster.spawn(node);
      if ((await cluster.leaderId(30_000)) === null)
        throw new Error(`no etcd leader within 30 s; logs in ${root}`);
    } catch (error) {
      await cluster.stop({ keepData: true });
      throw error;
    }
    return cluster;
  }

  client(options: KvClientOptions): KvClient {
    return etcd3KvClient(options.endpoints ?? this.nodeStates.map((n) => n.clientEndpoint), options);
  }

  protected spawn(node: EtcdNodeState): number {
    const initialCluster = this.nodeStates.map((n) => `${n.id}=${n.peerUrl}`).join(',');
    const clientUrl = `http://${node.clientEndpoint}`;
    const args = [
      '--name',
      node.id,
      '--data-dir',
      node.dataDir,
      '--listen-client-urls',
      clientUrl,
      '--advertise-client-urls',
      clientUrl,
      '--listen-peer-urls',
      node.peerUrl,
      '--initial-advertise-peer-urls',
      node.peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      this.clusterToken,
      '--heartbeat-interval',
      String(ETCD_TIMING.heartbeatIntervalMs),
      '--election-timeout',
      String(ETCD_TIMING.electionTimeoutMs),
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
    ];
    const { child, spawnedAtMs } = spawnServer(this.binary, args, node.logFile);
    node.process = child;
    return spawnedAtMs;
  }
}
