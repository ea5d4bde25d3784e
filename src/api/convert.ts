/** State-machine results and events in their wire shapes. */
import type {
  ChildEntry,
  DeleteResult,
  KeyValue,
  PutResult,
  RangeResult,
  TxnOpResult,
  TxnResult,
  WatchEvent,
} from '../state-machine/index.js';
import {
  EventTypeWire,
  type ChildWire,
  type DeleteResponseWire,
  type EventWire,
  type KeyValueWire,
  type PutResponseWire,
  type RangeResponseWire,
  type ResponseHeaderWire,
  type ResponseOpWire,
  type TxnResponseWire,
} from './wire-types.js';

export function kvToWire(kv: KeyValue): KeyValueWire {
  return {
    key: kv.key,
    value: kv.value,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  };
}

function childToWire(child: ChildEntry): ChildWire {
  return { name: child.name, key: child.key, hasKey: child.hasKey, kv: child.kv ? kvToWire(child.kv) : null };
}

export function rangeToWire(result: RangeResult, header: ResponseHeaderWire): RangeResponseWire {
  return {
    header,
    kvs: result.kvs.map(kvToWire),
    count: result.count,
    more: result.more,
    children: result.children?.map(childToWire) ?? [],
  };
}

export function putToWire(result: PutResult, header: ResponseHeaderWire): PutResponseWire {
  return { header, prevKv: result.prevKv ? kvToWire(result.prevKv) : null };
}

export function deleteToWire(result: DeleteResult, header: ResponseHeaderWire): DeleteResponseWire {
  return { header, deleted: result.deleted, prevKvs: result.prevKvs?.map(kvToWire) ?? [] };
}

function txnOpToWire(result: TxnOpResult, header: ResponseHeaderWire): ResponseOpWire {
  switch (result.type) {
    case 'range':
      return { range: rangeToWire(result, header) };
    case 'put':
      return { put: putToWire(result, header) };
    case 'delete':
    case 'deleteRange':
    case 'deleteInterval':
      return { delete: deleteToWire(result, header) };
    case 'txn':
      // The native TxnRequest has no nested txn op, so its results never hold one.
      throw new Error('a native txn produced a nested txn result');
  }
}

export function txnToWire(result: TxnResult, header: ResponseHeaderWire): TxnResponseWire {
  return {
    header,
    succeeded: result.succeeded,
    responses: result.responses.map((r) => txnOpToWire(r, header)),
  };
}

export function eventToWire(event: WatchEvent): EventWire {
  const type = event.type === 'put' ? EventTypeWire.PUT : EventTypeWire.DELETE;
  return event.prevKv
    ? { type, kv: kvToWire(event.kv), prevKv: kvToWire(event.prevKv) }
    : { type, kv: kvToWire(event.kv) };
}

/** Rough encoded size of an event, for keeping watch responses to a sensible size. */
export function eventSize(event: WatchEvent): number {
  const kvSize = (kv: KeyValue): number => kv.key.length * 3 + kv.value.length + 40;
  return kvSize(event.kv) + (event.prevKv ? kvSize(event.prevKv) : 0);
}
