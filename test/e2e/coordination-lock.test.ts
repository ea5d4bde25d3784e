/**
 * Locks against a real three-node cluster of `raftree serve` processes: a shared counter that
 * loses updates without the lock stays exact with it (and the fencing tokens of successive
 * holders strictly increase); `raftree lock NAME -- COMMAND` runs commands one at a time with
 * RAFTREE_FENCING_TOKEN set and exits with the command's code.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftreeClient } from '../../src/client/index.js';
import { runCli } from '../support/cli-runner.js';
import { ProcessCluster } from '../support/process-cluster.js';

let cluster: ProcessCluster;
const clients: RaftreeClient[] = [];
const WORKERS = 5;
const INCREMENTS = 6;

function client(): RaftreeClient {
  const c = new RaftreeClient({ endpoints: cluster.endpoints(), deadlineMs: 10_000 });
  clients.push(c);
  return c;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Read-modify-write with a pause between the read and the write: a race without mutual exclusion. */
async function increment(c: RaftreeClient, key: string): Promise<number> {
  const current = await c.get(key);
  const value = current.kvs.length === 0 ? 0 : Number(current.kvs[0]!.text());
  await sleep(15);
  await c.put(key, String(value + 1));
  return value + 1;
}

beforeAll(async () => {
  cluster = await ProcessCluster.start();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await cluster?.stop();
});

describe('locks on a process cluster', () => {
  it('a shared counter loses updates without the lock', async () => {
    const key = '/counter/unlocked';
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        const c = client();
        for (let i = 0; i < INCREMENTS; i++) await increment(c, key);
      }),
    );
    const final = Number((await client().get(key)).kvs[0]!.text());
    // Concurrent read-modify-write: increments are lost.
    expect(final).toBeLessThan(WORKERS * INCREMENTS);
  });

  it('the same counter is exact with the lock, and fencing tokens grow with every holder', async () => {
    const key = '/counter/locked';
    const holds: { token: number; value: number }[] = [];
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        // Each worker its own client and session (a lock is re-entrant per session).
        const c = client();
        const session = await c.session({ ttlMs: 5_000 });
        for (let i = 0; i < INCREMENTS; i++) {
          const lock = await c.lock('counter', session, { deadlineMs: 60_000 });
          try {
            holds.push({ token: lock.fencingToken, value: await increment(c, key) });
          } finally {
            await lock.unlock();
          }
        }
        await session.close();
      }),
    );
    const final = Number((await client().get(key)).kvs[0]!.text());
    expect(final).toBe(WORKERS * INCREMENTS);
    // Ordered by the value each holder wrote, the tokens strictly increase.
    const byValue = [...holds].sort((a, b) => a.value - b.value);
    expect(byValue.map((h) => h.value)).toEqual(
      Array.from({ length: WORKERS * INCREMENTS }, (_, i) => i + 1),
    );
    for (let i = 1; i < byValue.length; i++) expect(byValue[i]!.token).toBeGreaterThan(byValue[i - 1]!.token);
    expect(await client().children('/_lock/counter')).toEqual([]);
  }, 120_000);

  it('`raftree lock NAME -- COMMAND` runs one command at a time with the fencing token and its exit code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftree-lock-'));
    const log = join(dir, 'log');
    try {
      // Each command appends "start TOKEN", waits, appends "end TOKEN", and exits with 7.
      const script =
        "const fs=require('fs');const t=process.env.RAFTREE_FENCING_TOKEN;" +
        "fs.appendFileSync(process.argv[1],'start '+t+'\\n');" +
        "setTimeout(()=>{fs.appendFileSync(process.argv[1],'end '+t+'\\n');process.exit(7)},300);";
      const runs = await Promise.all(
        [0, 1, 2].map(() =>
          runCli(
            [
              'lock',
              'cli-lock',
              '--ttl',
              '5',
              '--endpoints',
              cluster.endpoints().join(','),
              '--',
              process.execPath,
              '-e',
              script,
              log,
            ],
            { timeoutMs: 60_000 },
          ),
        ),
      );
      for (const run of runs) {
        expect(run.code, run.stderr).toBe(7);
        expect(run.stderr).toMatch(/acquired lock cli-lock .*fencing token \d+/);
      }
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(6);
      const tokens: number[] = [];
      for (let i = 0; i < lines.length; i += 2) {
        // Never interleaved: each start is followed by its own end.
        const [start, end] = [lines[i]!, lines[i + 1]!];
        const token = Number(start.split(' ')[1]);
        expect(start).toBe(`start ${token}`);
        expect(end).toBe(`end ${token}`);
        tokens.push(token);
      }
      expect(tokens.every((t, i) => i === 0 || t > tokens[i - 1]!)).toBe(true);
      expect(await client().children('/_lock/cli-lock')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
