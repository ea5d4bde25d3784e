/**
 * The byte-to-string key bridge must select exactly the keys etcd would: for every well-formed
 * key k, k is in the translated string range iff utf8(k) is in etcd's byte range. Properties are
 * checked against byte comparisons (etcd's own semantics) and Node's independent UTF-8 validator;
 * the generators crowd bytes and code points around the UTF-8 encoding boundaries.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeKey,
  encodeKey,
  etcdRange,
  inKeyRange,
  lowerBoundString,
  prefixEnd,
  type EtcdKeyRange,
} from '../../src/etcd/key-bytes.js';
import { compareKeys } from '../../src/state-machine/paths.js';

const NUM_RUNS = 1000;

const utf8 = (key: string): Buffer => Buffer.from(key, 'utf8');
const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

/** Lead bytes, continuation limits and never-valid bytes: where strict UTF-8 decoding changes its mind. */
const BOUNDARY_BYTES = [
  0x00, 0x01, 0x2f, 0x61, 0x7e, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xdf, 0xe0,
  0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xfe, 0xff,
];
const byte = fc.oneof(
  { arbitrary: fc.constantFrom(...BOUNDARY_BYTES), weight: 4 },
  fc.integer({ min: 0, max: 0xff }),
);

/** First and last code points of each encoding length, the surrogate gap's neighbours, BOM, NUL. */
const BOUNDARY_CODE_POINTS = [
  0x0, 0x1, 0x2f, 0x61, 0x62, 0x7f, 0x80, 0xe9, 0xea, 0x7ff, 0x800, 0xfff, 0xd7ff, 0xe000, 0xfeff, 0xfffd,
  0xffff, 0x10000, 0x1f600, 0x3ffff, 0x40000, 0xfffff, 0x100000, 0x10ffff,
];
const codePoint = fc.oneof(
  { arbitrary: fc.constantFrom(...BOUNDARY_CODE_POINTS), weight: 4 },
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0, max: 0xd7ff }),
  fc.integer({ min: 0xe000, max: 0xffff }),
  fc.integer({ min: 0x10000, max: 0x10ffff }),
);
const validString = fc.array(codePoint, { maxLength: 4 }).map((points) => String.fromCodePoint(...points));

/** A lead byte and continuation-like bytes around the limits of Unicode's well-formed table. */
const nearlyCharacter = fc
  .tuple(
    fc.constantFrom(0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5),
    fc.array(fc.constantFrom(0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0), { maxLength: 3 }),
  )
  .map(([lead, rest]) => [lead, ...rest]);

/**
 * Arbitrary bytes; near-miss characters between real ones; and UTF-8 of real keys cut short,
 * extended or with one byte replaced.
 */
const byteString: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.array(byte, { maxLength: 6 }).map((values) => Uint8Array.from(values)),
  fc
    .tuple(validString, nearlyCharacter, validString)
    .map(([before, middle, after]) => Uint8Array.from([...utf8(before), ...middle, ...utf8(after)])),
  validString.map(utf8),
  fc
    .record({
      key: validString,
      cut: fc.nat(),
      replaceAt: fc.nat(),
      replacement: fc.option(byte),
      tail: fc.array(byte, { maxLength: 3 }),
    })
    .map(({ key, cut, replaceAt, replacement, tail }) => {
      const encoded = utf8(key);
      const kept = Array.from(encoded.subarray(0, cut % (encoded.length + 1)));
      if (replacement !== null && kept.length > 0) kept[replaceAt % kept.length] = replacement;
      return Uint8Array.from([...kept, ...tail]);
    }),
);

/** The scalar value just below `point` (skipping surrogates); undefined for U+0000. */
function previousScalar(point: number): number | undefined {
  if (point === 0) return undefined;
  return point === 0xe000 ? 0xd7ff : point - 1;
}

