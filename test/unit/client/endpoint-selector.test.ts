import { describe, expect, it } from 'vitest';
import { EndpointSelector } from '../../../src/client/endpoint-selector.js';

const A = '10.0.0.1:7001';
const B = '10.0.0.2:7001';
const C = '10.0.0.3:7001';
const members = [
  { id: 'n1', address: A },
  { id: 'n2', address: B },
  { id: 'n3', address: C },
];

function selector(now = { t: 0 }) {
  return {
    now,
    s: new EndpointSelector([A, B, C], { cooldownMs: 1_000, rediscoverEveryMs: 100, now: () => now.t }),
  };
}

describe('EndpointSelector', () => {
  it('rejects an empty list and drops duplicates and blanks', () => {
    expect(() => new EndpointSelector([])).toThrow(/at least one endpoint/);
    expect(() => new EndpointSelector([' ', ''])).toThrow(/at least one endpoint/);
    expect(new EndpointSelector([A, ` ${A} `, B, '']).endpoints).toEqual([A, B]);
  });

  it('plans every endpoint, starting from the sticky one for reads', () => {
    const { s } = selector();
    expect(s.plan('read')).toEqual([A, B, C]);
    s.reportSuccess(B);
    expect(s.plan('read')).toEqual([B, C, A]);
    expect(s.plan('write')).toEqual([B, C, A]);
  });

  it('puts a failed endpoint last until its cool-down ends', () => {
    const { s, now } = selector();
    s.reportFailure(A);
    expect(s.plan('read')).toEqual([B, C, A]);
    s.reportFailure(B);
    expect(s.plan('read')).toEqual([C, A, B]);
    now.t = 999;
    expect(s.plan('read')[0]).toBe(C);
    now.t = 1_000;
    // A's cool-down is over (B failed at the same instant, so is over too).
    expect(s.plan('read')).toContain(A);
    expect(s.plan('read')).toHaveLength(3);
    s.reportSuccess(A);
    expect(s.plan('read')[0]).toBe(A);
  });

  it('sends writes to the leader learned from a follower status, by advertised address', () => {
    const { s } = selector();
    s.observeStatus({ endpoint: A, selfId: 'n1', term: 3, leaderId: 'n3', members });
    expect(s.leaderEndpoint()).toBe(C);
    expect(s.plan('write')).toEqual([C, A, B]);
    // Reads stay where they were.
    expect(s.plan('read')[0]).toBe(A);
  });

  it('maps the leader by identity when advertised addresses are not our endpoints', () => {
    const { s } = selector();
    const internal = [
      { id: 'n1', address: 'node1:7001' },
      { id: 'n2', address: 'node2:7001' },
      { id: 'n3', address: 'node3:7001' },
    ];
    s.observeStatus({ endpoint: A, selfId: 'n1', term: 2, leaderId: 'n2', members: internal });
    expect(s.leaderEndpoint()).toBeUndefined();
    s.observeStatus({ endpoint: B, selfId: 'n2', term: 2, leaderId: 'n2', members: internal });
    expect(s.leaderEndpoint()).toBe(B);
    expect(s.endpointOf('n1')).toBe(A);
    expect(s.memberIdAt(B)).toBe('n2');
  });

  it('learns identities from response headers', () => {
    const { s } = selector();
    s.reportSuccess(C, { memberId: 'n3', raftTerm: 1 });
    expect(s.endpointOf('n3')).toBe(C);
  });

  it('forgets the leader on a newer term or when its endpoint fails', () => {
    const { s } = selector();
    s.observeStatus({ endpoint: C, selfId: 'n3', term: 4, leaderId: 'n3', members });
    expect(s.leaderEndpoint()).toBe(C);
    s.reportSuccess(A, { memberId: 'n1', raftTerm: 4 });
    expect(s.leaderEndpoint()).toBe(C);
    s.reportSuccess(A, { memberId: 'n1', raftTerm: 5 });
    expect(s.leaderEndpoint()).toBeUndefined();

    s.observeStatus({ endpoint: B, selfId: 'n2', term: 5, leaderId: 'n2', members });
    expect(s.leaderEndpoint()).toBe(B);
    s.reportFailure(B);
    expect(s.leaderEndpoint()).toBeUndefined();
  });

  it('ignores a stale status that names an old leader', () => {
    const { s } = selector();
    s.observeStatus({ endpoint: B, selfId: 'n2', term: 7, leaderId: 'n2', members });
    s.observeStatus({ endpoint: A, selfId: 'n1', term: 6, leaderId: 'n3', members });
    expect(s.leaderEndpoint()).toBe(B);
  });

  it('follows a leader named in a refusal', () => {
    const { s } = selector();
    s.preferLeader('n2', B);
    expect(s.plan('write')[0]).toBe(B);
    s.preferLeader('n9', '10.9.9.9:1');
    expect(s.plan('write')[0]).toBe(B);
  });

  it('throttles leader discovery while no leader is known', () => {
    const { s, now } = selector();
    expect(s.discoveryDue()).toBe(true);
    s.markDiscovery();
    expect(s.discoveryDue()).toBe(false);
    now.t = 100;
    expect(s.discoveryDue()).toBe(true);
    s.observeStatus({ endpoint: A, selfId: 'n1', term: 1, leaderId: 'n1', members });
    expect(s.discoveryDue()).toBe(false);
  });
});
