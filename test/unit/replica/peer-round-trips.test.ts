import { describe, expect, it } from 'vitest';
import { PeerRoundTrips } from '../../../src/replica/peer-round-trips.js';
import { EntryType, type AppendRequest, type Entry, type Message } from '../../../src/raft/types.js';

const TERM = 3;

function entries(first: number, last: number): Entry[] {
  const list: Entry[] = [];
  for (let index = first; index <= last; index++)
    list.push({ index, term: TERM, type: EntryType.Normal, data: new Uint8Array(1) });
  return list;
}

function append(to: string, first: number, last: number, term = TERM): AppendRequest {
  return {
    type: 'append',
    from: 'a',
    to,
    term,
    prevLogIndex: first - 1,
    prevLogTerm: TERM,
    entries: entries(first, last),
    commit: 0,
  };
}

function ack(from: string, index: number, reject = false, term = TERM): Message {
  return { type: 'appendResp', from, to: 'a', term, reject, index, rejectHintIndex: 0, rejectHintTerm: 0 };
}

function heartbeat(to: string, readContext = 0): Message {
  return { type: 'heartbeat', from: 'a', to, term: TERM, commit: 0, readContext };
}

function heartbeatAnswer(from: string, readContext = 0): Message {
  return { type: 'heartbeatResp', from, to: 'a', term: TERM, readContext };
}

function tracker() {
  let now = 0;
  const appends: [string, number][] = [];
  const heartbeats: [string, number][] = [];
  const trips = new PeerRoundTrips(() => now, {
    onAppend: (peer, ms) => appends.push([peer, ms]),
    onHeartbeat: (peer, ms) => heartbeats.push([peer, ms]),
  });
  return {
    trips,
    appends,
    heartbeats,
    at(ms: number) {
      now = ms;
    },
  };
}

describe('PeerRoundTrips', () => {
  it('times each pipelined append to the acknowledgement that covers its last entry', () => {
    const t = tracker();
    t.at(10);
    t.trips.sent([append('b', 1, 2), append('c', 1, 2)]);
    t.at(11);
    t.trips.sent([append('b', 3, 3)]);
    t.at(12.5);
    t.trips.received(ack('b', 2)); // covers the first append to b only
    expect(t.appends).toEqual([['b', 2.5]]);
    t.at(14);
    t.trips.received(ack('b', 3));
    t.trips.received(ack('c', 2));
    expect(t.appends).toEqual([
      ['b', 2.5],
      ['b', 3],
      ['c', 4],
    ]);
    t.trips.received(ack('b', 3)); // already settled: nothing more to time
    expect(t.appends).toHaveLength(3);
  });

  it('settles every append an acknowledgement covers at once', () => {
    const t = tracker();
    t.at(0);
    t.trips.sent([append('b', 1, 1)]);
    t.at(1);
    t.trips.sent([append('b', 2, 4)]);
    t.at(5);
    t.trips.received(ack('b', 4));
    expect(t.appends).toEqual([
      ['b', 5],
      ['b', 4],
    ]);
  });

  it('does not time appends without entries', () => {
    const t = tracker();
    t.trips.sent([{ ...append('b', 1, 1), entries: [] }]);
    t.at(3);
    t.trips.received(ack('b', 1));
    expect(t.appends).toEqual([]);
  });

  it('forgets a follower pipeline on a rejection, and answers from another term', () => {
    const t = tracker();
    t.trips.sent([append('b', 5, 6)]);
    t.trips.received(ack('b', 5, true));
    t.trips.received(ack('b', 6));
    expect(t.appends).toEqual([]);
    t.trips.sent([append('b', 7, 7)]);
    t.trips.received(ack('b', 7, false, TERM + 1));
    expect(t.appends).toEqual([]);
  });

  it('forgets everything in flight on reset', () => {
    const t = tracker();
    t.trips.sent([append('b', 1, 1), heartbeat('c')]);
    t.trips.reset();
    t.at(2);
    t.trips.received(ack('b', 1));
    t.trips.received(heartbeatAnswer('c'));
    expect(t.appends).toEqual([]);
    expect(t.heartbeats).toEqual([]);
  });

  it('times a heartbeat to its first answer with the same read context', () => {
    const t = tracker();
    t.at(100);
    t.trips.sent([heartbeat('b', 7), heartbeat('c')]);
    t.at(104);
    t.trips.received(heartbeatAnswer('b', 6)); // answers an earlier ReadIndex round
    t.trips.received(heartbeatAnswer('c'));
    t.at(109);
    t.trips.received(heartbeatAnswer('b', 7));
    t.trips.received(heartbeatAnswer('c')); // a second answer is not a second round trip
    expect(t.heartbeats).toEqual([
      ['c', 4],
      ['b', 9],
    ]);
  });

  it('keeps at most 1024 appends per follower when no answer comes', () => {
    const t = tracker();
    for (let i = 1; i <= 1100; i++) t.trips.sent([append('b', i, i)]);
    t.at(1);
    t.trips.received(ack('b', 1100));
    expect(t.appends).toHaveLength(1024);
  });
});
