/** Public surface of the replicated MVCC state machine. */
export { KvStateMachine } from './state-machine.js';
export {
  CommandTag,
  COMMAND_CODEC_VERSION,
  decodeCommand,
  encodeCommand,
  ReservedTagRanges,
} from './commands.js';
export {
  decodeSnapshot,
  encodeSnapshot,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotEncoder,
} from './snapshot-codec.js';
export {
  isStateMachineError,
  StateMachineError,
  StateMachineErrorCode,
  type StateMachineErrorDetails,
} from './errors.js';
export { validateCommand, validateRangeRequest } from './validation.js';
export {
  compareKeys,
  childPrefixOf,
  parentPathOf,
  parentPrefixOf,
  pathProblem,
  ROOT_PATH,
  SEQUENCE_DIGITS,
  sequentialPath,
} from './paths.js';
export { MAX_SESSION_TTL_MS, MIN_SESSION_TTL_MS } from './coordination.js';
export {
  CATCH_UP_REVISIONS_PER_TAKE,
  DEFAULT_MAX_BUFFERED_EVENTS,
  WatchHub,
  Watcher,
  type WatchEvent,
  type WatchListener,
  type WatchOptions,
  type WatchSource,
} from './watch-hub.js';
export type * from './types.js';
