import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext, type BenchContext } from '../../bench/context.js';
import { nowMs, spawnServer, stopProcess, type SpawnedServer } from '../../bench/process-registry.js';
import { QUICK_PROFILE } from '../../bench/profile.js';
import { Progress } from '../../bench/progress.js';
import { memoryAfterQuietRow } from '../../bench/rows/memory.js';
import type { StoreCluster } from '../../bench/store.js';

describe('memoryAfterQuietRow (memory once the nodes sat idle after the load)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftree-memory-quiet-'));
  let server: SpawnedServer;
  let ctx: BenchContext;

  beforeAll(() => {
    server = spawnServer(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], join(dir, 'node.log'));
    const pid = server.child.pid!;
    // The row reads only the nodes' pids; the rest of a cluster is never touched.
    const cluster = {
      kind: 'raftree',
      managed: true,
      nodes: [{ id: 'n1', clientEndpoint: '127.0.0.1:1', metricsUrl: null, pid: () => pid }],
    } as unknown as StoreCluster;
    ctx = createContext(cluster, QUICK_PROFILE, new Progress('raftree'));
  });

  it('refuses to run before the restart data set was loaded', async () => {
    await expect(memoryAfterQuietRow(ctx, 1_000)).rejects.toThrow(/not loaded/);
  });

  it('waits until the quiet spell after the load is over, then reads every node', async () => {
    ctx.marks.restartDataLoadedAtMs = nowMs();
    const row = await memoryAfterQuietRow(ctx, 1_500);
    expect(nowMs() - ctx.marks.restartDataLoadedAtMs).toBeGreaterThanOrEqual(1_500);
    expect(row.id).toBe('memory-after-quiet');
    expect(row.title).toBe('memory, 2 s after the load');
    const rss = row.metrics.find((m) => m.key === 'maxNodeRssMb')!.value!;
    expect(rss).toBeGreaterThan(5); // an idle node process holds tens of MB
  }, 20_000);

  afterAll(async () => {
    await stopProcess(server.child);
    rmSync(dir, { recursive: true, force: true });
    // spawnServer installed the bench CLI's Ctrl-C hooks; they are not the test worker's business.
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
  });
});
