/**
 * v3lockpb.Lock, and the recipe it shares with v3electionpb.Election (election-service.ts).
 *
 * etcd serves these two services by running its own client recipes (clientv3/concurrency's
 * Mutex and Election) inside the server. raftree runs the same recipe on the same keys, so a
 * server-side Lock here, `etcdctl lock` and any other client of that recipe queue on one name:
 *
 * 1. The candidate key is NAME/LEASE (the lease id in lowercase hex, Go's "%x"). One txn puts
 *    it with the lease if it does not exist (create_revision == 0); if it does, the caller
 *    resumes its place (a retried Lock with the same lease never queues twice).
 * 2. Candidates are ordered by create revision; the oldest holds the lock (leads).
 * 3. A waiter watches only the newest key created before its own (etcd's waitDeletes) and looks
 *    again when it goes, so a release wakes one waiter, not all of them.
 *
 * Waiting happens on the member that received the call, on its own state machine (watch hub
 * events, no polling); the writes are proposed here (a follower hands them to the leader inside
 * Raft) and resolve once applied here; every look after a wake-up follows a linearizable read
 * barrier.
 */
import { Buffer } from 'node:buffer';
import * as grpc from '@grpc/grpc-js';
import { remainingMs, within, type CallContext } from '../api/call-context.js';
import { CallRunner, type UnaryHandler } from '../api/call-runner.js';
import { ApiError, type RequestKind } from '../api/errors.js';
import { proposeCommand } from '../api/propose.js';
import type { RejectedRequest } from '../api/proto.js';
import { waitForDeletion } from '../coordination/recipe.js';
import { ReplicaError } from '../replica/errors.js';
import { validateCommand, type KeyValue, type RangeRequest } from '../state-machine/index.js';
import { etcdHeader, type EtcdContext } from './context.js';
import { EtcdError, EtcdErrors, toEtcdError } from './errors.js';
import { decodeKey, prefixEnd } from './key-bytes.js';
import { int64, toRange, toTxn } from './kv-requests.js';
import { linearizableBarrier } from './kv-service.js';
import {
  CompareResult,
  CompareTarget,
  type CompareWire,
  type HeaderOnlyResponseWire,
  type LockRequestWire,
  type LockResponseWire,
  type RangeRequestWire,
  type RequestOpWire,
  type TxnRequestWire,
  type UnlockRequestWire,
} from './wire-types.js';

/** concurrency.NewSession's TTL: what etcd grants when a Lock or Campaign names lease 0. */
export const DEFAULT_SESSION_TTL_SECONDS = 60;
/** One write or read barrier inside a long wait gets at most this long (the wait itself has no limit). */
const STEP_TIMEOUT_MS = 30_000;
/** A waiter re-confirms with the leader this often, so a member cut off from it never waits forever. */
const IDLE_RECHECK_MS = 5_000;
/** How long the cleanup of an abandoned Lock or Campaign may take. */
const CLEANUP_TIMEOUT_MS = 10_000;
/** How early a cancellation may come and still count as the deadline passing (timer jitter). */
const DEADLINE_SLACK_MS = 20;
/** Pause between read barriers while the cluster elects a leader. */
const BARRIER_RETRY_MS = 50;

const EMPTY = Buffer.alloc(0);
const SLASH = Buffer.from('/');

/** concurrency.ErrSessionExpired (etcd 3.5+): the candidate key vanished while it waited. */
export const mutexSessionExpired = new EtcdError(grpc.status.UNKNOWN, 'mutex: session is expired');

// --- Errors as etcd's embedded client returns them --------------------------------------------------

const CATALOGUE_MESSAGES: ReadonlySet<string> = new Set(Object.values(EtcdErrors).map((e) => e.message));

/**
 * etcd's election and lock servers call the member through its embedded clientv3, which turns
 * every server error it knows into a plain Go error, and grpc-go sends a plain error as UNKNOWN
 * with its text (etcd 3.4 answers a Lock on a missing lease with UNKNOWN "etcdserver: requested
 * lease not found", not NOT_FOUND). Errors etcd has no name for keep their code.
 */
export function asEmbeddedClientError(error: unknown): EtcdError {
  const etcd = toEtcdError(error);
  if (etcd.code === grpc.status.UNKNOWN || !CATALOGUE_MESSAGES.has(etcd.message)) return etcd;
  return new EtcdError(grpc.status.UNKNOWN, etcd.message, etcd.trailers);
}

/** runner.unary, with errors worded as etcd's lock and election servers word them. */
export function recipeUnary<Req extends object, Res>(
  runner: CallRunner,
  method: string,
  kind: RequestKind,
  handler: UnaryHandler<Req, Res>,
): grpc.handleUnaryCall<Req | RejectedRequest, Res> {
  return runner.unary<Req, Res>(method, kind, (request, call) =>
    handler(request, call).catch((error: unknown) => {
      throw asEmbeddedClientError(error);
    }),
  );
}

