/**
 * Splitting a snapshot into InstallSnapshot chunks and putting it back together.
 *
 * A snapshot image can be far larger than a sensible gRPC message (the state machine of a
 * busy store: tens of MiB or more), so it travels as a stream of slices. The receiver
 * allocates the image once from the header's totalBytes and insists every slice lands exactly
 * where the previous one ended, so a truncated or reordered stream is detected, not delivered.
 */
import type { SnapshotRequest } from '../raft/types.js';
import { MalformedMessageError } from './errors.js';
import { encodeSnapshotHeader } from './message-codec.js';
import type { SnapshotHeader } from './message-codec.js';
import type { SnapshotChunkWire } from './wire-types.js';

export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/** Zero-copy slices of the image; the first chunk carries the header (and may be empty). */
export function* snapshotChunks(message: SnapshotRequest, chunkBytes: number): Generator<SnapshotChunkWire> {
  const image = message.snapshot.data;
  const header = encodeSnapshotHeader(message);
  let offset = 0;
  do {
    const end = Math.min(image.byteLength, offset + chunkBytes);
    yield { header: offset === 0 ? header : null, offset, data: image.subarray(offset, end) };
    offset = end;
  } while (offset < image.byteLength);
}

export class SnapshotAssembler {
  private readonly image: Uint8Array;
  private received = 0;

  /** Allocates the whole image up front; the caller has checked totalBytes against its cap. */
  constructor(readonly header: SnapshotHeader) {
    // allocUnsafeSlow: no zero-fill for what is about to be overwritten, and never a slice of
    // the shared pool, so the view below owns its memory. finish() refuses to hand out the
    // image before every byte was written.
    const buffer = Buffer.allocUnsafeSlow(header.totalBytes);
    this.image = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  get receivedBytes(): number {
    return this.received;
  }

  append(offset: number, data: Uint8Array): void {
    if (offset !== this.received) {
      throw new MalformedMessageError(`snapshot chunk at offset ${offset}, expected ${this.received}`);
    }
    if (this.received + data.byteLength > this.header.totalBytes) {
      throw new MalformedMessageError(`snapshot chunks exceed the announced ${this.header.totalBytes} bytes`);
    }
    this.image.set(data, this.received);
    this.received += data.byteLength;
  }

  finish(): SnapshotRequest {
    if (this.received !== this.header.totalBytes) {
      throw new MalformedMessageError(
        `snapshot stream ended after ${this.received} of ${this.header.totalBytes} bytes`,
      );
    }
    const { from, to, term, meta } = this.header;
    return { type: 'snapshot', from, to, term, snapshot: { meta, data: this.image } };
  }
}
