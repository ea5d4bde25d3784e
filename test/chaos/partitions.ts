/**
 * Network partitions as sets of cut DIRECTED links ("a>b": a's traffic to b is lost; a's
 * connections to b carry both a's requests and b's replies on them, so cutting a>b silences
 * everything a initiates towards b, while b's own connections to a still work).
 */

/** "a>b". */
export type LinkId = `${string}>${string}`;

export const linkId = (from: string, to: string): LinkId => `${from}>${to}`;

export interface Partition {
  readonly kind: 'isolate' | 'split' | 'bridge' | 'one-way-in' | 'one-way-out';
  /** For a person: "n1 | n2 n3". */
  readonly description: string;
  readonly cut: ReadonlySet<LinkId>;
}

/** Cuts every link between two different groups (both directions). */
function cutBetween(groups: readonly (readonly string[])[]): Set<LinkId> {
  const cut = new Set<LinkId>();
  groups.forEach((group, i) =>
    groups.forEach((other, j) => {
      if (i === j) return;
      for (const a of group) for (const b of other) cut.add(linkId(a, b));
    }),
  );
  return cut;
}

/** `node` can neither send to nor hear from anyone. */
export function isolate(nodes: readonly string[], node: string): Partition {
  const rest = nodes.filter((n) => n !== node);
  return { kind: 'isolate', description: `${node} | ${rest.join(' ')}`, cut: cutBetween([[node], rest]) };
}

/** Two sides that cannot talk (e.g. a majority and a minority). */
export function split(minority: readonly string[], majority: readonly string[]): Partition {
  return {
    kind: 'split',
    description: `${minority.join(' ')} | ${majority.join(' ')}`,
    cut: cutBetween([minority, majority]),
  };
}

/**
 * `bridge` talks to everyone, the two halves do not talk to each other: no side has a
 * majority without the bridge, and the bridge sees two sides that may each elect... nothing
 * without it. The classic stress for elections and leases.
 */
export function bridge(nodes: readonly string[], bridgeNode: string): Partition {
  const rest = nodes.filter((n) => n !== bridgeNode);
  const half = Math.ceil(rest.length / 2);
  const left = rest.slice(0, half);
  const right = rest.slice(half);
  return {
    kind: 'bridge',
    description: `${left.join(' ')} <${bridgeNode}> ${right.join(' ')}`,
    cut: cutBetween([left, right]),
  };
}

/** `node` hears nobody (its outgoing links work): it keeps sending, e.g. heartbeats it cannot confirm. */
export function deafen(nodes: readonly string[], node: string): Partition {
  const cut = new Set<LinkId>(nodes.filter((n) => n !== node).map((n) => linkId(n, node)));
  return { kind: 'one-way-in', description: `→✕ ${node} (hears nobody)`, cut };
}

/** Nobody hears `node` (its incoming links work). */
export function silence(nodes: readonly string[], node: string): Partition {
  const cut = new Set<LinkId>(nodes.filter((n) => n !== node).map((n) => linkId(node, n)));
  return { kind: 'one-way-out', description: `${node} ✕→ (heard by nobody)`, cut };
}

/** Every directed link between distinct nodes. */
export function allLinks(nodes: readonly string[]): LinkId[] {
  return nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => linkId(a, b)));
}
