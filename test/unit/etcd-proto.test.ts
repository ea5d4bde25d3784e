import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { ApiError, noLeader, outcomeUnknown, toApiError } from '../../src/api/errors.js';
import { RejectedRequest } from '../../src/api/proto.js';
import { EtcdError, EtcdErrors, toEtcdError } from '../../src/etcd/errors.js';
import { idWords } from '../../src/etcd/ids.js';
import {
  ETCD_PROTO_LOADER_OPTIONS,
  ETCD_SERVICE_NAMES,
  etcdPackageDefinition,
  etcdProtoDir,
  etcdServiceDefinitions,
} from '../../src/etcd/proto.js';
import type {
  CompareWire,
  LeaseGrantRequestWire,
  MemberListResponseWire,
  PutRequestWire,
  RangeRequestWire,
  RequestOpWire,
  StatusResponseWire,
  TxnRequestWire,
  WatchRequestWire,
} from '../../src/etcd/wire-types.js';
import {
  CompareResult,
  CompareTarget,
  FilterType,
  SortOrder,
  SortTarget,
} from '../../src/etcd/wire-types.js';
import { ReplicaError } from '../../src/replica/errors.js';
import {
  compactedError,
  futureRevisionError,
  keyNotFound,
  sessionExists,
  sessionNotFound,
  StateMachineError,
  StateMachineErrorCode,
} from '../../src/state-machine/errors.js';

type Method = protoLoader.MethodDefinition<object, object>;

const services = etcdServiceDefinitions();

function method(service: keyof typeof services, name: string): Method {
  const found = services[service][name];
  if (found === undefined) throw new Error(`no method ${ETCD_SERVICE_NAMES[service]}/${name}`);
  return found;
}

/** Through our serializer and back, as the network would do it. */
function requestRoundTrip<T>(m: Method, value: T): T {
  return m.requestDeserialize(m.requestSerialize(value as object)) as T;
}

/**
 * The npm etcd3 client's own copy of etcd's rpc.proto (generated from etcd 3.5, a superset of
 * 3.4), loaded the way the client loads it: bytes it encodes are what a real client sends.
 */
const etcd3ProtoFile = join(
  dirname(createRequire(import.meta.url).resolve('etcd3/package.json')),
  'proto',
  'rpc.proto',
);
const theirs = protoLoader.loadSync(etcd3ProtoFile, ETCD_PROTO_LOADER_OPTIONS);

function theirMethod(service: string, name: string): Method {
  const found = (theirs[`etcdserverpb.${service}`] as protoLoader.ServiceDefinition | undefined)?.[name];
  if (found === undefined) throw new Error(`etcd3's proto has no etcdserverpb.${service}/${name}`);
  return found;
}

/** proto-loader types descriptors as `object`; messages' descriptors are DescriptorProto. */
const typeName = (definition: protoLoader.MessageTypeDefinition<object, object>): string =>
  (definition.type as { name: string }).name;

const b = (text: string): Buffer => Buffer.from(text);
const header = {
  cluster_id: '14841639068965178418',
  member_id: '10276657743932975437',
  revision: '42',
  raft_term: '7',
};

