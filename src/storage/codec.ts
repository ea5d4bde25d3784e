/**
 * Binary key layout and record encoding of the LevelDB store.
 *
 * Keys (LevelDB orders them bytewise, so big-endian numbers sort numerically):
 *   0x00                        format marker
 *   0x01                        hard state
 *   0x02                        snapshot metadata
 *   0x03 ‖ u32 chunk number     snapshot image chunk
 *   0x10 ‖ u64 log index        log entry
 *
 * Every value is a record:  u32 crc ‖ u8 record version ‖ payload
 * where crc = CRC-32 (zlib polynomial) over key ‖ record version ‖ payload. Covering the key
 * means a record found under the wrong key (a misdirected write, a bit flip in the key) fails
 * its check like a damaged payload does.
 */
import { crc32 } from 'node:zlib';
import type { ConfState, Entry, EntryType, HardState, NodeId, SnapshotMeta } from '../raft/types.js';

export const FORMAT_VERSION = 1;
const RECORD_VERSION = 1;
const FORMAT_MAGIC = Buffer.from('RAFTREE\0', 'latin1');

const Namespace = {
  FormatMarker: 0x00,
  HardState: 0x01,
  SnapshotMeta: 0x02,
  SnapshotChunk: 0x03,
  /** The second chunk slot: a new snapshot is written beside the live one, then switched to. */
  SnapshotChunkB: 0x04,
  Entry: 0x10,
} as const;

const CRC_BYTES = 4;
const HEADER_BYTES = CRC_BYTES + 1;
const TWO_TO_32 = 0x1_0000_0000;

export const FORMAT_MARKER_KEY = Buffer.from([Namespace.FormatMarker]);
export const HARD_STATE_KEY = Buffer.from([Namespace.HardState]);
export const SNAPSHOT_META_KEY = Buffer.from([Namespace.SnapshotMeta]);

/** Iterator bounds covering every key of a namespace. */
export const ENTRY_RANGE = { gte: Buffer.from([Namespace.Entry]), lt: Buffer.from([Namespace.Entry + 1]) };

/**
 * Which of the two chunk namespaces a snapshot image lives in. A new image is written into the
 * slot the live snapshot does not use (in pieces, while the log keeps being written), and the
 * metadata switches to it in one small synced batch.
 */
export type ChunkSlot = 0 | 1;

const CHUNK_NAMESPACE: Readonly<Record<ChunkSlot, number>> = {
  0: Namespace.SnapshotChunk,
  1: Namespace.SnapshotChunkB,
};

export function otherSlot(slot: ChunkSlot): ChunkSlot {
  return slot === 0 ? 1 : 0;
}

/** Iterator bounds covering every chunk key of a slot. */
export function snapshotChunkRange(slot: ChunkSlot): { gte: Buffer; lt: Buffer } {
  const namespace = CHUNK_NAMESPACE[slot];
  return { gte: Buffer.from([namespace]), lt: Buffer.from([namespace + 1]) };
}

/** Namespace byte and a u64 index. */
export const ENTRY_KEY_BYTES = 9;

export function entryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(ENTRY_KEY_BYTES);
  key[0] = Namespace.Entry;
  writeU64(key, 1, index);
  return key;
}

export function snapshotChunkKey(chunkNumber: number, slot: ChunkSlot = 0): Buffer {
  const key = Buffer.allocUnsafe(5);
  key[0] = CHUNK_NAMESPACE[slot];
  key.writeUInt32BE(chunkNumber, 1);
  return key;
}

/** The log index in an entry key, or null when the key is not a well-formed entry key. */
export function indexOfEntryKey(key: Buffer): number | null {
  if (key.length !== 9 || key[0] !== Namespace.Entry) return null;
  return readU64(key, 1);
}

export function chunkNumberOfKey(key: Buffer, slot: ChunkSlot = 0): number | null {
  if (key.length !== 5 || key[0] !== CHUNK_NAMESPACE[slot]) return null;
  return key.readUInt32BE(1);
}

/** A record that fails its checksum or does not parse. The caller names the record. */
export class RecordDecodeError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'RecordDecodeError';
  }
}

// ---- numbers ---------------------------------------------------------------------------------

/** Safe integers only (< 2^53): write as two u32 halves, avoiding a BigInt per number. */
function writeU64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_TO_32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  const high = buf.readUInt32BE(offset);
  if (high >= 0x20_0000) throw new RecordDecodeError(`64-bit number at byte ${offset} exceeds 2^53`);
  return high * TWO_TO_32 + buf.readUInt32BE(offset + 4);
}

// ---- record framing ---------------------------------------------------------------------------

/** Allocates a record with room for `payloadBytes`; fill the payload from PAYLOAD_OFFSET, then seal. */
function allocRecord(payloadBytes: number): Buffer {
  const record = Buffer.allocUnsafe(HEADER_BYTES + payloadBytes);
  record[CRC_BYTES] = RECORD_VERSION;
  return record;
}
const PAYLOAD_OFFSET = HEADER_BYTES;