// --- What the recipe's calls share -------------------------------------------------------------------

export interface RecipeKit {
  readonly context: EtcdContext;
  /**
   * Runs Lock and Campaign. Like etcd, they wait as long as the client lets them: no server
   * default deadline. Stops with the etcd API's own runner.
   */
  readonly waitRunner: CallRunner;
  /** Aborted when the etcd API stops: cleanups of abandoned calls end with it. */
  readonly stopping: AbortSignal;
}

export function recipeKit(context: EtcdContext): RecipeKit {
  const waitRunner = new CallRunner(context.node, Infinity, toEtcdError);
  // The extension stops context.runner, which aborts what it tracks: stop ours with it.
  const stopper = new AbortController();
  context.runner.track(stopper);
  stopper.signal.addEventListener('abort', () => waitRunner.stop(), { once: true });
  return { context, waitRunner, stopping: stopper.signal };
}

/** A part of a long call: its own deadline, capped, but the call's cancellation. */
function stepOf(call: CallContext): CallContext {
  return { ...call, deadline: Math.min(call.deadline, Date.now() + STEP_TIMEOUT_MS) };
}

/** Failures of a read barrier that an election ends: no leader for a moment, or a new one. */
const PASSING_BARRIER_FAILURES: ReadonlySet<string> = new Set([
  'NO_LEADER',
  'NOT_LEADER',
  'TIMEOUT',
  'LEADERSHIP_LOST',
]);

/**
 * A linearizable read barrier that rides through a leader election (etcd's clients retry their
 * reads the same way), within a step of the call: a long wait does not fail because the leader
 * changed while it waited.
 */
export async function steadyBarrier(context: EtcdContext, call: CallContext): Promise<void> {
  const step = stepOf(call);
  for (;;) {
    try {
      await linearizableBarrier(context, step);
      return;
    } catch (error) {
      const passing = error instanceof ReplicaError && PASSING_BARRIER_FAILURES.has(error.code);
      if (!passing || remainingMs(step) <= BARRIER_RETRY_MS) throw error;
      await within(
        step,
        new Promise((resolve) => setTimeout(resolve, BARRIER_RETRY_MS)),
        () => EtcdErrors.timeout,
      );
    }
  }
}

/** The client cancelled, or the call's deadline passed (not: the node is stopping). */
function gaveUp(call: CallContext): boolean {
  if (call.signal.aborted) {
    const reason: unknown = call.signal.reason;
    return (
      reason instanceof ApiError &&
      (reason.code === grpc.status.CANCELLED || reason.code === grpc.status.DEADLINE_EXCEEDED)
    );
  }
  return Date.now() >= call.deadline - DEADLINE_SLACK_MS;
}

// --- Keys ----------------------------------------------------------------------------------------

/** The candidate key of `lease` in the election or lock `name`: NAME/ + the lease in lowercase hex. */
export function candidateKeyOf(name: Uint8Array, lease: number): Buffer {
  return Buffer.concat([name, SLASH, Buffer.from(lease.toString(16))]);
}

/** Where the candidates of `name` live (every key under NAME/), as a range read or watch selects it. */
export function candidatesSelector(name: Uint8Array): Pick<RangeRequest, 'key' | 'range' | 'rangeEnd'> {
  const prefix = Buffer.concat([name, SLASH]);
  // Exactly the keys etcd's Get(prefix, WithPrefix()) would select, even for non-UTF-8 names.
  const { key, range, rangeEnd } = toRange({
    key: prefix,
    range_end: prefixEnd(prefix),
  } as RangeRequestWire).request;
  return { key, ...(range === undefined ? {} : { range }), ...(rangeEnd === undefined ? {} : { rangeEnd }) };
}

/** The oldest candidate (the lock holder, the election leader), if any. */
export function oldestOf(kvs: Iterable<KeyValue>): KeyValue | undefined {
  let oldest: KeyValue | undefined;
  for (const kv of kvs) if (oldest === undefined || kv.createRevision < oldest.createRevision) oldest = kv;
  return oldest;
}

function candidateText(key: Buffer): string {
  const text = decodeKey(key);
  if (text === undefined) {
    throw new EtcdError(
      grpc.status.INVALID_ARGUMENT,
      'raftree: lock and election names must be valid UTF-8 (raftree stores keys as text; etcd allows any bytes)',
    );
  }
  return text;
}

// --- Writes through the leader --------------------------------------------------------------------

export function compareCreateRevision(key: Buffer, revision: number): CompareWire {
  return {
    result: CompareResult.EQUAL,
    target: CompareTarget.CREATE,
    key,
    range_end: EMPTY,
    target_union: 'create_revision',
    create_revision: String(revision),
  };
}

