/** The Watch serializer that encodes each event once must produce proto-loader's exact bytes. */
import { describe, expect, it } from 'vitest';
import { etcdServiceDefinitions } from '../../src/etcd/proto.js';
import { eventToWire, watchResponse, watchResponseSerializer } from '../../src/etcd/watch-codec.js';
import type { WatchResponseWire } from '../../src/etcd/wire-types.js';
import type { KeyValue, WatchEvent } from '../../src/state-machine/index.js';

const kv = (key: string, value: string, modRevision: number, extra: Partial<KeyValue> = {}): KeyValue => ({
  key,
  value: new TextEncoder().encode(value),
  createRevision: 3,
  modRevision,
  version: 2,
  session: 0,
  ...extra,
});

const put: WatchEvent = { type: 'put', kv: kv('/a/ключ', 'v'.repeat(300), 2 ** 40, { session: 77 }) };
const withPrev: WatchEvent = { type: 'put', kv: kv('/a/b', 'new', 9), prevKv: kv('/a/b', 'old', 8) };
const deleted: WatchEvent = {
  type: 'delete',
  kv: { key: '/a/c', value: new Uint8Array(0), createRevision: 0, modRevision: 10, version: 0, session: 0 },
};

const HEADER = {
  cluster_id: '14841639068965178418',
  member_id: '10276657743932975437',
  revision: '10',
  raft_term: '3',
};
const response = (fields: Partial<WatchResponseWire>): WatchResponseWire =>
  watchResponse({ header: HEADER, watch_id: '0', ...fields });

describe('watch response serializer', () => {
  const original = etcdServiceDefinitions().watch['Watch']!.responseSerialize as (value: object) => Buffer;
  const serialize = watchResponseSerializer();

  it.each([
    ['created', response({ watch_id: '7', created: true })],
    [
      'canceled',
      response({
        watch_id: '-1',
        canceled: true,
        compact_revision: '5',
        cancel_reason: 'mvcc: required revision has been compacted',
      }),
    ],
    ['one put', response({ watch_id: '3', events: [eventToWire(put)] })],
    [
      'mixed, fragment',
      response({ watch_id: '3', fragment: true, events: [put, withPrev, deleted].map(eventToWire) }),
    ],
    ['progress, header at revision 0', watchResponse({ header: { ...HEADER, revision: '0' }, watch_id: '4' })],
  ])('%s: same bytes as proto-loader', (_name, wire) => {
    expect(Buffer.compare(serialize(wire), original(wire))).toBe(0);
    // Again: now from the per-event cache.
    expect(Buffer.compare(serialize(wire), original(wire))).toBe(0);
  });

  it('gives each response that shares one header object the bytes proto-loader gives it', () => {
    const shared = { ...HEADER, revision: '11' };
    for (const id of ['1', '2', '300']) {
      const wire = watchResponse({ header: shared, watch_id: id, events: [eventToWire(put)] });
      expect(Buffer.compare(serialize(wire), original(wire))).toBe(0);
    }
  });

  it('shares one wire object per hub event', () => {
    expect(eventToWire(withPrev)).toBe(eventToWire(withPrev));
    expect(eventToWire(withPrev).prev_kv?.value.toString()).toBe('old');
  });
});
