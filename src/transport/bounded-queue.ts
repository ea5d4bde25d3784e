/**
 * A FIFO capped both in item count and in (estimated) bytes. When full it refuses new items
 * instead of growing: the transport drops what does not fit and lets Raft retransmit, which it
 * does anyway for anything that matters. Dropping the newest (not the oldest) keeps the queued
 * appends a gap-free prefix, so a slow follower can still use what it gets.
 */
export class BoundedQueue<T> {
  private items: T[] = [];
  private sizes: number[] = [];
  /** Index of the first live item; the dead prefix is compacted away lazily. */
  private head = 0;
  private totalBytes = 0;

  constructor(
    readonly maxItems: number,
    readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** False when the item would exceed either cap; the item is then not queued. */
  tryPush(item: T, bytes: number): boolean {
    if (this.length >= this.maxItems) return false;
    // An oversized item is still accepted into an empty queue, or it could never be sent.
    if (this.length > 0 && this.totalBytes + bytes > this.maxBytes) return false;
    this.items.push(item);
    this.sizes.push(bytes);
    this.totalBytes += bytes;
    return true;
  }

  /**
   * Removes and returns up to `maxItems` items whose sizes add up to at most `maxBytes`, but
   * always at least one item when the queue is not empty.
   */
  takeBatch(maxItems: number, maxBytes: number): T[] {
    const batch: T[] = [];
    let batchBytes = 0;
    while (this.head < this.items.length && batch.length < maxItems) {
      const size = this.sizes[this.head]!;
      if (batch.length > 0 && batchBytes + size > maxBytes) break;
      batch.push(this.items[this.head]!);
      batchBytes += size;
      this.head += 1;
    }
    this.totalBytes -= batchBytes;
    this.compact();
    return batch;
  }

  /** Empties the queue, returning how many items were discarded. */
  clear(): number {
    const discarded = this.length;
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.totalBytes = 0;
    return discarded;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}