describe('etcd proto loading', () => {
  it('finds proto/etcd and defines all eight services', () => {
    expect(etcdProtoDir().endsWith(join('proto', 'etcd'))).toBe(true);
    expect(Object.keys(services).sort()).toEqual(Object.keys(ETCD_SERVICE_NAMES).sort());
    expect(etcdServiceDefinitions()).toBe(services);
    expect(method('kv', 'Range').path).toBe('/etcdserverpb.KV/Range');
    expect(method('election', 'Observe').path).toBe('/v3electionpb.Election/Observe');
    expect(method('lock', 'Unlock').path).toBe('/v3lockpb.Lock/Unlock');
  });

  it('declares the streaming shapes etcd uses', () => {
    const streams = (m: Method): [boolean, boolean] => [m.requestStream, m.responseStream];
    expect(streams(method('watch', 'Watch'))).toEqual([true, true]);
    expect(streams(method('lease', 'LeaseKeepAlive'))).toEqual([true, true]);
    expect(streams(method('maintenance', 'Snapshot'))).toEqual([false, true]);
    expect(streams(method('election', 'Observe'))).toEqual([false, true]);
    expect(streams(method('election', 'Campaign'))).toEqual([false, false]);
    expect(streams(method('kv', 'Txn'))).toEqual([false, false]);
  });

  it('has every etcdserverpb method of etcd3 3.4 at the same path, with the same streaming', () => {
    const only35 = new Set(['etcdserverpb.Maintenance/Downgrade', 'etcdserverpb.Auth/AuthStatus']);
    for (const key of ['kv', 'watch', 'lease', 'cluster', 'maintenance', 'auth'] as const) {
      const name = ETCD_SERVICE_NAMES[key];
      const their = theirs[name] as protoLoader.ServiceDefinition;
      const expected = Object.keys(their).filter((m) => !only35.has(`${name}/${m}`));
      expect(Object.keys(services[key]).sort(), name).toEqual(expected.sort());
      for (const m of expected) {
        const ours = services[key][m]!;
        const them = their[m]!;
        expect([ours.path, ours.requestStream, ours.responseStream]).toEqual([
          them.path,
          them.requestStream,
          them.responseStream,
        ]);
        expect(typeName(ours.requestType)).toBe(typeName(them.requestType));
        expect(typeName(ours.responseType)).toBe(typeName(them.responseType));
      }
    }
  });

  it('numbers and types every field of etcdserverpb, mvccpb and authpb as etcd3 does', () => {
    const ours = etcdPackageDefinition();
    interface FieldDescriptor {
      name: string;
      number: number;
      label: string;
      type: string;
      typeName: string;
    }
    interface EnumDescriptor {
      name: string;
      value: { number: number }[];
    }
    interface MessageDescriptor {
      field: FieldDescriptor[];
      oneofDecl: { name: string }[];
      enumType: EnumDescriptor[];
    }
    const field = (f: FieldDescriptor) => [f.name, f.number, f.label, f.type, f.typeName] as const;
    // Enum value names differ (etcd3 renamed NONE to None...); only the numbers reach the wire.
    const enumNumbers = (e: EnumDescriptor) => [e.name, e.value.map((v) => v.number)] as const;
    let compared = 0;
    for (const [name, definition] of Object.entries(ours)) {
      if (!('format' in definition) || !/^(etcdserverpb|mvccpb|authpb)\./.test(name)) continue;
      const their = theirs[name];
      if (their === undefined || !('format' in their)) throw new Error(`etcd3's proto has no ${name}`);
      if (definition.format === 'Protocol Buffer 3 EnumDescriptorProto') {
        expect(enumNumbers(definition.type as EnumDescriptor), name).toEqual(
          enumNumbers(their.type as EnumDescriptor),
        );
      } else {
        const mine = definition.type as MessageDescriptor;
        const them = their.type as MessageDescriptor;
        const theirFields = new Map(them.field.map((f) => [f.name, field(f)]));
        for (const f of mine.field) expect(field(f), `${name}.${f.name}`).toEqual(theirFields.get(f.name));
        expect(
          mine.oneofDecl.map((o) => o.name),
          name,
        ).toEqual(them.oneofDecl.map((o) => o.name));
        expect(mine.enumType.map(enumNumbers), name).toEqual(them.enumType.map(enumNumbers));
      }
      compared++;
    }
    // Every message and top-level enum of rpc.proto (91 + AlarmType), kv.proto (2) and
    // auth.proto (4); proto-loader lists nested enums only inside their message.
    expect(compared).toBe(98);
  });

  it('numbers the election and lock messages as etcd does', () => {
    const ours = etcdPackageDefinition();
    const fields = (name: string): string[] => {
      const definition = ours[name];
      if (definition === undefined || !('format' in definition)) throw new Error(`no message ${name}`);
      const type = definition.type as {
        field: { name: string; number: number; type: string; typeName: string }[];
      };
      return type.field.map((f) => `${f.name}=${f.number} ${f.typeName === '' ? f.type : f.typeName}`);
    };
    const headerField = 'header=1 etcdserverpb.ResponseHeader';
    expect(fields('v3electionpb.CampaignRequest')).toEqual([
      'name=1 TYPE_BYTES',
      'lease=2 TYPE_INT64',
      'value=3 TYPE_BYTES',
    ]);
    expect(fields('v3electionpb.CampaignResponse')).toEqual([headerField, 'leader=2 LeaderKey']);
    expect(fields('v3electionpb.LeaderKey')).toEqual([
      'name=1 TYPE_BYTES',
      'key=2 TYPE_BYTES',
      'rev=3 TYPE_INT64',
      'lease=4 TYPE_INT64',
    ]);
    expect(fields('v3electionpb.LeaderRequest')).toEqual(['name=1 TYPE_BYTES']);
    expect(fields('v3electionpb.LeaderResponse')).toEqual([headerField, 'kv=2 mvccpb.KeyValue']);
    expect(fields('v3electionpb.ResignRequest')).toEqual(['leader=1 LeaderKey']);
    expect(fields('v3electionpb.ResignResponse')).toEqual([headerField]);
    expect(fields('v3electionpb.ProclaimRequest')).toEqual(['leader=1 LeaderKey', 'value=2 TYPE_BYTES']);
    expect(fields('v3electionpb.ProclaimResponse')).toEqual([headerField]);
    expect(fields('v3lockpb.LockRequest')).toEqual(['name=1 TYPE_BYTES', 'lease=2 TYPE_INT64']);
    expect(fields('v3lockpb.LockResponse')).toEqual([headerField, 'key=2 TYPE_BYTES']);
    expect(fields('v3lockpb.UnlockRequest')).toEqual(['key=1 TYPE_BYTES']);
    expect(fields('v3lockpb.UnlockResponse')).toEqual([headerField]);
  });
});

