/**
 * Non-cryptographic string hashes for the hashing strategies. Both hash the UTF-8 bytes, so the
 * same key maps to the same instance from any client written in any language that does the same.
 */

/** A hash of a string to an unsigned 32-bit integer. */
export type HashFunction = (key: string) => number;

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a, 32 bits. Fast and simple; weak avalanche on short, similar keys. */
export function fnv1a32(key: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * MurmurHash3 x86_32. The default: it mixes every input bit into every output bit, which
 * matters for ring points like "node-1#17" and "node-1#18" that differ in one character.
 */
export function murmur3(key: string, seed = 0): number {
  const bytes = Buffer.from(key, 'utf8');
  const length = bytes.length;
  const blockEnd = length - (length % 4);
  let h = seed >>> 0;
  for (let i = 0; i < blockEnd; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // The 1-3 trailing bytes, little-endian, mixed like a short block.
  const remainder = length - blockEnd;
  if (remainder > 0) {
    let tail = 0;
    if (remainder === 3) tail ^= bytes[blockEnd + 2]! << 16;
    if (remainder >= 2) tail ^= bytes[blockEnd + 1]! << 8;
    tail ^= bytes[blockEnd]!;
    tail = Math.imul(tail, C1);
    tail = (tail << 15) | (tail >>> 17);
    tail = Math.imul(tail, C2);
    h ^= tail;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3 with seed 0, as a HashFunction. */
export const defaultHash: HashFunction = (key) => murmur3(key);
