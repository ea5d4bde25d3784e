/**
 * Watch rows.
 *  - latency: one watcher on a prefix, on a follower or on the leader; puts run one at a time
 *    (the next after the previous one's event arrived): put acknowledged → event received, and
 *    put sent → event received. An event may arrive before the put's acknowledgement; that
 *    counts as 0 ms in the ack → event figure.
 *  - fan-out: 100 watchers on one prefix on a follower while puts run at 16 in flight: events
 *    delivered per second across all watchers.
 */
import { runClosedLoop } from '../closed-loop.js';
import { meteredRow, roles, type BenchContext, type RowBody } from '../context.js';
import { LatencyRecorder } from '../latency.js';
import { nowMs } from '../process-registry.js';
import { metric, type RowResult } from '../results.js';
import { task, type RowTask } from '../row-task.js';
import { nodeById, type KvClient, type WatchHandle } from '../store.js';
import { sleep } from '../wait.js';

const EVENT_TIMEOUT_MS = 2_000;

export function watchTasks(ctx: BenchContext): RowTask[] {
  return [
    task('watch latency, follower', async () => {
      const { followers } = await roles(ctx);
      return followers[0] === undefined ? [] : latencyRow(ctx, 'follower', followers[0]);
    }),
    task('watch latency, leader', async () => {
      const { leader } = await roles(ctx);
      return leader === null ? [] : latencyRow(ctx, 'leader', leader);
    }),
    task('watch fan-out', async () => {
      const { leader, followers } = await roles(ctx);
      return fanoutRow(ctx, followers[0] ?? leader ?? ctx.cluster.nodes[0]!.id);
    }),
  ];
}

async function latencyRow(ctx: BenchContext, placement: string, nodeId: string): Promise<RowResult> {
  const prefix = `/bench/watch/${placement}/`;
  const watchClient = ctx.cluster.client({
    endpoints: [nodeById(ctx.cluster, nodeId).clientEndpoint],
    deadlineMs: ctx.deadlineMs,
  });
  const writer = ctx.cluster.client({ deadlineMs: ctx.deadlineMs });
  const waiting = new Map<string, (at: number) => void>();
  let watch: WatchHandle | null = null;
  try {
    watch = await watchClient.watchPrefix(prefix, (key) => {
      const at = nowMs();
      waiting.get(key)?.(at);
    });
    const title = `watch put → event, watcher on the ${placement}`;
    return await meteredRow(ctx, `watch-latency-${placement}`, title, { readLeaderMetrics: false }, () =>
      measureLatency(ctx, writer, waiting, prefix, nodeId),
    );
  } finally {
    watch?.close();
    watchClient.close();
    writer.close();
  }
}

/**
 * Puts one key at a time under `prefix` and waits for each one's event (`waiting` is how the
 * watch callback hands it over), for the profile's watch latency duration.
 */
