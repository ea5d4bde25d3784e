import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NoiseMeter } from '../../bench/noise-meter.js';
import { spawnServer, stopProcess, type SpawnedServer } from '../../bench/process-registry.js';
import { settleServers } from '../../bench/settle.js';

const SETTLE = { quietCores: 0.15, windowMs: 200, maxWaitMs: 1_000 };

describe('settleServers (the bench waits for quiet servers before a row)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftree-settle-'));
  let server: SpawnedServer | null = null;

  afterEach(async () => {
    await stopProcess(server?.child ?? null);
    server = null;
  });

  it('waits while a server burns CPU, gives up at maxWaitMs, and is quiet once it stops', async () => {
    server = spawnServer(process.execPath, ['-e', 'for (;;) {}'], join(dir, 'busy.log'));
    const busy = await settleServers(SETTLE);
    expect(busy.quiet).toBe(false);
    expect(busy.waitedMs).toBeGreaterThanOrEqual(SETTLE.maxWaitMs);
    expect(busy.lastCores).toBeGreaterThan(SETTLE.quietCores);

    await stopProcess(server.child);
    server = spawnServer(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], join(dir, 'idle.log'));
    // The first window of a new process has no baseline; after it, the idle process is quiet.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const idle = await settleServers(SETTLE);
    expect(idle.quiet).toBe(true);
    expect(idle.waitedMs).toBeLessThan(SETTLE.maxWaitMs);
  }, 15_000);

  it("reports the other store's servers' CPU during a row, and nothing when only the row's own servers run", async () => {
    server = spawnServer(process.execPath, ['-e', 'for (;;) {}'], join(dir, 'other.log'));
    const pid = server.child.pid!;
    const asOtherStore = new NoiseMeter(() => []);
    const asOwnStore = new NoiseMeter(() => [pid]);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(asOtherStore.otherStoreCores()).toBeGreaterThan(SETTLE.quietCores);
    expect(asOwnStore.otherStoreCores()).toBeNull();
  }, 15_000);

  it('returns at once when the bench runs no server (an --endpoints cluster)', async () => {
    const none = await settleServers(SETTLE);
    expect(none).toEqual({ waitedMs: 0, lastCores: null, quiet: true });
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    // spawnServer installed the bench CLI's Ctrl-C hooks; they are not the test worker's business.
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
  });
});
