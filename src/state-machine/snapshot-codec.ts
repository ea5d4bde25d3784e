/**
 * The binary image of the whole state machine, for Raft snapshots.
 *
 * Layout (version 2; all integers unsigned LEB128 varints, see docs/state-machine.md):
 *   "RTSM" | version u8 | appliedIndex | revision | compactRevision | keyCount
 *   keyCount × ( key string | versionCount | versionCount × ( modRevision | version
 *                | if version > 0: createRevision, session, value bytes ) )   keys ascending
 *   for each revision from max(compactRevision, 1) to revision:
 *     changeCount | changeCount × keyOrdinal                                in op order
 *   sessionCount | sessionCount × ( sessionId | ttlMs | checkpoint )        ascending id;
 *                                              checkpoint 0 = none, else remainingMs + 1
 *   sequenceCount | sequenceCount × ( parent string | next sequence )       parents ascending
 *   CRC-32 (big-endian u32) of everything before it
 *
 * The change-log section records only key ordinals: the version each names is the key's version
 * at that revision. Session key sets are not stored: they are rebuilt from the live keys' owners.
 * Equal states encode to equal bytes (keys sorted, change log ordered, sessions and parents sorted).
 * Version 1 images (before sessions) are not readable: nothing was deployed with them.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { crc32 } from './crc32.js';
import { StateMachineError, StateMachineErrorCode } from './errors.js';
import { CoordinationState, type CoordinationImage, type SessionImage } from './coordination.js';
import {
  changeAt,
  changeCount,
  EMPTY_VALUE,
  firstKept,
  MvccStore,
  type FrozenView,
  type RevisionChanges,
} from './mvcc-store.js';
import { compareKeys } from './paths.js';
import type { KeyValue } from './types.js';

export const SNAPSHOT_FORMAT_VERSION = 2;
const MAGIC = new Uint8Array([0x52, 0x54, 0x53, 0x4d]); // "RTSM": RafTree State Machine
const CRC_BYTES = 4;

export interface DecodedSnapshot {
  readonly appliedIndex: number;
  readonly store: MvccStore;
  readonly coordination: CoordinationState;
}

function corrupt(message: string): StateMachineError {
  return new StateMachineError(StateMachineErrorCode.CorruptSnapshot, `corrupt snapshot: ${message}`);
}

/** The whole state as snapshot bytes, at once (see SnapshotEncoder for doing it in steps). */
export function encodeSnapshot(
  appliedIndex: number,
  store: MvccStore,
  coordination: CoordinationState,
): Uint8Array {
  const encoder = new SnapshotEncoder(appliedIndex, store, coordination);
  encoder.step(Number.POSITIVE_INFINITY);
  return encoder.image();
}

/**
 * Encodes the state as it was when the encoder was made, a bounded amount of work per step(),
 * while the state machine goes on applying: the store is frozen (MvccStore.freeze) until the
 * image is complete or release() is called, and the session and sequence tables are copied up
 * front (they are small). The bytes equal encodeSnapshot's at that moment.
 */
export class SnapshotEncoder {
  private readonly view: FrozenView;
  private readonly coordination: CoordinationImage;
  private readonly writer: ByteWriter;
  private readonly firstChangeRevision: number;
  /** Ordinals of the keys changed since the change log starts (only those are named there). */
  private readonly ordinals = new Map<string, number>();
  private nextKey = 0;
  private nextRevision: number;
  private encoded: Uint8Array | null = null;
  private released = false;
  /** The CRC of the first `summedBytes` bytes written, kept up each step (no pass at the end). */
  private crc = 0;
  private summedBytes = 0;

