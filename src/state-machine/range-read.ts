/**
 * Range reads over the multi-version key space: an exact key, a prefix, or a path's direct
 * children, at the current or a past revision. Scans start with a binary search and touch only
 * keys under the prefix (children reads also skip each child's subtree in one seek).
 */
import { EMPTY_VALUE, type MvccStore } from './mvcc-store.js';
import { afterSubtree, childPrefixOf, compareKeys } from './paths.js';
import type { ChildEntry, KeyValue, RangeRequest, RangeResult } from './types.js';

/** Serves a validated range request. Throws COMPACTED / FUTURE_REVISION for an unreadable revision. */
export function readRange(store: MvccStore, request: RangeRequest): RangeResult {
  const atRevision = store.resolveReadRevision(request.revision);
  switch (request.range ?? 'exact') {
    case 'exact':
      return kvResult(store, request, exactMatch(store, request.key, atRevision));
    case 'prefix':
      return kvResult(store, request, prefixMatches(store, request.key, atRevision));
    case 'children':
      return childrenResult(store, request, childrenOf(store, request.key, atRevision));
    case 'interval':
      return kvResult(store, request, intervalMatches(store, request.key, request.rangeEnd, atRevision));
  }
}

/** Whether `key` sorts before the exclusive interval end `rangeEnd` (absent: no end). */
export function beforeEnd(key: string, rangeEnd: string | undefined): boolean {
  return rangeEnd === undefined || compareKeys(key, rangeEnd) < 0;
}

function intervalMatches(
  store: MvccStore,
  start: string,
  rangeEnd: string | undefined,
  atRevision: number,
): KeyValue[] {
  const matches: KeyValue[] = [];
  for (const cursor = store.seek(start); cursor.valid && beforeEnd(cursor.key, rangeEnd); cursor.next()) {
    const kv = store.visibleAt(cursor.key, atRevision);
    if (kv !== undefined) matches.push(kv);
  }
  return matches;
}

function exactMatch(store: MvccStore, key: string, atRevision: number): KeyValue[] {
  const kv = store.visibleAt(key, atRevision);
  return kv === undefined ? [] : [kv];
}

function prefixMatches(store: MvccStore, prefix: string, atRevision: number): KeyValue[] {
  const matches: KeyValue[] = [];
  for (const cursor = store.seek(prefix); cursor.valid && cursor.key.startsWith(prefix); cursor.next()) {
    const kv = store.visibleAt(cursor.key, atRevision);
    if (kv !== undefined) matches.push(kv);
  }
  return matches;
}

interface MutableChild {
  name: string;
  key: string;
  kv: KeyValue | undefined;
}

/**
 * Child names directly under `path`, each existing if a live key sits at it or below it. A child
 * name can be met twice in key order (`c`, `c!`, `c/x`: `!` sorts before `/`), hence the map and
 * the final sort. Keys with an empty name segment (`path//x`) are not children.
 */
function childrenOf(store: MvccStore, path: string, atRevision: number): MutableChild[] {
  const prefix = childPrefixOf(path);
  const children = new Map<string, MutableChild>();
  let cursor = store.seek(prefix);
  while (cursor.valid && cursor.key.startsWith(prefix)) {
    const key = cursor.key;
    const slash = key.indexOf('/', prefix.length);
    const nameEnd = slash === -1 ? key.length : slash;
    const kv = nameEnd === prefix.length ? undefined : store.visibleAt(key, atRevision);
    if (kv === undefined) {
      cursor.next();
      continue;
    }
    const name = key.slice(prefix.length, nameEnd);
    let child = children.get(name);
    if (child === undefined) {
      child = { name, key: prefix + name, kv: undefined };
      children.set(name, child);
    }
    if (slash === -1) {
      child.kv = kv;
      cursor.next();
    } else {
      // One live key proves the child exists; the rest of its subtree cannot add anything.
      cursor = store.seek(afterSubtree(child.key));
    }
  }
  return [...children.values()].sort((a, b) => compareKeys(a.name, b.name));
}

function withoutValue(kv: KeyValue): KeyValue {
  return { ...kv, value: EMPTY_VALUE };
}

function kvResult(store: MvccStore, request: RangeRequest, matches: KeyValue[]): RangeResult {
  const limit = request.limit ?? 0;
  const more = limit > 0 && matches.length > limit;
  let kvs: KeyValue[] = [];
  if (request.countOnly !== true) {
    kvs = more ? matches.slice(0, limit) : matches;
    if (request.keysOnly === true) kvs = kvs.map(withoutValue);
  }
  return { type: 'range', revision: store.revision, kvs, count: matches.length, more };
}

function childrenResult(store: MvccStore, request: RangeRequest, matches: MutableChild[]): RangeResult {
  const limit = request.limit ?? 0;
  const more = limit > 0 && matches.length > limit;
  const children: ChildEntry[] = [];
  if (request.countOnly !== true) {
    for (const child of more ? matches.slice(0, limit) : matches) {
      if (child.kv === undefined) {
        children.push({ name: child.name, key: child.key, hasKey: false });
      } else {
        const kv = request.keysOnly === true ? withoutValue(child.kv) : child.kv;
        children.push({ name: child.name, key: child.key, hasKey: true, kv });
      }
    }
  }
  return { type: 'range', revision: store.revision, kvs: [], count: matches.length, more, children };
}
