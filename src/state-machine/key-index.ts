/**
 * An ordered set of keys with seekable cursors, for prefix and children scans in O(log n + k).
 *
 * Layout: a list of sorted blocks of at most MAX_BLOCK keys plus each block's last key. A
 * lookup binary-searches the block list then the block; an insert shifts at most one block,
 * so 100k random inserts stay fast where one big sorted array would move ~n/2 keys each time.
 */
import { compareKeys } from './paths.js';

const MAX_BLOCK = 1024;
const HALF_BLOCK = MAX_BLOCK / 2;

/** First index in the sorted `keys` whose key is >= `key` (keys.length when none). */
function lowerBound(keys: readonly string[], key: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareKeys(keys[mid]!, key) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

export class SortedKeySet {
  private blocks: string[][] = [];
  /** lastKeys[i] is the greatest key of blocks[i]. */
  private lastKeys: string[] = [];
  private count = 0;

  /** Builds a set from keys already in strictly ascending order (a snapshot's), without re-sorting. */
  static fromSorted(sortedKeys: readonly string[]): SortedKeySet {
    const set = new SortedKeySet();
    for (let start = 0; start < sortedKeys.length; start += HALF_BLOCK) {
      const block = sortedKeys.slice(start, start + HALF_BLOCK);
      set.blocks.push(block);
      set.lastKeys.push(block[block.length - 1]!);
    }
    set.count = sortedKeys.length;
    return set;
  }

  get size(): number {
    return this.count;
  }

  has(key: string): boolean {
    const blockIndex = lowerBound(this.lastKeys, key);
    const block = this.blocks[blockIndex];
    if (block === undefined) return false;
    return block[lowerBound(block, key)] === key;
  }

  /** Adds `key`; returns false if it was already present. */
  add(key: string): boolean {
    if (this.blocks.length === 0) {
      this.blocks.push([key]);
      this.lastKeys.push(key);
      this.count = 1;
      return true;
    }
    // A key above every block's last key goes at the end of the last block.
    const blockIndex = Math.min(lowerBound(this.lastKeys, key), this.blocks.length - 1);
    const block = this.blocks[blockIndex]!;
    const position = lowerBound(block, key);
    if (block[position] === key) return false;
    block.splice(position, 0, key);
    if (position === block.length - 1) this.lastKeys[blockIndex] = key;
    this.count++;
    if (block.length > MAX_BLOCK) this.split(blockIndex);
    return true;
  }

  /** Removes `key`; returns false if it was absent. */
  delete(key: string): boolean {
    const blockIndex = lowerBound(this.lastKeys, key);
    const block = this.blocks[blockIndex];
    if (block === undefined) return false;
    const position = lowerBound(block, key);
    if (block[position] !== key) return false;
    block.splice(position, 1);
    this.count--;
    if (block.length === 0) {
      this.blocks.splice(blockIndex, 1);
      this.lastKeys.splice(blockIndex, 1);
    } else if (position === block.length) {
      this.lastKeys[blockIndex] = block[block.length - 1]!;
    }
    return true;
  }

  /** A cursor at the first key >= `key`. */
  seek(key: string): KeyCursor {
    const blockIndex = lowerBound(this.lastKeys, key);
    const block = this.blocks[blockIndex];
    return new KeyCursor(this.blocks, blockIndex, block === undefined ? 0 : lowerBound(block, key));
  }

  /** All keys in ascending order. */
  toArray(): string[] {
    return this.blocks.flat();
  }

  private split(blockIndex: number): void {
    const block = this.blocks[blockIndex]!;
    const upper = block.splice(HALF_BLOCK);
    this.blocks.splice(blockIndex + 1, 0, upper);
    this.lastKeys.splice(blockIndex, 1, block[block.length - 1]!, upper[upper.length - 1]!);
  }
}

/** A forward position in a SortedKeySet; invalid once it passes the last key. Do not mutate the set while one is in use. */
export class KeyCursor {
  constructor(
    private readonly blocks: readonly (readonly string[])[],
    private blockIndex: number,
    private position: number,
  ) {
    this.normalize();
  }

  get valid(): boolean {
    return this.blockIndex < this.blocks.length;
  }

  /** The key under the cursor; only meaningful while `valid`. */
  get key(): string {
    return this.blocks[this.blockIndex]![this.position]!;
  }

  next(): void {
    this.position++;
    this.normalize();
  }

  private normalize(): void {
    while (this.blockIndex < this.blocks.length && this.position >= this.blocks[this.blockIndex]!.length) {
      this.blockIndex++;
      this.position = 0;
    }
  }
}
