/**
 * etcdserverpb.Maintenance on raftree (etcd 3.4's api/v3rpc/maintenance.go semantics, where
 * raftree has the same thing):
 *
 * - Status: this member's Raft view. `version` is "3.4.0+raftree.<raftree version>" (a semver
 *   that reads as etcd 3.4.0, the API these protos describe, to clients that compare versions).
 *   `raftIndex` is the commit index (etcd's CommittedIndex). `dbSize` and `dbSizeInUse` are
 *   both the bytes of the member's data directory on disk (the LevelDB Raft log, hard state and
 *   last snapshot): LevelDB has no free pages to tell apart from used ones.
 * - Alarm: raftree raises no alarm (no NOSPACE quota, no corruption check), so GET and
 *   DEACTIVATE answer an empty list; ACTIVATE is refused (UNIMPLEMENTED) rather than faked.
 * - Defragment: a no-op success (LevelDB compacts its files by itself).
 * - Hash: a 32-bit digest of the member's whole state-machine image (it includes the applied
 *   index, so members agree only when equally caught up, as with etcd's backend hash).
 * - HashKV: a 32-bit digest of the keyspace as of a revision (every live key's bytes, value,
 *   create/mod revision, version and lease), so members that applied the same history agree.
 *   It is not etcd's bbolt hash: compare raftree members with each other, never with etcd.
 * - Snapshot: the state-machine snapshot (raftree's format, taken after a linearizable read
 *   barrier) in 32 KiB chunks, zero-padded to a multiple of 512 bytes and followed by the
 *   SHA-256 of what was sent, exactly as etcd frames its bbolt file, so `etcdctl snapshot save`
 *   accepts and verifies it. The file is not a bbolt database: `etcdctl snapshot status` and
 *   `snapshot restore` cannot read it.
 * - MoveLeader: on the leader only (etcd answers "not leader" elsewhere); the target must be a
 *   voter ("bad leader transferee" otherwise); answers once the target leads.
 */
