/**
 * Smoke test of `npm run bench -- --quick` (scripts/bench.ts) against raftree alone, with
 * shortened levels: it runs, exits 0, and writes JSON holding every row with figures in it.
 * Needs the build (dist/), like the other e2e tests. About 30-45 s.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

const EXPECTED_ROWS = [
  'memory-idle',
  'put-1',
  'put-16',
  'put-64',
  'put-256',
  'get-linearizable-64',
  'get-serializable-64',
  'watch-latency-follower',
  'watch-latency-leader',
  'watch-fanout-100',
  'load-5000',
  'memory-after-load',
  'restart',
  'keepalive-1000',
  'lock-1',
  'lock-8',
  'election-holder-lost',
  'election-leader-killed',
  'failover',
];

interface BenchJson {
  stores: { kind: string; rows: { id: string; metrics: { key: string; value: number | null }[] }[] }[];
  errors: string[];
}

function runBench(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // The bench bounds itself; this is a last resort.
    const timer = setTimeout(() => child.kill('SIGINT'), 150_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

describe('npm run bench -- --quick', () => {
  let outDir = '';

  afterAll(async () => {
    if (outDir !== '') await rm(outDir, { recursive: true, force: true });
  });

  it('measures every row and writes the JSON', { timeout: 170_000 }, async () => {
    outDir = await mkdtemp(join(tmpdir(), 'raftree-bench-test-'));
    const { code, output } = await runBench(['--quick', '--seconds', '0.5', '--out', outDir]);
    expect(code, output).toBe(0);
    expect(output).toContain('put, 64 in flight');
    const files = await readdir(outDir);
    expect(files).toHaveLength(1);
    const json = JSON.parse(await readFile(join(outDir, files[0]!), 'utf8')) as BenchJson;
    expect(json.errors).toEqual([]);
    const [raftree] = json.stores;
    expect(raftree?.kind).toBe('raftree');
    expect(raftree!.rows.map((r) => r.id)).toEqual(EXPECTED_ROWS);
    const value = (row: string, key: string) =>
      raftree!.rows.find((r) => r.id === row)?.metrics.find((m) => m.key === key)?.value;
    for (const level of [1, 16, 64, 256]) expect(value(`put-${level}`, 'opsPerSecond')).toBeGreaterThan(0);
    expect(value('get-serializable-64', 'opsPerSecond')).toBeGreaterThan(0);
    expect(value('watch-latency-leader', 'ackToEventP99Ms')).not.toBeNull();
    expect(value('restart', 'restartToServeMs')).toBeGreaterThan(0);
    expect(value('failover', 'medianFailoverMs')).toBeGreaterThan(0);
    expect(value('keepalive-1000', 'renewalsPerSecond')).toBeGreaterThan(0);
    expect(value('keepalive-1000', 'leasesLost')).toBe(0);
    for (const contenders of [1, 8])
      expect(value(`lock-${contenders}`, 'cyclesPerSecond')).toBeGreaterThan(0);
    expect(value('election-holder-lost', 'lastRenewalToElectedMs')).toBeGreaterThan(0);
    expect(value('election-leader-killed', 'interruptionMs')).toBeGreaterThan(0);
    expect(value('election-leader-killed', 'electionChanged')).toBe(0);
    expect(value('memory-idle', 'maxNodeRssMb')).toBeGreaterThan(0);
  });
});
