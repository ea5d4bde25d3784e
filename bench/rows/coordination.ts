/**
 * Coordination rows (issue 6): sessions (leases), locks and elections, driven through etcd's v3
 * gRPC API with the same raw client (bench/etcd-api-client.ts) on both stores, so raftree and
 * etcd get identical requests.
 *
 *  - keepalive: 1,000 leases (TTL 10 s) renewed as fast as they are answered over three
 *    LeaseKeepAlive streams (one per member, 64 renewals in flight each, each lease at most
 *    once in flight): renewals acknowledged per second, p50 / p99 of a renewal's round trip,
 *    and whether any lease was lost (an answer with TTL <= 0, or missing from LeaseLeases).
 *  - lock, N contenders: N clients (spread over the members), each with its own lease, loop on
 *    Lock then Unlock of one name: cycles per second and the Lock call's latency (it includes
 *    waiting for the other holders).
 *  - election, holder lost: A leads (Campaign won, lease TTL 2 s kept alive), B's Campaign
 *    waits; A's keep-alive stops between two renewals and its stream is dropped, as when its
 *    process dies. Measured: A's last acknowledged renewal → B's Campaign returns (at least the
 *    TTL; the rest is the server's expiry check, the revoke and the wake-up of B).
 *  - election, leader killed: the same two candidates, each on a different follower, A renewing
 *    every 100 ms; the Raft leader is SIGKILLed. Measured: how long A's renewals were
 *    interrupted (kill → first acknowledgement of a renewal sent after it), and whether the
 *    election was unaffected (A's key still leads, B still waiting).
 */
import { randomBytes } from 'node:crypto';
import { runClosedLoop } from '../closed-loop.js';
import { endpointsFollowerFirst, meteredRow, plainRow, roles, type BenchContext } from '../context.js';
import {
  EtcdApiClient,
  LeaseKeeper,
  errorText,
  type KeepAliveStream,
  type LeaderKeyWire,
  type PendingCall,
} from '../etcd-api-client.js';
import { LatencyRecorder, median } from '../latency.js';
import { nowMs } from '../process-registry.js';
import { metric, type RowResult } from '../results.js';
import { task, type RowTask } from '../row-task.js';
import { nodeById } from '../store.js';
import { pollUntil, sleep } from '../wait.js';
import { errorNotes } from './latency-metrics.js';
import { rejoin } from './catch-up.js';

const SESSIONS = 1_000;
const SESSION_TTL_SECONDS = 10;
const KEEPALIVE_STREAMS = 3;
const RENEWALS_IN_FLIGHT_PER_STREAM = 64;
const GRANTS_IN_FLIGHT = 64;
const LOCK_CONTENDERS = [1, 8] as const;
const LOCK_LEASE_TTL_SECONDS = 10;
const ELECTION_TTL_SECONDS = 2;
/** Deadline of each ordinary call (grant, revoke, unlock, leader...). */
const CALL_DEADLINE_MS = 5_000;
/** Deadline of a Lock (it may wait for every other contender). */
const LOCK_DEADLINE_MS = 10_000;
/** Revoking what a row granted stops after this long, whatever is left. */
const CLEANUP_BUDGET_MS = 15_000;
/** How long a row waits for the renewals in flight at the end of its window. */
const DRAIN_MS = 3_000;

/** Keep-alive and lock rows: they leave nothing behind (leases revoked), so they can repeat (--rounds). */
export function sessionAndLockTasks(ctx: BenchContext): RowTask[] {
  return [
    task('session keepalive', () => keepAliveRow(ctx)),
    ...LOCK_CONTENDERS.map((n) => task(`lock, ${n} contending`, () => lockRow(ctx, n))),
  ];
}

/** The election rows, each already a median of its trials; one of them kills the Raft leader. */
export function electionTasks(ctx: BenchContext): RowTask[] {
  return [
    task('election, holder lost', () => holderLostRow(ctx)),
    task('election, leader killed', async () => {
      if (!ctx.cluster.managed) {
        ctx.progress.note('skipping election, leader killed: it needs server processes started by the bench');
        return [];
      }
      return leaderKilledRow(ctx);
    }),
  ];
}

