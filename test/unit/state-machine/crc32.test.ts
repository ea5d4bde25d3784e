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

  it('continues a previous CRC like zlib: piece by piece equals all at once', () => {
    const random = new SeededRandom(11);
    const data = new Uint8Array(5_000);
    for (let i = 0; i < data.length; i++) data[i] = random.int(256);
    for (const cuts of [[0], [1, 2, 3], [7, 1000, 1001, 4999], [2500]]) {
      let crc = 0;
      let from = 0;
      for (const to of [...cuts, data.length]) {
        const piece = data.subarray(from, to);
        expect(crc32(piece, crc)).toBe(zlibCrc32(piece, crc));
        crc = crc32(piece, crc);
        from = to;
      }
      expect(crc, `cuts ${cuts.join(',')}`).toBe(zlibCrc32(data));
    }
  });
});