describe('etcd wire shapes', () => {
  it('decodes an empty RangeRequest to defaults: empty Buffers, int64 as "0", enums as 0', () => {
    const range = method('kv', 'Range').requestDeserialize(Buffer.alloc(0)) as RangeRequestWire;
    expect(range).toEqual({
      key: Buffer.alloc(0),
      range_end: Buffer.alloc(0),
      limit: '0',
      revision: '0',
      sort_order: 0,
      sort_target: 0,
      serializable: false,
      keys_only: false,
      count_only: false,
      min_mod_revision: '0',
      max_mod_revision: '0',
      min_create_revision: '0',
      max_create_revision: '0',
    });
    expect(Buffer.isBuffer(range.key)).toBe(true);
  });

  it('round-trips a RangeRequest, int64 beyond 2^53 included', () => {
    const request: RangeRequestWire = {
      key: b('a'),
      range_end: b('b'),
      limit: '10',
      revision: '9007199254740993',
      sort_order: SortOrder.DESCEND,
      sort_target: SortTarget.MOD,
      serializable: true,
      keys_only: true,
      count_only: false,
      min_mod_revision: '1',
      max_mod_revision: '-1',
      min_create_revision: '2',
      max_create_revision: '3',
    };
    expect(requestRoundTrip(method('kv', 'Range'), request)).toEqual(request);
  });

  it('encodes a header built from id words and numbers as the decimal strings it decodes to', () => {
    // The largest 63-bit id, one with the low word's top bit set, and a small one.
    for (const id of ['9223372036854775807', '5764573153224383716', '1']) {
      const put = method('kv', 'Put');
      const fromStrings = put.responseSerialize({
        header: { cluster_id: id, member_id: id, revision: '123456', raft_term: '7' },
      });
      const fromWords = put.responseSerialize({
        header: { cluster_id: idWords(id), member_id: idWords(id), revision: 123456, raft_term: 7 },
      });
      expect(Buffer.from(fromWords).equals(Buffer.from(fromStrings))).toBe(true);
      expect(put.responseDeserialize(fromWords)).toMatchObject({
        header: { cluster_id: id, member_id: id, revision: '123456', raft_term: '7' },
      });
    }
  });

  it('passes unknown enum values through as numbers', () => {
    // sort_order (field 5, varint) = 9
    const range = method('kv', 'Range').requestDeserialize(Buffer.from([0x28, 0x09])) as RangeRequestWire;
    expect(range.sort_order).toBe(9);
  });

  it('round-trips a TxnRequest with nested RequestOp oneofs and Compares', () => {
    const put: PutRequestWire = {
      key: b('k'),
      value: b('v'),
      lease: '7587862137364356871',
      prev_kv: true,
      ignore_value: false,
      ignore_lease: false,
    };
    const txn = requestRoundTrip(method('kv', 'Txn'), {
      compare: [
        {
          result: CompareResult.EQUAL,
          target: CompareTarget.VALUE,
          key: b('k'),
          range_end: b('l'),
          value: b('x'),
        },
        { result: CompareResult.LESS, target: CompareTarget.MOD, key: b('k'), mod_revision: '0' },
        { result: CompareResult.NOT_EQUAL, target: CompareTarget.VERSION, key: b('k') },
      ],
      success: [
        { request_put: put },
        { request_delete_range: { key: b('a'), range_end: b('\0'), prev_kv: false } },
        { request_txn: { success: [{ request_range: { key: b('n'), limit: '1' } }] } },
      ],
      failure: [{}],
    }) as TxnRequestWire;

    const [value, modRevision, unset] = txn.compare as [CompareWire, CompareWire, CompareWire];
    expect(value).toEqual({
      result: 0,
      target: 3,
      key: b('k'),
      range_end: b('l'),
      value: b('x'),
      target_union: 'value',
    });
    // A oneof member set to zero is still set (proto3 oneofs keep presence).
    expect(modRevision).toMatchObject({ target_union: 'mod_revision', mod_revision: '0', range_end: b('') });
    // An unset oneof: neither the member nor the virtual field.
    expect(unset.target_union).toBeUndefined();
    expect('version' in unset).toBe(false);

    const ops = txn.success;
    expect(ops.map((op) => op.request)).toEqual(['request_put', 'request_delete_range', 'request_txn']);
    const first = ops[0]!;
    if (first.request !== 'request_put') throw new Error('expected request_put');
    expect(first.request_put).toEqual(put);
    const nested = ops[2]!;
    if (nested.request !== 'request_txn') throw new Error('expected request_txn');
    expect(nested.request_txn.compare).toEqual([]);
    expect(nested.request_txn.failure).toEqual([]);
    const inner: RequestOpWire = nested.request_txn.success[0]!;
    expect(inner.request).toBe('request_range');
    if (inner.request === 'request_range') expect(inner.request_range.limit).toBe('1');
    expect(txn.failure).toEqual([{}]);
  });

  it('round-trips WatchRequests: create_request with filters, progress, and nothing set', () => {
    const watch = method('watch', 'Watch');
    const create = requestRoundTrip<WatchRequestWire>(watch, {
      request_union: 'create_request',
      create_request: {
        key: b('a'),
        range_end: b('b'),
        start_revision: '5',
        progress_notify: true,
        filters: [FilterType.NODELETE, FilterType.NOPUT],
        prev_kv: true,
        watch_id: '3',
        fragment: true,
      },
    });
    expect(create.request_union).toBe('create_request');
    if (create.request_union === 'create_request') {
      expect(create.create_request).toEqual({
        key: b('a'),
        range_end: b('b'),
        start_revision: '5',
        progress_notify: true,
        filters: [1, 0],
        prev_kv: true,
        watch_id: '3',
        fragment: true,
      });
    }
    expect(
      requestRoundTrip<WatchRequestWire>(watch, { request_union: 'progress_request', progress_request: {} }),
    ).toEqual({ request_union: 'progress_request', progress_request: {} });
    expect(requestRoundTrip<WatchRequestWire>(watch, {})).toEqual({});
  });

  it('decodes an absent sub-message as null', () => {
    const resign = method('election', 'Resign').requestDeserialize(Buffer.alloc(0));
    expect(resign).toEqual({ leader: null });
  });
});