// ---- helpers -------------------------------------------------------------------------------

/** Grants `count` leases over `clients` (round robin), pushing each id into `into` as it lands. */
async function grantMany(
  clients: readonly EtcdApiClient[],
  count: number,
  ttlSeconds: number,
  into: string[],
): Promise<void> {
  let next = 0;
  let firstError: unknown = null;
  const worker = async (): Promise<void> => {
    while (next < count && firstError === null) {
      const client = clients[next++ % clients.length]!;
      try {
        into.push((await client.grant(ttlSeconds, CALL_DEADLINE_MS)).id);
      } catch (error) {
        firstError ??= error;
      }
    }
  };
  // Every worker finishes (each call has a deadline), so `into` holds every lease granted.
  await Promise.all(Array.from({ length: Math.min(GRANTS_IN_FLIGHT, count) }, worker));
  if (firstError !== null) throw new Error(`LeaseGrant failed: ${errorText(firstError)}`);
}

/** Revokes leases (ids that are already gone are fine); returns how many could not be revoked. */
async function revokeMany(client: EtcdApiClient, ids: readonly string[]): Promise<number> {
  const giveUpAt = nowMs() + CLEANUP_BUDGET_MS;
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      if (nowMs() > giveUpAt) {
        failed++;
        continue;
      }
      try {
        await client.revoke(id, Math.min(CALL_DEADLINE_MS, Math.max(1, giveUpAt - nowMs())));
      } catch (error) {
        if (!errorText(error).includes('lease not found')) failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(GRANTS_IN_FLIGHT, ids.length) }, worker));
  return failed;
}

/** A promise whose settlement can be checked without awaiting it (and never unhandled). */
function tracked<T>(promise: Promise<T>): {
  readonly promise: Promise<T>;
  settled: () => boolean;
  outcome: () => { value: T } | { error: unknown } | null;
} {
  let outcome: { value: T } | { error: unknown } | null = null;
  promise.then(
    (value) => (outcome = { value }),
    (error: unknown) => (outcome = { error }),
  );
  return { promise, settled: () => outcome !== null, outcome: () => outcome };
}

function hex(lease: string): string {
  return BigInt(lease).toString(16);
}

function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Waits until `name` has `count` candidates (keys under name/), at most `timeoutMs`. */
async function waitForCandidates(client: EtcdApiClient, name: string, count: number, timeoutMs: number) {
  const found = await pollUntil(
    async () => {
      try {
        return (await client.keysUnder(name, 1_000)).length >= count ? true : null;
      } catch {
        return null;
      }
    },
    timeoutMs,
    20,
  );
  if (found === null)
    throw new Error(`the election ${name} did not get ${count} candidates within ${timeoutMs} ms`);
}

// ---- session keepalive ---------------------------------------------------------------------

/**
 * One LeaseKeepAlive stream renewing its share of the leases in a ring, `inFlight` renewals
 * outstanding at a time (one per lease), each answer triggering the next renewal.
 */
class RenewalLoop {
  private stream: KeepAliveStream | null = null;
  private readonly pending = new Map<string, number>();
  private cursor = 0;
  private stopping = false;
  private reopenTimer: NodeJS.Timeout | null = null;
  measured = 0;
  readonly lost = new Set<string>();
  failures = 0;
  firstFailure: string | null = null;

  constructor(
    private readonly client: EtcdApiClient,
    private readonly leases: readonly string[],
    private readonly inFlight: number,
    private readonly window: { readonly from: number; readonly until: number },
    /** Round trips of the renewals answered inside the window (shared by the loops). */
    private readonly latency: LatencyRecorder,
  ) {}

  start(): void {
    this.stream = this.client.openKeepAlive({
      onResponse: (id, ttl, at) => this.answered(id, ttl, at),
      onEnd: (reason) => this.broken(reason),
    });
    this.fill();
  }

  /** Stops renewing; waits (bounded) for the answers in flight, then drops the stream. */
  async finish(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const giveUpAt = nowMs() + timeoutMs;
    while (this.pending.size > 0 && this.stream !== null && nowMs() < giveUpAt) await sleep(5);
    this.stop();
  }

  stop(): void {
    this.stopping = true;
    if (this.reopenTimer !== null) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    this.stream?.cancel();
    this.stream = null;
  }

