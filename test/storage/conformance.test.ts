import { LevelRaftStorage } from '../../src/storage/level-raft-storage.js';
import { MemoryRaftStorage } from '../../src/storage/memory-raft-storage.js';
import type { RaftStorage } from '../../src/storage/raft-storage.js';
import { raftStorageConformance, type StorageHarness } from './conformance.js';
import { TempDirs } from './temp-dirs.js';

raftStorageConformance('MemoryRaftStorage', (): StorageHarness => ({
  open: async () => new MemoryRaftStorage(),
  reopen: async (storage: RaftStorage) => (storage as MemoryRaftStorage).reopen(),
  cleanup: async () => undefined,
}));

function levelHarness(options: { snapshotChunkBytes?: number } = {}): StorageHarness {
  const temp = new TempDirs();
  let dir = '';
  return {
    open: async () => {
      dir = await temp.make();
      return LevelRaftStorage.open(dir, options);
    },
    reopen: async (storage: RaftStorage) => {
      await storage.close();
      return LevelRaftStorage.open(dir, options);
    },
    cleanup: () => temp.removeAll(),
  };
}

raftStorageConformance('LevelRaftStorage', () => levelHarness());
// Tiny chunks: every snapshot spans many chunk records, and replacing one changes the count.
raftStorageConformance('LevelRaftStorage, 1000-byte snapshot chunks', () => levelHarness({ snapshotChunkBytes: 1000 }));