async function measureLatency(
  ctx: BenchContext,
  writer: KvClient,
  waiting: Map<string, (at: number) => void>,
  prefix: string,
  nodeId: string,
): Promise<RowBody> {
  const ackToEvent = new LatencyRecorder();
  const sendToEvent = new LatencyRecorder();
  let beforeAck = 0;
  let missed = 0;
  const started = nowMs();
  // Unmeasured first round trips (stream and connection warm-up).
  for (let sequence = -20; nowMs() - started < ctx.profile.watchLatencyMs; sequence++) {
    const key = `${prefix}${sequence}`;
    const event = new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), EVENT_TIMEOUT_MS);
      waiting.set(key, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
    const sentAt = nowMs();
    await writer.put(key, ctx.value);
    const ackedAt = nowMs();
    const eventAt = await event;
    waiting.delete(key);
    if (sequence < 0) continue;
    if (eventAt === null) {
      missed++;
      continue;
    }
    if (eventAt < ackedAt) beforeAck++;
    ackToEvent.record(Math.max(0, eventAt - ackedAt));
    sendToEvent.record(eventAt - sentAt);
    if (sequence % 50 === 0) ctx.progress.update(`${sequence} round trips`);
  }
  const ack = ackToEvent.summary();
  const send = sendToEvent.summary();
  return {
    metrics: [
      metric('ackToEventP50Ms', 'ack → event p50 (ms)', ack.p50Ms, 'lower', 2),
      metric('ackToEventP99Ms', 'ack → event p99 (ms)', ack.p99Ms, 'lower', 2),
      metric('sendToEventP50Ms', 'put sent → event p50 (ms)', send.p50Ms, 'lower', 2),
      metric('sendToEventP99Ms', 'put sent → event p99 (ms)', send.p99Ms, 'lower', 2),
      metric('eventsBeforeAck', 'events before the ack', beforeAck, 'info'),
      metric('missedEvents', `events missing after ${EVENT_TIMEOUT_MS} ms`, missed, 'lower'),
    ],
    notes: missed > 0 ? [`${missed} events did not arrive within ${EVENT_TIMEOUT_MS} ms`] : [],
    ops: ack.count,
    detail: { roundTrips: ack.count, watcherNode: nodeId },
  };
}

async function fanoutRow(ctx: BenchContext, nodeId: string): Promise<RowResult> {
  const { fanoutWatchers, fanoutWriters, fanoutDurationMs } = ctx.profile;
  const prefix = '/bench/fanout/';
  const watchClient = ctx.cluster.client({
    endpoints: [nodeById(ctx.cluster, nodeId).clientEndpoint],
    deadlineMs: ctx.deadlineMs,
  });
  const writer = ctx.cluster.client({ deadlineMs: ctx.deadlineMs });
  const watches: WatchHandle[] = [];
  let delivered = 0;
  let lastEventAt = 0;
  try {
    ctx.progress.phase(`opening ${fanoutWatchers} watchers`);
    for (let i = 0; i < fanoutWatchers; i++) {
      watches.push(
        await watchClient.watchPrefix(prefix, () => {
          delivered++;
          lastEventAt = nowMs();
        }),
      );
    }
    const title = `watch fan-out, ${fanoutWatchers} watchers, ${fanoutWriters} writers`;
    return await meteredRow(
      ctx,
      `watch-fanout-${fanoutWatchers}`,
      title,
      { readLeaderMetrics: false },
      async () => {
        let counter = 0;
        const startedAt = nowMs();
        const writes = await runClosedLoop({
          concurrency: fanoutWriters,
          warmupMs: 0,
          durationMs: fanoutDurationMs,
          operation: () => writer.put(`${prefix}${counter++ % 1000}`, ctx.value),
          onProgress: (elapsedMs) =>
            ctx.progress.update(`${(elapsedMs / 1000).toFixed(1)} s, ${delivered} events`),
        });
        // Every put issued (even those finishing after the window) yields one event per watcher.
        const expected = counter * fanoutWatchers;
        const drainUntil = nowMs() + 10_000;
        while (delivered < expected && nowMs() < drainUntil) await sleep(20);
        const seconds = (lastEventAt - startedAt) / 1000;
        return {
          metrics: [
            metric(
              'eventsPerSecond',
              'events delivered/s',
              seconds > 0 ? delivered / seconds : null,
              'higher',
            ),
            metric('writesPerSecond', 'puts/s during it', writes.opsPerSecond, 'info'),
            metric(
              'deliveredShare',
              'events delivered / expected (%)',
              expected > 0 ? (100 * delivered) / expected : null,
              'higher',
              1,
            ),
          ],
          notes:
            delivered < expected
              ? [`only ${delivered} of ${expected} events arrived within 10 s after the writes stopped`]
              : [],
          ops: delivered,
          detail: { watcherNode: nodeId, delivered, expected },
        };
      },
    );
  } finally {
    for (const watch of watches) watch.close();
    watchClient.close();
    writer.close();
  }
}