  /**
   * `sizeHint`: the expected image size (the last one's), so the buffer rarely grows or is
   * trimmed; `onImage` learns the size of the finished image.
   */
  constructor(
    readonly appliedIndex: number,
    private readonly store: MvccStore,
    coordination: CoordinationState,
    sizeHint = 0,
    private readonly onImage: (bytes: number) => void = () => {},
  ) {
    this.view = store.freeze();
    this.coordination = coordination.image();
    this.firstChangeRevision = Math.max(this.view.compactRevision, 1);
    this.nextRevision = this.firstChangeRevision;
    const writer = new ByteWriter(Math.max(1024 + this.view.keys.length * 48, Math.ceil(sizeHint * 1.1)));
    writer.raw(MAGIC);
    writer.u8(SNAPSHOT_FORMAT_VERSION);
    writer.varint(appliedIndex);
    writer.varint(this.view.revision);
    writer.varint(this.view.compactRevision);
    writer.varint(this.view.keys.length);
    this.writer = writer;
  }

  /**
   * Encodes up to `budget` keys or change-log revisions, stopping early once `maxBytes` were
   * written (keys with long histories or large values); true once the image is complete.
   */
  step(budget: number, maxBytes = Number.POSITIVE_INFINITY): boolean {
    if (this.encoded !== null) return true;
    if (this.released) throw new Error('the snapshot encoder was released');
    const stopAt = this.writer.size + Math.max(1, maxBytes); // at least one item per step
    let work = 0;
    while (this.nextKey < this.view.keys.length) {
      if (work++ >= budget || this.writer.size >= stopAt) return this.sum();
      this.writeKey(this.nextKey++);
    }
    while (this.nextRevision <= this.view.revision) {
      if (work++ >= budget || this.writer.size >= stopAt) return this.sum();
      this.writeChanges(this.nextRevision++);
    }
    this.writeCoordination();
    this.sum();
    this.writer.u32(this.crc);
    this.encoded = this.writer.finishTrimmed();
    this.release();
    this.onImage(this.encoded.length);
    return true;
  }

  /** Adds the bytes written since the last call to the CRC; false (the image is not done). */
  private sum(): false {
    const written = this.writer.finish();
    this.crc = crc32(written.subarray(this.summedBytes), this.crc);
    this.summedBytes = written.length;
    return false;
  }

  /** The snapshot bytes, once step() returned true. */
  image(): Uint8Array {
    if (this.encoded === null) throw new Error('the snapshot is not encoded yet');
    return this.encoded;
  }

  /** Unfreezes the store (done by the last step); safe to call again, e.g. to give up. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.store.thaw();
  }

  private writeKey(ordinal: number): void {
    const { writer } = this;
    const key = this.view.keys[ordinal]!;
    const versions = this.view.histories.get(key)!;
    // Versions written after the freeze are not part of this snapshot, nor those a compaction
    // still waiting for another frozen view is about to drop.
    let count = versions.length;
    while (versions[count - 1]!.modRevision > this.view.revision) count--;
    const from = firstKept(versions, this.view.compactRevision);
    writer.string(key);
    writer.varint(count - from);
    for (let i = from; i < count; i++) {
      const kv = versions[i]!;
      writer.varint(kv.modRevision);
      writer.varint(kv.version);
      if (kv.version > 0) {
        writer.varint(kv.createRevision);
        writer.varint(kv.session);
        writer.bytes(kv.value);
      }
    }
    if (versions[count - 1]!.modRevision >= this.firstChangeRevision) this.ordinals.set(key, ordinal);
  }

  private writeChanges(revision: number): void {
    const written = this.view.changelog[revision - this.view.changelogStart]!;
    const count = changeCount(written);
    this.writer.varint(count);
    for (let i = 0; i < count; i++) this.writer.varint(this.ordinals.get(changeAt(written, i).key)!);
  }

  private writeCoordination(): void {
    const { writer } = this;
    const { sessions, sequences } = this.coordination;
    writer.varint(sessions.length);
    for (const session of sessions) {
      writer.varint(session.sessionId);
      writer.varint(session.ttlMs);
      writer.varint(session.checkpointRemainingMs === null ? 0 : session.checkpointRemainingMs + 1);
    }
    writer.varint(sequences.length);
    for (const [parent, next] of sequences) {
      writer.string(parent);
      writer.varint(next);
    }
  }
}

/** Parses and checks an image; throws CORRUPT_SNAPSHOT (never anything else) if it is not one. */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  try {
    return decodeChecked(bytes);
  } catch (error) {
    if (error instanceof StateMachineError) throw error;
    throw corrupt(error instanceof Error ? error.message : String(error));
  }
}

