/**
 * RaftreeClient: the TypeScript client of a raftree cluster.
 *
 *   const client = new RaftreeClient({ endpoints: ['127.0.0.1:7001', '127.0.0.1:7002'] });
 *   await client.put('/config/a', 'hello');
 *   const { kvs } = await client.get('/config/', { prefix: true });
 *   for await (const event of client.watch('/config/', { prefix: true })) console.log(event.key);
 *
 * Any node accepts any request (followers forward writes); the client still sends writes to
 * the leader when it knows it, to save the hop. Reads are retried freely; writes only when the
 * failure proves they did not happen (see retry-decision.ts).
 */
import { DEFAULT_RETRY_POLICY, validateRetryPolicy, type RetryPolicy } from './backoff.js';
import { CallRunner, type CallSpec } from './call-runner.js';
import { ConnectionPool, NotConnectedError, type Connection } from './connection.js';
import { EndpointSelector } from './endpoint-selector.js';
import { codeName, isStatusLike, RaftreeError, serverTrailers } from './errors.js';
import { raftreeMethods, type RaftreeMethods } from './proto.js';
import {
  compareToWire,
  opToWire,
  rangeModeOf,
  TxnBuilder,
  type TxnGetOptions,
  type TxnRequest,
} from './txn.js';
import {
  childFromWire,
  headerFromWire,
  KeyValue,
  toBytes,
  type Bytes,
  type DeleteResult,
  type EndpointStatus,
  type GetResult,
  type Member,
  type MembersResult,
  type NodeStatus,
  type PutResult,
  type ResponseHeader,
  type TxnOpResult,
  type TxnResult,
} from './types.js';
import { Watcher, type WatchOptions } from './watch.js';
import { ServiceDiscovery, type DiscoveryOptions } from './discovery.js';
import {
  deregisterInstance,
  discoverInstances,
  heartbeatInstance,
  registerInstance,
  ServiceWatch,
  type DiscoverOptions,
  type DiscoverResult,
  type InstanceRegistration,
  type RegisterResult,
  type RegistryDeps,
} from './registry.js';
import type { BalancerStrategy } from './balancer/index.js';
import type { ClientResource, CoordinationDeps } from './coordination-deps.js';
import { coordinationMethods } from './coordination-proto.js';
import { Election, type WaitOptions } from './election.js';
import { acquireLock, type Lock } from './lock.js';
import {
  closeSession,
  grantSession,
  listSessions,
  Session,
  sessionInfo,
  type GrantedSession,
  type SessionInfo,
  type SessionOptions,
} from './session.js';
import {
  childrenOf,
  createNode,
  deleteNode,
  statNode,
  type CreateOptions,
  type CreateResult,
  type DeleteNodeOptions,
  type NodeStat,
  type SessionRef,
  type TreeReadOptions,
} from './tree.js';
import type {
  DeleteResponseWire,
  MemberWire,
  PutResponseWire,
  RangeResponseWire,
  ResponseOpWire,
  StatusResponseWire,
} from './wire.js';

export interface RaftreeClientOptions {
  /** HOST:PORT of some or all members; any of them will do. */
  readonly endpoints: readonly string[];
  /** Each call's overall deadline, retries included (default 5000). */
  readonly deadlineMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** How long to wait for a connection before trying the next endpoint (default 1000). */
  readonly connectTimeoutMs?: number;
  /** One attempt of a read gives up after this and tries elsewhere (default 2000). */
  readonly attemptTimeoutMs?: number;
}

export interface CallOptions {
  /** Overrides the client's deadlineMs for this call. */
  readonly deadlineMs?: number;
}

export interface GetOptions extends TxnGetOptions, CallOptions {
  /** Read this node's applied state without confirming leadership: faster, possibly stale. */
  readonly serializable?: boolean;
}

export interface PutOptions extends CallOptions {
  /** Return the key's previous value. */
  readonly prevKv?: boolean;
}

