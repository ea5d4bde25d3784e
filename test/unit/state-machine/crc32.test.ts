import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../../src/state-machine/crc32.js';
import { SeededRandom } from '../../../src/common/prng.js';

describe('crc32 (slicing-by-8)', () => {
  it('matches zlib on every length from 0 to 64 and at any offset into a buffer', () => {
    const random = new SeededRandom(7);
    const backing = new Uint8Array(200);
    for (let i = 0; i < backing.length; i++) backing[i] = random.int(256);
    for (let offset = 0; offset < 9; offset++) {
      for (let length = 0; length <= 64; length++) {
        const view = backing.subarray(offset, offset + length);
        expect(crc32(view), `offset ${offset}, length ${length}`).toBe(zlibCrc32(view));
      }
    }
  });

  it('matches zlib on a large buffer and on the classic check value', () => {
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    expect(crc32(big)).toBe(zlibCrc32(big));
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});
