import type { Entry, Snapshot } from '../../src/raft/types.js';

/** Deterministic, index- and term-dependent bytes, so a misplaced or stale record shows. */
export function payload(index: number, term: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = (Math.imul(index, 0x9e3779b1) ^ Math.imul(term, 0x85ebca6b) ^ length) >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

export function entry(index: number, term: number, length = 16, type: 0 | 1 = 0): Entry {
  return { index, term, type, data: payload(index, term, length) };
}

export function entries(from: number, to: number, term: number, length = 16): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push(entry(index, term, length));
  return out;
}

/**
 * An image that is cheap to build even at several MiB (a repeated block), yet differs per
 * snapshot and per block position, so chunks swapped or stale show up.
 */
export function snapshotImage(index: number, term: number, length: number): Uint8Array {
  const block = payload(index, term, 4096);
  const image = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += block.length) {
    image.set(block.subarray(0, Math.min(block.length, length - offset)), offset);
    if (offset + 4 <= length) image.writeUInt32BE(offset / block.length, offset);
  }
  return new Uint8Array(image.buffer, image.byteOffset, image.length);
}

export function snapshot(index: number, term: number, imageBytes = 64, conf = { voters: ['n1', 'n2', 'n3'], learners: [] as string[] }): Snapshot {
  return { meta: { index, term, conf }, data: snapshotImage(index, term, imageBytes) };
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence in every process. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max] from `random`. */
export function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}
