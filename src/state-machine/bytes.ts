/**
 * Minimal binary writer/reader shared by the command and snapshot codecs: bytes, unsigned LEB128
 * varints (up to 2^53 - 1), length-prefixed byte strings and UTF-8 strings. The reader rejects
 * anything a writer would not produce (overlong varints, invalid UTF-8), so a decoded value
 * re-encodes to the same bytes.
 */
import type { StateMachineError } from './errors.js';

const utf8Encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in a key instead of silently dropping it.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Longest varint for a safe integer: 53 bits / 7 bits per byte, rounded up. */
const MAX_VARINT_BYTES = 8;

/** Size of the shared slabs small byte strings are copied into (Node's Buffer pool is 8 KiB). */
const SLAB_BYTES = 16 * 1024;
/** Byte strings above this get an ArrayBuffer of their own. */
const MAX_SLABBED_BYTES = 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

/**
 * A copy of `view` that shares no memory with it. Small copies are carved out of a shared slab,
 * as Node's Buffer pool does: an ArrayBuffer of its own costs a small value ~100 bytes of heap
 * and a malloc, and made restoring 100k keys GC-bound. The price: a slab lives while any value
 * in it does (at most SLAB_BYTES per surviving value, and values written together mostly go
 * together).
 */
function copyOut(view: Uint8Array): Uint8Array {
  const length = view.length;
  if (length > MAX_SLABBED_BYTES) return new Uint8Array(view);
  if (slabUsed + length > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const copy = slab.subarray(slabUsed, slabUsed + length);
  copy.set(view);
  slabUsed += length;
  return copy;
}

export class ByteWriter {
  private buffer: Uint8Array;
  private length = 0;

  constructor(initialCapacity = 64) {
    this.buffer = new Uint8Array(initialCapacity);
  }

  u8(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  /** Writes a non-negative safe integer; the caller guarantees the range (the codecs validate first). */
  varint(value: number): void {
    this.reserve(MAX_VARINT_BYTES);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.length++] = rest;
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.raw(value);
  }

  raw(value: Uint8Array): void {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  /** Length-prefixed UTF-8, encoded in place (no temporary array for the common short key). */
  string(value: string): void {
    const maxBytes = value.length * 3;
    this.reserve(MAX_VARINT_BYTES + maxBytes);
    // Guess a one-byte length prefix; shift the text right in the rare case it needs more.
    const start = this.length + 1;
    const { written } = utf8Encoder.encodeInto(value, this.buffer.subarray(start, start + maxBytes));
    const prefixLength = varintLength(written);
    if (prefixLength > 1) this.buffer.copyWithin(this.length + prefixLength, start, start + written);
    this.varint(written);
    this.length += written;
  }

  u32(value: number): void {
    this.reserve(4);
    new DataView(this.buffer.buffer, this.buffer.byteOffset).setUint32(this.length, value >>> 0);
    this.length += 4;
  }

  /** How many bytes were written so far. */
  get size(): number {
    return this.length;
  }

  /** The bytes written so far: a view of the internal buffer, valid until the next write. */
  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  /**
   * finish() without the spare capacity growth left behind (up to half the buffer), for output
   * that is kept for long, such as a snapshot image: copied when the spare part is large.
   */
  finishTrimmed(): Uint8Array {
    return this.buffer.length - this.length > this.length / 8
      ? this.buffer.slice(0, this.length)
      : this.finish();
  }

  private reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}

function varintLength(value: number): number {
  let length = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) length++;
  return length;
}

/** Reads what ByteWriter wrote; every malformation throws the error `fail` builds. */
export class ByteReader {
  private offset = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly fail: (message: string) => StateMachineError,
  ) {}

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }

  u8(): number {
    if (this.offset >= this.data.length) throw this.fail(`truncated at byte ${this.offset}`);
    return this.data[this.offset++]!;
  }

  varint(): number {
    const start = this.offset;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 0) throw this.fail(`overlong varint at byte ${start}`);
        if (!Number.isSafeInteger(value)) throw this.fail(`varint at byte ${start} exceeds 2^53 - 1`);
        return value;
      }
      scale *= 0x80;
    }
    throw this.fail(`varint at byte ${start} is longer than ${MAX_VARINT_BYTES} bytes`);
  }

  /**
   * A length-prefixed byte string, copied: the store keeps it, so it must neither pin nor alias
   * the source (whose owner may reuse it). See copyOut for where the copy lives.
   */
  bytes(): Uint8Array {
    const length = this.varint();
    return copyOut(this.take(length));
  }

  string(): string {
    const length = this.varint();
    const at = this.offset;
    const encoded = this.take(length);
    try {
      return utf8Decoder.decode(encoded);
    } catch {
      throw this.fail(`invalid UTF-8 in string at byte ${at}`);
    }
  }

  u32(): number {
    const bytes = this.take(4);
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  }

  expectEnd(): void {
    if (this.offset !== this.data.length) {
      throw this.fail(`${this.data.length - this.offset} unexpected trailing byte(s) at byte ${this.offset}`);
    }
  }

  private take(length: number): Uint8Array {
    if (length > this.data.length - this.offset) {
      throw this.fail(`truncated: needs ${length} byte(s) at byte ${this.offset}, ${this.remaining} left`);
    }
    const slice = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }
}
