import { makeInstance, type Instance, type InstanceInit } from '../../../src/client/balancer/index.js';

/** `count` healthy instances named a, b, c... (or node-0, node-1... beyond 26). */
export function instances(count: number, overrides: Partial<InstanceInit>[] = []): Instance[] {
  return Array.from({ length: count }, (_, index) =>
    makeInstance({
      id: count <= 26 ? String.fromCharCode(97 + index) : `node-${index}`,
      host: `10.0.0.${index + 1}`,
      port: 8080,
      ...overrides[index],
    }),
  );
}

/** How often each id was picked in `picks` picks. */
export function tally(pick: () => Instance | undefined, picks: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const chosen = pick();
    if (chosen === undefined) throw new Error('pick returned undefined');
    counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1);
  }
  return counts;
}

export function ids(picked: readonly (Instance | undefined)[]): string {
  return picked.map((instance) => instance?.id ?? '-').join(' ');
}

/** Keys shaped like client IPv4 addresses, deterministic. */
export function ipKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
}
