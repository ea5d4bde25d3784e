/**
 * etcd names members and clusters with 64-bit integers; raftree names members with strings. The
 * etcd API derives each integer from a hash of the name, so every member computes the same
 * ids without storing anything, across restarts.
 */
import { createHash } from 'node:crypto';
import type { NodeId } from '../raft/types.js';
import type { Uint64Words } from './wire-types.js';

/** Ids already computed: every response header names the cluster and the member. */
const computed = new Map<string, string>();

/**
 * A name's etcd id as a decimal string: the first 63 bits of its SHA-256 (never 0, which etcd
 * reads as "none").
 */
function idOf(name: string): string {
  let id = computed.get(name);
  if (id === undefined) {
    const digest = createHash('sha256').update(name).digest();
    // 63 bits: some clients (and JSON tooling) read ids as signed 64-bit integers.
    const bits = digest.readBigUInt64BE(0) >> 1n;
    id = (bits === 0n ? 1n : bits).toString();
    // Names are member ids and cluster ids: few, so the cache stays small.
    computed.set(name, id);
  }
  return id;
}

/** A member's etcd id, as the decimal string the wire uses (uint64 fields load as strings). */
export function memberIdOf(nodeId: NodeId): string {
  return idOf(`member:${nodeId}`);
}

/** The cluster's etcd id, from the native cluster id (see clusterIdOf in src/api/header.ts). */
export function etcdClusterIdOf(clusterId: string): string {
  return idOf(`cluster:${clusterId}`);
}

/** The words of ids already split: every response header carries two. */
const wordsOfId = new Map<string, Uint64Words>();

/** An id (decimal, as memberIdOf gives it) as the 32-bit words protobufjs encodes. */
export function idWords(id: string): Uint64Words {
  let words = wordsOfId.get(id);
  if (words === undefined) {
    const value = BigInt(id);
    words = { low: Number(value & 0xffffffffn) | 0, high: Number(value >> 32n) | 0, unsigned: true };
    wordsOfId.set(id, words);
  }
  return words;
}

/** The member whose etcd id is `id` (decimal), among `members`, or undefined. */
export function memberWithId(id: string, members: Iterable<NodeId>): NodeId | undefined {
  for (const member of members) if (memberIdOf(member) === id) return member;
  return undefined;
}
