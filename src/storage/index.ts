export type { PersistBatch, RaftStorage } from './raft-storage.js';
export {
  LevelRaftStorage,
  DEFAULT_SNAPSHOT_CHUNK_BYTES,
  type LevelRaftStorageOptions,
} from './level-raft-storage.js';
export { MemoryRaftStorage, MemoryDurableState } from './memory-raft-storage.js';
export type { StorageStats } from './storage-stats.js';
export type { LogBounds } from './write-plan.js';
export {
  StorageError,
  StorageCorruptionError,
  StorageUnsupportedFormatError,
  StorageLockedError,
  StorageInvalidWriteError,
  StorageClosedError,
  StorageFailedError,
  isStorageError,
  type StorageErrorCode,
  type StorageRecordKind,
} from './errors.js';
