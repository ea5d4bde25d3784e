import type { SeededRandom } from '../../src/common/prng.js';
import type { Message, NodeId } from '../../src/raft/types.js';

export interface NetworkFaults {
  loss: number;
  duplication: number;
  delayMinMs: number;
  delayMaxMs: number;
}

/**
 * The simulated network: every message gets its own random delay (so messages reorder),
 * may be lost or duplicated, and is dropped on a cut link, both when sent and when it would
 * arrive. Cuts are directed, so one-way partitions are just single cuts.
 */
export class SimNetwork {
  private readonly inFlight = new Map<number, Message[]>();
  private readonly cuts = new Set<string>();
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly rng: SeededRandom,
    public faults: NetworkFaults,
  ) {}

  send(m: Message, now: number): void {
    if (this.isCut(m.from, m.to) || this.rng.chance(this.faults.loss)) {
      this.dropped++;
      return;
    }
    this.schedule(m, now);
    if (this.rng.chance(this.faults.duplication)) this.schedule(m, now);
  }

  private schedule(m: Message, now: number): void {
    const at = now + this.rng.between(this.faults.delayMinMs, this.faults.delayMaxMs);
    const bucket = this.inFlight.get(at);
    if (bucket) bucket.push(m);
    else this.inFlight.set(at, [m]);
  }

  /** Messages arriving at `now`, minus those whose link was cut meanwhile. */
  arrivals(now: number): Message[] {
    const bucket = this.inFlight.get(now);
    if (!bucket) return [];
    this.inFlight.delete(now);
    const out: Message[] = [];
    for (const m of bucket) {
      if (this.isCut(m.from, m.to)) this.dropped++;
      else out.push(m);
    }
    this.delivered += out.length;
    return out;
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.size > 0 && this.cuts.has(`${from}>${to}`);
  }

  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
  }

  /** Cut every link between the two groups, both ways. */
  split(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.cut(x, y);
        this.cut(y, x);
      }
    }
  }

  heal(): void {
    this.cuts.clear();
  }

  describeCuts(): string {
    return [...this.cuts].sort().join(' ');
  }
}
