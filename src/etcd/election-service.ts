/**
 * v3electionpb.Election by etcd's own recipe (clientv3/concurrency.Election, which etcd's
 * v3election server runs server-side), on the keys `etcdctl elect` and other clients of that
 * recipe use: candidates are NAME/LEASE (hex), the oldest by create revision leads, and its
 * key's value is the proclaimed value. The queue and the wait are shared with the Lock service
 * (lock-service.ts).
 */
import * as grpc from '@grpc/grpc-js';
import type { CallContext } from '../api/call-context.js';
import { RejectedRequest } from '../api/proto.js';
import type { KeyValue, Watcher, WatchEvent } from '../state-machine/index.js';
import { etcdHeader, type EtcdContext } from './context.js';
import { EtcdError, EtcdErrors } from './errors.js';
import { kvToWire } from './kv-responses.js';
import {
  acquire,
  asEmbeddedClientError,
  candidatesSelector,
  compareCreateRevision,
  deleteOp,
  proposeTxn,
  oldestOf,
  putOp,
  recipeKit,
  recipeUnary,
  resolveLease,
  steadyBarrier,
  type RecipeKit,
} from './lock-service.js';
import { int64 } from './kv-requests.js';
import type {
  CampaignRequestWire,
  CampaignResponseWire,
  LeaderKeyRequestWire,
  LeaderRequestWire,
  LeaderResponseWire,
  ProclaimRequestWire,
  ProclaimResponseWire,
  ResignRequestWire,
  ResignResponseWire,
} from './wire-types.js';

/** A LeaderKey from a Proclaim or Resign request: etcd refuses a request without one. */
function leaderKeyOf(leader: LeaderKeyRequestWire | null | undefined): LeaderKeyRequestWire {
  if (leader === null || leader === undefined) throw EtcdErrors.electionMissingLeaderKey;
  return leader;
}

export function electionServiceImplementation(context: EtcdContext): grpc.UntypedServiceImplementation {
  const kit = recipeKit(context);
  const replica = context.node.replica;

  const campaign = async (wire: CampaignRequestWire, call: CallContext): Promise<CampaignResponseWire> => {
    const won = await acquire(kit, 'election', wire.name, wire.lease, wire.value, call);
    return {
      // etcd's Campaign answers with the header of the txn that queued it, not of its win.
      header: etcdHeader(context, won.joinedRevision),
      leader: { name: wire.name, key: won.key, rev: String(won.createRevision), lease: String(won.lease) },
    };
  };

  // Proclaim checks only that the key is still the same incarnation, as etcd does (any
  // candidate may update its own value; only the leader's is observed).
  const proclaim = async (wire: ProclaimRequestWire, call: CallContext): Promise<ProclaimResponseWire> => {
    const leader = leaderKeyOf(wire.leader);
    const rev = int64(leader.rev, 'leader.rev');
    const lease = await resolveLease(kit, leader.lease, call);
    const outcome = await proposeTxn(
      context,
      {
        compare: [compareCreateRevision(leader.key, rev)],
        success: [putOp(leader.key, wire.value, lease)],
        failure: [],
      },
      call,
    );
    if (!outcome.succeeded) throw EtcdErrors.electionNotLeader;
    return { header: etcdHeader(context, outcome.revision) };
  };

  // Resigning a key that is gone (or another incarnation) succeeds and changes nothing, as in etcd.
  const resign = async (wire: ResignRequestWire, call: CallContext): Promise<ResignResponseWire> => {
    const leader = leaderKeyOf(wire.leader);
    const rev = int64(leader.rev, 'leader.rev');
    const outcome = await proposeTxn(
      context,
      { compare: [compareCreateRevision(leader.key, rev)], success: [deleteOp(leader.key)], failure: [] },
      call,
    );
    return { header: etcdHeader(context, outcome.revision) };
  };

  const leader = async (wire: LeaderRequestWire, call: CallContext): Promise<LeaderResponseWire> => {
    await steadyBarrier(context, call);
    const result = replica.stateMachine.range(candidatesSelector(wire.name));
    const first = oldestOf(result.kvs);
    if (first === undefined) throw EtcdErrors.electionNoLeader;
    return { header: etcdHeader(context, result.revision), kv: kvToWire(first) };
  };

  return {
    Campaign: recipeUnary(kit.waitRunner, 'etcd.Election/Campaign', 'write', campaign),
    Proclaim: recipeUnary(context.runner, 'etcd.Election/Proclaim', 'write', proclaim),
    Leader: recipeUnary(context.runner, 'etcd.Election/Leader', 'read', leader),
    Observe: (call: ObserveCall) => new LeaderObserver(kit, call).start(),
    Resign: recipeUnary(context.runner, 'etcd.Election/Resign', 'write', resign),
  };
}

type ObserveCall = grpc.ServerWritableStream<LeaderRequestWire | RejectedRequest, LeaderResponseWire>;

const OBSERVE_METHOD = 'etcd.Election/Observe';
/** The read barrier that starts (or restarts) an observation gets this long. */
const OBSERVE_BARRIER_TIMEOUT_MS = 30_000;