export function putOp(key: Buffer, value: Buffer, lease: number): RequestOpWire {
  return {
    request: 'request_put',
    request_put: {
      key,
      value,
      lease: String(lease),
      prev_kv: false,
      ignore_value: false,
      ignore_lease: false,
    },
  };
}

export function deleteOp(key: Buffer): RequestOpWire {
  return { request: 'request_delete_range', request_delete_range: { key, range_end: EMPTY, prev_kv: false } };
}

export interface TxnOutcome {
  /** The store revision after the txn (its header's). */
  readonly revision: number;
  readonly succeeded: boolean;
}

/**
 * Runs an etcd txn through the log (a follower hands it to the leader inside Raft). It resolves
 * once this member applied it, so its state machine already shows the outcome.
 */
export async function proposeTxn(
  context: EtcdContext,
  wire: TxnRequestWire,
  call: CallContext,
): Promise<TxnOutcome> {
  const { command } = toTxn(wire, context.node.config.limits);
  validateCommand(command);
  const result = await proposeCommand(context.node.replica, command, call, ['txn']);
  return { revision: result.revision, succeeded: result.succeeded };
}

/**
 * The lease a candidate key is attached to. Like etcd's servers (concurrency.NewSession), lease
 * 0 grants a fresh lease of DEFAULT_SESSION_TTL_SECONDS that nobody keeps alive; a lease that
 * does not exist fails when the key is written, with lease not found.
 */
export async function resolveLease(kit: RecipeKit, wire: unknown, call: CallContext): Promise<number> {
  const lease = int64(wire, 'lease');
  if (lease < 0) throw EtcdErrors.leaseNotFound; // raftree's lease ids are positive
  if (lease > 0) return lease;
  const { context } = kit;
  const ttlMs = DEFAULT_SESSION_TTL_SECONDS * 1000;
  const granted = await proposeCommand(context.node.replica, { type: 'openSession', ttlMs }, call, [
    'openSession',
  ]);
  return granted.sessionId;
}

/** Deletes a candidate key, only if it is still the incarnation created at `createRevision` (if known). */
function withdrawTxn(key: Buffer, createRevision: number | undefined): TxnRequestWire {
  return {
    compare: createRevision === undefined ? [] : [compareCreateRevision(key, createRevision)],
    success: [deleteOp(key)],
    failure: [],
  };
}

/**
 * Takes an abandoned candidate out of the queue, after its call has ended (etcd: Mutex.Lock
 * unlocks, Election.Campaign resigns, when their context is cancelled), so nobody waits behind
 * it until its lease expires.
 */
function withdrawLater(kit: RecipeKit, key: Buffer, createRevision: number | undefined): void {
  if (kit.stopping.aborted) return;
  const detached: CallContext = {
    deadline: Date.now() + CLEANUP_TIMEOUT_MS,
    signal: kit.stopping,
    forwardedBy: null,
  };
  proposeTxn(kit.context, withdrawTxn(key, createRevision), detached).catch((error: unknown) =>
    kit.context.node.logger.warn(
      { err: error, key: key.toString() },
      'could not withdraw an abandoned etcd lock or election candidate; it goes when its lease ends',
    ),
  );
}

// --- The recipe ----------------------------------------------------------------------------------

export type RecipeKind = 'lock' | 'election';

export interface Acquired {
  readonly key: Buffer;
  readonly lease: number;
  /** The candidate key's create revision (an election LeaderKey's `rev`). */
  readonly createRevision: number;
  /** The revision after the put-if-absent txn (etcd's Campaign answers with its header). */
  readonly joinedRevision: number;
  /** The revision at which the candidate was seen to be the oldest. */
  readonly grantedRevision: number;
  /** Whether it had to wait for older candidates to go. */
  readonly waited: boolean;
}

/**
 * Queues `lease` in `name` (or resumes its candidacy) and waits until it is the oldest
 * candidate. An election candidate whose key holds another value proclaims `value` first.
 * A call given up (cancelled, deadline) withdraws its candidate.
 */
