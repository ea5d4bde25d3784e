/** A fixed-size set of small integers, for "which operations are linearized so far". */
export class Bitset {
  private readonly words: Uint32Array;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }

  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }

  has(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** An exact, compact text form (for the exact memo). */
  key(): string {
    let text = '';
    for (const word of this.words) text += word.toString(36) + ',';
    return text;
  }
}