function seal(key: Buffer, record: Buffer): Buffer {
  record.writeUInt32BE(crc32(record.subarray(CRC_BYTES), crc32(key)), 0);
  return record;
}

/** Checks the frame and returns the payload (a view, not a copy). */
function open(key: Buffer, record: Buffer): Buffer {
  if (record.length < HEADER_BYTES)
    throw new RecordDecodeError(`record is ${record.length} bytes, shorter than its header`);
  const expected = record.readUInt32BE(0);
  const actual = crc32(record.subarray(CRC_BYTES), crc32(key));
  if (expected !== actual) {
    throw new RecordDecodeError(
      `checksum mismatch (stored 0x${hex32(expected)}, computed 0x${hex32(actual)})`,
    );
  }
  const version = record[CRC_BYTES];
  if (version !== RECORD_VERSION) throw new RecordDecodeError(`unknown record version ${String(version)}`);
  return record.subarray(PAYLOAD_OFFSET);
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/** Sequential reader that reports truncation as a decode error instead of a RangeError. */
class PayloadReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  private need(bytes: number): number {
    if (this.offset + bytes > this.buf.length) {
      throw new RecordDecodeError(
        `payload truncated: needs ${bytes} bytes at byte ${this.offset} of ${this.buf.length}`,
      );
    }
    const at = this.offset;
    this.offset += bytes;
    return at;
  }
  u8(): number {
    return this.buf[this.need(1)]!;
  }
  u32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }
  u64(): number {
    return readU64(this.buf, this.need(8));
  }
  bytes(length: number): Buffer {
    const at = this.need(length);
    return this.buf.subarray(at, at + length);
  }
  string(): string {
    return this.bytes(this.u32()).toString('utf8');
  }
  rest(): Buffer {
    return this.bytes(this.buf.length - this.offset);
  }
  atEnd(): boolean {
    return this.offset === this.buf.length;
  }
  end(): void {
    if (this.offset !== this.buf.length)
      throw new RecordDecodeError(`${this.buf.length - this.offset} unexpected trailing bytes`);
  }
}

/**
 * The bytes as a plain Uint8Array (callers never get a Buffer), sharing the record's memory. No
 * copy is needed: classic-level hands over every value read in an ArrayBuffer of its own (a copy
 * out of LevelDB's memory), so the view pins nothing but its own record; a storage test checks it.
 */
function plainView(bytes: Buffer): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

// ---- format marker ----------------------------------------------------------------------------

export function encodeFormatMarker(): Buffer {
  const record = allocRecord(FORMAT_MAGIC.length + 2);
  FORMAT_MAGIC.copy(record, PAYLOAD_OFFSET);
  record.writeUInt16BE(FORMAT_VERSION, PAYLOAD_OFFSET + FORMAT_MAGIC.length);
  return seal(FORMAT_MARKER_KEY, record);
}

/** The format version the marker declares. */
export function decodeFormatMarker(record: Buffer): number {
  const reader = new PayloadReader(open(FORMAT_MARKER_KEY, record));
  if (!reader.bytes(FORMAT_MAGIC.length).equals(FORMAT_MAGIC))
    throw new RecordDecodeError('not a raftree format marker');
  const version = reader.bytes(2).readUInt16BE(0);
  reader.end();
  return version;
}

// ---- log entries ------------------------------------------------------------------------------

const ENTRY_FIXED_BYTES = 8 + 1;

/** Returns the key and value; the hot path, so no intermediate buffers. */
export function encodeEntry(entry: Entry): { key: Buffer; value: Buffer } {
  const key = entryKey(entry.index);
  const value = allocRecord(ENTRY_FIXED_BYTES + entry.data.length);
  writeU64(value, PAYLOAD_OFFSET, entry.term);
  value[PAYLOAD_OFFSET + 8] = entry.type;
  value.set(entry.data, PAYLOAD_OFFSET + ENTRY_FIXED_BYTES);
  return { key, value: seal(key, value) };
}

export function decodeEntry(key: Buffer, record: Buffer): Entry {
  const index = indexOfEntryKey(key);
  if (index === null) throw new RecordDecodeError('malformed entry key');
  return decodeEntryPayload(index, open(key, record));
}

/** One key buffer reused by decodeEntryAt, which runs once per entry of the log on every start. */
const scratchEntryKey = Buffer.alloc(ENTRY_KEY_BYTES);

/**
 * Decodes a record read without its key (a values-only scan) as the entry at `index`. The
 * checksum covers the key, so a record stored under any other index (a gap, a stray entry
 * below the snapshot) fails it like a damaged record does.
 */
export function decodeEntryAt(index: number, record: Buffer): Entry {
  scratchEntryKey[0] = Namespace.Entry;
  writeU64(scratchEntryKey, 1, index);
  return decodeEntryPayload(index, open(scratchEntryKey, record));
}

function decodeEntryPayload(index: number, payload: Buffer): Entry {
  const reader = new PayloadReader(payload);
  const term = reader.u64();
  const type = reader.u8();
  if (type !== 0 && type !== 1) throw new RecordDecodeError(`unknown entry type ${type}`);
  return { index, term, type: type as EntryType, data: plainView(reader.rest()) };
}