export async function acquire(
  kit: RecipeKit,
  kind: RecipeKind,
  name: Buffer,
  leaseWire: unknown,
  value: Buffer,
  call: CallContext,
): Promise<Acquired> {
  const { context } = kit;
  const lease = await resolveLease(kit, leaseWire, stepOf(call));
  const key = candidateKeyOf(name, lease);
  const keyText = candidateText(key);
  const joined = await proposeTxn(
    context,
    { compare: [compareCreateRevision(key, 0)], success: [putOp(key, value, lease)], failure: [] },
    stepOf(call),
  );
  // Known already when this txn created the key; otherwise once it is read back.
  let createRevision: number | undefined = joined.succeeded ? joined.revision : undefined;
  try {
    // No read barrier needed: the txn resolved once this member applied it, so its state
    // already holds our key and every candidate created before it.
    const mine = context.node.replica.stateMachine.range({ key: keyText }).kvs[0];
    if (mine === undefined) throw candidateGone(kit, kind, lease);
    createRevision = mine.createRevision;
    if (kind === 'election' && Buffer.compare(mine.value, value) !== 0) {
      const proclaimed = await proposeTxn(
        context,
        {
          compare: [compareCreateRevision(key, createRevision)],
          success: [putOp(key, value, lease)],
          failure: [],
        },
        stepOf(call),
      );
      if (!proclaimed.succeeded) {
        // etcd's Campaign resigns when its proclaim fails (a no-op if the key is another incarnation).
        withdrawLater(kit, key, createRevision);
        throw EtcdErrors.electionNotLeader;
      }
    }
    const turn = await waitForTurn(kit, kind, candidatesSelector(name), keyText, createRevision, lease, call);
    return {
      key,
      lease,
      createRevision,
      joinedRevision: joined.revision,
      grantedRevision: turn.revision,
      waited: turn.waited,
    };
  } catch (error) {
    // etcd cleans up only when the caller gave up; after any other error the key stays, so a
    // retry with the same lease keeps its place in the queue.
    if (gaveUp(call)) withdrawLater(kit, key, createRevision);
    throw error;
  }
}

/**
 * etcd's waitDeletes, plus watching our own key: returns once no key under the name was
 * created before ours, fails as soon as ours is gone (lease expired or revoked, or deleted).
 */
async function waitForTurn(
  kit: RecipeKit,
  kind: RecipeKind,
  selector: Pick<RangeRequest, 'key' | 'range' | 'rangeEnd'>,
  key: string,
  createRevision: number,
  lease: number,
  call: CallContext,
): Promise<{ revision: number; waited: boolean }> {
  const { context } = kit;
  const timeout = (): ApiError =>
    new ApiError(
      grpc.status.DEADLINE_EXCEEDED,
      `the deadline passed while ${key} waited for its turn; it was withdrawn from the ${kind}`,
    );
  let waited = false;
  for (;;) {
    // Read and start watching in one turn: no change can slip in between.
    const machine = context.node.replica.stateMachine;
    const { kvs, revision } = machine.range(selector);
    const mine = kvs.find((kv) => kv.key === key);
    if (mine === undefined || mine.createRevision !== createRevision) throw candidateGone(kit, kind, lease);
    let newestOlder: KeyValue | undefined;
    for (const kv of kvs) {
      if (
        kv.createRevision < createRevision &&
        (newestOlder === undefined || kv.createRevision > newestOlder.createRevision)
      ) {
        newestOlder = kv;
      }
    }
    if (newestOlder === undefined) return { revision, waited };
    waited = true;
    await waitForDeletion(machine, [newestOlder.key, key], revision, call, timeout, IDLE_RECHECK_MS);
    await steadyBarrier(context, call);
  }
}

/** Our candidate key is gone while we waited: its lease ended, or someone deleted it. */
function candidateGone(kit: RecipeKit, kind: RecipeKind, lease: number): EtcdError {
  if (kind === 'lock') return mutexSessionExpired;
  // etcd's Campaign has no error for this (it would go on and "win" with a key that no longer
  // exists); say why as etcd would to a retry: the lease is gone, or the candidacy is.
  return !kit.context.node.replica.stateMachine.hasSession(lease)
    ? EtcdErrors.leaseNotFound
    : EtcdErrors.electionNotLeader;
}

// --- The Lock service -------------------------------------------------------------------------------

export function lockServiceImplementation(context: EtcdContext): grpc.UntypedServiceImplementation {
  const kit = recipeKit(context);

  const lock = async (wire: LockRequestWire, call: CallContext): Promise<LockResponseWire> => {
    const acquired = await acquire(kit, 'lock', wire.name, wire.lease, EMPTY, call);
    // etcd's uncontended path answers with its txn's header, a waiter with its last read's.
    const revision = acquired.waited ? acquired.grantedRevision : acquired.joinedRevision;
    return { header: etcdHeader(context, revision), key: acquired.key };
  };

  // etcd's Unlock is a plain delete of the key: no check that it is a lock key, or still held.
  const unlock = async (wire: UnlockRequestWire, call: CallContext): Promise<HeaderOnlyResponseWire> => {
    const outcome = await proposeTxn(
      context,
      { compare: [], success: [deleteOp(wire.key)], failure: [] },
      call,
    );
    return { header: etcdHeader(context, outcome.revision) };
  };

  return {
    Lock: recipeUnary(kit.waitRunner, 'etcd.Lock/Lock', 'write', lock),
    Unlock: recipeUnary(context.runner, 'etcd.Lock/Unlock', 'write', unlock),
  };
}