function decodeChecked(bytes: Uint8Array): DecodedSnapshot {
  if (bytes.length < MAGIC.length + 1 + CRC_BYTES || !MAGIC.every((byte, i) => bytes[i] === byte)) {
    throw corrupt('not a raftree state machine snapshot (bad magic)');
  }
  const version = bytes[MAGIC.length]!;
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw corrupt(
      `format version ${version} is not supported (this replica reads version ${SNAPSHOT_FORMAT_VERSION})`,
    );
  }
  const body = bytes.subarray(0, bytes.length - CRC_BYTES);
  const storedCrc = new DataView(bytes.buffer, bytes.byteOffset + body.length, CRC_BYTES).getUint32(0);
  if (crc32(body) !== storedCrc) throw corrupt('checksum mismatch (truncated or damaged image)');

  const reader = new ByteReader(body.subarray(MAGIC.length + 1), corrupt);
  const appliedIndex = reader.varint();
  const revision = reader.varint();
  const compactRevision = reader.varint();
  if (compactRevision > revision) throw corrupt(`compactRevision ${compactRevision} > revision ${revision}`);
  const firstChangeRevision = Math.max(compactRevision, 1);

  const keyCount = reader.varint();
  const keys: string[] = [];
  /** Each key's versions by ordinal: the change log names keys by ordinal. */
  const versionsOf: KeyValue[][] = [];
  const histories = new Map<string, KeyValue[]>();
  for (let ordinal = 0; ordinal < keyCount; ordinal++) {
    const key = reader.string();
    if (ordinal > 0 && compareKeys(keys[ordinal - 1]!, key) >= 0)
      throw corrupt(`keys out of order at "${key}"`);
    const versions = readVersions(reader, key, revision, firstChangeRevision);
    keys.push(key);
    versionsOf.push(versions);
    histories.set(key, versions);
  }

  // Each key's versions from firstChangeRevision on must be named by the change log exactly once,
  // in revision order: a per-key cursor walks them as the log names them.
  const nextVersion = versionsOf.map((versions) => (versions[0]!.modRevision < firstChangeRevision ? 1 : 0));
  const changelog: RevisionChanges[] = [];
  /** The version the next ordinal read names: that key's next one not yet named, at `changeRevision`. */
  const nextChange = (changeRevision: number): KeyValue => {
    const ordinal = reader.varint();
    const versions = versionsOf[ordinal];
    const kv = versions?.[nextVersion[ordinal]!];
    if (kv === undefined || kv.modRevision !== changeRevision) {
      throw corrupt(`change log entry ${ordinal} at revision ${changeRevision} names no matching version`);
    }
    nextVersion[ordinal]!++;
    return kv;
  };
  for (let changeRevision = firstChangeRevision; changeRevision <= revision; changeRevision++) {
    const count = countOf(reader, `revision ${changeRevision}'s changes`);
    if (count === 0) throw corrupt(`revision ${changeRevision} has no changes`);
    if (count === 1) {
      changelog.push(nextChange(changeRevision));
      continue;
    }
    // Sized up front: push() would leave 16 spare slots per revision.
    const written = new Array<KeyValue>(count);
    for (let i = 0; i < count; i++) written[i] = nextChange(changeRevision);
    changelog.push(written);
  }
  for (let ordinal = 0; ordinal < keyCount; ordinal++) {
    if (nextVersion[ordinal] !== versionsOf[ordinal]!.length)
      throw corrupt(`change log misses versions of "${keys[ordinal]!}"`);
  }
  const sessions = readSessions(reader);
  const sequences = readSequences(reader);
  reader.expectEnd();
  const store = new MvccStore({ revision, compactRevision, keys, histories, changelog });
  let coordination: CoordinationState;
  try {
    coordination = CoordinationState.fromImage({ sessions, sequences }, store);
  } catch (error) {
    throw corrupt(error instanceof Error ? error.message : String(error));
  }
  return { appliedIndex, store, coordination };
}