/** Keys right around `key`: the places where an off-by-one in a bound would show. */
function neighbours(key: string): string[] {
  const points = Array.from(key, (character) => character.codePointAt(0)!);
  const result = [key, `${key}\u0000`, `${key}\u{10FFFF}`, String.fromCodePoint(...points.slice(0, -1))];
  const last = points.at(-1);
  if (last !== undefined) {
    const before = previousScalar(last);
    const head = points.slice(0, -1);
    if (before !== undefined) {
      result.push(String.fromCodePoint(...head, before), String.fromCodePoint(...head, before, 0x10ffff));
    }
    if (last < 0x10ffff) result.push(String.fromCodePoint(...head, last === 0xd7ff ? 0xe000 : last + 1));
  }
  return result;
}

/**
 * Why `bound` is not the exact answer for `target`, or undefined if it is: it must be well-formed,
 * encode at or above the target, and every smaller string must encode below it. The supremum of
 * the strings below X + c is X + previous(c) + U+10FFFF..., so one long such string stands for all.
 */
function lowerBoundProblem(target: Uint8Array, bound: string | null): string | undefined {
  const filler = '\u{10FFFF}'.repeat(target.length + 1);
  if (bound === null) {
    return Buffer.compare(utf8(filler), target) < 0 ? undefined : 'null, yet some string encodes above';
  }
  // A lone surrogate would not survive the round trip.
  if (decodeKey(utf8(bound)) !== bound) return `${JSON.stringify(bound)} is not well-formed`;
  if (Buffer.compare(utf8(bound), target) < 0) return `${JSON.stringify(bound)} encodes below the target`;
  const points = Array.from(bound, (character) => character.codePointAt(0)!);
  const last = points.pop();
  if (last === undefined) return undefined; // '' is the smallest string of all
  const before = previousScalar(last);
  const below =
    before === undefined ? String.fromCodePoint(...points) : String.fromCodePoint(...points, before) + filler;
  return Buffer.compare(utf8(below), target) < 0
    ? undefined
    : `${JSON.stringify(below)} is smaller yet high enough`;
}

function expectExactLowerBound(target: Uint8Array): void {
  expect(
    lowerBoundProblem(target, lowerBoundString(target)),
    Buffer.from(target).toString('hex'),
  ).toBeUndefined();
}

/** What etcd's index selects for (key, range_end), straight from its byte comparisons. */
function etcdSelects(key: Uint8Array, rangeEnd: Uint8Array, candidate: string): boolean {
  const encoded = utf8(candidate);
  if (rangeEnd.length === 0) return Buffer.compare(encoded, key) === 0;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) {
    // etcd has no empty key, so [0x00] from [0x00] is every key it can hold; raftree reads it as all.
    if (key.length === 1 && key[0] === 0) return true;
    return Buffer.compare(encoded, key) >= 0;
  }
  return Buffer.compare(encoded, key) >= 0 && Buffer.compare(encoded, rangeEnd) < 0;
}

function rangeOf(key: string, rangeEnd: Uint8Array): EtcdKeyRange {
  return etcdRange(utf8(key), rangeEnd);
}

