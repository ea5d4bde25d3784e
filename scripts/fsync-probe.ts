/**
 * How fast can this disk make a Raft batch durable? Measures LevelRaftStorage.persist (one
 * synced LevelDB batch each) on the disk holding the given directory:
 *   - latency of a synced single-entry batch (p50 / p99 over --writes writes);
 *   - throughput with 1, 16, 64 and 256 entries of 256 bytes per synced batch (group commit).
 * An unsynced row shows what the fsync costs.
 *
 * Usage: npx tsx scripts/fsync-probe.ts [--dir DIR] [--writes 500] [--seconds 2]
 * DIR defaults to the OS temp dir; pass a directory on the disk the data will live on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { Command, InvalidArgumentError } from 'commander';
import type { Entry } from '../src/raft/types.js';
import { encodeEntry } from '../src/storage/codec.js';
import { LevelRaftStorage } from '../src/storage/level-raft-storage.js';

const ENTRY_BYTES = 256;
const BATCH_SIZES = [1, 16, 64, 256] as const;

function positiveInteger(flag: string) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1)
      throw new InvalidArgumentError(`${flag} must be a positive integer, got "${text}"`);
    return value;
  };
}

function positiveSeconds(text: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value))
    throw new InvalidArgumentError(`--seconds must be a positive number, got "${text}"`);
  return value;
}

const args = new Command()
  .name('fsync-probe')
  .description('how fast this disk makes a Raft batch durable (LevelRaftStorage.persist, synced)')
  .option('--dir <dir>', 'a directory on the disk to measure (default: the OS temp dir)', tmpdir())
  .option('--writes <n>', 'synced single-entry writes for the latency row', positiveInteger('--writes'), 500)
  .option('--seconds <s>', 'seconds per throughput row', positiveSeconds, 2)
  .parse()
  .opts<{ dir: string; writes: number; seconds: number }>();
const latencyWrites = args.writes;
const secondsPerRow = args.seconds;

function entries(from: number, count: number): Entry[] {
  const data = new Uint8Array(ENTRY_BYTES).fill(0xab);
  return Array.from({ length: count }, (_, i) => ({ index: from + i, term: 1, type: 0 as const, data }));
}

function percentile(sortedMs: readonly number[], p: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor((p / 100) * sortedMs.length))] ?? Number.NaN;
}

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

interface Row {
  readonly label: string;
  readonly batches: number;
  readonly entriesPerBatch: number;
  readonly totalMs: number;
  readonly latenciesMs: number[];
}

async function withStorage<T>(root: string, work: (storage: LevelRaftStorage) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(root, 'raftree-fsync-probe-'));
  const storage = await LevelRaftStorage.open(dir);
  try {
    return await work(storage);
  } finally {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Synced persists of `entriesPerBatch` entries, for `maxBatches` or `budgetMs`, whichever ends first. */
async function syncedRow(root: string, label: string, entriesPerBatch: number, maxBatches: number, budgetMs: number): Promise<Row> {
  return withStorage(root, async (storage) => {
    const latenciesMs: number[] = [];
    let next = 1;
    const started = process.hrtime.bigint();
    while (latenciesMs.length < maxBatches && elapsedMs(started) < budgetMs) {
      const batch = entries(next, entriesPerBatch);
      next += entriesPerBatch;
      const t0 = process.hrtime.bigint();
      await storage.persist({ hardState: { term: 1, vote: 'n1', commit: next - 1 }, entries: batch, snapshot: null });
      latenciesMs.push(elapsedMs(t0));
    }
    return { label, batches: latenciesMs.length, entriesPerBatch, totalMs: elapsedMs(started), latenciesMs };
  });
}

/** The same records written without sync, straight to LevelDB: what the batch costs without the fsync. */
async function unsyncedRow(root: string, entriesPerBatch: number, batches: number): Promise<Row> {
  const dir = await mkdtemp(join(root, 'raftree-fsync-probe-'));
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    const latenciesMs: number[] = [];
    const started = process.hrtime.bigint();
    for (let batch = 0; batch < batches; batch++) {
      const t0 = process.hrtime.bigint();
      const chained = db.batch();
      for (const entry of entries(1 + batch * entriesPerBatch, entriesPerBatch)) {
        const { key, value } = encodeEntry(entry);
        chained.put(key, value);
      }
      await chained.write({ sync: false });
      latenciesMs.push(elapsedMs(t0));
    }
    return { label: `reference, unsynced: ${entriesPerBatch} entries/batch`, batches, entriesPerBatch, totalMs: elapsedMs(started), latenciesMs };
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function printTable(rows: readonly Row[]): void {
  const header = ['', 'batches', 'p50 ms', 'p99 ms', 'batches/s', 'entries/s', 'MiB/s'];
  const lines = rows.map((row) => {
    const sorted = [...row.latenciesMs].sort((a, b) => a - b);
    const batchesPerSecond = row.batches / (row.totalMs / 1000);
    const entriesPerSecond = batchesPerSecond * row.entriesPerBatch;
    return [
      row.label,
      String(row.batches),
      percentile(sorted, 50).toFixed(2),
      percentile(sorted, 99).toFixed(2),
      batchesPerSecond.toFixed(0),
      entriesPerSecond.toFixed(0),
      ((entriesPerSecond * ENTRY_BYTES) / (1024 * 1024)).toFixed(2),
    ];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: readonly string[]): string => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const line of lines) console.log(format(line));
}

async function main(): Promise<void> {
  const root = args.dir;
  console.log(`fsync probe in ${root}: ${ENTRY_BYTES}-byte entries, one synced LevelDB batch per persist (plus the hard state)\n`);
  const rows: Row[] = [];
  rows.push(await syncedRow(root, `latency: ${latencyWrites} x 1 entry`, 1, latencyWrites, Number.POSITIVE_INFINITY));
  for (const size of BATCH_SIZES) {
    rows.push(await syncedRow(root, `throughput: ${size} entries/batch`, size, Number.POSITIVE_INFINITY, secondsPerRow * 1000));
  }
  rows.push(await unsyncedRow(root, 1, latencyWrites));
  rows.push(await unsyncedRow(root, 256, latencyWrites));
  printTable(rows);
}

await main();