export interface DeleteOptions extends CallOptions {
  /** Delete every key starting with `key`. */
  readonly prefix?: boolean;
  readonly prevKv?: boolean;
}

export class RaftreeClient {
  readonly endpoints: readonly string[];
  private readonly methods: RaftreeMethods;
  private readonly pool = new ConnectionPool();
  private readonly selector: EndpointSelector;
  private readonly runner: CallRunner;
  private readonly retry: RetryPolicy;
  private readonly deadlineMs: number;
  private readonly connectTimeoutMs: number;
  private readonly watchers = new Set<Watcher>();
  /** Sessions kept alive and leader observations: close() stops them. */
  private readonly resources = new Set<ClientResource>();
  private coordinationDeps: CoordinationDeps | null = null;
  private registryDeps: RegistryDeps | null = null;
  private leaderDiscovery: Promise<void> | null = null;
  private closed = false;

  constructor(options: RaftreeClientOptions) {
    this.selector = new EndpointSelector(options.endpoints);
    this.endpoints = this.selector.endpoints;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    validateRetryPolicy(this.retry);
    this.deadlineMs = options.deadlineMs ?? 5_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
    this.methods = raftreeMethods();
    this.runner = new CallRunner({
      pool: this.pool,
      selector: this.selector,
      retry: this.retry,
      deadlineMs: this.deadlineMs,
      connectTimeoutMs: this.connectTimeoutMs,
      attemptTimeoutMs: options.attemptTimeoutMs ?? 2_000,
      discoverLeader: (deadline) => this.discoverLeader(deadline),
    });
  }

  // ---------------------------------------------------------------------------------------- KV