describe('decodeKey / encodeKey', () => {
  it('round-trips every well-formed key, keeping NUL and a leading BOM', () => {
    fc.assert(
      fc.property(validString, (key) => decodeKey(encodeKey(key)) === key),
      { numRuns: NUM_RUNS },
    );
    expect(decodeKey(bytes(0xef, 0xbb, 0xbf, 0x61))).toBe('\uFEFFa');
    expect(decodeKey(bytes(0x61, 0x00, 0x62))).toBe('a\u0000b');
    expect(decodeKey(bytes())).toBe('');
  });

  it('accepts exactly the byte strings Node validates as UTF-8, and decodes them faithfully', () => {
    fc.assert(
      fc.property(byteString, (input) => {
        const decoded = decodeKey(input);
        expect(decoded !== undefined).toBe(isUtf8(input));
        if (decoded !== undefined) expect(Buffer.compare(encodeKey(decoded), input)).toBe(0);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('rejects overlongs, surrogates, code points above U+10FFFF and truncated characters', () => {
    const invalid = [
      [0xc0, 0x80], // overlong NUL
      [0xc1, 0xbf], // overlong U+007F
      [0xe0, 0x9f, 0xbf], // overlong U+07FF
      [0xf0, 0x8f, 0xbf, 0xbf], // overlong U+FFFF
      [0xed, 0xa0, 0x80], // U+D800
      [0xed, 0xbf, 0xbf], // U+DFFF
      [0xf4, 0x90, 0x80, 0x80], // U+110000
      [0xf5, 0x80, 0x80, 0x80],
      [0xc3], // truncated é
      [0xe2, 0x82], // truncated €
      [0x80], // lone continuation
      [0xff],
    ];
    for (const sequence of invalid)
      expect(decodeKey(Uint8Array.from(sequence)), sequence.join(' ')).toBeUndefined();
    expect(decodeKey(utf8('\uD7FF\uE000\u{10FFFF}'))).toBe('\uD7FF\uE000\u{10FFFF}');
  });
});

describe('prefixEnd', () => {
  it("matches etcd's GetPrefixRangeEnd", () => {
    expect(prefixEnd(utf8('/app/'))).toEqual(utf8('/app0'));
    expect(prefixEnd(bytes(0x61, 0xff, 0xff))).toEqual(Buffer.from([0x62]));
    expect(prefixEnd(bytes(0x61, 0x7f))).toEqual(Buffer.from([0x61, 0x80]));
    expect(prefixEnd(bytes(0xff, 0xff))).toEqual(Buffer.from([0x00]));
    expect(prefixEnd(bytes())).toEqual(Buffer.from([0x00]));
  });

  it('leaves its argument alone', () => {
    const key = bytes(0x61, 0x62);
    prefixEnd(key);
    expect(key).toEqual(bytes(0x61, 0x62));
  });
});

describe('lowerBoundString', () => {
  it('is the smallest well-formed string encoding at or above the bytes (random bytes)', () => {
    fc.assert(
      fc.property(byteString, (target) => expectExactLowerBound(target)),
      { numRuns: NUM_RUNS },
    );
  });

  it('is the smallest well-formed string encoding at or above the bytes (every 0-2 byte string)', () => {
    expectExactLowerBound(bytes());
    for (let first = 0; first <= 0xff; first++) {
      expectExactLowerBound(bytes(first));
      for (let second = 0; second <= 0xff; second++) {
        const target = bytes(first, second);
        // expect() only on failure: 65 536 passing expect chains would dominate the run time.
        if (lowerBoundProblem(target, lowerBoundString(target)) !== undefined) expectExactLowerBound(target);
      }
    }
  });

  it('translates byte comparison: utf8(k) >= B iff k >= lowerBoundString(B)', () => {
    fc.assert(
      fc.property(byteString, validString, (target, key) => {
        const bound = lowerBoundString(target);
        const candidates = [key, ...(bound === null ? [] : neighbours(bound))];
        const valid = decodeKey(target);
        if (valid !== undefined) candidates.push(...neighbours(valid));
        for (const candidate of candidates) {
          const byBytes = Buffer.compare(utf8(candidate), target) >= 0;
          const byString = bound !== null && compareKeys(candidate, bound) >= 0;
          expect(byString, `k=${JSON.stringify(candidate)} B=${Buffer.from(target).toString('hex')}`).toBe(
            byBytes,
          );
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('handles the edge cases', () => {
    expect(lowerBoundString(bytes())).toBe('');
    expect(lowerBoundString(bytes(0x61, 0x00, 0x62))).toBe('a\u0000b'); // valid: just decoded
    expect(lowerBoundString(bytes(0xef, 0xbb, 0xbf))).toBe('\uFEFF');
    expect(lowerBoundString(bytes(0x80))).toBe('\u0080'); // C2 80 is the first encoding above 80
    expect(lowerBoundString(bytes(0xc3))).toBe('\u00C0'); // truncated: first character starting C3
    expect(lowerBoundString(bytes(0xc0, 0x80))).toBe('\u0080'); // overlong NUL
    expect(lowerBoundString(bytes(0xe0, 0x80))).toBe('\u0800');
    expect(lowerBoundString(bytes(0xed, 0xa0))).toBe('\uE000'); // surrogates are skipped
    expect(lowerBoundString(bytes(0xf0, 0x80))).toBe('\u{10000}');
    expect(lowerBoundString(bytes(0xe0, 0x9f, 0xbf))).toBe('\u0800'); // overlong U+07FF
    expect(lowerBoundString(bytes(0xf0, 0x8f, 0xbf, 0xbf))).toBe('\u{10000}'); // overlong U+FFFF
    expect(lowerBoundString(bytes(0xed, 0xbf, 0xbf))).toBe('\uE000'); // U+DFFF
    expect(lowerBoundString(bytes(0x61, 0xf4, 0x90, 0x80, 0x80))).toBe('b'); // U+110000
    expect(lowerBoundString(bytes(0x61, 0x80))).toBe('a\u0080');
    expect(lowerBoundString(bytes(0x61, 0xff))).toBe('b'); // nothing continues 'a' high enough
    expect(lowerBoundString(bytes(0xf4, 0x8f, 0xbf, 0xbf))).toBe('\u{10FFFF}');
    expect(lowerBoundString(bytes(0xf4, 0x90))).toBeNull();
    expect(lowerBoundString(bytes(0xff))).toBeNull();
    // Incrementing works on code points: across the surrogate gap, into and out of the astral planes.
    expect(lowerBoundString(Buffer.concat([utf8('\uD7FF'), bytes(0xff)]))).toBe('\uE000');
    expect(lowerBoundString(Buffer.concat([utf8('\uFFFF'), bytes(0xff)]))).toBe('\u{10000}');
    expect(lowerBoundString(Buffer.concat([utf8('a\u{1F600}'), bytes(0xff)]))).toBe('a\u{1F601}');
    expect(lowerBoundString(Buffer.concat([utf8('a\u{10FFFF}\u{10FFFF}'), bytes(0xf5)]))).toBe('b');
    expect(lowerBoundString(Buffer.concat([utf8('\u{10FFFF}'), bytes(0xff)]))).toBeNull();
  });
});

describe('etcdRange', () => {
  it('selects exactly the keys etcd would', () => {
    const rangeEndFor = (key: Uint8Array): fc.Arbitrary<Uint8Array> =>
      fc.oneof(
        fc.constant(bytes()),
        fc.constant(bytes(0)),
        fc.constant(prefixEnd(key)),
        fc.constant(key),
        byteString,
        byteString.map((tail) => Buffer.concat([key, tail])),
      );
    const request = byteString.chain((key) => fc.tuple(fc.constant(key), rangeEndFor(key)));
    fc.assert(
      fc.property(request, validString, ([key, rangeEnd], extra) => {
        const range = etcdRange(key, rangeEnd);
        const candidates = [extra, `${extra}\u0000`];
        for (const bound of [key, rangeEnd]) {
          const lower = lowerBoundString(bound);
          if (lower !== null) candidates.push(...neighbours(lower));
        }
        for (const candidate of candidates) {
          const label = `k=${JSON.stringify(candidate)} key=${Buffer.from(key).toString('hex')} end=${Buffer.from(rangeEnd).toString('hex')}`;
          expect(inKeyRange(range, candidate), label).toBe(etcdSelects(key, rangeEnd, candidate));
        }
        if (range.kind === 'interval') {
          expect(range.end === undefined || compareKeys(range.start, range.end) < 0).toBe(true);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('recognises a prefix range exactly when the key is UTF-8 and range_end is its prefix end', () => {
    fc.assert(
      fc.property(byteString, (key) => {
        const range = etcdRange(key, prefixEnd(key));
        const prefix = decodeKey(key);
        if (prefix === undefined) expect(range.kind).not.toBe('prefix');
        else expect(range).toEqual({ kind: 'prefix', prefix });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('maps prefix ranges of ASCII and non-ASCII keys to prefix scans', () => {
    const app = rangeOf('/app/', utf8('/app0'));
    expect(app).toEqual({ kind: 'prefix', prefix: '/app/' });
    expect(inKeyRange(app, '/app/x')).toBe(true);
    expect(inKeyRange(app, '/app/')).toBe(true);
    expect(inKeyRange(app, '/app')).toBe(false);
    expect(inKeyRange(app, '/app0')).toBe(false);

    const accented = rangeOf('é', prefixEnd(utf8('é')));
    expect(prefixEnd(utf8('é'))).toEqual(utf8('ê'));
    expect(accented).toEqual({ kind: 'prefix', prefix: 'é' });
    expect(inKeyRange(accented, 'é\u{1F600}')).toBe(true);
    expect(inKeyRange(accented, 'ê')).toBe(false);
    expect(inKeyRange(accented, 'e')).toBe(false);
  });

  it('treats a key ending in 0x7F as a prefix though its prefix end (…0x80) is not UTF-8', () => {
    const range = rangeOf('a\u007F', bytes(0x61, 0x80));
    expect(range).toEqual({ kind: 'prefix', prefix: 'a\u007F' });
    expect(inKeyRange(range, 'a\u007F\u{10FFFF}')).toBe(true);
    expect(inKeyRange(range, 'a\u0080')).toBe(false);
    // The same bytes as a plain interval end land on the first key above every 'a\x7F…'.
    expect(rangeOf('a\u007E', bytes(0x61, 0x80))).toEqual({
      kind: 'interval',
      start: 'a\u007E',
      end: 'a\u0080',
    });
  });

  it('selects nothing for an all-0xFF key, whose prefix end is [0x00]', () => {
    expect(etcdRange(bytes(0xff, 0xff), prefixEnd(bytes(0xff, 0xff)))).toEqual({ kind: 'empty' });
    expect(etcdRange(bytes(0xff), bytes())).toEqual({ kind: 'single', key: undefined });
  });

  it('selects every key for the empty key with range_end [0x00], and for [0x00] with [0x00]', () => {
    const fromEmpty = etcdRange(bytes(), bytes(0));
    expect(fromEmpty).toEqual({ kind: 'prefix', prefix: '' });
    const fromNul = etcdRange(bytes(0), bytes(0));
    expect(fromNul).toEqual({ kind: 'interval', start: '', end: undefined });
    for (const key of ['', '\u0000', 'a', '\u{10FFFF}']) {
      expect(inKeyRange(fromEmpty, key)).toBe(true);
      expect(inKeyRange(fromNul, key)).toBe(true);
    }
  });

  it('reads range_end [0x00] as "every key from key on"', () => {
    const range = rangeOf('b', bytes(0));
    expect(range).toEqual({ kind: 'interval', start: 'b', end: undefined });
    expect(inKeyRange(range, 'a\u{10FFFF}')).toBe(false);
    expect(inKeyRange(range, '\u{10FFFF}')).toBe(true);
  });

  it('handles single keys, invalid bounds and empty intervals', () => {
    expect(rangeOf('a\u0000', bytes())).toEqual({ kind: 'single', key: 'a\u0000' });
    expect(etcdRange(bytes(0xc3), bytes())).toEqual({ kind: 'single', key: undefined });
    expect(rangeOf('b', utf8('a'))).toEqual({ kind: 'empty' });
    expect(rangeOf('a', utf8('a'))).toEqual({ kind: 'empty' });
    // A non-empty byte interval holding no UTF-8 string at all.
    expect(etcdRange(bytes(0xc0), bytes(0xc1))).toEqual({ kind: 'empty' });
    // Invalid bounds on both sides, translated to the first keys at or above them.
    expect(etcdRange(bytes(0xc3), bytes(0xed, 0xa0))).toEqual({
      kind: 'interval',
      start: '\u00C0',
      end: '\uE000',
    });
    // An end above every encoding is no bound at all.
    expect(rangeOf('a', bytes(0xff))).toEqual({ kind: 'interval', start: 'a', end: undefined });
  });
});
