/** What every workload gets: the cluster, its role layout, the profile, progress and a value. */
import { randomBytes } from 'node:crypto';
import type { BenchProfile } from './profile.js';
import type { Progress } from './progress.js';
import { ResourceMeter } from './resource-meter.js';
import { metric, type Metric, type RowResult } from './results.js';
import { NoiseMeter } from './noise-meter.js';
import { loadavg } from 'node:os';
import { settleServers, type Settling } from './settle.js';
import type { StoreCluster } from './store.js';

export interface BenchContext {
  readonly cluster: StoreCluster;
  readonly profile: BenchProfile;
  readonly progress: Progress;
  /** The payload of every put: random bytes (incompressible), profile.valueBytes long. */
  readonly value: Buffer;
  /** Deadline of ordinary calls. */
  readonly deadlineMs: number;
  /** When rows that depend on earlier ones may start (monotonic ms; null: not yet). */
  readonly marks: { restartDataLoadedAtMs: number | null };
}

export function createContext(
  cluster: StoreCluster,
  profile: BenchProfile,
  progress: Progress,
): BenchContext {
  return {
    cluster,
    profile,
    progress,
    value: randomBytes(profile.valueBytes),
    deadlineMs: 10_000,
    marks: { restartDataLoadedAtMs: null },
  };
}

/** The node ids: the leader (if the bench can find it) and the others. */
export async function roles(ctx: BenchContext): Promise<{ leader: string | null; followers: string[] }> {
  const leader = await ctx.cluster.leaderId(10_000);
  return { leader, followers: ctx.cluster.nodes.map((n) => n.id).filter((id) => id !== leader) };
}

/**
 * Client endpoints with a follower first: the raftree client sends reads (and watches) to
 * the first endpoint that works, so they are served by a follower, the conservative case
 * (etcd3 spreads calls over all members at random).
 */
export async function endpointsFollowerFirst(ctx: BenchContext): Promise<string[]> {
  const { leader } = await roles(ctx);
  const nodes = [...ctx.cluster.nodes].sort((a, b) => Number(a.id === leader) - Number(b.id === leader));
  return nodes.map((n) => n.clientEndpoint);
}

export interface RowBody {
  readonly metrics: readonly Metric[];
  readonly notes?: readonly string[];
  /** Operations done, for CPU per operation; null when it makes no sense. */
  readonly ops: number | null;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/**
 * Runs one row with its resource meters around it (CPU, load and, when `readLeaderMetrics`, the
 * leader's group commit, fsync time and append round trips).
 */
export async function meteredRow(
  ctx: BenchContext,
  id: string,
  title: string,
  options: { readonly readLeaderMetrics: boolean },
  body: () => Promise<RowBody>,
): Promise<RowResult> {
  const { noise, settling } = await startRow(ctx, title);
  const leader = ctx.cluster.managed ? await ctx.cluster.leaderId(5_000) : null;
  const meter = await ResourceMeter.start(ctx.cluster, options.readLeaderMetrics ? leader : null);
  const result = await body();
  const resources = await meter.finish(result.ops);
  const row: RowResult = {
    id,
    title,
    metrics: [...result.metrics, ...resources.metrics, ...otherCpuMetrics(noise)],
    notes: [...(result.notes ?? []), ...settleNotes(settling)],
    load: resources.load,
    detail: { ...result.detail, serverCoresByNode: resources.serverCpuByNode, leader, settling },
  };
  ctx.progress.result(summarize(row));
  return row;
}

/** An unmetered row (memory, restart, failover): the load is still recorded. */
export async function plainRow(
  ctx: BenchContext,
  id: string,
  title: string,
  body: () => Promise<RowBody>,
): Promise<RowResult> {
  const { noise, settling } = await startRow(ctx, title);
  const before = loadavg()[0]!;
  const result = await body();
  const row: RowResult = {
    id,
    title,
    metrics: [...result.metrics, ...otherCpuMetrics(noise)],
    notes: [...(result.notes ?? []), ...settleNotes(settling)],
    load: { before, after: loadavg()[0]! },
    detail: { ...result.detail, settling },
  };
  ctx.progress.result(summarize(row));
  return row;
}

/** Every row starts on quiet servers (see settle.ts), then meters the rest of the machine. */
async function startRow(
  ctx: BenchContext,
  title: string,
): Promise<{ noise: NoiseMeter; settling: Settling }> {
  ctx.progress.phase(title);
  const settling = await settleServers();
  const noise = new NoiseMeter(() => ctx.cluster.nodes.map((node) => node.pid()));
  return { noise, settling };
}

function settleNotes(settling: Settling): string[] {
  if (settling.quiet) return [];
  return [
    `the servers were still busy (${settling.lastCores?.toFixed(2)} cores) after ${(settling.waitedMs / 1000).toFixed(1)} s of waiting for quiet; measured anyway`,
  ];
}

function otherCpuMetrics(noise: NoiseMeter): Metric[] {
  const others = noise.otherCores();
  const metrics = [
    metric('otherProcessesCores', 'other processes CPU (cores)', others?.normal ?? null, 'info', 2),
    metric('nicedProcessesCores', 'niced processes CPU (cores)', others?.niced ?? null, 'info', 2),
  ];
  const otherStore = noise.otherStoreCores();
  if (otherStore !== null)
    metrics.push(metric('otherStoreCores', "other store's servers CPU (cores)", otherStore, 'info', 2));
  return metrics;
}

function summarize(row: RowResult): string {
  const figures = row.metrics
    .filter((m) => (m.better === 'higher' || m.better === 'lower') && m.value !== null)
    .slice(0, 4)
    .map((m) => `${m.label} ${m.value!.toFixed(m.decimals)}`);
  return `${row.title}: ${figures.join(', ')}`;
}
