/**
 * What a workload needs from a store under test, whichever it is (raftree or etcd): clients
 * that put, get and watch, and a cluster whose processes the bench controls (kill, restart,
 * memory, CPU, metrics). Each store's client is used the way an application would use it,
 * with all the endpoints it was given and its default retry behaviour.
 */

export interface WatchHandle {
  close(): void;
}

export interface KvClientOptions {
  /** Endpoints (HOST:PORT) the client may use; default every node. */
  readonly endpoints?: readonly string[];
  /** Deadline of each call, retries included. */
  readonly deadlineMs: number;
  /** One attempt per call and fast connection failure: for probes that poll. */
  readonly probe?: boolean;
}

export interface KvClient {
  put(key: string, value: Buffer): Promise<void>;
  /** The value, or null when the key does not exist. */
  get(key: string, options: { readonly serializable: boolean }): Promise<Buffer | null>;
  /** Resolves once the watch is established; `onPut` sees each put event's key and value. */
  watchPrefix(prefix: string, onPut: (key: string, value: Buffer) => void): Promise<WatchHandle>;
  close(): void;
}

export interface StoreNode {
  readonly id: string;
  /** HOST:PORT for clients. */
  readonly clientEndpoint: string;
  /** Prometheus text endpoint, or null when the bench cannot scrape it. */
  readonly metricsUrl: string | null;
  /** The live process's pid, or null (not running, or not started by the bench). */
  pid(): number | null;
}

/** Cumulative counters from a leader's Prometheus page: its synced writes and its followers' answers. */
export interface ReplicationCounters {
  /** Synced writes of the Raft log / WAL. */
  readonly fsyncs: number;
  /** Log entries those writes carried (proposals committed for etcd). */
  readonly entries: number;
  /** Seconds those writes took in all. */
  readonly fsyncSeconds: number;
  /**
   * Appends with entries the followers acknowledged, and the seconds from send to acknowledgement
   * in all (raftree only: etcd exports no such figure).
   */
  readonly appendRoundTrips: { readonly count: number; readonly seconds: number } | null;
}

export interface StoreCluster {
  readonly kind: 'raftree' | 'etcd';
  /** Version string of the server. */
  readonly version: string;
  /** Timing, durability and other settings, for the report. */
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  /** How the store's client routes calls, for the report. */
  readonly clientRouting: string;
  /** Whether the bench started the processes (kill / restart / memory / CPU available). */
  readonly managed: boolean;
  readonly nodes: readonly StoreNode[];
  client(options: KvClientOptions): KvClient;
  /** The leader's node id, asked through the nodes' metrics; null if none within `timeoutMs`. */
  leaderId(timeoutMs: number): Promise<string | null>;
  replicationCounters(nodeId: string): Promise<ReplicationCounters | null>;
  /** SIGKILL and wait for the exit. */
  kill(nodeId: string): Promise<void>;
  /** Starts a killed node again on its data; returns the monotonic time (ms) of the spawn. */
  restart(nodeId: string): number;
  /** Stops every process and removes the temp data. Idempotent. */
  stop(): Promise<void>;
}

export function nodeById(cluster: StoreCluster, id: string): StoreNode {
  const node = cluster.nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`no node ${id} in the ${cluster.kind} cluster`);
  return node;
}
