/**
 * A raw client of etcd's v3 gRPC API (Lease, Lock, Election, a little KV), generated from
 * raftree's restatement of etcd 3.4's protos (src/etcd/proto.ts). The coordination rows use it
 * against both stores, so raftree and etcd get byte-for-byte the same requests and the ratios
 * compare servers, not clients. Every unary call has a deadline; streams are cancelled by
 * their owner (LeaseKeeper.stop, KeepAliveStream.cancel), and nothing here retries on its own
 * except LeaseKeeper, which re-opens its stream the way etcd clients do.
 */
import * as grpc from '@grpc/grpc-js';
import { etcdPackageDefinition } from '../src/etcd/proto.js';
import { nowMs } from './process-registry.js';

type Callback = (error: grpc.ServiceError | null, response?: unknown) => void;
type UnaryMethod = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: Callback,
) => grpc.ClientUnaryCall;
type BidiMethod = (
  metadata: grpc.Metadata,
  options?: grpc.CallOptions,
) => grpc.ClientDuplexStream<object, unknown>;
/** A generated client: methods by proto name, typed loosely (the wire shapes are below). */
type RawClient = grpc.Client & Record<string, unknown>;
type ClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => RawClient;

interface EtcdPackages {
  etcdserverpb: { KV: ClientConstructor; Lease: ClientConstructor };
  v3electionpb: { Election: ClientConstructor };
  v3lockpb: { Lock: ClientConstructor };
}

let packages: EtcdPackages | null = null;

/** v3electionpb.LeaderKey as decoded (64-bit integers as decimal strings). */
export interface LeaderKeyWire {
  readonly name: Buffer;
  readonly key: Buffer;
  readonly rev: string;
  readonly lease: string;
}

interface KvWire {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly lease: string;
}

/** A unary call in flight that its caller may give up on. */
export interface PendingCall<T> {
  readonly promise: Promise<T>;
  cancel(): void;
}