  async put(key: string, value: Bytes, options: PutOptions = {}): Promise<PutResult> {
    const response = await this.unary({
      operation: `put ${key}`,
      kind: 'write',
      idempotent: false,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) =>
        c.unary(this.methods.put, { key, value: toBytes(value), prevKv: options.prevKv ?? false }, deadline),
      headerOf: (r) => r.header,
    });
    return putResult(response);
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const operation = `get ${key}`;
    const mode = rangeModeOf(options, operation);
    const response = await this.unary({
      operation,
      kind: 'read',
      idempotent: true,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) =>
        c.unary(
          this.methods.range,
          {
            key,
            mode,
            revision: options.revision ?? 0,
            limit: options.limit ?? 0,
            keysOnly: options.keysOnly ?? false,
            countOnly: options.countOnly ?? false,
            serializable: options.serializable ?? false,
          },
          deadline,
        ),
      headerOf: (r) => r.header,
    });
    return getResult(response);
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<DeleteResult> {
    const response = await this.unary({
      operation: `delete ${key}`,
      kind: 'write',
      idempotent: false,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) =>
        c.unary(
          this.methods.delete,
          { key, prefix: options.prefix ?? false, prevKv: options.prevKv ?? false },
          deadline,
        ),
      headerOf: (r) => r.header,
    });
    return deleteResult(response);
  }

  /** With a request: runs it. Without: a builder — `client.txn().if(...).then(...).else(...).commit()`. */
  txn(): TxnBuilder<TxnResult>;
  txn(request: TxnRequest, options?: CallOptions): Promise<TxnResult>;
  txn(request?: TxnRequest, options: CallOptions = {}): TxnBuilder<TxnResult> | Promise<TxnResult> {
    if (request === undefined) return new TxnBuilder((built) => this.runTxn(built, {}));
    return this.runTxn(request, options);
  }

  private async runTxn(request: TxnRequest, options: CallOptions): Promise<TxnResult> {
    const wire = {
      compare: (request.compare ?? []).map(compareToWire),
      success: (request.success ?? []).map(opToWire),
      failure: (request.failure ?? []).map(opToWire),
    };
    // A txn that only reads is as safe to repeat as a get.
    const readOnly = [...wire.success, ...wire.failure].every((o) => 'range' in o);
    const response = await this.unary({
      operation: 'txn',
      kind: readOnly ? 'read' : 'write',
      idempotent: readOnly,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) => c.unary(this.methods.txn, wire, deadline),
      headerOf: (r) => r.header,
    });
    const header = headerFromWire(response.header);
    return {
      header,
      revision: header.revision,
      succeeded: response.succeeded,
      responses: response.responses.map(opResult),
    };
  }

  /** Discards history before `revision` (reads and watches at older revisions then fail). */
  async compact(
    revision: number,
    options: CallOptions = {},
  ): Promise<{ header: ResponseHeader; revision: number }> {
    const response = await this.unary({
      operation: `compact ${revision}`,
      kind: 'write',
      idempotent: false,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) => c.unary(this.methods.compact, { revision }, deadline),
      headerOf: (r) => r.header,
    });
    const header = headerFromWire(response.header);
    return { header, revision: header.revision };
  }

  // ----------------------------------------------------------------------------------- Watch

  /** Watches a key, a prefix or a path's children; resumes on another node after a failure. */
  watch(key: string, options: WatchOptions = {}): Watcher {
    this.assertOpen(`watch ${key}`);
    const watcher = new Watcher(key, options, {
      pool: this.pool,
      selector: this.selector,
      methods: this.methods,
      retry: this.retry,
      connectTimeoutMs: this.connectTimeoutMs,
      onEnd: (w) => this.watchers.delete(w),
    });
    this.watchers.add(watcher);
    return watcher;
  }

  // ----------------------------------------------------------------------------- Coordination

  /** Opens a session kept alive by this client until close() (or until it is lost). */
  session(options: SessionOptions): Promise<Session> {
    this.assertOpen('open session');
    return Session.open(this.coordination(), options);
  }

  /** Opens a session that nobody keeps alive yet (what `raftree session grant` does). */
  grantSession(ttlMs: number, options: CallOptions = {}): Promise<GrantedSession> {
    this.assertOpen('open session');
    return grantSession(this.coordination(), ttlMs, options.deadlineMs);
  }

  /** Keeps an existing session alive (e.g. one granted by another process). */
  sessionById(
    id: number,
    options: { keepAliveIntervalMs?: number; deadlineMs?: number } = {},
  ): Promise<Session> {
    this.assertOpen(`keep session ${id} alive`);
    return Session.resume(this.coordination(), id, options);
  }

  /** A session's TTL, remaining time (from the leader) and ephemeral keys. */
  sessionInfo(id: number, options: CallOptions = {}): Promise<SessionInfo> {
    this.assertOpen(`session info ${id}`);
    return sessionInfo(this.coordination(), id, options.deadlineMs);
  }

  sessions(options: CallOptions = {}): Promise<SessionInfo[]> {
    this.assertOpen('list sessions');
    return listSessions(this.coordination(), options.deadlineMs);
  }

  /** Ends a session by id (its ephemeral nodes are deleted); returns the deleted keys. */
  revokeSession(id: number, options: CallOptions = {}): Promise<string[]> {
    this.assertOpen(`close session ${id}`);
    return closeSession(this.coordination(), id, options.deadlineMs);
  }

  /** ZooKeeper create: the parent must exist (unless `parents`); optionally ephemeral and sequential. */
  create(path: string, value: Bytes = '', options: CreateOptions = {}): Promise<CreateResult> {
    this.assertOpen(`create ${path}`);
    return createNode(this.coordination(), path, value, options);
  }

  /** A node's stat and value, or undefined if there is no node at `path`. */
  stat(path: string, options: TreeReadOptions = {}): Promise<NodeStat | undefined> {
    this.assertOpen(`stat ${path}`);
    return statNode(this.coordination(), path, options);
  }

  async exists(path: string, options: TreeReadOptions = {}): Promise<boolean> {
    return (await this.stat(path, options)) !== undefined;
  }

  /** The sorted child names of `path` (including names that only prefix deeper keys). */
  children(path: string, options: TreeReadOptions = {}): Promise<string[]> {
    this.assertOpen(`children ${path}`);
    return childrenOf(this.coordination(), path, options);
  }

  /** ZooKeeper delete: fails if the node is missing, has children or (optionally) changed. */
  deleteNode(
    path: string,
    options: DeleteNodeOptions = {},
  ): Promise<{ header: ResponseHeader; revision: number }> {
    this.assertOpen(`delete node ${path}`);
    return deleteNode(this.coordination(), path, options);
  }

  /** An election: campaign / resign / leader / observe. */
  election(name: string): Election {
    this.assertOpen(`election ${name}`);
    return new Election(this.coordination(), name);
  }

  /** Waits until `session` holds the lock `name`. */
  lock(name: string, session: SessionRef, options: WaitOptions = {}): Promise<Lock> {
    this.assertOpen(`lock ${name}`);
    return acquireLock(this.coordination(), name, session, options);
  }

  private coordination(): CoordinationDeps {
    this.coordinationDeps ??= {
      methods: coordinationMethods(),
      call: (spec) => this.unary(spec),
      pool: this.pool,
      selector: this.selector,
      retry: this.retry,
      connectTimeoutMs: this.connectTimeoutMs,
      track: (resource) => {
        this.resources.add(resource);
        return () => this.resources.delete(resource);
      },
    };
    return this.coordinationDeps;
  }

  // ------------------------------------------------------------------------- Service registry

  /** Registers (or re-registers) a service instance, optionally tied to a session and with health checks. */
  register(registration: InstanceRegistration, options: CallOptions = {}): Promise<RegisterResult> {
    this.assertOpen(`register ${registration.name}/${registration.id}`);
    return registerInstance(this.registry(), registration, options.deadlineMs);
  }

  /** Removes an instance (NOT_FOUND if it is not registered). */
  deregister(
    name: string,
    id: string,
    options: CallOptions = {},
  ): Promise<{ header: ResponseHeader; revision: number }> {
    this.assertOpen(`deregister ${name}/${id}`);
    return deregisterInstance(this.registry(), name, id, options.deadlineMs);
  }

  /** Resets the instance's TTL checks (or only `check`); returns the checks reset. */
  heartbeat(
    name: string,
    id: string,
    options: CallOptions & { check?: string } = {},
  ): Promise<{ header: ResponseHeader; checks: string[] }> {
    this.assertOpen(`heartbeat ${name}/${id}`);
    return heartbeatInstance(this.registry(), name, id, options);
  }

  /** The instances of `name` ("" = every service) that match the filters. */
  discover(name: string, options: DiscoverOptions = {}): Promise<DiscoverResult> {
    this.assertOpen(`discover ${name}`);
    return discoverInstances(this.registry(), name, options);
  }

  /** A stream of the service's instances: a snapshot, then every register / health change / deregister. */
  watchService(name: string): ServiceWatch {
    this.assertOpen(`watch service ${name}`);
    const watch = new ServiceWatch(this.registry(), name);
    const resource = { stopLocally: () => watch.close() };
    this.resources.add(resource);
    watch.once('close', () => this.resources.delete(resource));
    return watch;
  }

  /** A watch-fed cache of the service's instances with load balancing, retries and circuit breakers. */
  discovery<S extends BalancerStrategy>(name: string, options: DiscoveryOptions<S> = {}): ServiceDiscovery {
    this.assertOpen(`discovery ${name}`);
    const discovery = new ServiceDiscovery(this.registry(), name, options as DiscoveryOptions);
    const resource = { stopLocally: () => discovery.close() };
    this.resources.add(resource);
    discovery.once('close', () => this.resources.delete(resource));
    return discovery;
  }

  private registry(): RegistryDeps {
    this.registryDeps ??= {
      call: (spec) => this.unary(spec),
      watch: (key, options) => this.watch(key, options),
      retry: this.retry,
    };
    return this.registryDeps;
  }

  // --------------------------------------------------------------------------------- Cluster

  /** One node's status: the given endpoint's, or any reachable one's. */
  async status(endpoint?: string, options: CallOptions = {}): Promise<NodeStatus> {
    const { response, endpoint: answered } = await this.runner.call({
      operation: endpoint === undefined ? 'status' : `status ${endpoint}`,
      kind: 'read',
      idempotent: true,
      endpoint,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) => c.unary(this.methods.status, {}, deadline),
      headerOf: (r) => r.header,
    });
    this.observeStatus(answered, response);
    return nodeStatus(answered, response);
  }

  /** Status from every endpoint at once; an endpoint that does not answer shows its error. */
  async clusterStatus(options: CallOptions = {}): Promise<EndpointStatus[]> {
    const deadlineMs = options.deadlineMs ?? Math.min(this.deadlineMs, 3_000);
    return Promise.all(
      this.endpoints.map(async (endpoint): Promise<EndpointStatus> => {
        try {
          const response = await this.statusOnce(endpoint, Date.now() + deadlineMs);
          return { endpoint, ok: true, status: nodeStatus(endpoint, response) };
        } catch (error) {
          return { endpoint, ok: false, error: error instanceof Error ? error : new Error(String(error)) };
        }
      }),
    );
  }

  async members(options: CallOptions = {}): Promise<MembersResult> {
    const response = await this.unary({
      operation: 'members',
      kind: 'read',
      idempotent: true,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) => c.unary(this.methods.members, {}, deadline),
      headerOf: (r) => r.header,
    });
    return {
      header: headerFromWire(response.header),
      members: response.members.map(member),
      leader: response.leader,
    };
  }

  /** Adds a member (a voter, or a learner that receives the log without voting). Returns the new member list. */
  async memberAdd(
    id: string,
    address: string,
    options: CallOptions & { learner?: boolean } = {},
  ): Promise<readonly Member[]> {
    const response = await this.unary({
      operation: `member add ${id}`,
      kind: 'write',
      idempotent: false,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) =>
        c.unary(this.methods.memberAdd, { id, address, learner: options.learner ?? false }, deadline),
      headerOf: (r) => r.header,
    });
    return response.members.map(member);
  }

  async memberRemove(id: string, options: CallOptions = {}): Promise<readonly Member[]> {
    const response = await this.unary({
      operation: `member remove ${id}`,
      kind: 'write',
      idempotent: false,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) => c.unary(this.methods.memberRemove, { id }, deadline),
      headerOf: (r) => r.header,
    });
    return response.members.map(member);
  }

  /** Asks the leader to hand leadership to member `target`. */
  async transferLeadership(target: string, options: CallOptions = {}): Promise<ResponseHeader> {
    const response = await this.unary({
      operation: `transfer leadership to ${target}`,
      kind: 'write',
      idempotent: false,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) => c.unary(this.methods.transferLeadership, { target }, deadline),
      headerOf: (r) => r.header,
    });
    this.selector.forgetLeader();
    return headerFromWire(response.header);
  }

  /** The leader as this client last learned it (asks the cluster if it knows none). */
  async leader(options: CallOptions = {}): Promise<{ id: string; endpoint: string } | undefined> {
    if (this.selector.leaderEndpoint() === undefined) {
      await this.discoverLeader(Date.now() + (options.deadlineMs ?? this.deadlineMs));
    }
    const id = this.selector.leaderId();
    const endpoint = this.selector.leaderEndpoint();
    return id !== undefined && endpoint !== undefined ? { id, endpoint } : undefined;
  }

  /** Ends every watch and closes every connection. Calls made afterwards fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const watcher of [...this.watchers]) watcher.close();
    this.watchers.clear();
    // Sessions are NOT closed on the server: they expire after their TTL (close them first).
    for (const resource of [...this.resources]) resource.stopLocally();
    this.resources.clear();
    this.pool.close();
  }

  // -------------------------------------------------------------------------------- internals

  private async unary<Res>(spec: CallSpec<Res>): Promise<Res> {
    this.assertOpen(spec.operation);
    return (await this.runner.call(spec)).response;
  }

  private assertOpen(operation: string): void {
    if (this.closed) {
      throw new RaftreeError({
        code: 'CANCELLED',
        details: 'the client is closed',
        operation,
        notSent: true,
      });
    }
  }

  /** One Status call to one endpoint, no retry. */
  private async statusOnce(endpoint: string, deadline: number): Promise<StatusResponseWire> {
    let connection: Connection;
    try {
      connection = this.pool.get(endpoint);
      await connection.ready(Math.min(deadline, Date.now() + this.connectTimeoutMs));
      const response = await connection.unary(this.methods.status, {}, deadline);
      this.selector.reportSuccess(endpoint, response.header ?? undefined);
      this.observeStatus(endpoint, response);
      return response;
    } catch (error) {
      this.selector.reportFailure(endpoint);
      if (error instanceof NotConnectedError) {
        throw new RaftreeError({
          code: 'UNAVAILABLE',
          details: error.message,
          operation: 'status',
          endpoint,
          notSent: true,
        });
      }
      if (isStatusLike(error)) {
        throw new RaftreeError({
          code: codeName(error.code),
          details: error.details,
          operation: 'status',
          endpoint,
          trailers: serverTrailers(error),
        });
      }
      throw error;
    }
  }

  private observeStatus(endpoint: string, status: StatusResponseWire): void {
    this.selector.observeStatus({
      endpoint,
      selfId: status.id,
      term: status.term,
      leaderId: status.leader,
      members: status.members,
    });
  }

  /** Asks every endpoint who leads; done at the first answer that names a leader we can reach. */
  private discoverLeader(deadline: number): Promise<void> {
    this.leaderDiscovery ??= new Promise<void>((resolve) => {
      let pending = this.endpoints.length;
      const settleOne = () => {
        pending--;
        if (this.selector.leaderEndpoint() !== undefined || pending === 0) resolve();
      };
      for (const endpoint of this.endpoints) {
        this.statusOnce(endpoint, deadline).then(settleOne, settleOne);
      }
    }).finally(() => {
      this.leaderDiscovery = null;
    });
    return this.leaderDiscovery;
  }
}

