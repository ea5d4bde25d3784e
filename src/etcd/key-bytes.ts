/**
 * Bridges etcd's byte keys to raftree's string keys. etcd keys and range bounds are arbitrary
 * bytes; raftree stores well-formed strings ordered by code point, which is exactly the byte
 * order of their UTF-8 encodings. So a byte interval maps to a string interval with the same
 * membership by replacing each bound with the smallest string whose encoding is at or above it,
 * even when the bound itself is not valid UTF-8 (etcd's prefix end of `a\x7F` is `a\x80`).
 */
import { Buffer } from 'node:buffer';
import { compareKeys } from '../state-machine/paths.js';

// ignoreBOM: a key starting with U+FEFF must keep it, or two distinct keys would collide.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const MAX_CODE_POINT = 0x10ffff;
const SURROGATE_START = 0xd800;
const SURROGATE_COUNT = 0x800;
/** Unicode scalar values (code points minus surrogates): the characters UTF-8 can encode. */
const SCALAR_COUNT = MAX_CODE_POINT + 1 - SURROGATE_COUNT;

/** Which stored keys an etcd `(key, range_end)` pair selects. */
export type EtcdKeyRange =
  /** Exactly one key; undefined when the bytes are not UTF-8, so no stored key can match. */
  | { readonly kind: 'single'; readonly key: string | undefined }
  /** Every key starting with `prefix` ('' selects all keys). */
  | { readonly kind: 'prefix'; readonly prefix: string }
  /** Every key k with start <= k < end; an undefined end is unbounded. Never empty by bounds alone. */
  | { readonly kind: 'interval'; readonly start: string; readonly end: string | undefined }
  /** No key at all (end at or before start, or a start above every encodable key). */
  | { readonly kind: 'empty' };

const EMPTY: EtcdKeyRange = { kind: 'empty' };