describe('etcd wire compatibility with the etcd3 client', () => {
  /** Encoded by etcd3's proto, decoded by ours. */
  function fromEtcd3(service: string, name: string, value: object, side: 'request' | 'response'): unknown {
    const their = theirMethod(service, name);
    const key = (
      { KV: 'kv', Watch: 'watch', Lease: 'lease', Cluster: 'cluster', Maintenance: 'maintenance' } as const
    )[service];
    if (key === undefined) throw new Error(service);
    const ours = method(key, name);
    return side === 'request'
      ? ours.requestDeserialize(their.requestSerialize(value))
      : ours.responseDeserialize(their.responseSerialize(value));
  }

  it('RangeRequest', () => {
    const range = fromEtcd3(
      'KV',
      'Range',
      {
        key: b('foo'),
        range_end: b('fop'),
        limit: '3',
        revision: '12',
        sort_order: 2,
        sort_target: 4,
        serializable: true,
        keys_only: true,
        count_only: true,
        min_mod_revision: '4',
        max_mod_revision: '5',
        min_create_revision: '6',
        max_create_revision: '7',
      },
      'request',
    ) as RangeRequestWire;
    expect(range).toEqual({
      key: b('foo'),
      range_end: b('fop'),
      limit: '3',
      revision: '12',
      sort_order: 2,
      sort_target: 4,
      serializable: true,
      keys_only: true,
      count_only: true,
      min_mod_revision: '4',
      max_mod_revision: '5',
      min_create_revision: '6',
      max_create_revision: '7',
    });
  });

  it('PutRequest', () => {
    const put: PutRequestWire = {
      key: b('k'),
      value: b('v'),
      lease: '7587862137364356871',
      prev_kv: true,
      ignore_value: true,
      ignore_lease: true,
    };
    expect(fromEtcd3('KV', 'Put', put, 'request')).toEqual(put);
  });

  it('TxnRequest', () => {
    const txn = fromEtcd3(
      'KV',
      'Txn',
      {
        compare: [
          { key: b('k'), result: 3, target: 1, create_revision: '0' },
          { key: b('k'), result: 0, target: 4, lease: '9', range_end: b('\0') },
        ],
        success: [{ request_put: { key: b('k'), value: b('v') } }],
        failure: [{ request_range: { key: b('k') } }, { request_txn: { compare: [] } }],
      },
      'request',
    ) as TxnRequestWire;
    expect(txn.compare[0]).toMatchObject({
      result: 3,
      target: 1,
      target_union: 'create_revision',
      create_revision: '0',
    });
    expect(txn.compare[1]).toMatchObject({
      target: 4,
      target_union: 'lease',
      lease: '9',
      range_end: b('\0'),
    });
    expect(txn.success[0]).toMatchObject({
      request: 'request_put',
      request_put: { key: b('k'), value: b('v') },
    });
    expect(txn.failure.map((op) => op.request)).toEqual(['request_range', 'request_txn']);
  });

  it('WatchRequest', () => {
    const create = fromEtcd3(
      'Watch',
      'Watch',
      {
        create_request: {
          key: b('a'),
          range_end: b('\0'),
          start_revision: '9',
          progress_notify: true,
          filters: [1],
          prev_kv: true,
          watch_id: '4',
          fragment: true,
        },
      },
      'request',
    ) as WatchRequestWire;
    expect(create).toEqual({
      request_union: 'create_request',
      create_request: {
        key: b('a'),
        range_end: b('\0'),
        start_revision: '9',
        progress_notify: true,
        filters: [1],
        prev_kv: true,
        watch_id: '4',
        fragment: true,
      },
    });
    expect(fromEtcd3('Watch', 'Watch', { cancel_request: { watch_id: '4' } }, 'request')).toEqual({
      request_union: 'cancel_request',
      cancel_request: { watch_id: '4' },
    });
  });

  it('LeaseGrantRequest', () => {
    const grant = fromEtcd3('Lease', 'LeaseGrant', { TTL: '30', ID: '7587862137364356871' }, 'request');
    expect(grant).toEqual({ TTL: '30', ID: '7587862137364356871' } satisfies LeaseGrantRequestWire);
  });

  it('StatusResponse', () => {
    const status: StatusResponseWire = {
      header,
      version: '3.4.0',
      dbSize: '24576',
      leader: '10276657743932975437',
      raftIndex: '1000',
      raftTerm: '7',
      raftAppliedIndex: '999',
      errors: ['memberID:1 alarm:NOSPACE '],
      dbSizeInUse: '16384',
      isLearner: true,
    };
    expect(fromEtcd3('Maintenance', 'Status', status, 'response')).toEqual(status);
    // And the other way: what we send is what etcd3 reads.
    const ours = method('maintenance', 'Status');
    expect(
      theirMethod('Maintenance', 'Status').responseDeserialize(ours.responseSerialize(status)),
    ).toMatchObject(status);
  });

  it('MemberListResponse', () => {
    const list: MemberListResponseWire = {
      header,
      members: [
        {
          ID: '18446744073709551615',
          name: 'n1',
          peerURLs: ['http://a:2380'],
          clientURLs: ['http://a:2379'],
          isLearner: false,
        },
        { ID: '1', name: '', peerURLs: ['http://b:2380'], clientURLs: [], isLearner: true },
      ],
    };
    expect(fromEtcd3('Cluster', 'MemberList', list, 'response')).toEqual(list);
    const ours = method('cluster', 'MemberList');
    expect(theirMethod('Cluster', 'MemberList').responseDeserialize(ours.responseSerialize(list))).toEqual(
      list,
    );
  });
});