function member(wire: MemberWire): Member {
  return { id: wire.id, address: wire.address, isLearner: wire.isLearner };
}

function getResult(response: RangeResponseWire): GetResult {
  const header = headerFromWire(response.header);
  return {
    header,
    revision: header.revision,
    kvs: response.kvs.map(KeyValue.fromWire),
    count: response.count,
    more: response.more,
    children: response.children.map(childFromWire),
  };
}

function putResult(response: PutResponseWire): PutResult {
  const header = headerFromWire(response.header);
  return {
    header,
    revision: header.revision,
    ...(response.prevKv !== null ? { prevKv: KeyValue.fromWire(response.prevKv) } : {}),
  };
}

function deleteResult(response: DeleteResponseWire): DeleteResult {
  const header = headerFromWire(response.header);
  return {
    header,
    revision: header.revision,
    deleted: response.deleted,
    prevKvs: response.prevKvs.map(KeyValue.fromWire),
  };
}

function opResult(response: ResponseOpWire): TxnOpResult {
  if (response.range) return { type: 'get', result: getResult(response.range) };
  if (response.put) return { type: 'put', result: putResult(response.put) };
  if (response.delete) return { type: 'delete', result: deleteResult(response.delete) };
  throw new RaftreeError({ code: 'INTERNAL', details: 'a txn response op with no result', operation: 'txn' });
}

function nodeStatus(endpoint: string, wire: StatusResponseWire): NodeStatus {
  return {
    header: headerFromWire(wire.header),
    endpoint,
    id: wire.id,
    address: wire.address,
    role: wire.role,
    term: wire.term,
    leader: wire.leader,
    commitIndex: wire.commitIndex,
    appliedIndex: wire.appliedIndex,
    snapshotIndex: wire.snapshotIndex,
    members: wire.members.map(member),
    progress: wire.progress.map((p) => ({ ...p })),
    keys: wire.keys,
    version: wire.version,
  };
}
