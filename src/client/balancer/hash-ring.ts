import type { HashFunction } from './hash.js';

export interface RingMember {
  readonly id: string;
  /** Points on the ring; more points, a larger share of the keys. */
  readonly virtualNodes: number;
}

/**
 * A consistent-hash ring: every member owns `virtualNodes` points hash("id#i"), and a key
 * belongs to the first point at or after hash(key), wrapping around. A member's points do not
 * depend on who else is on the ring, so adding or removing one member moves only the keys that
 * land on its points — about 1/N of them.
 */
export class HashRing {
  private readonly points: Uint32Array;
  private readonly owners: readonly string[];

  constructor(
    members: readonly RingMember[],
    private readonly hash: HashFunction,
  ) {
    const entries: { point: number; owner: string }[] = [];
    for (const member of members) {
      for (let replica = 0; replica < member.virtualNodes; replica++) {
        entries.push({ point: hash(`${member.id}#${replica}`), owner: member.id });
      }
    }
    // Ties between two members' points are astronomically rare; ordering them by id keeps the
    // ring identical whichever order the members were listed in.
    entries.sort((a, b) => a.point - b.point || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
    this.points = Uint32Array.from(entries, (entry) => entry.point);
    this.owners = entries.map((entry) => entry.owner);
  }

  get size(): number {
    return this.points.length;
  }

  /** The id of the member that owns `key`, or undefined for an empty ring. */
  ownerOf(key: string): string | undefined {
    if (this.points.length === 0) return undefined;
    const target = this.hash(key);
    // Binary search for the first point >= target.
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.points[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return this.owners[low === this.points.length ? 0 : low];
  }
}