  private fill(): void {
    const stream = this.stream;
    if (stream === null) return;
    for (
      let tries = 0;
      !this.stopping && this.pending.size < this.inFlight && tries < this.leases.length;
      tries++
    ) {
      const id = this.leases[this.cursor++ % this.leases.length]!;
      if (this.pending.has(id) || this.lost.has(id)) continue;
      this.pending.set(id, nowMs());
      stream.renew(id);
    }
  }

  private answered(id: string, ttl: number, at: number): void {
    const sentAt = this.pending.get(id);
    if (sentAt === undefined) return;
    this.pending.delete(id);
    if (at >= this.window.from && at <= this.window.until) {
      this.measured++;
      this.latency.record(at - sentAt);
    }
    if (ttl <= 0) this.lost.add(id);
    this.fill();
  }

  private broken(reason: string): void {
    this.failures++;
    this.firstFailure ??= reason;
    this.stream = null;
    this.pending.clear();
    if (this.stopping) return;
    // Re-open, as a client library would; the renewals lost with the stream are sent again.
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      if (!this.stopping) this.start();
    }, 50);
  }
}

async function keepAliveRow(ctx: BenchContext): Promise<RowResult> {
  const endpoints = await endpointsFollowerFirst(ctx);
  const clients = endpoints.map((e) => new EtcdApiClient(e));
  const leases: string[] = [];
  const loops: RenewalLoop[] = [];
  const title = `session keepalive, ${SESSIONS} leases, ${KEEPALIVE_STREAMS} streams`;
  try {
    ctx.progress.phase(`${title}: granting the leases`);
    const grantStartedAt = nowMs();
    await grantMany(clients, SESSIONS, SESSION_TTL_SECONDS, leases);
    const grantsPerSecond = SESSIONS / ((nowMs() - grantStartedAt) / 1000);
    return await meteredRow(ctx, `keepalive-${SESSIONS}`, title, { readLeaderMetrics: true }, async () => {
      const from = nowMs() + ctx.profile.levelWarmupMs;
      const until = from + ctx.profile.levelDurationMs;
      const latency = new LatencyRecorder();
      for (let s = 0; s < KEEPALIVE_STREAMS; s++) {
        const share = leases.filter((_, i) => i % KEEPALIVE_STREAMS === s);
        const client = clients[s % clients.length]!;
        loops.push(new RenewalLoop(client, share, RENEWALS_IN_FLIGHT_PER_STREAM, { from, until }, latency));
      }
      for (const loop of loops) loop.start();
      while (nowMs() < until) {
        await sleep(Math.min(250, Math.max(1, until - nowMs())));
        const done = loops.reduce((sum, l) => sum + l.measured, 0);
        ctx.progress.update(`${done} renewals measured`);
      }
      await Promise.all(loops.map((l) => l.finish(DRAIN_MS)));
      const summary = latency.summary();
      const renewals = loops.reduce((sum, l) => sum + l.measured, 0);
      const failures = loops.reduce((sum, l) => sum + l.failures, 0);
      const lost = new Set(loops.flatMap((l) => [...l.lost]));
      // Every lease must still exist: none may have expired while the streams kept it alive.
      let missing: number | null = null;
      try {
        const held = await clients[0]!.leases(CALL_DEADLINE_MS);
        missing = leases.filter((id) => !held.has(id)).length;
        for (const id of leases) if (!held.has(id)) lost.add(id);
      } catch (error) {
        ctx.progress.note(`LeaseLeases failed: ${errorText(error)}`);
      }
      const notes: string[] = [];
      if (failures > 0)
        notes.push(
          `${failures} keep-alive streams ended and were re-opened; first: ${loops.find((l) => l.firstFailure !== null)?.firstFailure ?? '?'}`,
        );
      if (lost.size > 0) notes.push(`${lost.size} of ${SESSIONS} leases were lost while kept alive`);
      if (missing === null)
        notes.push('LeaseLeases failed: leases lost are only those answered with TTL <= 0');
      return {
        metrics: [
          metric(
            'renewalsPerSecond',
            'renewals acknowledged/s',
            renewals / (ctx.profile.levelDurationMs / 1000),
            'higher',
          ),
          metric('p50Ms', 'renewal round trip p50 (ms)', summary.p50Ms, 'lower', 2),
          metric('p99Ms', 'renewal round trip p99 (ms)', summary.p99Ms, 'lower', 2),
          metric('leasesLost', 'leases lost', lost.size, 'lower'),
          metric('streamFailures', 'keep-alive streams re-opened', failures, 'lower'),
          metric(
            'grantsPerSecond',
            `grants/s (${SESSIONS}, ${GRANTS_IN_FLIGHT} in flight)`,
            grantsPerSecond,
            'info',
          ),
        ],
        notes,
        ops: renewals,
        detail: { leases: SESSIONS, ttlSeconds: SESSION_TTL_SECONDS, streams: KEEPALIVE_STREAMS, endpoints },
      };
    });
  } finally {
    for (const loop of loops) loop.stop();
    ctx.progress.update(`revoking ${leases.length} leases`);
    const failed = await revokeMany(clients[0]!, leases);
    if (failed > 0) ctx.progress.note(`${failed} leases of the keepalive row could not be revoked`);
    for (const client of clients) client.close();
  }
}