// ---- hard state -------------------------------------------------------------------------------

export function encodeHardState(hardState: HardState): Buffer {
  const vote = hardState.vote === null ? null : Buffer.from(hardState.vote, 'utf8');
  const record = allocRecord(8 + 8 + 1 + (vote?.length ?? 0));
  writeU64(record, PAYLOAD_OFFSET, hardState.term);
  writeU64(record, PAYLOAD_OFFSET + 8, hardState.commit);
  // A flag rather than "empty means none": the empty string is a (strange) but distinct vote.
  record[PAYLOAD_OFFSET + 16] = vote === null ? 0 : 1;
  vote?.copy(record, PAYLOAD_OFFSET + 17);
  return seal(HARD_STATE_KEY, record);
}

export function decodeHardState(record: Buffer): HardState {
  const reader = new PayloadReader(open(HARD_STATE_KEY, record));
  const term = reader.u64();
  const commit = reader.u64();
  const hasVote = reader.u8();
  if (hasVote > 1) throw new RecordDecodeError(`vote flag is ${hasVote}`);
  const voteBytes = reader.rest();
  if (hasVote === 0 && voteBytes.length > 0) throw new RecordDecodeError('vote bytes present without a vote');
  return { term, commit, vote: hasVote === 1 ? voteBytes.toString('utf8') : null };
}

// ---- snapshot ---------------------------------------------------------------------------------

/** Snapshot metadata plus what is needed to reassemble and check the chunked image. */
export interface StoredSnapshotMeta {
  readonly meta: SnapshotMeta;
  readonly imageLength: number;
  readonly chunkCount: number;
  /** CRC-32 of the whole image: catches a chunk from another snapshot that checks out on its own. */
  readonly imageCrc: number;
  /** Where the chunks are (stores written before slots existed have no slot byte: slot 0). */
  readonly chunkSlot: ChunkSlot;
}

export function encodeSnapshotMeta(stored: StoredSnapshotMeta): Buffer {
  const voters = stored.meta.conf.voters.map((id) => Buffer.from(id, 'utf8'));
  const learners = stored.meta.conf.learners.map((id) => Buffer.from(id, 'utf8'));
  const idBytes = [...voters, ...learners].reduce((sum, id) => sum + 4 + id.length, 0);
  const record = allocRecord(8 + 8 + 8 + 4 + 4 + 4 + 4 + idBytes + 1);
  let at = PAYLOAD_OFFSET;
  writeU64(record, at, stored.meta.index);
  writeU64(record, at + 8, stored.meta.term);
  writeU64(record, at + 16, stored.imageLength);
  at = record.writeUInt32BE(stored.chunkCount, at + 24);
  at = record.writeUInt32BE(stored.imageCrc, at);
  for (const group of [voters, learners]) {
    at = record.writeUInt32BE(group.length, at);
    for (const id of group) {
      at = record.writeUInt32BE(id.length, at);
      at += id.copy(record, at);
    }
  }
  record[at] = stored.chunkSlot;
  return seal(SNAPSHOT_META_KEY, record);
}

export function decodeSnapshotMeta(record: Buffer): StoredSnapshotMeta {
  const reader = new PayloadReader(open(SNAPSHOT_META_KEY, record));
  const index = reader.u64();
  const term = reader.u64();
  const imageLength = reader.u64();
  const chunkCount = reader.u32();
  const imageCrc = reader.u32();
  const readIds = (): NodeId[] => Array.from({ length: reader.u32() }, () => reader.string());
  const voters = readIds();
  const learners = readIds();
  const chunkSlot = reader.atEnd() ? 0 : reader.u8();
  if (chunkSlot !== 0 && chunkSlot !== 1) throw new RecordDecodeError(`unknown chunk slot ${chunkSlot}`);
  reader.end();
  const conf: ConfState = { voters, learners };
  return { meta: { index, term, conf }, imageLength, chunkCount, imageCrc, chunkSlot };
}

/** Each chunk names the snapshot it belongs to, so a stale chunk cannot pass for a current one. */
export function encodeSnapshotChunk(
  chunkNumber: number,
  meta: SnapshotMeta,
  data: Uint8Array,
  slot: ChunkSlot = 0,
): { key: Buffer; value: Buffer } {
  const key = snapshotChunkKey(chunkNumber, slot);
  const value = allocRecord(16 + data.length);
  writeU64(value, PAYLOAD_OFFSET, meta.index);
  writeU64(value, PAYLOAD_OFFSET + 8, meta.term);
  value.set(data, PAYLOAD_OFFSET + 16);
  return { key, value: seal(key, value) };
}

export interface DecodedChunk {
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  /** A view into the record: copy it before the record buffer is reused. */
  readonly data: Buffer;
}

export function decodeSnapshotChunk(key: Buffer, record: Buffer): DecodedChunk {
  const reader = new PayloadReader(open(key, record));
  const snapshotIndex = reader.u64();
  const snapshotTerm = reader.u64();
  return { snapshotIndex, snapshotTerm, data: reader.rest() };
}

export { crc32 };
