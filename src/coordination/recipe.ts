/**
 * The ZooKeeper election recipe on the tree, shared by elections (/_election/NAME) and locks
 * (/_lock/NAME):
 *
 * 1. A candidate creates DIR/c- as a sequential, ephemeral node of its session (parents: true).
 * 2. The candidate with the lowest sequence number leads (holds the lock).
 * 3. Every other candidate watches ONLY its predecessor (and its own node), so a change wakes
 *    one waiter, not all of them (no herd effect). When the predecessor goes, it looks again:
 *    it may now lead, or a new predecessor (one that was further ahead) may still be there.
 * 4. Before leadership is granted, a linearizable read confirms that the candidate's node still
 *    exists with the same create revision, is still the lowest, and its session is still open:
 *    a waiter on a lagging or partitioned member never acts on a stale view.
 *
 * The fencing token is the candidate's create revision: it only grows, so a resource that
 * remembers the highest token it has seen can refuse a deposed holder's late writes.
 *
 * Waiting uses the local state machine's watch hub (events pushed during apply), never polling.
 */
import * as grpc from '@grpc/grpc-js';
import { within, type CallContext } from '../api/call-context.js';
import { ApiError, Trailer } from '../api/errors.js';
import type { KvStateMachine, KeyValue, Watcher } from '../state-machine/index.js';
import { type CoordinationContext, detachedContext, propose, readBarrier } from './context.js';
import { notFound } from './errors.js';
import { methodOf } from './proto.js';
import { CANDIDATE_PREFIX, recipeDirectory } from './validation.js';
import type { CreateResponseWire, HeaderOnlyResponseWire } from './wire-types.js';

export interface Candidate {
  readonly key: string;
  readonly sequence: number;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly session: number;
  readonly value: Uint8Array;
}

const CANDIDATE_NAME = /^c-(\d{10,})$/;

/** A candidate from a key-value directly under an election directory, or null if it is none. */
export function candidateOf(kv: KeyValue, directory: string): Candidate | null {
  if (!kv.key.startsWith(`${directory}/`)) return null;
  const match = CANDIDATE_NAME.exec(kv.key.slice(directory.length + 1));
  if (match === null || kv.version === 0) return null;
  return {
    key: kv.key,
    sequence: Number(match[1]),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    session: kv.session,
    value: kv.value,
  };
}