export function errorText(error: unknown): string {
  if (error instanceof Error && 'code' in error && 'details' in error) {
    const e = error as grpc.ServiceError;
    return `${grpc.status[e.code] ?? e.code}: ${e.details}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** The Lease, Lock, Election and KV services of one member (a raftree node or an etcd). */
export class EtcdApiClient {
  private readonly kv: RawClient;
  private readonly lease: RawClient;
  private readonly lockService: RawClient;
  private readonly election: RawClient;
  private closed = false;

  constructor(readonly endpoint: string) {
    packages ??= grpc.loadPackageDefinition(etcdPackageDefinition()) as unknown as EtcdPackages;
    const credentials = grpc.credentials.createInsecure();
    this.kv = new packages.etcdserverpb.KV(endpoint, credentials);
    this.lease = new packages.etcdserverpb.Lease(endpoint, credentials);
    this.lockService = new packages.v3lockpb.Lock(endpoint, credentials);
    this.election = new packages.v3electionpb.Election(endpoint, credentials);
  }

  /** LeaseGrant with a server-chosen id: the id and the TTL granted (seconds). */
  async grant(ttlSeconds: number, deadlineMs: number): Promise<{ id: string; ttlSeconds: number }> {
    const response = await this.unary<{ ID: string; TTL: string; error: string }>(
      this.lease,
      'LeaseGrant',
      { TTL: String(ttlSeconds), ID: '0' },
      deadlineMs,
    ).promise;
    if (response.error !== '') throw new Error(`LeaseGrant: ${response.error}`);
    return { id: response.ID, ttlSeconds: Number(response.TTL) };
  }

  async revoke(id: string, deadlineMs: number): Promise<void> {
    await this.unary(this.lease, 'LeaseRevoke', { ID: id }, deadlineMs).promise;
  }

  /** Seconds left on the lease; -1 when it does not exist (expired or revoked). */
  async timeToLive(id: string, deadlineMs: number): Promise<number> {
    const response = await this.unary<{ TTL: string }>(
      this.lease,
      'LeaseTimeToLive',
      { ID: id, keys: false },
      deadlineMs,
    ).promise;
    return Number(response.TTL);
  }

  /** Every lease id the cluster holds. */
  async leases(deadlineMs: number): Promise<Set<string>> {
    const response = await this.unary<{ leases: { ID: string }[] }>(this.lease, 'LeaseLeases', {}, deadlineMs)
      .promise;
    return new Set(response.leases.map((l) => l.ID));
  }

  /** v3lockpb.Lock: resolves with the key that holds the lock once it is this lease's turn. */
  async lock(name: string, lease: string, deadlineMs: number): Promise<Buffer> {
    const response = await this.unary<{ key: Buffer }>(
      this.lockService,
      'Lock',
      { name: Buffer.from(name), lease },
      deadlineMs,
    ).promise;
    return response.key;
  }

  async unlock(key: Buffer, deadlineMs: number): Promise<void> {
    await this.unary(this.lockService, 'Unlock', { key }, deadlineMs).promise;
  }

  /** v3electionpb.Campaign: resolves once this lease leads the election. */
  campaign(name: string, lease: string, value: string, deadlineMs: number): PendingCall<LeaderKeyWire> {
    const call = this.unary<{ leader: LeaderKeyWire | null }>(
      this.election,
      'Campaign',
      { name: Buffer.from(name), lease, value: Buffer.from(value) },
      deadlineMs,
    );
    return {
      promise: call.promise.then((response) => {
        if (response.leader === null) throw new Error('Campaign answered without a leader key');
        return response.leader;
      }),
      cancel: call.cancel,
    };
  }

  /** The leader's key (and its lease) of an election, or null when nobody leads it. */
  async leader(name: string, deadlineMs: number): Promise<{ key: string; lease: string } | null> {
    try {
      const response = await this.unary<{ kv: KvWire | null }>(
        this.election,
        'Leader',
        { name: Buffer.from(name) },
        deadlineMs,
      ).promise;
      return response.kv === null ? null : { key: response.kv.key.toString(), lease: response.kv.lease };
    } catch (error) {
      // etcd answers "election: no leader" when the election has no candidate.
      if (errorText(error).includes('election: no leader')) return null;
      throw error;
    }
  }

  /** The keys under `prefix` + "/" (a linearizable Range), e.g. an election's candidates. */
  async keysUnder(prefix: string, deadlineMs: number): Promise<string[]> {
    const response = await this.unary<{ kvs: KvWire[] }>(
      this.kv,
      'Range',
      { key: Buffer.from(`${prefix}/`), range_end: Buffer.from(`${prefix}0`), keys_only: true },
      deadlineMs,
    ).promise;
    return response.kvs.map((kv) => kv.key.toString());
  }

  /** A LeaseKeepAlive stream (no deadline: its owner cancels it). */
  openKeepAlive(handlers: KeepAliveHandlers): KeepAliveStream {
    const method = this.lease['LeaseKeepAlive'] as BidiMethod;
    const stream = method.call(this.lease, new grpc.Metadata(), {});
    return new KeepAliveStream(stream, handlers);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const client of [this.kv, this.lease, this.lockService, this.election]) client.close();
  }

  private unary<T>(client: RawClient, method: string, request: object, deadlineMs: number): PendingCall<T> {
    let call: grpc.ClientUnaryCall | null = null;
    const promise = new Promise<T>((resolve, reject) => {
      const fn = client[method] as UnaryMethod;
      call = fn.call(
        client,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (error, response) => {
          if (error) reject(error);
          else resolve(response as T);
        },
      );
    });
    return { promise, cancel: () => call?.cancel() };
  }
}

export interface KeepAliveHandlers {
  /** One LeaseKeepAliveResponse: the lease and its TTL (0 or less: the lease is gone). */
  readonly onResponse: (id: string, ttlSeconds: number, atMs: number) => void;
  /** The stream ended or failed (not called after cancel()). */
  readonly onEnd: (reason: string) => void;
}

/** One LeaseKeepAlive stream: write renewals, receive answers (matched by lease id). */
export class KeepAliveStream {
  private done = false;

  constructor(
    private readonly stream: grpc.ClientDuplexStream<object, unknown>,
    handlers: KeepAliveHandlers,
  ) {
    stream.on('data', (response: { ID: string; TTL: string }) => {
      if (!this.done) handlers.onResponse(response.ID, Number(response.TTL), nowMs());
    });
    const ended = (reason: string): void => {
      if (this.done) return;
      this.done = true;
      handlers.onEnd(reason);
    };
    stream.on('error', (error: unknown) => ended(errorText(error)));
    stream.on('end', () => ended('the server ended the stream'));
  }

  get open(): boolean {
    return !this.done;
  }

  /** Sends one renewal; false when the stream is gone. */
  renew(id: string): boolean {
    if (this.done) return false;
    this.stream.write({ ID: id });
    return true;
  }

  /** Drops the stream at once (as a dying process would); no handler runs after this. */
  cancel(): void {
    this.done = true;
    this.stream.removeAllListeners('data');
    // Cancelling makes grpc-js emit a CANCELLED error: swallow it.
    this.stream.on('error', () => undefined);
    this.stream.cancel();
  }
}

export interface LeaseKeeperOptions {
  /** How often each lease is renewed. */
  readonly intervalMs: number;
  /** A renewal unanswered for this long counts as a broken stream: it is re-opened. */
  readonly ackTimeoutMs: number;
  /** Wait before re-opening a stream that ended or failed. */
  readonly reopenAfterMs: number;
}

/**
 * Keeps leases alive over one LeaseKeepAlive stream to one member, as a client library does:
 * each lease renewed every `intervalMs` (one renewal in flight per lease), the stream re-opened
 * on the same member whenever it ends, fails or stops answering. It records when each renewal
 * was sent and acknowledged, for the failover figures.
 */
export class LeaseKeeper {
  private stream: KeepAliveStream | null = null;
  private readonly pending = new Map<string, number>();
  private readonly nextDue = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private reopenAt = 0;
  private stopped = false;
  private stopping = false;
  /** Every acknowledged renewal: when it was sent and answered, and the TTL in the answer. */
  readonly acks: {
    readonly lease: string;
    readonly sentAt: number;
    readonly at: number;
    readonly ttl: number;
  }[] = [];
  /** Leases answered with TTL <= 0 (gone). */
  readonly lost = new Set<string>();
  streamFailures = 0;
  firstFailure: string | null = null;

  constructor(
    private readonly client: EtcdApiClient,
    private readonly leaseIds: readonly string[],
    private readonly options: LeaseKeeperOptions,
  ) {}

  start(): this {
    const now = nowMs();
    for (const id of this.leaseIds) this.nextDue.set(id, now);
    this.timer = setInterval(() => this.tick(), Math.max(5, Math.min(50, this.options.intervalMs / 4)));
    this.tick();
    return this;
  }

  /** When the last renewal of `lease` was acknowledged, or null. */
  lastAckAt(lease: string): number | null {
    for (let i = this.acks.length - 1; i >= 0; i--)
      if (this.acks[i]!.lease === lease) return this.acks[i]!.at;
    return null;
  }

  /**
   * Stops renewing and waits (at most `timeoutMs`) until no renewal is unanswered, then drops
   * the stream: the holder dies between two renewals, so the server's deadline is known to be
   * the last acknowledgement's. Returns the monotonic time of that acknowledgement, or null.
   */
  async stopBetweenRenewals(timeoutMs: number): Promise<number | null> {
    this.stopping = true;
    const giveUpAt = nowMs() + timeoutMs;
    while (this.pending.size > 0 && nowMs() < giveUpAt && this.stream?.open === true)
      await new Promise((resolve) => setTimeout(resolve, 2));
    const unanswered = this.pending.size;
    this.stop();
    if (unanswered > 0) return null;
    return this.acks.at(-1)?.at ?? null;
  }

  /** Stops renewing and drops the stream at once. Idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.stream?.cancel();
    this.stream = null;
  }

  private tick(): void {
    if (this.stopped) return;
    const now = nowMs();
    for (const sentAt of this.pending.values()) {
      if (now - sentAt > this.options.ackTimeoutMs) {
        this.broken(`no answer to a renewal within ${this.options.ackTimeoutMs} ms`);
        break;
      }
    }
    if (this.stopping) return;
    if (this.stream === null) {
      if (now < this.reopenAt) return;
      this.stream = this.client.openKeepAlive({
        onResponse: (id, ttl, at) => this.answered(id, ttl, at),
        onEnd: (reason) => this.broken(reason),
      });
    }
    for (const id of this.leaseIds) {
      if (this.pending.has(id) || this.lost.has(id) || now < this.nextDue.get(id)!) continue;
      this.pending.set(id, now);
      this.nextDue.set(id, now + this.options.intervalMs);
      this.stream.renew(id);
    }
  }

  private answered(id: string, ttl: number, at: number): void {
    const sentAt = this.pending.get(id);
    if (sentAt === undefined) return;
    this.pending.delete(id);
    this.acks.push({ lease: id, sentAt, at, ttl });
    if (ttl <= 0) this.lost.add(id);
    // A late answer (the stream waited for a new leader): the next renewal is due at once.
    this.tick();
  }

  private broken(reason: string): void {
    if (this.stopped) return;
    this.streamFailures++;
    this.firstFailure ??= reason;
    this.stream?.cancel();
    this.stream = null;
    // While stopping, unanswered renewals stay counted: the server may have applied them.
    if (this.stopping) return;
    this.pending.clear();
    this.reopenAt = nowMs() + this.options.reopenAfterMs;
    // Renewals lost with the stream are sent again on the next one.
    const now = nowMs();
    for (const id of this.leaseIds) this.nextDue.set(id, Math.min(this.nextDue.get(id)!, now));
  }
}
