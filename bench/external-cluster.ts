/**
 * A raftree cluster the bench did not start (--endpoints): it can be measured through its
 * client API only, so the rows that need the processes (memory, CPU, restart, failover) and
 * the group-commit counters are left out.
 */
import { RaftreeClient } from '../src/client/index.js';
import { RaftreeKvClient } from './raftree-kv-client.js';
import type { KvClient, KvClientOptions, ReplicationCounters, StoreCluster, StoreNode } from './store.js';

export class ExternalRaftreeCluster implements StoreCluster {
  readonly kind = 'raftree' as const;
  readonly managed = false;
  readonly clientRouting =
    'raftree client: writes to the leader, reads to one sticky endpoint (a follower: listed first)';
  readonly nodes: readonly StoreNode[];
  readonly settings: Readonly<Record<string, string | number | boolean>>;

  constructor(
    endpoints: readonly string[],
    readonly version: string,
  ) {
    // Node ids are the endpoints: the bench knows nothing else about them.
    this.nodes = endpoints.map((endpoint) => ({
      id: endpoint,
      clientEndpoint: endpoint,
      metricsUrl: null,
      pid: () => null,
    }));
    this.settings = {
      endpoints: endpoints.join(','),
      timing: 'as configured on the cluster (not started by the bench)',
    };
  }

  client(options: KvClientOptions): KvClient {
    return new RaftreeKvClient(
      new RaftreeClient({
        endpoints: [...(options.endpoints ?? this.nodes.map((n) => n.clientEndpoint))],
        deadlineMs: options.deadlineMs,
        ...(options.probe === true ? { retry: { maxAttempts: 1 }, connectTimeoutMs: 200 } : {}),
      }),
    );
  }

  async leaderId(timeoutMs: number): Promise<string | null> {
    const client = new RaftreeClient({
      endpoints: this.nodes.map((n) => n.clientEndpoint),
      deadlineMs: timeoutMs,
    });
    try {
      return (await client.leader())?.endpoint ?? null;
    } catch {
      return null;
    } finally {
      client.close();
    }
  }

  async replicationCounters(): Promise<ReplicationCounters | null> {
    return null;
  }

  async kill(): Promise<void> {
    throw new Error('the bench did not start this cluster: it cannot kill its nodes');
  }

  restart(): number {
    throw new Error('the bench did not start this cluster: it cannot restart its nodes');
  }

  async stop(): Promise<void> {}
}
