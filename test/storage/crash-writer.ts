/**
 * Child process of the crash test: writes to a LevelRaftStorage until it is SIGKILLed.
 *   node --import tsx test/storage/crash-writer.ts DIR SEED
 * stdout protocol, one line each (pipe writes are synchronous on Linux, so a line written
 * before the kill reaches the parent):
 *   ready {cursor}      after opening and loading the store
 *   begin {op}          before the write starts
 *   ack                 after persist/compact resolved, i.e. the write is durable
 */
import { LevelRaftStorage } from '../../src/storage/level-raft-storage.js';
import { advanceCursor, applyCrashOp, cursorOf, nextCrashOp } from './crash-workload.js';
import { seededRandom } from './helpers.js';

/** If the parent never kills us (it died), stop on our own. */
const GIVE_UP_AFTER_MS = 30_000;

async function main(): Promise<void> {
  const [dir, seedText] = process.argv.slice(2);
  if (dir === undefined || seedText === undefined) throw new Error('usage: crash-writer.ts DIR SEED');
  const random = seededRandom(Number(seedText));
  const storage = await LevelRaftStorage.open(dir);
  let cursor = cursorOf(await storage.load());
  process.stdout.write(`ready ${JSON.stringify(cursor)}\n`);
  const started = Date.now();
  while (Date.now() - started < GIVE_UP_AFTER_MS) {
    const op = nextCrashOp(random, cursor);
    process.stdout.write(`begin ${JSON.stringify(op)}\n`);
    await applyCrashOp(storage, op);
    process.stdout.write('ack\n');
    cursor = advanceCursor(cursor, op);
  }
  await storage.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`crash-writer failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