// ---- lock ----------------------------------------------------------------------------------

async function lockRow(ctx: BenchContext, contenders: number): Promise<RowResult> {
  const endpoints = await endpointsFollowerFirst(ctx);
  const clients = endpoints.map((e) => new EtcdApiClient(e));
  const leases: string[] = [];
  let keeper: LeaseKeeper | null = null;
  const name = uniqueName(`/bench/lock/${contenders}`);
  const title = `lock + unlock, ${contenders} contending`;
  try {
    await grantMany(clients, contenders, LOCK_LEASE_TTL_SECONDS, leases);
    keeper = new LeaseKeeper(clients[0]!, leases, {
      intervalMs: (LOCK_LEASE_TTL_SECONDS * 1000) / 3,
      ackTimeoutMs: 3_000,
      reopenAfterMs: 100,
    }).start();
    return await meteredRow(ctx, `lock-${contenders}`, title, { readLeaderMetrics: true }, async () => {
      const acquire = new LatencyRecorder();
      const from = nowMs() + ctx.profile.levelWarmupMs;
      const until = from + ctx.profile.levelDurationMs;
      const result = await runClosedLoop({
        concurrency: contenders,
        warmupMs: ctx.profile.levelWarmupMs,
        durationMs: ctx.profile.levelDurationMs,
        maxConsecutiveErrors: 5,
        operation: async (worker) => {
          const client = clients[worker % clients.length]!;
          const startedAt = nowMs();
          const key = await client.lock(name, leases[worker]!, LOCK_DEADLINE_MS);
          const acquiredAt = nowMs();
          await client.unlock(key, CALL_DEADLINE_MS);
          const releasedAt = nowMs();
          if (releasedAt >= from && releasedAt <= until) acquire.record(acquiredAt - startedAt);
        },
        onProgress: (elapsedMs, ops) =>
          ctx.progress.update(`${(elapsedMs / 1000).toFixed(1)} s, ${ops} cycles`),
      });
      const latency = acquire.summary();
      const lostLeases = keeper!.lost.size;
      return {
        metrics: [
          metric('cyclesPerSecond', 'lock + unlock cycles/s', result.opsPerSecond, 'higher'),
          metric('acquireP50Ms', 'Lock call p50 (ms)', latency.p50Ms, 'lower', 2),
          metric('acquireP99Ms', 'Lock call p99 (ms)', latency.p99Ms, 'lower', 2),
          metric('cycleP50Ms', 'lock + unlock p50 (ms)', result.latency.p50Ms, 'lower', 2),
          metric('errors', 'errors', result.errors, 'lower'),
        ],
        notes: [
          ...errorNotes(result),
          ...(lostLeases > 0 ? [`${lostLeases} contenders' leases were lost while kept alive`] : []),
        ],
        ops: result.ops,
        detail: { contenders, endpoints, name },
      };
    });
  } finally {
    keeper?.stop();
    await revokeMany(clients[0]!, leases);
    for (const client of clients) client.close();
  }
}