describe('etcd errors', () => {
  const election = new Set<keyof typeof EtcdErrors>([
    'electionNotLeader',
    'electionNoLeader',
    'electionMissingLeaderKey',
  ]);

  it('prefixes every server message with "etcdserver: " except the election service\'s', () => {
    for (const [name, error] of Object.entries(EtcdErrors) as [keyof typeof EtcdErrors, EtcdError][]) {
      expect(error).toBeInstanceOf(EtcdError);
      if (election.has(name)) expect(error.message, name).not.toMatch(/^etcdserver: /);
      else expect(error.message, name).toMatch(/^etcdserver: /);
    }
    expect(Object.isFrozen(EtcdErrors)).toBe(true);
  });

  it("carries etcd's exact messages and codes for the ones clients act on", () => {
    const pairs = (names: (keyof typeof EtcdErrors)[]) =>
      names.map((n) => [EtcdErrors[n].code, EtcdErrors[n].message]);
    expect(
      pairs(['emptyKey', 'compacted', 'futureRev', 'leaseNotFound', 'noLeader', 'requestTooLarge']),
    ).toEqual([
      [grpc.status.INVALID_ARGUMENT, 'etcdserver: key is not provided'],
      [grpc.status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'],
      [grpc.status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'],
      [grpc.status.NOT_FOUND, 'etcdserver: requested lease not found'],
      [grpc.status.UNAVAILABLE, 'etcdserver: no leader'],
      [grpc.status.INVALID_ARGUMENT, 'etcdserver: request is too large'],
    ]);
    expect(pairs(['electionMissingLeaderKey'])).toEqual([
      [grpc.status.UNKNOWN, '"leader" field must be provided'],
    ]);
  });

  it('builds a grpc status with raftree trailers and the answering member', () => {
    const status = EtcdErrors.compacted.withTrailers({ 'raftree-compact-revision': '5' }).toStatus('n1');
    expect(status.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(status.details).toBe('etcdserver: mvcc: required revision has been compacted');
    expect(status.metadata?.get('raftree-compact-revision')).toEqual(['5']);
    expect(status.metadata?.get('raftree-member-id')).toEqual(['n1']);
    // The shared catalogue entry itself is untouched.
    expect(EtcdErrors.compacted.trailers).toEqual({});
  });

  it("maps state-machine errors to etcd's", () => {
    expect(toEtcdError(compactedError(3, 10)).is(EtcdErrors.compacted)).toBe(true);
    expect(toEtcdError(compactedError(3, 10)).trailers).toEqual({ 'raftree-compact-revision': '10' });
    expect(toEtcdError(futureRevisionError(30, 10)).is(EtcdErrors.futureRev)).toBe(true);
    expect(toEtcdError(sessionNotFound(5, 'cannot put "k"')).is(EtcdErrors.leaseNotFound)).toBe(true);
    expect(toEtcdError(sessionExists(5)).is(EtcdErrors.leaseExist)).toBe(true);
    expect(toEtcdError(keyNotFound('k')).is(EtcdErrors.keyNotFound)).toBe(true);
    const duplicate = new StateMachineError(
      StateMachineErrorCode.DuplicateKey,
      'duplicate key given in txn request: x',
    );
    expect(toEtcdError(duplicate).is(EtcdErrors.duplicateKey)).toBe(true);
    const invalid = toEtcdError(
      new StateMachineError(StateMachineErrorCode.InvalidArgument, 'limit must be >= 0'),
    );
    expect([invalid.code, invalid.message]).toEqual([grpc.status.INVALID_ARGUMENT, 'limit must be >= 0']);
  });

  it('recognises state-machine errors the API layer already converted', () => {
    // What proposeCommand and the coordination helpers throw for the same conditions.
    expect(toEtcdError(toApiError(compactedError(3, 10), 'read')).is(EtcdErrors.compacted)).toBe(true);
    expect(toEtcdError(toApiError(futureRevisionError(30, 10), 'read')).is(EtcdErrors.futureRev)).toBe(true);
    expect(
      toEtcdError(toApiError(sessionNotFound(5, 'cannot put "k"'), 'write')).is(EtcdErrors.leaseNotFound),
    ).toBe(true);
    // The real duplicate-key text comes from the state machine's txn validation.
    const duplicate = new StateMachineError(
      StateMachineErrorCode.DuplicateKey,
      'duplicate key given in txn request: the success branch writes "k" more than once',
    );
    expect(toEtcdError(toApiError(duplicate, 'write')).is(EtcdErrors.duplicateKey)).toBe(true);
    expect(toEtcdError(noLeader()).is(EtcdErrors.noLeader)).toBe(true);
    const lost = toEtcdError(toApiError(new ReplicaError('LEADERSHIP_LOST', 'lost'), 'write'));
    expect(lost.is(EtcdErrors.leaderChanged)).toBe(true);
    expect(lost.trailers['raftree-outcome']).toBe('unknown');
    const late = toEtcdError(outcomeUnknown(grpc.status.DEADLINE_EXCEEDED, 'the deadline passed'));
    expect(late.is(EtcdErrors.timeout)).toBe(true);
    // No etcd equivalent: raftree's code, message and trailers stand.
    const other = toEtcdError(
      new ApiError(grpc.status.UNAVAILABLE, 'could not reach the leader; retry', { a: 'b' }),
    );
    expect([other.code, other.message, other.trailers]).toEqual([
      grpc.status.UNAVAILABLE,
      'could not reach the leader; retry',
      { a: 'b' },
    ]);
  });

  it("maps replica errors to etcd's", () => {
    expect(toEtcdError(new ReplicaError('NO_LEADER', 'x')).is(EtcdErrors.noLeader)).toBe(true);
    expect(toEtcdError(new ReplicaError('NOT_LEADER', 'x', 'n2')).is(EtcdErrors.leaderChanged)).toBe(true);
    expect(toEtcdError(new ReplicaError('NOT_LEADER', 'x', null)).is(EtcdErrors.noLeader)).toBe(true);
    expect(toEtcdError(new ReplicaError('TIMEOUT', 'x')).is(EtcdErrors.timeout)).toBe(true);
    expect(toEtcdError(new ReplicaError('STOPPED', 'x')).is(EtcdErrors.stopped)).toBe(true);
    expect(toEtcdError(new ReplicaError('REJECTED', 'a change is pending')).code).toBe(
      grpc.status.FAILED_PRECONDITION,
    );
  });

  it('maps rejected request bytes and unknown errors', () => {
    expect(
      toEtcdError(new RejectedRequest(grpc.status.RESOURCE_EXHAUSTED, 'too big')).is(
        EtcdErrors.requestTooLarge,
      ),
    ).toBe(true);
    const unknown = toEtcdError(new TypeError('boom'));
    expect([unknown.code, unknown.message]).toEqual([grpc.status.INTERNAL, 'internal error: boom']);
    expect(toEtcdError(EtcdErrors.noSpace)).toBe(EtcdErrors.noSpace);
  });
});
