/**
 * Which endpoint a call should try first, and in which order the rest.
 *
 * Writes go to the leader when we know it — any node accepts a write, but a follower forwards
 * it, which costs a hop. Reads stick to the endpoint that last worked, so a client spreads no
 * connections it does not need. An endpoint that just failed goes to the back of every plan
 * for a cool-down, so one dead node costs one failed attempt, not one per call.
 *
 * The leader is learned from Status (its id, mapped to one of OUR endpoints: the address a
 * node advertises may not be the one we can reach) and forgotten when a response shows a newer
 * term or the leader's endpoint fails. Pure: the clock is injected.
 */

export type CallKind = 'read' | 'write';

export interface LeaderObservation {
  /** The endpoint that answered Status. */
  readonly endpoint: string;
  /** The member id of the node that answered. */
  readonly selfId: string;
  readonly term: number;
  /** The leader's member id; empty when the node knows none. */
  readonly leaderId: string;
  readonly members: readonly { readonly id: string; readonly address: string }[];
}

export interface EndpointSelectorOptions {
  /** How long a failed endpoint stays at the back of the plans. */
  readonly cooldownMs?: number;
  /** How often, at most, to ask the cluster who leads while no leader is known. */
  readonly rediscoverEveryMs?: number;
  readonly now?: () => number;
}

interface KnownLeader {
  readonly id: string;
  readonly term: number;
  readonly endpoint: string;
}

export class EndpointSelector {
  readonly endpoints: readonly string[];
  private readonly cooldownMs: number;
  private readonly rediscoverEveryMs: number;
  private readonly now: () => number;
  private readonly failedAt = new Map<string, number>();
  private readonly memberIdOf = new Map<string, string>();
  private current = 0;
  private leader: KnownLeader | null = null;
  private highestTerm = 0;
  private lastDiscoveryAt = Number.NEGATIVE_INFINITY;

  constructor(endpoints: readonly string[], options: EndpointSelectorOptions = {}) {
    const unique = [...new Set(endpoints.map((e) => e.trim()).filter((e) => e !== ''))];
    if (unique.length === 0) throw new RangeError('at least one endpoint (HOST:PORT) is required');
    this.endpoints = unique;
    this.cooldownMs = options.cooldownMs ?? 2_000;
    this.rediscoverEveryMs = options.rediscoverEveryMs ?? 300;
    this.now = options.now ?? Date.now;
  }

  /** Every endpoint, the preferred first; endpoints cooling down after a failure come last. */
  plan(kind: CallKind): string[] {
    const first =
      kind === 'write' && this.leader !== null ? this.leader.endpoint : this.endpoints[this.current]!;
    const start = this.endpoints.indexOf(first);
    const rotated = this.endpoints.map((_, i) => this.endpoints[(start + i) % this.endpoints.length]!);
    const now = this.now();
    const cooling = (endpoint: string) => {
      const at = this.failedAt.get(endpoint);
      return at !== undefined && now - at < this.cooldownMs;
    };
    return [...rotated.filter((e) => !cooling(e)), ...rotated.filter(cooling)];
  }

  leaderEndpoint(): string | undefined {
    return this.leader?.endpoint;
  }

  leaderId(): string | undefined {
    return this.leader?.id;
  }

  /** The member id last seen answering at `endpoint`. */
  memberIdAt(endpoint: string): string | undefined {
    return this.memberIdOf.get(endpoint);
  }

  /** The endpoint we reach member `id` at, if known. */
  endpointOf(id: string): string | undefined {
    for (const [endpoint, memberId] of this.memberIdOf) if (memberId === id) return endpoint;
    return undefined;
  }

  reportSuccess(endpoint: string, header?: { readonly memberId: string; readonly raftTerm: number }): void {
    this.failedAt.delete(endpoint);
    const index = this.endpoints.indexOf(endpoint);
    if (index >= 0) this.current = index;
    if (header === undefined) return;
    if (header.memberId !== '') this.memberIdOf.set(endpoint, header.memberId);
    this.observeTerm(header.raftTerm);
  }

  reportFailure(endpoint: string): void {
    this.failedAt.set(endpoint, this.now());
    if (this.leader?.endpoint === endpoint) this.leader = null;
    if (this.endpoints[this.current] === endpoint) this.current = (this.current + 1) % this.endpoints.length;
  }

  /** A newer term means an election happened: whoever we thought leads may not any more. */
  observeTerm(term: number): void {
    if (term <= this.highestTerm) return;
    this.highestTerm = term;
    if (this.leader !== null && this.leader.term < term) this.leader = null;
  }

  /** A node named the leader (e.g. in a NOT_LEADER refusal): prefer it for writes. */
  preferLeader(id: string, endpoint: string): void {
    if (this.endpoints.includes(endpoint)) this.leader = { id, term: this.highestTerm, endpoint };
  }

  forgetLeader(): void {
    this.leader = null;
  }

  observeStatus(status: LeaderObservation): void {
    if (status.selfId !== '') this.memberIdOf.set(status.endpoint, status.selfId);
    this.observeTerm(status.term);
    if (status.leaderId === '' || status.term < this.highestTerm) return;
    const endpoint = this.resolveMember(status.leaderId, status.members);
    if (endpoint !== undefined) this.leader = { id: status.leaderId, term: status.term, endpoint };
  }

  /** Whether a write should ask who leads first (throttled, so an election does not cause a storm). */
  discoveryDue(): boolean {
    return this.leader === null && this.now() - this.lastDiscoveryAt >= this.rediscoverEveryMs;
  }

  markDiscovery(): void {
    this.lastDiscoveryAt = this.now();
  }

  private resolveMember(
    id: string,
    members: readonly { readonly id: string; readonly address: string }[],
  ): string | undefined {
    const byIdentity = this.endpointOf(id);
    if (byIdentity !== undefined) return byIdentity;
    const advertised = members.find((m) => m.id === id)?.address;
    return advertised !== undefined && this.endpoints.includes(advertised) ? advertised : undefined;
  }
}