// ---- election: the holder dies -----------------------------------------------------------

interface HolderLostTrial {
  readonly ttlMs: number;
  /** A's last acknowledged renewal → B's Campaign returned; null if B was not elected. */
  readonly lastRenewalToElectedMs: number | null;
  /** A's keep-alive dropped → B's Campaign returned. */
  readonly droppedToElectedMs: number | null;
  readonly error: string | null;
}

async function holderLostRow(ctx: BenchContext): Promise<RowResult> {
  const trials = ctx.profile.electionTrials;
  return plainRow(
    ctx,
    'election-holder-lost',
    `election failover, holder's keep-alive lost (${trials}x)`,
    async () => {
      const endpoints = await endpointsFollowerFirst(ctx);
      const clientA = new EtcdApiClient(endpoints[0]!);
      const clientB = new EtcdApiClient(endpoints[1 % endpoints.length]!);
      const results: HolderLostTrial[] = [];
      try {
        for (let i = 0; i < trials; i++) {
          ctx.progress.update(`trial ${i + 1}`);
          results.push(await holderLostTrial(clientA, clientB));
        }
      } finally {
        clientA.close();
        clientB.close();
      }
      const elected = results.map((t) => t.lastRenewalToElectedMs).filter((v): v is number => v !== null);
      if (elected.length === 0) throw new Error(`every trial failed; first: ${results[0]?.error ?? '?'}`);
      const dropped = results.map((t) => t.droppedToElectedMs).filter((v): v is number => v !== null);
      const ttlMs = results[0]?.ttlMs ?? null;
      const medianElected = median(elected);
      const notes = results.filter((t) => t.error !== null).map((t) => `trial failed: ${t.error}`);
      return {
        metrics: [
          metric(
            'lastRenewalToElectedMs',
            "A's last renewal → B elected, median (ms)",
            medianElected,
            'lower',
          ),
          metric(
            'beyondTtlMs',
            'of which beyond the TTL, median (ms)',
            medianElected === null || ttlMs === null ? null : medianElected - ttlMs,
            'lower',
          ),
          metric(
            'droppedToElectedMs',
            "A's keep-alive dropped → B elected, median (ms)",
            median(dropped),
            'info',
          ),
          metric('leaseTtlMs', 'lease TTL granted (ms)', ttlMs, 'info'),
          metric('failedTrials', 'failed trials', results.length - elected.length, 'lower'),
        ],
        notes,
        ops: null,
        detail: { trials: results, endpoints: { a: endpoints[0], b: endpoints[1 % endpoints.length] } },
      };
    },
  );
}

async function holderLostTrial(clientA: EtcdApiClient, clientB: EtcdApiClient): Promise<HolderLostTrial> {
  const name = uniqueName('/bench/election/holder-lost');
  const leases: string[] = [];
  const keepers: LeaseKeeper[] = [];
  let campaignB: PendingCall<LeaderKeyWire> | null = null;
  let ttlMs = ELECTION_TTL_SECONDS * 1000;
  try {
    const leaseA = await clientA.grant(ELECTION_TTL_SECONDS, CALL_DEADLINE_MS);
    leases.push(leaseA.id);
    const leaseB = await clientB.grant(ELECTION_TTL_SECONDS, CALL_DEADLINE_MS);
    leases.push(leaseB.id);
    ttlMs = leaseA.ttlSeconds * 1000;
    const options = { intervalMs: ttlMs / 4, ackTimeoutMs: 3_000, reopenAfterMs: 50 };
    const keeperA = new LeaseKeeper(clientA, [leaseA.id], options).start();
    keepers.push(keeperA, new LeaseKeeper(clientB, [leaseB.id], options).start());
    await clientA.campaign(name, leaseA.id, 'A', CALL_DEADLINE_MS).promise;
    campaignB = clientB.campaign(name, leaseB.id, 'B', ttlMs + 15_000);
    const b = tracked(campaignB.promise);
    await waitForCandidates(clientA, name, 2, CALL_DEADLINE_MS);
    await sleep(ttlMs / 2); // A renews at least once more while B waits
    if (b.settled())
      throw new Error(`B's Campaign returned while A held the election: ${JSON.stringify(b.outcome())}`);
    const lastRenewal = await keeperA.stopBetweenRenewals(3_000);
    const droppedAt = nowMs();
    const won = await b.promise;
    const electedAt = nowMs();
    if (won.key.toString() !== `${name}/${hex(leaseB.id)}`)
      throw new Error(`B's Campaign returned the key ${won.key.toString()}`);
    return {
      ttlMs,
      lastRenewalToElectedMs: lastRenewal === null ? null : electedAt - lastRenewal,
      droppedToElectedMs: electedAt - droppedAt,
      error:
        lastRenewal === null ? "A's last renewal was not answered before its keep-alive was dropped" : null,
    };
  } catch (error) {
    return { ttlMs, lastRenewalToElectedMs: null, droppedToElectedMs: null, error: errorText(error) };
  } finally {
    for (const keeper of keepers) keeper.stop();
    campaignB?.cancel();
    await revokeMany(clientB, leases);
  }
}

