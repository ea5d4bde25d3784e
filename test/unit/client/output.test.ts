import { describe, expect, it } from 'vitest';
import { KeyValue, type EndpointStatus, type GetResult, type NodeStatus } from '../../../src/client/index.js';
import {
  clusterStatusHuman,
  clusterStatusJson,
  deleteJson,
  getHuman,
  getJson,
  putJson,
  renderTable,
  txnJson,
  watchEventHuman,
  watchEventJson,
} from '../../../src/cli/output.js';

const header = { clusterId: 'c', memberId: 'n1', revision: 9, raftTerm: 2 };
const kv = (key: string, value: string | Uint8Array, rev = 3) =>
  new KeyValue(key, typeof value === 'string' ? Buffer.from(value) : value, 2, rev, 1);
const get = (over: Partial<GetResult> = {}): GetResult => ({
  header,
  revision: 9,
  kvs: [kv('/a', 'hello')],
  count: 1,
  more: false,
  children: [],
  ...over,
});

describe('--json shapes', () => {
  it('get: revision and kvs, keys in the documented order', () => {
    const json = getJson(get());
    expect(JSON.stringify(json)).toBe(
      '{"revision":9,"kvs":[{"key":"/a","value":"hello","createRevision":2,"modRevision":3,"version":1}]}',
    );
  });

  it('get --base64 encodes values; --count-only gives the count', () => {
    const binary = get({ kvs: [kv('/b', new Uint8Array([0, 255, 1]))] });
    expect(getJson(binary, { encoding: 'base64' })).toMatchObject({ kvs: [{ value: 'AP8B' }] });
    expect(getJson(get({ count: 7 }), { countOnly: true })).toEqual({ revision: 9, count: 7 });
  });

  it('get --children lists the children that are keys as kvs, and every child name', () => {
    const children = get({
      kvs: [],
      children: [
        { name: 'a', key: '/p/a', hasKey: true, kv: kv('/p/a', '1') },
        { name: 'b', key: '/p/b', hasKey: false },
      ],
    });
    expect(getJson(children, { children: true })).toEqual({
      revision: 9,
      kvs: [{ key: '/p/a', value: '1', createRevision: 2, modRevision: 3, version: 1 }],
      children: [
        { name: 'a', key: '/p/a', hasKey: true },
        { name: 'b', key: '/p/b', hasKey: false },
      ],
    });
    expect(getHuman(children)).toBe('/p/a\n1\n/p/b/\n');
  });

  it('put, del and txn', () => {
    expect(JSON.stringify(putJson({ header, revision: 4 }))).toBe('{"revision":4}');
    expect(JSON.stringify(deleteJson({ header, revision: 5, deleted: 2, prevKvs: [] }))).toBe(
      '{"revision":5,"deleted":2}',
    );
    expect(
      txnJson({
        header,
        revision: 6,
        succeeded: false,
        responses: [
          { type: 'get', result: get() },
          { type: 'put', result: { header, revision: 6 } },
          { type: 'delete', result: { header, revision: 6, deleted: 1, prevKvs: [] } },
        ],
      }),
    ).toEqual({
      revision: 6,
      succeeded: false,
      responses: [
        {
          type: 'get',
          revision: 9,
          kvs: [{ key: '/a', value: 'hello', createRevision: 2, modRevision: 3, version: 1 }],
        },
        { type: 'put', revision: 6 },
        { type: 'delete', deleted: 1 },
      ],
    });
  });

  it('watch events, with prevValue only when asked for', () => {
    const event = { type: 'put' as const, key: '/a', revision: 3, kv: kv('/a', 'new') };
    expect(JSON.stringify(watchEventJson(event))).toBe(
      '{"type":"put","key":"/a","value":"new","modRevision":3,"createRevision":2,"version":1}',
    );
    expect(watchEventJson({ ...event, prevKv: kv('/a', 'old', 2) })).toMatchObject({ prevValue: 'old' });
    const deletion = {
      type: 'delete' as const,
      key: '/a',
      revision: 4,
      kv: new KeyValue('/a', new Uint8Array(), 0, 4, 0),
    };
    expect(watchEventJson(deletion)).toEqual({
      type: 'delete',
      key: '/a',
      value: '',
      modRevision: 4,
      createRevision: 0,
      version: 0,
    });
    expect(watchEventHuman(event)).toBe('[rev 3] PUT /a = new\n');
    expect(watchEventHuman({ ...deletion, prevKv: kv('/a', 'old') })).toBe('[rev 4] DELETE /a (was old)\n');
  });
});

describe('human output', () => {
  it('get prints key and value lines, or keys only, or the count', () => {
    const two = get({ kvs: [kv('/a', '1'), kv('/b', '2')], count: 2 });
    expect(getHuman(two)).toBe('/a\n1\n/b\n2\n');
    expect(getHuman(two, { keysOnly: true })).toBe('/a\n/b\n');
    expect(getHuman(two, { countOnly: true })).toBe('2\n');
    expect(getHuman(get({ kvs: [] }))).toBe('');
  });

  it('renders aligned tables', () => {
    expect(
      renderTable(
        ['ID', 'ROLE'],
        [
          ['n1', 'leader'],
          ['node-22', 'follower'],
        ],
      ),
    ).toBe('ID       ROLE\nn1       leader\nnode-22  follower\n');
  });
});

describe('cluster status', () => {
  const status = (id: string, role: string): NodeStatus => ({
    header,
    endpoint: `127.0.0.1:${id === 'n1' ? 1 : 2}`,
    id,
    address: `127.0.0.1:${id === 'n1' ? 1 : 2}`,
    role,
    term: 3,
    leader: 'n1',
    commitIndex: 10,
    appliedIndex: 9,
    snapshotIndex: 0,
    members: [],
    progress:
      role === 'leader' ? [{ id: 'n2', match: 10, next: 11, state: 'replicate', recentActive: true }] : [],
    keys: 1,
    version: '0.1.0',
  });
  const statuses: EndpointStatus[] = [
    { endpoint: '127.0.0.1:1', ok: true, status: status('n1', 'leader') },
    { endpoint: '127.0.0.1:2', ok: true, status: status('n2', 'follower') },
    { endpoint: '127.0.0.1:3', ok: false, error: new Error('status: UNAVAILABLE\ncannot connect') },
  ];

  it('JSON: one object per endpoint, unreachable ones with an error', () => {
    const json = clusterStatusJson(statuses);
    expect(json[0]).toEqual({
      id: 'n1',
      address: '127.0.0.1:1',
      role: 'leader',
      term: 3,
      leader: 'n1',
      commitIndex: 10,
      appliedIndex: 9,
    });
    expect(json[2]).toEqual({
      id: null,
      address: '127.0.0.1:3',
      role: null,
      term: null,
      leader: null,
      commitIndex: null,
      appliedIndex: null,
      error: 'status: UNAVAILABLE cannot connect',
    });
  });

  it('table: a row per endpoint and the errors below', () => {
    const text = clusterStatusHuman(statuses);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ADDRESS\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+LEADER\s+PROGRESS$/);
    expect(lines[1]).toMatch(/^n1\s+127\.0\.0\.1:1\s+leader\s+3\s+10\s+9\s+n1\s+n2:10$/);
    expect(lines[2]).toMatch(/^n2\s+127\.0\.0\.1:2\s+follower\s+3\s+10\s+9\s+n1\s+-$/);
    expect(lines[3]).toMatch(/^-\s+127\.0\.0\.1:3\s+unreachable/);
    expect(lines[5]).toBe('127.0.0.1:3: status: UNAVAILABLE cannot connect');
  });
});