function readSessions(reader: ByteReader): SessionImage[] {
  const sessions: SessionImage[] = [];
  for (let count = reader.varint(); count > 0; count--) {
    const sessionId = reader.varint();
    const ttlMs = reader.varint();
    const checkpoint = reader.varint();
    const previous = sessions[sessions.length - 1];
    // Session ids may exceed appliedIndex: openSession can choose one (etcd's LeaseGrant ID).
    if (sessionId === 0 || (previous !== undefined && sessionId <= previous.sessionId)) {
      throw corrupt(`session ${sessionId} is zero or out of order`);
    }
    if (ttlMs === 0 || checkpoint > ttlMs + 1) {
      throw corrupt(`session ${sessionId} has TTL ${ttlMs} ms and checkpoint ${checkpoint - 1} ms`);
    }
    sessions.push({ sessionId, ttlMs, checkpointRemainingMs: checkpoint === 0 ? null : checkpoint - 1 });
  }
  return sessions;
}

function readSequences(reader: ByteReader): [string, number][] {
  const sequences: [string, number][] = [];
  for (let count = reader.varint(); count > 0; count--) {
    const parent = reader.string();
    const next = reader.varint();
    const previous = sequences[sequences.length - 1];
    if (previous !== undefined && compareKeys(previous[0], parent) >= 0) {
      throw corrupt(`sequence counters out of order at "${parent}"`);
    }
    if (next === 0) throw corrupt(`sequence counter of "${parent}" was never used`);
    sequences.push([parent, next]);
  }
  return sequences;
}

function readVersions(
  reader: ByteReader,
  key: string,
  revision: number,
  firstChangeRevision: number,
): KeyValue[] {
  const versionCount = countOf(reader, `key "${key}"'s versions`);
  if (versionCount === 0) throw corrupt(`key "${key}" has no versions`);
  // Sized up front: push() would leave 16 spare slots per key.
  const versions = new Array<KeyValue>(versionCount);
  let previousModRevision = 0;
  for (let i = 0; i < versionCount; i++) {
    const modRevision = reader.varint();
    const version = reader.varint();
    if (modRevision <= previousModRevision || modRevision > revision) {
      throw corrupt(`key "${key}" has version at revision ${modRevision} out of order or beyond ${revision}`);
    }
    // Compaction keeps at most one older version per key, first, and only a live one.
    if (modRevision < firstChangeRevision && (i > 0 || version === 0)) {
      throw corrupt(`key "${key}" keeps history that compaction should have dropped`);
    }
    previousModRevision = modRevision;
    if (version === 0) {
      versions[i] = { key, value: EMPTY_VALUE, createRevision: 0, modRevision, version, session: 0 };
      continue;
    }
    const createRevision = reader.varint();
    if (createRevision === 0 || createRevision > modRevision) {
      throw corrupt(`key "${key}" has createRevision ${createRevision} after modRevision ${modRevision}`);
    }
    const session = reader.varint();
    versions[i] = { key, value: reader.bytes(), createRevision, modRevision, version, session };
  }
  return versions;
}

/** A count of items that each take at least one more byte: larger than what is left is corrupt. */
function countOf(reader: ByteReader, what: string): number {
  const count = reader.varint();
  if (count > reader.remaining)
    throw corrupt(`${what}: count ${count} exceeds the ${reader.remaining} bytes left`);
  return count;
}