// ---- election: the Raft leader is killed ---------------------------------------------------

interface LeaderKilledTrial {
  readonly killed: string;
  /** Kill → first acknowledgement of a renewal of A's lease sent after the kill. */
  readonly interruptionMs: number | null;
  /** The longest gap between two acknowledgements of A's renewals, across the kill. */
  readonly longestGapMs: number | null;
  readonly aStillLeads: boolean;
  readonly bStillWaiting: boolean;
  readonly aLeaseTtlLeft: number | null;
  readonly keeperStreamFailures: number;
  readonly error: string | null;
}

async function leaderKilledRow(ctx: BenchContext): Promise<RowResult> {
  const trials = ctx.profile.electionTrials;
  return plainRow(
    ctx,
    'election-leader-killed',
    `election during SIGKILL of the Raft leader (${trials}x)`,
    async () => {
      const results: LeaderKilledTrial[] = [];
      for (let i = 0; i < trials; i++) {
        ctx.progress.update(`trial ${i + 1}`);
        results.push(await leaderKilledTrial(ctx));
      }
      if (results.every((t) => t.error !== null))
        throw new Error(`every trial failed; first: ${results[0]?.error ?? '?'}`);
      const interruptions = results.map((t) => t.interruptionMs).filter((v): v is number => v !== null);
      const gaps = results.map((t) => t.longestGapMs).filter((v): v is number => v !== null);
      const notes: string[] = [];
      for (const t of results) {
        if (t.error !== null) notes.push(`trial failed: ${t.error}`);
        else if (!t.aStillLeads || !t.bStillWaiting)
          notes.push(
            `killing ${t.killed} changed the election: A still leads ${t.aStillLeads}, B still waiting ${t.bStillWaiting}`,
          );
      }
      return {
        metrics: [
          metric(
            'interruptionMs',
            "A's renewals: kill → first ack, median (ms)",
            median(interruptions),
            'lower',
          ),
          metric('longestGapMs', "A's renewals: longest gap, median (ms)", median(gaps), 'lower'),
          metric(
            'electionChanged',
            'trials where the election changed',
            results.filter((t) => t.error === null && (!t.aStillLeads || !t.bStillWaiting)).length,
            'lower',
          ),
          metric('failedTrials', 'failed trials', results.filter((t) => t.error !== null).length, 'lower'),
          metric(
            'keeperReopens',
            "A's keep-alive streams re-opened",
            results.reduce((sum, t) => sum + t.keeperStreamFailures, 0),
            'info',
          ),
        ],
        notes,
        ops: null,
        detail: { trials: results },
      };
    },
  );
}

