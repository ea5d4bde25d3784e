/**
 * Failover: a writer issues a put every 10 ms (each with a 5 s deadline, not waiting for the
 * previous one); after 1 s the leader is SIGKILLed. Measured: the time from the kill to the
 * first acknowledged put among those issued after the kill, and how many puts failed in the
 * whole trial. The killed node is then restarted and caught up before the next trial. Three
 * trials (one with --quick); the row reports the medians.
 */
import { plainRow, type BenchContext } from '../context.js';
import { median } from '../latency.js';
import { nowMs } from '../process-registry.js';
import { metric, type RowResult } from '../results.js';
import { sleep } from '../wait.js';
import { rejoin } from './catch-up.js';

const WRITE_EVERY_MS = 10;
const WRITE_DEADLINE_MS = 5_000;
const STEADY_BEFORE_KILL_MS = 1_000;
const KEEP_WRITING_AFTER_RECOVERY_MS = 500;
const GIVE_UP_AFTER_MS = 15_000;

interface Trial {
  readonly killed: string;
  readonly firstAckAfterKillMs: number | null;
  readonly failedWrites: number;
  readonly issuedWrites: number;
  readonly firstError: string | null;
}

export async function failoverRow(ctx: BenchContext): Promise<RowResult> {
  const trials: Trial[] = [];
  return plainRow(
    ctx,
    'failover',
    `failover after SIGKILL of the leader (${ctx.profile.failoverTrials}x)`,
    async () => {
      for (let i = 0; i < ctx.profile.failoverTrials; i++) {
        ctx.progress.update(`trial ${i + 1}`);
        trials.push(await runTrial(ctx));
        await rejoin(ctx, trials.at(-1)!.killed, '/bench/failover/rejoined');
      }
      const recovered = trials.map((t) => t.firstAckAfterKillMs).filter((v): v is number => v !== null);
      const notes = trials
        .filter((t) => t.firstAckAfterKillMs === null)
        .map((t) => `no put acknowledged within ${GIVE_UP_AFTER_MS} ms after killing ${t.killed}`);
      const firstError = trials.find((t) => t.firstError !== null)?.firstError;
      if (firstError !== undefined) notes.push(`first failed put: ${firstError}`);
      return {
        metrics: [
          metric('medianFailoverMs', 'kill → first ack, median (ms)', median(recovered), 'lower'),
          metric(
            'maxFailoverMs',
            'kill → first ack, worst (ms)',
            recovered.length > 0 ? Math.max(...recovered) : null,
            'lower',
          ),
          metric(
            'medianFailedWrites',
            'failed puts, median',
            median(trials.map((t) => t.failedWrites)),
            'lower',
          ),
        ],
        notes,
        ops: null,
        detail: { trials },
      };
    },
  );
}

async function runTrial(ctx: BenchContext): Promise<Trial> {
  const writer = ctx.cluster.client({ deadlineMs: WRITE_DEADLINE_MS });
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  let failed = 0;
  let firstError: string | null = null;
  let killedAt: number | null = null;
  let firstAckAfterKill: number | null = null;
  const issue = (): void => {
    const issuedAt = nowMs();
    const sequence = issued++;
    const write = writer
      .put(`/bench/failover/${sequence % 100}`, ctx.value)
      .then(() => {
        if (killedAt !== null && issuedAt >= killedAt && firstAckAfterKill === null)
          firstAckAfterKill = nowMs();
      })
      .catch((error: unknown) => {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      })
      .finally(() => inFlight.delete(write));
    inFlight.add(write);
  };
  const ticker = setInterval(issue, WRITE_EVERY_MS);
  try {
    await sleep(STEADY_BEFORE_KILL_MS);
    const leader = await ctx.cluster.leaderId(5_000);
    if (leader === null) throw new Error('no leader to kill');
    killedAt = nowMs();
    await ctx.cluster.kill(leader);
    const giveUpAt = killedAt + GIVE_UP_AFTER_MS;
    while (firstAckAfterKill === null && nowMs() < giveUpAt) await sleep(5);
    await sleep(KEEP_WRITING_AFTER_RECOVERY_MS);
    clearInterval(ticker);
    await Promise.all([...inFlight]);
    return {
      killed: leader,
      firstAckAfterKillMs: firstAckAfterKill === null ? null : firstAckAfterKill - killedAt,
      failedWrites: failed,
      issuedWrites: issued,
      firstError,
    };
  } finally {
    clearInterval(ticker);
    writer.close();
  }
}