/** The key `bytes` encode, or undefined if they are not strict UTF-8 (overlong, surrogate, truncated…). */
export function decodeKey(bytes: Uint8Array): string | undefined {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

export function encodeKey(key: string): Buffer {
  return Buffer.from(key, 'utf8');
}

/**
 * etcd's GetPrefixRangeEnd: the smallest byte string above every string starting with `key`.
 * When no such bound exists (all 0xFF, or empty) etcd uses [0x00], its "no upper bound" marker.
 */
export function prefixEnd(key: Uint8Array): Buffer {
  for (let i = key.length - 1; i >= 0; i--) {
    const byte = key[i]!;
    if (byte < 0xff) {
      const end = Buffer.from(key.subarray(0, i + 1));
      end[i] = byte + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

/**
 * The smallest well-formed string whose UTF-8 encoding is >= `bytes`, or null if every encoding
 * is below `bytes`. Because the set of strings encoding to >= `bytes` is closed upwards (code
 * point order is byte order), for every well-formed k: utf8(k) >= bytes <=> k >= the result.
 */
export function lowerBoundString(bytes: Uint8Array): string | null {
  const whole = decodeKey(bytes);
  if (whole !== undefined) return whole;
  // Past the longest valid prefix P no character's encoding equals or is a prefix of the rest R
  // (else P would be longer), so a string continuing P is above `bytes` iff its next character's
  // encoding is above R; the smallest such string is P plus that character alone.
  const validLength = validPrefixLength(bytes);
  const prefix = decodeKey(bytes.subarray(0, validLength))!;
  const next = smallestScalarAbove(bytes.subarray(validLength));
  if (next !== undefined) return prefix + String.fromCodePoint(next);
  // Nothing continuing P is high enough: the answer must branch off P with a larger character.
  return successorOfLastCharacter(prefix);
}

/** The range of keys etcd's Range/DeleteRange/Watch would select for these bytes. */
export function etcdRange(key: Uint8Array, rangeEnd: Uint8Array): EtcdKeyRange {
  if (rangeEnd.length === 0) return { kind: 'single', key: decodeKey(key) };
  // [K, prefixEnd(K)) is exactly the byte strings starting with K, and when K is UTF-8 (so it ends
  // on a character boundary) a well-formed key's encoding starts with K iff the key starts with it.
  if (Buffer.compare(rangeEnd, prefixEnd(key)) === 0) {
    const prefix = decodeKey(key);
    if (prefix !== undefined) return { kind: 'prefix', prefix };
  }
  const fromKey = rangeEnd.length === 1 && rangeEnd[0] === 0;
  // etcd clients send key [0x00] with range_end [0x00] to mean "all keys" (etcd has no empty key).
  const start = fromKey && key.length === 1 && key[0] === 0 ? '' : lowerBoundString(key);
  if (start === null) return EMPTY;
  if (fromKey) return { kind: 'interval', start, end: undefined };
  const end = lowerBoundString(rangeEnd) ?? undefined;
  if (end !== undefined && compareKeys(start, end) >= 0) return EMPTY;
  return { kind: 'interval', start, end };
}

export function inKeyRange(range: EtcdKeyRange, key: string): boolean {
  switch (range.kind) {
    case 'single':
      return key === range.key;
    case 'prefix':
      return key.startsWith(range.prefix);
    case 'interval':
      return (
        compareKeys(key, range.start) >= 0 && (range.end === undefined || compareKeys(key, range.end) < 0)
      );
    case 'empty':
      return false;
  }
}

/** Length of the longest prefix of `bytes` made of whole well-formed UTF-8 characters. */
function validPrefixLength(bytes: Uint8Array): number {
  let at = 0;
  for (let length = characterLength(bytes, at); length > 0; length = characterLength(bytes, at)) at += length;
  return at;
}

/**
 * Byte length of the well-formed character starting at `at`, or 0 if none does (including at the
 * end). The narrowed second-byte ranges exclude overlongs (E0, F0), surrogates (ED) and code
 * points above U+10FFFF (F4): Unicode's table of well-formed byte sequences.
 */
function characterLength(bytes: Uint8Array, at: number): number {
  const lead = bytes[at];
  if (lead === undefined) return 0;
  if (lead < 0x80) return 1;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return 0;
  if (at + length > bytes.length) return 0;
  const second = bytes[at + 1]!;
  if (second < low || second > high) return 0;
  for (let i = at + 2; i < at + length; i++) {
    const continuation = bytes[i]!;
    if (continuation < 0x80 || continuation > 0xbf) return 0;
  }
  return length;
}

/** The index-th scalar value: code points with the surrogate block cut out, order kept. */
function scalarAt(index: number): number {
  return index < SURROGATE_START ? index : index + SURROGATE_COUNT;
}

/**
 * The smallest scalar value whose encoding is above `bytes`, by binary search: UTF-8 encoding
 * order is scalar order, so "encodes above `bytes`" holds for a suffix of the scalars.
 */
function smallestScalarAbove(bytes: Uint8Array): number | undefined {
  let low = 0;
  let high = SCALAR_COUNT; // the answer's index lies in [low, high]; SCALAR_COUNT means none
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (Buffer.compare(encodeKey(String.fromCodePoint(scalarAt(middle))), bytes) > 0) high = middle;
    else low = middle + 1;
  }
  return low === SCALAR_COUNT ? undefined : scalarAt(low);
}

/**
 * The smallest string above every string starting with `key`: its last character replaced by the
 * next scalar value, dropping trailing U+10FFFF (which has no next); null if nothing is left.
 * Works on code points, so an astral character (a surrogate pair) is replaced as a whole.
 */
function successorOfLastCharacter(key: string): string | null {
  let end = key.length;
  while (end > 0) {
    const lastUnit = key.charCodeAt(end - 1);
    // `key` is well-formed, so a trailing low surrogate always closes a pair.
    const start = lastUnit >= 0xdc00 && lastUnit <= 0xdfff ? end - 2 : end - 1;
    const last = key.codePointAt(start)!;
    if (last < MAX_CODE_POINT) {
      const next = last === SURROGATE_START - 1 ? SURROGATE_START + SURROGATE_COUNT : last + 1;
      return key.slice(0, start) + String.fromCodePoint(next);
    }
    end = start;
  }
  return null;
}