async function leaderKilledTrial(ctx: BenchContext): Promise<LeaderKilledTrial> {
  const { leader, followers } = await roles(ctx);
  if (leader === null || followers.length < 2) throw new Error('needs a leader and two followers');
  const [followerA, followerB] = [followers[0]!, followers[1]!];
  const clientA = new EtcdApiClient(nodeById(ctx.cluster, followerA).clientEndpoint);
  const clientB = new EtcdApiClient(nodeById(ctx.cluster, followerB).clientEndpoint);
  const name = uniqueName('/bench/election/leader-killed');
  const leases: string[] = [];
  const keepers: LeaseKeeper[] = [];
  let campaignB: PendingCall<LeaderKeyWire> | null = null;
  let killed = false;
  let keeperA: LeaseKeeper | null = null;
  try {
    const leaseA = await clientA.grant(ELECTION_TTL_SECONDS, CALL_DEADLINE_MS);
    leases.push(leaseA.id);
    const leaseB = await clientB.grant(ELECTION_TTL_SECONDS, CALL_DEADLINE_MS);
    leases.push(leaseB.id);
    const ttlMs = leaseA.ttlSeconds * 1000;
    keeperA = new LeaseKeeper(clientA, [leaseA.id], {
      intervalMs: 100,
      ackTimeoutMs: 5_000,
      reopenAfterMs: 50,
    }).start();
    const keeperB = new LeaseKeeper(clientB, [leaseB.id], {
      intervalMs: ttlMs / 4,
      ackTimeoutMs: 5_000,
      reopenAfterMs: 50,
    }).start();
    keepers.push(keeperA, keeperB);
    const won = await clientA.campaign(name, leaseA.id, 'A', CALL_DEADLINE_MS).promise;
    campaignB = clientB.campaign(name, leaseB.id, 'B', 60_000);
    const b = tracked(campaignB.promise);
    await waitForCandidates(clientA, name, 2, CALL_DEADLINE_MS);
    await sleep(1_000);
    if (b.settled()) throw new Error(`B's Campaign returned before the kill: ${JSON.stringify(b.outcome())}`);

    ctx.progress.update(`killing the leader ${leader}`);
    const killedAt = nowMs();
    killed = true;
    await ctx.cluster.kill(leader);
    // Until both leases were renewed again (or B's Campaign ended, or 15 s)...
    const renewedAfterKill = (keeper: LeaseKeeper): boolean =>
      keeper.acks.some((a) => a.sentAt >= killedAt && a.ttl > 0);
    const giveUpAt = killedAt + 15_000;
    while (!(renewedAfterKill(keeperA) && renewedAfterKill(keeperB)) && !b.settled() && nowMs() < giveUpAt)
      await sleep(10);
    // ...then a while longer, at least a TTL after the kill, for a late expiry to show.
    const watchUntil = Math.max(nowMs() + 1_000, killedAt + ttlMs + 1_000);
    while (!b.settled() && nowMs() < watchUntil) await sleep(10);

    const current = await pollUntil(
      async () => {
        try {
          return { leader: await clientA.leader(name, 2_000) };
        } catch {
          return null;
        }
      },
      10_000,
      100,
    );
    if (current === null) throw new Error(`the election's leader could not be read through ${followerA}`);
    let ttlLeft: number | null = null;
    try {
      ttlLeft = await clientA.timeToLive(leaseA.id, CALL_DEADLINE_MS);
    } catch {
      // reported as unknown
    }
    const acks = keeperA.acks;
    const firstAfter = acks.find((a) => a.sentAt >= killedAt && a.ttl > 0);
    let longestGap: number | null = null;
    for (let i = 1; i < acks.length; i++)
      if (acks[i]!.at >= killedAt) longestGap = Math.max(longestGap ?? 0, acks[i]!.at - acks[i - 1]!.at);
    return {
      killed: leader,
      interruptionMs: firstAfter === undefined ? null : firstAfter.at - killedAt,
      longestGapMs: longestGap,
      aStillLeads: current.leader?.key === won.key.toString() && keeperA.lost.size === 0,
      bStillWaiting: !b.settled(),
      aLeaseTtlLeft: ttlLeft,
      keeperStreamFailures: keeperA.streamFailures,
      error: null,
    };
  } catch (error) {
    return {
      killed: leader,
      interruptionMs: null,
      longestGapMs: null,
      aStillLeads: false,
      bStillWaiting: false,
      aLeaseTtlLeft: null,
      keeperStreamFailures: keeperA?.streamFailures ?? 0,
      error: errorText(error),
    };
  } finally {
    for (const keeper of keepers) keeper.stop();
    campaignB?.cancel();
    await revokeMany(clientA, leases);
    clientA.close();
    clientB.close();
    if (killed) await rejoin(ctx, leader, '/bench/election/rejoined');
  }
}
