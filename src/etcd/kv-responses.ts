/** raftree results as etcd KV responses, including the filter / sort / limit etcd applies to ranges. */
import { Buffer } from 'node:buffer';
import type {
  DeleteResult,
  KeyValue,
  PutResult,
  RangeResult,
  TxnOpResult,
  TxnResult,
} from '../state-machine/index.js';
import { compareKeys } from '../state-machine/paths.js';
import { compareBytes } from '../state-machine/txn.js';
import type { RangeShaping, TxnPlanWire } from './kv-requests.js';
import {
  SortOrder,
  SortTarget,
  type DeleteRangeResponseWire,
  type KeyValueWire,
  type PutResponseWire,
  type RangeResponseWire,
  type ResponseHeaderWire,
  type ResponseOpWire,
  type TxnResponseWire,
} from './wire-types.js';

const EMPTY = Buffer.alloc(0);

export function kvToWire(kv: KeyValue): KeyValueWire {
  return {
    key: Buffer.from(kv.key, 'utf8'),
    create_revision: String(kv.createRevision),
    mod_revision: String(kv.modRevision),
    version: String(kv.version),
    // A view, not a copy: values are immutable once stored.
    value: kv.value.length === 0 ? EMPTY : Buffer.from(kv.value.buffer, kv.value.byteOffset, kv.value.length),
    lease: String(kv.session),
  };
}

type Comparator = (a: KeyValue, b: KeyValue) => number;

const SORTERS: Readonly<Record<number, Comparator>> = {
  [SortTarget.KEY]: (a, b) => compareKeys(a.key, b.key),
  [SortTarget.VERSION]: (a, b) => a.version - b.version,
  [SortTarget.CREATE]: (a, b) => a.createRevision - b.createRevision,
  [SortTarget.MOD]: (a, b) => a.modRevision - b.modRevision,
  [SortTarget.VALUE]: (a, b) => compareBytes(a.value, b.value),
};

/**
 * etcd's post-read steps: drop keys outside the revision filters, sort (a target other than KEY
 * sorts ascending when no order is given), then cut to the limit. `count` stays the number of
 * keys in the range before filtering, as etcd reports it.
 */
export function shapeRange(result: RangeResult, shaping: RangeShaping | undefined): RangeResult {
  if (shaping === undefined) return result;
  let kvs = result.kvs.filter(
    (kv) =>
      (shaping.maxModRevision === 0 || kv.modRevision <= shaping.maxModRevision) &&
      (shaping.minModRevision === 0 || kv.modRevision >= shaping.minModRevision) &&
      (shaping.maxCreateRevision === 0 || kv.createRevision <= shaping.maxCreateRevision) &&
      (shaping.minCreateRevision === 0 || kv.createRevision >= shaping.minCreateRevision),
  );
  let order = shaping.sortOrder;
  if (order === SortOrder.NONE && shaping.sortTarget !== SortTarget.KEY) order = SortOrder.ASCEND;
  if (order !== SortOrder.NONE) {
    const compare = SORTERS[shaping.sortTarget]!;
    kvs = [...kvs].sort(order === SortOrder.DESCEND ? (a, b) => compare(b, a) : compare);
  }
  const more = shaping.limit > 0 && kvs.length > shaping.limit;
  if (more) kvs = kvs.slice(0, shaping.limit);
  return { ...result, kvs, more };
}

export function rangeToWire(result: RangeResult, header: ResponseHeaderWire): RangeResponseWire {
  return { header, kvs: result.kvs.map(kvToWire), more: result.more, count: String(result.count) };
}

export function putToWire(result: PutResult, header: ResponseHeaderWire): PutResponseWire {
  return { header, prev_kv: result.prevKv === undefined ? null : kvToWire(result.prevKv) };
}

export function deleteToWire(result: DeleteResult, header: ResponseHeaderWire): DeleteRangeResponseWire {
  return {
    header,
    deleted: String(result.deleted),
    prev_kvs: result.prevKvs?.map(kvToWire) ?? [],
  };
}

/**
 * What etcd puts in a txn's sub-response headers: only a revision, the one the op saw. A read
 * sees the revision before the txn, or the txn's own once an earlier op changed something; a
 * put reports the txn's revision; a delete too, once anything changed. Nested txns answer with
 * an empty header, as in etcd.
 */
class SubHeaders {
  private changed = false;

  constructor(private readonly beginRevision: number) {}

  /** Call in op order: the header of an op that `changes` something (or not). */
  next(changes: boolean): ResponseHeaderWire {
    if (changes) this.changed = true;
    return this.header(this.beginRevision + (this.changed ? 1 : 0));
  }

  header(revision: number): ResponseHeaderWire {
    return { cluster_id: '0', member_id: '0', revision: String(revision), raft_term: '0' };
  }
}

/** Whether a txn's executed ops wrote anything (then it ended one revision after it began). */
function txnWrote(result: TxnResult): boolean {
  return result.responses.some((response) => {
    switch (response.type) {
      case 'put':
        return true;
      case 'delete':
      case 'deleteRange':
      case 'deleteInterval':
        return response.deleted > 0;
      case 'txn':
        return txnWrote(response);
      case 'range':
        return false;
    }
  });
}

function opToWire(
  result: TxnOpResult,
  shape: RangeShaping | TxnPlanWire | undefined,
  headers: SubHeaders,
): ResponseOpWire {
  switch (result.type) {
    case 'range':
      return {
        response: 'response_range',
        response_range: rangeToWire(shapeRange(result, shape as RangeShaping | undefined), headers.next(false)),
      };
    case 'put':
      return { response: 'response_put', response_put: putToWire(result, headers.next(true)) };
    case 'delete':
    case 'deleteRange':
    case 'deleteInterval':
      return {
        response: 'response_delete_range',
        response_delete_range: deleteToWire(result, headers.next(result.deleted > 0)),
      };
    case 'txn':
      return {
        response: 'response_txn',
        response_txn: branchToWire(result, shape as TxnPlanWire, headers.header(0), headers),
      };
  }
}

function branchToWire(
  result: TxnResult,
  plan: TxnPlanWire,
  header: ResponseHeaderWire,
  headers: SubHeaders,
): TxnResponseWire {
  const shapes = result.succeeded ? plan.success : plan.failure;
  return {
    header,
    succeeded: result.succeeded,
    responses: result.responses.map((response, i) => opToWire(response, shapes[i], headers)),
  };
}

export function txnToWire(result: TxnResult, plan: TxnPlanWire, header: ResponseHeaderWire): TxnResponseWire {
  const headers = new SubHeaders(result.revision - (txnWrote(result) ? 1 : 0));
  return branchToWire(result, plan, header, headers);
}