import { createHash, type Hash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { effectiveDeadline, within, type CallContext, type CallSignal } from '../api/call-context.js';
import type { StatusError } from '../api/call-runner.js';
import { awaitLeadershipTransfer } from '../api/cluster-service.js';
import { ApiError } from '../api/errors.js';
import { RejectedRequest } from '../api/proto.js';
import { raftreeVersion } from '../api/version.js';
import { compactedError, futureRevisionError } from '../state-machine/errors.js';
import type { KeyValue } from '../state-machine/index.js';
import { etcdHeader, type EtcdContext } from './context.js';
import { EtcdError, EtcdErrors } from './errors.js';
import { memberIdOf, memberWithId } from './ids.js';
import { int64 } from './kv-requests.js';
import { linearizableBarrier } from './kv-service.js';
import {
  AlarmAction,
  type AlarmRequestWire,
  type AlarmResponseWire,
  type DefragmentResponseWire,
  type HashKVRequestWire,
  type HashKVResponseWire,
  type HashResponseWire,
  type MoveLeaderRequestWire,
  type MoveLeaderResponseWire,
  type SnapshotRequestWire,
  type SnapshotResponseWire,
  type StatusRequestWire,
  type StatusResponseWire,
} from './wire-types.js';

/** The etcd release whose API proto/etcd/ restates. */
const ETCD_API_VERSION = '3.4.0';

/** etcd's snapshot chunk size (snapshotSendBufferSize). */
export const SNAPSHOT_CHUNK_BYTES = 32 * 1024;

/** etcdctl recognises the trailing SHA-256 by the file size: a multiple of this, plus 32. */
export const SNAPSHOT_PAGE_BYTES = 512;

/** etcd's message when MoveLeader's deadline passes first (ErrTimeoutLeaderTransfer; not in rpctypes, so UNKNOWN). */
const LEADER_TRANSFER_TIMEOUT = new EtcdError(
  grpc.status.UNKNOWN,
  'etcdserver: request timed out, leader transfer took too long',
);

/** What Status reports as the member's version. */
export function etcdVersion(): string {
  return `${ETCD_API_VERSION}+raftree.${raftreeVersion()}`;
}

/** The bytes of every file below `directory` (files that vanish meanwhile count as 0). */
export async function directoryBytes(directory: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch {
    return 0;
  }
  const sizes = await Promise.all(
    entries.map(async (entry) => {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) return directoryBytes(path);
      try {
        return (await stat(path)).size;
      } catch {
        // LevelDB deletes files while it compacts.
        return 0;
      }
    }),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

/** The first 32 bits of a SHA-256: etcd's hashes are uint32. */
function digest32(hash: Hash): number {
  return hash.digest().readUInt32BE(0);
}

/** Feeds one key-value into a keyspace hash, every field length- or width-delimited. */
function hashKeyValue(hash: Hash, kv: KeyValue): void {
  const key = Buffer.from(kv.key, 'utf8');
  const fixed = Buffer.alloc(4 + 4 + 8 * 4);
  fixed.writeUInt32BE(key.length, 0);
  fixed.writeUInt32BE(kv.value.length, 4);
  fixed.writeBigUInt64BE(BigInt(kv.createRevision), 8);
  fixed.writeBigUInt64BE(BigInt(kv.modRevision), 16);
  fixed.writeBigUInt64BE(BigInt(kv.version), 24);
  fixed.writeBigUInt64BE(BigInt(kv.session), 32);
  hash.update(fixed);
  hash.update(key);
  hash.update(kv.value);
}

/**
 * The snapshot stream's chunks: the image zero-padded to a multiple of SNAPSHOT_PAGE_BYTES in
 * chunks of SNAPSHOT_CHUNK_BYTES (views into the image where no padding falls), each with the
 * bytes still to come, then the SHA-256 of everything before it with remaining 0.
 */
export function* snapshotChunks(image: Uint8Array): Generator<{ blob: Uint8Array; remaining: number }> {
  const total = Math.ceil(image.length / SNAPSHOT_PAGE_BYTES) * SNAPSHOT_PAGE_BYTES;
  const hash = createHash('sha256');
  for (let offset = 0; offset < total; offset += SNAPSHOT_CHUNK_BYTES) {
    const end = Math.min(total, offset + SNAPSHOT_CHUNK_BYTES);
    let blob: Uint8Array;
    if (end <= image.length) {
      blob = image.subarray(offset, end);
    } else {
      const padded = new Uint8Array(end - offset);
      if (offset < image.length) padded.set(image.subarray(offset));
      blob = padded;
    }
    hash.update(blob);
    yield { blob, remaining: total - end };
  }
  yield { blob: hash.digest(), remaining: 0 };
}

type SnapshotCall = grpc.ServerWritableStream<SnapshotRequestWire | RejectedRequest, SnapshotResponseWire>;

export function maintenanceServiceImplementation(context: EtcdContext): grpc.UntypedServiceImplementation {
  const { node, runner } = context;
  const replica = node.replica;
  const selfId = node.config.id;

  const status = async (): Promise<StatusResponseWire> => {
    const raft = replica.status();
    const dbSize = String(await directoryBytes(node.config.dataDir));
    return {
      header: etcdHeader(context),
      version: etcdVersion(),
      dbSize,
      leader: raft.leader === null ? '0' : memberIdOf(raft.leader),
      raftIndex: String(raft.commitIndex),
      raftTerm: String(raft.term),
      raftAppliedIndex: String(raft.appliedIndex),
      errors: raft.leader === null ? [EtcdErrors.noLeader.message] : [],
      dbSizeInUse: dbSize,
      isLearner: raft.conf.learners.includes(selfId),
    };
  };

  const alarm = async (wire: AlarmRequestWire): Promise<AlarmResponseWire> => {
    switch (wire.action) {
      case AlarmAction.GET:
      case AlarmAction.DEACTIVATE:
        // etcd answers alarms without a header (etcdctl prints `{}`).
        return { header: null, alarms: [] };
      case AlarmAction.ACTIVATE:
        throw new EtcdError(
          grpc.status.UNIMPLEMENTED,
          'raftree: alarms are not supported (raftree has no space quota or corruption check that ' +
            'an alarm would act on); ACTIVATE would have no effect',
        );
      default:
        throw new EtcdError(
          grpc.status.INVALID_ARGUMENT,
          `raftree: unknown alarm action ${wire.action} (GET is 0, ACTIVATE 1, DEACTIVATE 2)`,
        );
    }
  };

  const defragment = async (): Promise<DefragmentResponseWire> => ({ header: null });

  const hash = async (): Promise<HashResponseWire> => {
    const store = replica.stateMachine;
    const revision = store.revision;
    const digest = digest32(createHash('sha256').update(store.snapshot()));
    return { header: etcdHeader(context, revision), hash: digest };
  };

  const hashKV = async (wire: HashKVRequestWire): Promise<HashKVResponseWire> => {
    const requested = int64(wire.revision, 'HashKV revision');
    if (requested < 0) {
      throw new EtcdError(
        grpc.status.INVALID_ARGUMENT,
        `raftree: HashKV revision must not be negative (0 means the current revision), got ${requested}`,
      );
    }
    const store = replica.stateMachine;
    const current = store.revision;
    const compacted = store.compactRevision;
    // etcd's rules (HashByRev): the compaction revision itself is no longer hashable.
    if (requested > 0 && compacted > 0 && requested <= compacted) throw compactedError(requested, compacted);
    if (requested > current) throw futureRevisionError(requested, current);
    const revision = requested === 0 ? current : requested;
    const { kvs } = store.range({ key: '', range: 'prefix', ...(revision > 0 ? { revision } : {}) });
    const digest = createHash('sha256');
    digest.update(`raftree-hashkv:${revision}:`);
    for (const kv of kvs) hashKeyValue(digest, kv);
    return {
      header: etcdHeader(context, current),
      hash: digest32(digest),
      // etcd reports -1 before the first compaction.
      compact_revision: compacted > 0 ? String(compacted) : '-1',
    };
  };

  const moveLeader = async (
    wire: MoveLeaderRequestWire,
    call: CallContext,
  ): Promise<MoveLeaderResponseWire> => {
    if (!replica.isLeader) throw EtcdErrors.notLeader;
    const target = memberWithId(wire.targetID, replica.status().conf.voters);
    if (target === undefined) throw EtcdErrors.badLeaderTransferee;
    if (target !== selfId) {
      await within(call, awaitLeadershipTransfer(node, target), () => LEADER_TRANSFER_TIMEOUT);
    }
    return { header: null };
  };

  const snapshot = (call: SnapshotCall): void => {
    const method = 'etcd.Maintenance/Snapshot';
    const startedAt = performance.now();
    if (runner.isStopped) {
      runner.report(method, grpc.status.UNAVAILABLE, startedAt);
      call.emit('error', runner.mapError(runner.shuttingDown, 'read').toStatus(selfId));
      return;
    }
    // Aborted when the client cancels or the node stops (runner.stop aborts tracked calls).
    const controller = new AbortController();
    const untrack = runner.track(controller);
    let finished = false;
    const finish = (error: StatusError | null): void => {
      if (finished) return;
      finished = true;
      untrack();
      runner.report(method, error?.code ?? grpc.status.OK, startedAt);
      if (call.cancelled || call.destroyed) return;
      if (error === null) call.end();
      else call.emit('error', error.toStatus(selfId));
    };
    call.on('cancelled', () => {
      controller.abort(new ApiError(grpc.status.CANCELLED, 'the client cancelled the call'));
      finish(runner.mapError(controller.signal.reason, 'read'));
    });
    const callContext: CallContext = {
      // Streaming a large image may take long: only the client's own deadline bounds it.
      deadline: effectiveDeadline(call.getDeadline(), Number.POSITIVE_INFINITY),
      signal: controller.signal,
      forwardedBy: null,
    };
    streamSnapshot(call, callContext).then(
      () => finish(null),
      (error: unknown) => finish(runner.mapError(error, 'read')),
    );
  };

  const streamSnapshot = async (call: SnapshotCall, callContext: CallContext): Promise<void> => {
    // guardedService hands over an undecodable or oversized request as a RejectedRequest.
    const request: unknown = call.request;
    if (request instanceof RejectedRequest) throw request;
    await linearizableBarrier(context, callContext);
    const store = replica.stateMachine;
    const header = null;
    const image = store.snapshot();
    for (const { blob, remaining } of snapshotChunks(image)) {
      if (callContext.signal.aborted) throw callContext.signal.reason;
      const more = call.write({ header, remaining_bytes: String(remaining), blob });
      if (!more) await drained(call, callContext.signal);
    }
  };

  return {
    Alarm: runner.unary('etcd.Maintenance/Alarm', 'read', alarm),
    Status: runner.unary<StatusRequestWire, StatusResponseWire>('etcd.Maintenance/Status', 'read', status),
    Defragment: runner.unary('etcd.Maintenance/Defragment', 'read', defragment),
    Hash: runner.unary('etcd.Maintenance/Hash', 'read', hash),
    HashKV: runner.unary('etcd.Maintenance/HashKV', 'read', hashKV),
    Snapshot: snapshot,
    MoveLeader: runner.unary('etcd.Maintenance/MoveLeader', 'membership', moveLeader),
  };
}

/** Resolves when the stream can take more, rejects when the call ends first. */
function drained(call: SnapshotCall, signal: CallSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      call.off('drain', onDrain);
      signal.removeEventListener('abort', onAbort);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason instanceof Error ? signal.reason : EtcdErrors.stopped);
    };
    call.on('drain', onDrain);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
