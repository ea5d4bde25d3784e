/**
 * Tightens the intervals of unknown-outcome writes using what later operations observed,
 * without changing which histories are linearizable.
 *
 * The workload writes every value once per key. So when an `ok` operation observed a value
 * (a get returned it, or a compare-and-set expecting it succeeded), the unknown write of that
 * value certainly happened, and before the observer took effect — hence before the observer
 * returned. Its return time becomes the earliest such return, and a compare-and-set also gets
 * the outcome `succeeded` (the only way its value could appear). Without this, each unknown
 * write stays open until the end of the history and the search must consider it everywhere.
 */
import type { Operation } from './history.js';
import type { KvInput, KvOutput } from './kv-model.js';

export type KvOperation = Operation<KvInput, KvOutput>;

export interface PatchResult {
  readonly operations: KvOperation[];
  /** Unknown writes bounded by an observation. */
  readonly bounded: number;
  /** Values written more than once to the same key (the patch skips them). */
  readonly duplicateValues: number;
}

export function boundUnknownWrites(operations: readonly KvOperation[]): PatchResult {
  const writesOfValue = new Map<string, number>();
  const writeKey = (key: string, value: string) => `${key}\u0000${value}`;
  for (const o of operations) {
    if (o.input.f === 'put' || o.input.f === 'cas') {
      const k = writeKey(o.input.key, o.input.value);
      writesOfValue.set(k, (writesOfValue.get(k) ?? 0) + 1);
    }
  }
  const firstObservedAt = new Map<string, number>();
  const observe = (key: string, value: string | null, at: number) => {
    if (value === null) return;
    const k = writeKey(key, value);
    firstObservedAt.set(k, Math.min(at, firstObservedAt.get(k) ?? Infinity));
  };
  for (const o of operations) {
    if (o.output === undefined) continue;
    if (o.input.f === 'get' && o.output.f === 'get') observe(o.input.key, o.output.value, o.return);
    if (o.input.f === 'cas' && o.output.f === 'cas' && o.output.succeeded) {
      observe(o.input.key, o.input.expected, o.return);
    }
  }
  let bounded = 0;
  const patched = operations.map((o): KvOperation => {
    if (o.output !== undefined || (o.input.f !== 'put' && o.input.f !== 'cas')) return o;
    const k = writeKey(o.input.key, o.input.value);
    if (writesOfValue.get(k) !== 1) return o;
    const observedAt = firstObservedAt.get(k);
    // An observer that returned before this write was even called is a violation; leave the
    // write open so the search reports it rather than this patch hiding it.
    if (observedAt === undefined || observedAt < o.call) return o;
    bounded++;
    const output: KvOutput = o.input.f === 'cas' ? { f: 'cas', succeeded: true } : { f: 'put' };
    return { ...o, return: observedAt, output };
  });
  const duplicateValues = [...writesOfValue.values()].filter((count) => count > 1).length;
  return { operations: patched, bounded, duplicateValues };
}
