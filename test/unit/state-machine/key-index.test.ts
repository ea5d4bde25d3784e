import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SortedKeySet } from '../../../src/state-machine/key-index.js';
import { compareKeys, parentPrefixOf } from '../../../src/state-machine/paths.js';
import { codePoint } from './arbitraries.js';
import { bytes, text } from './helpers.js';

function compareBytewise(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function cursorKeys(set: SortedKeySet, from: string): string[] {
  const keys: string[] = [];
  for (const cursor = set.seek(from); cursor.valid; cursor.next()) keys.push(cursor.key);
  return keys;
}

describe('compareKeys', () => {
  it('agrees with the byte order of the UTF-8 encodings', () => {
    // Biased towards the units where UTF-16 order and code point order disagree.
    const unit = fc.oneof(
      fc.constantFrom('a', '/', '\uD7FF', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}', '\u{10FFFF}'),
      codePoint,
    );
    const key = fc.string({ unit, maxLength: 4 });
    fc.assert(
      fc.property(
        key,
        key,
        (a, b) => Math.sign(compareKeys(a, b)) === Math.sign(compareBytewise(bytes(a), bytes(b))),
      ),
      { numRuns: 2000 },
    );
    expect(compareKeys('\uFFFF', '\u{10000}')).toBeLessThan(0); // plain `<` says the opposite
  });
});

describe('parentPrefixOf', () => {
  it('names the child prefix a key sits directly under', () => {
    expect(parentPrefixOf('/a/b/c')).toBe('/a/b/');
    expect(parentPrefixOf('/a')).toBe('/');
    expect(parentPrefixOf('a')).toBeUndefined();
    expect(parentPrefixOf('/a/')).toBeUndefined();
  });
});

describe('SortedKeySet', () => {
  it('behaves like a sorted array of distinct keys under adds, deletes and seeks', () => {
    const key = fc.string({ unit: fc.constantFrom('a', 'b', '/', '\u{1F600}'), maxLength: 4 });
    const op = fc.tuple(fc.constantFrom('add', 'delete', 'seek'), key);
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
        const set = new SortedKeySet();
        const model = new Set<string>();
        for (const [kind, k] of ops) {
          if (kind === 'add') expect(set.add(k)).toBe(!model.has(k) && model.add(k) !== undefined);
          else if (kind === 'delete') expect(set.delete(k)).toBe(model.delete(k));
          else expect(set.has(k)).toBe(model.has(k));
        }
        const sorted = [...model].sort(compareKeys);
        expect(set.toArray()).toEqual(sorted);
        expect(set.size).toBe(sorted.length);
        for (const from of ['', 'a', 'b/', '\u{1F600}', 'zz']) {
          expect(cursorKeys(set, from)).toEqual(sorted.filter((k) => compareKeys(k, from) >= 0));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('splits and merges blocks correctly at scale', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `/k/${String((i * 7919) % 5000).padStart(5, '0')}`);
    const set = new SortedKeySet();
    for (const key of keys) set.add(key);
    for (const key of keys.slice(0, 2500)) set.delete(key);
    const expected = keys.slice(2500).sort(compareKeys);
    expect(set.toArray()).toEqual(expected);
    expect(cursorKeys(SortedKeySet.fromSorted(expected), '/k/02500')).toEqual(
      expected.filter((k) => k >= '/k/02500'),
    );
  });

  it('inserts 100k keys in random order quickly', () => {
    // Keys decoded from bytes, as apply produces them (flat strings, not template-literal ropes).
    const keys = Array.from({ length: 100_000 }, (_, i) =>
      text(bytes(`/svc/${(i * 2_654_435_761) % 1_000_003}/i`)),
    );
    const started = performance.now();
    const set = new SortedKeySet();
    for (const key of keys) set.add(key);
    const elapsed = performance.now() - started;
    // Measured 85-250 ms on the (noisy, shared) dev container; the bound only catches an O(n^2) regression.
    expect(elapsed).toBeLessThan(2000);
    expect(set.size).toBe(new Set(keys).size);
  });
});