export function compareCandidates(a: Candidate, b: Candidate): number {
  return a.sequence - b.sequence || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** The candidates of a directory in this replica's applied state, lowest first. */
export function candidatesOf(machine: KvStateMachine, directory: string): Candidate[] {
  const result = machine.range({ key: directory, range: 'children' });
  const candidates: Candidate[] = [];
  for (const child of result.children ?? []) {
    if (child.kv === undefined) continue;
    const candidate = candidateOf(child.kv, directory);
    if (candidate !== null) candidates.push(candidate);
  }
  return candidates.sort(compareCandidates);
}

/**
 * Resolves at the first deletion of any of `keys` after `revision`, when a watcher ends for
 * another reason, or after `idleMs` (the caller looks again in every case). Rejects when the call is aborted or its
 * deadline passes. Must be called in the same turn as the read at `revision`.
 */
export function waitForDeletion(
  machine: KvStateMachine,
  keys: readonly string[],
  revision: number,
  context: CallContext,
  onTimeout: () => ApiError,
  idleMs = Infinity,
): Promise<void> {
  const watchers: Watcher[] = [];
  let idleTimer: NodeJS.Timeout | undefined;
  const fired = new Promise<void>((resolve) => {
    if (Number.isFinite(idleMs)) idleTimer = setTimeout(resolve, idleMs);
    const check = (watcher: Watcher): void => {
      // Take on a later turn: listeners run inside apply.
      setImmediate(() => {
        const events = watcher.take();
        if (watcher.cancelled || events.some((event) => event.type === 'delete')) resolve();
      });
    };
    for (const key of keys) {
      const watcher = machine.watch({ key, range: 'exact', startRevision: revision + 1 });
      watchers.push(watcher);
      watcher.setListener({ onReadable: check, onCancel: () => resolve() });
    }
  });
  return within(context, fired, onTimeout).finally(() => {
    clearTimeout(idleTimer);
    for (const watcher of watchers) {
      watcher.setListener(undefined);
      watcher.cancel();
    }
  });
}

export interface Grant {
  readonly candidate: Candidate;
  /** The store revision at which the grant was confirmed (linearizably). */
  readonly revision: number;
}

export type RecipeKind = 'election' | 'lock';

const KIND_WORDS: Readonly<Record<RecipeKind, { readonly noun: string; readonly gain: string }>> = {
  election: { noun: 'election', gain: 'leadership' },
  lock: { noun: 'lock', gain: 'the lock' },
};

/**
 * Queues `sessionId` as a candidate of `root/name` (or resumes its existing candidacy: one per
 * session and name, so a retried Campaign never queues twice) and waits until it leads.
 */
export async function acquire(
  ctx: CoordinationContext,
  kind: RecipeKind,
  root: string,
  name: string,
  sessionId: number,
  value: Uint8Array,
  context: CallContext,
): Promise<Grant> {
  const { node } = ctx;
  const directory = recipeDirectory(root, name);
  const machine = (): KvStateMachine => node.replica.stateMachine;
  const words = KIND_WORDS[kind];

  const gaveUp = (error: unknown): boolean => {
    const reason: unknown = context.signal.reason;
    return (
      (context.signal.aborted &&
        reason instanceof ApiError &&
        (reason.code === grpc.status.CANCELLED || reason.code === grpc.status.DEADLINE_EXCEEDED)) ||
      (error instanceof ApiError && error.code === grpc.status.DEADLINE_EXCEEDED)
    );
  };
  const abandon = (candidate: Candidate | undefined): void => {
    if (ctx.stopping.aborted) return;
    // Leave the queue so nobody waits behind a ghost (it would go with its session anyway).
    void withdrawAbandoned(ctx, kind, name, directory, sessionId, candidate).catch((cleanupError: unknown) =>
      node.logger.warn(
        { err: cleanupError, name, sessionId },
        `could not withdraw an abandoned ${words.noun} candidate; it goes when its session ends`,
      ),
    );
  };

  await readBarrier(node, context);
  if (!machine().hasSession(sessionId)) throw sessionGone(sessionId, words.noun, name);
  let mine = candidatesOf(machine(), directory).find((c) => c.session === sessionId);
  if (mine === undefined) {
    let path: string;
    try {
      path = await createCandidate(ctx, directory, sessionId, value, context);
    } catch (error) {
      // Given up while the create was in flight: it may still happen, so clean up after it.
      if (gaveUp(error)) {
        abandon(undefined);
        throw error;
      }
      // The create may have happened (a leader change mid-way): look for it before giving up.
      if (!(error instanceof ApiError) || error.trailers[Trailer.outcome] !== 'unknown') throw error;
      await readBarrier(node, context);
      mine = candidatesOf(machine(), directory).find((c) => c.session === sessionId);
      if (mine === undefined) throw error;
      path = mine.key;
    }
    // A follower forwarded the create: make sure it is applied here before looking.
    if (mine === undefined) await readBarrier(node, context);
    mine = candidatesOf(machine(), directory).find((c) => c.key === path);
    if (mine === undefined) throw candidateGone(node.replica.stateMachine, sessionId, words.noun, name);
  }
  try {
    return await waitForTurn(ctx, kind, directory, name, mine, context);
  } catch (error) {
    if (gaveUp(error)) abandon(mine);
    throw error;
  }
}

/** How long an in-flight create is given to land before an abandoned candidacy is looked for. */
const ABANDON_SETTLE_MS = 1_000;

/**
 * Withdraws the candidate of an abandoned Campaign / Lock: the known one, or (when the call was
 * given up while its create was in flight) whatever candidate the session has once the create
 * has settled.
 */
async function withdrawAbandoned(
  ctx: CoordinationContext,
  kind: RecipeKind,
  name: string,
  directory: string,
  sessionId: number,
  known: Candidate | undefined,
): Promise<void> {
  const context = detachedContext(ctx.stopping, 10_000 + ABANDON_SETTLE_MS);
  let candidate = known;
  if (candidate === undefined) {
    await new Promise((resolve) => setTimeout(resolve, ABANDON_SETTLE_MS));
    if (ctx.stopping.aborted) return;
    await readBarrier(ctx.node, context);
    candidate = candidatesOf(ctx.node.replica.stateMachine, directory).find((c) => c.session === sessionId);
    if (candidate === undefined) return;
  }
  await withdraw(ctx, kind, name, candidate, context);
}

/** A waiter re-confirms with the leader this often, so a partitioned member never holds it forever. */
const IDLE_RECHECK_MS = 5_000;

async function waitForTurn(
  ctx: CoordinationContext,
  kind: RecipeKind,
  directory: string,
  name: string,
  mine: Candidate,
  context: CallContext,
): Promise<Grant> {
  const { node } = ctx;
  const words = KIND_WORDS[kind];
  const timeout = (): ApiError =>
    new ApiError(
      grpc.status.DEADLINE_EXCEEDED,
      `the deadline passed while waiting for ${words.gain} of ${JSON.stringify(name)}; the candidate was withdrawn`,
    );
  for (;;) {
    const machine = node.replica.stateMachine;
    const candidates = candidatesOf(machine, directory);
    const index = candidates.findIndex((c) => c.key === mine.key && c.createRevision === mine.createRevision);
    if (index === -1) throw candidateGone(machine, mine.session, words.noun, name);
    if (index === 0) {
      // Confirm with a linearizable read: still here, still first, session still open.
      await readBarrier(node, context);
      const now = node.replica.stateMachine;
      const first = candidatesOf(now, directory)[0];
      // Ours gone, or a lower candidate appeared (only by a hand-made create): look again.
      if (first === undefined || first.key !== mine.key || first.createRevision !== mine.createRevision)
        continue;
      // Still ours only if its session still owns it and is open.
      if (first.session !== mine.session || !now.hasSession(mine.session)) {
        throw candidateGone(now, mine.session, words.noun, name);
      }
      return { candidate: first, revision: now.revision };
    }
    // Only the predecessor (and our own node, whose session may end) can change our turn.
    const predecessor = candidates[index - 1]!;
    await waitForDeletion(
      machine,
      [predecessor.key, mine.key],
      machine.revision,
      context,
      timeout,
      IDLE_RECHECK_MS,
    );
    // Catch up with the leader (and fail over to another member if this one lost touch).
    await readBarrier(node, context);
  }
}

async function createCandidate(
  ctx: CoordinationContext,
  directory: string,
  sessionId: number,
  value: Uint8Array,
  context: CallContext,
): Promise<string> {
  const path = `${directory}/${CANDIDATE_PREFIX}`;
  const command = {
    type: 'create',
    path,
    value,
    session: sessionId,
    sequential: true,
    parents: true,
  } as const;
  const wire = { path, value: Buffer.from(value), sessionId, sequential: true, parents: true };
  const response = await ctx.router.route<CreateResponseWire>(
    methodOf(ctx.services.tree, 'Create'),
    wire,
    context,
    'write',
    async () => {
      const result = await propose(ctx.node, command, context, ['create']);
      return {
        header: ctx.headers.make(result.revision),
        path: result.path,
        createRevision: result.createRevision,
      };
    },
  );
  return response.path;
}

/**
 * Deletes a candidate (resign / unlock) through the leader, if it still is the same
 * incarnation. Idempotent. Returns the response header's revision.
 */
export async function withdraw(
  ctx: CoordinationContext,
  kind: RecipeKind,
  name: string,
  candidate: { readonly key: string; readonly createRevision: number; readonly session: number },
  context: CallContext,
): Promise<HeaderOnlyResponseWire> {
  const leaderKey = {
    name,
    key: candidate.key,
    sessionId: candidate.session,
    fencingToken: candidate.createRevision,
  };
  const method = methodOf(ctx.services.election, kind === 'election' ? 'Resign' : 'Unlock');
  const wire = kind === 'election' ? { leader: leaderKey } : { lock: leaderKey };
  return ctx.router.route<HeaderOnlyResponseWire>(method, wire, context, 'write', async () => {
    const revision = await release(ctx, candidate.key, candidate.createRevision, context);
    return { header: ctx.headers.make(revision) };
  });
}

/**
 * Deletes a candidate on this node (the leader) if it still is the same incarnation (same create revision). Idempotent:
 * a candidate already gone is fine. Returns the revision after the delete (or the current one).
 */
export async function release(
  ctx: CoordinationContext,
  key: string,
  createRevision: number,
  context: CallContext,
): Promise<number> {
  const result = await propose(
    ctx.node,
    {
      type: 'txn',
      compare: [{ key, target: 'createRevision', op: '=', value: createRevision }],
      success: [{ type: 'delete', key }],
      failure: [],
    },
    context,
    ['txn'],
  );
  return result.revision;
}

function sessionGone(sessionId: number, noun: string, name: string): ApiError {
  return notFound(
    `session ${sessionId} does not exist (it expired or was closed), so it cannot join the ${noun} ` +
      `${JSON.stringify(name)}; open a new session`,
  );
}

/** Our candidate disappeared: because the session ended, or someone deleted it. */
function candidateGone(machine: KvStateMachine, sessionId: number, noun: string, name: string): ApiError {
  if (!machine.hasSession(sessionId)) return sessionGone(sessionId, noun, name);
  return new ApiError(
    grpc.status.ABORTED,
    `the candidate of session ${sessionId} in the ${noun} ${JSON.stringify(name)} was deleted (resigned, ` +
      `unlocked or removed by hand) while waiting; retry to queue again`,
  );
}