/**
 * Observe: the leader now (if there is one), then a message whenever the leader changes or
 * writes its key (each proclaim, even of the same value), as etcd's Election.Observe sends
 * them. Nothing is sent while nobody leads. The candidates are followed through one watch on
 * the name's keys, revision by revision, so the leader after each revision is exact.
 */
class LeaderObserver {
  private readonly abort = new AbortController();
  private readonly startedAt = performance.now();
  private untrack: () => void = () => {};
  private closed = false;
  private watcher: Watcher | null = null;
  private selector: ReturnType<typeof candidatesSelector> | null = null;
  /** The name's live keys, as of the last revision applied. */
  private readonly live = new Map<string, KeyValue>();
  /** The leader as last sent (undefined: nobody, or nothing sent yet). */
  private sent: KeyValue | undefined;
  private drainPending = false;

  constructor(
    private readonly kit: RecipeKit,
    private readonly call: ObserveCall,
  ) {}

  start(): void {
    const runner = this.kit.context.runner;
    if (runner.isStopped) {
      this.fail(runner.shuttingDown);
      return;
    }
    this.untrack = runner.track(this.abort);
    this.abort.signal.addEventListener('abort', () => this.fail(this.abort.signal.reason), { once: true });
    this.call.on('cancelled', () => this.close(grpc.status.CANCELLED));
    this.call.on('close', () => this.close(grpc.status.OK));
    const request: unknown = this.call.request;
    if (request instanceof RejectedRequest) {
      this.fail(new EtcdError(request.code, request.message));
      return;
    }
    this.selector = candidatesSelector((request as LeaderRequestWire).name);
    this.follow().catch((error: unknown) => this.fail(error));
  }

  /** Reads the candidates and watches them from the next revision (again after a lost watch). */
  private async follow(): Promise<void> {
    const barrier: CallContext = {
      deadline: Date.now() + OBSERVE_BARRIER_TIMEOUT_MS,
      signal: this.abort.signal,
      forwardedBy: null,
    };
    await steadyBarrier(this.kit.context, barrier);
    const selector = this.selector;
    if (this.closed || selector === null) return;
    const machine = this.kit.context.node.replica.stateMachine;
    const { kvs, revision } = machine.range(selector);
    this.live.clear();
    for (const kv of kvs) this.live.set(kv.key, kv);
    // In the same turn as the read: the watch starts exactly after it.
    const watcher = machine.watch({ ...selector, startRevision: revision + 1 });
    this.watcher = watcher;
    watcher.setListener({
      onReadable: () => this.scheduleDrain(),
      onCancel: (cancelled) => setImmediate(() => this.resume(cancelled)),
    });
    this.publish(revision);
  }

  /** The watch ended under us (history replaced, fell behind): read again and carry on. */
  private resume(cancelled: Watcher): void {
    if (this.closed || this.watcher !== cancelled) return;
    this.watcher = null;
    this.follow().catch((error: unknown) => this.fail(error));
  }

  private scheduleDrain(): void {
    // Listeners run inside apply: take the events on a later turn.
    if (this.drainPending || this.closed) return;
    this.drainPending = true;
    setImmediate(() => {
      this.drainPending = false;
      this.drain();
    });
  }

  private drain(): void {
    const watcher = this.watcher;
    if (watcher === null || this.closed) return;
    let events: WatchEvent[];
    while (!this.closed && (events = watcher.take()).length > 0) {
      let revision = events[0]!.kv.modRevision;
      for (const event of events) {
        // Every event of one revision is applied before the leader is looked at.
        if (event.kv.modRevision !== revision) {
          this.publish(revision);
          revision = event.kv.modRevision;
        }
        if (event.type === 'delete') this.live.delete(event.kv.key);
        else this.live.set(event.kv.key, event.kv);
      }
      this.publish(revision);
    }
  }

  /** Sends the leader as of `revision` if it is another key, or the same key written since. */
  private publish(revision: number): void {
    const leader = oldestOf(this.live.values());
    const previous = this.sent;
    if (leader === undefined) {
      this.sent = undefined;
      return;
    }
    if (
      previous !== undefined &&
      previous.key === leader.key &&
      previous.createRevision === leader.createRevision &&
      previous.modRevision === leader.modRevision
    ) {
      return;
    }
    this.sent = leader;
    if (this.closed || this.call.writableEnded || this.call.destroyed) return;
    this.call.write({ header: etcdHeader(this.kit.context, revision), kv: kvToWire(leader) });
  }

  private fail(error: unknown): void {
    if (this.closed) return;
    const etcd = asEmbeddedClientError(error);
    this.close(etcd.code);
    this.call.emit('error', etcd.toStatus(this.kit.context.node.config.id));
  }

  private close(code: grpc.status): void {
    if (this.closed) return;
    this.closed = true;
    this.untrack();
    if (this.watcher !== null) {
      this.watcher.setListener(undefined);
      this.watcher.cancel();
      this.watcher = null;
    }
    this.kit.context.runner.report(OBSERVE_METHOD, code, this.startedAt);
  }
}
