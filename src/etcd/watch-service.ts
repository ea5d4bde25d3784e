/**
 * etcdserverpb.Watch: one bidirectional stream multiplexes any number of watches, each served by
 * the member the client is connected to, from its applied state (no forwarding), as etcd does.
 *
 * The replies follow etcd 3.4's server (etcdserver/api/v3rpc/watch.go and mvcc/watcher.go),
 * checked against a real etcd 3.4.23:
 *  - create → `created` with the watch id (auto ids count from 0 per stream) and the current
 *    revision; a refused create → `created` + `canceled`, watch_id -1 and mvcc's reason; a
 *    create whose start revision was compacted → `created`, then `canceled` with
 *    compact_revision (and header revision 0). The id of such a watch stays taken until the
 *    client cancels it, as in etcd.
 *  - cancel → `canceled` for a known id; an unknown id is ignored. An empty request is ignored.
 *  - progress request → watch_id -1 at the current revision, sent once every watch on the stream
 *    has been sent all its events up to it (etcd ≥ 3.4.25 semantics; 3.4.23 answered at once and
 *    could overtake events).
 *  - a client's half-close does not end the stream: etcd keeps sending events until the client
 *    cancels the call.
 *
 * Where raftree differs on purpose: a watch that falls too far behind a slow client is not
 * cancelled but restarted transparently from its next revision (etcd keeps such "victim"
 * watchers and catches them up later: the client sees the same thing, no gap and no cancel).
 */
import { Buffer } from 'node:buffer';
import * as grpc from '@grpc/grpc-js';
import { RejectedRequest } from '../api/proto.js';
import { WatchCallLifecycle, WatchPump } from '../api/watch-pump.js';
import {
  StateMachineError,
  StateMachineErrorCode,
  type KeyValue,
  type WatchEvent,
  type WatchOptions,
  type Watcher,
} from '../state-machine/index.js';
import { etcdHeader, type EtcdContext } from './context.js';
import { EtcdErrors, toEtcdError, type EtcdError } from './errors.js';
import { etcdRange } from './key-bytes.js';
import { rangeSelector } from './kv-requests.js';
import { eventToWire, watchResponse } from './watch-codec.js';
import {
  FilterType,
  type EventWire,
  type ResponseHeaderWire,
  type WatchCancelRequestWire,
  type WatchCreateRequestWire,
  type WatchRequestWire,
  type WatchResponseWire,
} from './wire-types.js';

interface StreamSettings {
  /** Period of the progress notifications of watches created with progress_notify. */
  readonly progressIntervalMs: number;
  /** Events one watch may hold for a slow stream before it is restarted (hub default if unset). */
  readonly maxBufferedEvents: number | undefined;
}

/** etcd's progressReportInterval. */
export const DEFAULT_ETCD_WATCH_PROGRESS_INTERVAL_MS = 10 * 60 * 1000;

/** etcd's mvcc errors, sent as cancel_reason of a refused create. */
const EMPTY_RANGE_REASON = 'mvcc: watcher range is empty';
const DUPLICATE_ID_REASON = 'mvcc: duplicate watch ID provided on the WatchStream';
/** The watch_id of a refused create and of a progress response (clientv3's InvalidWatchID). */
const NO_WATCH = '-1';
/** etcd's require-leader metadata: such a stream ends with "no leader" once the member has none. */
const REQUIRE_LEADER_KEY = 'hasleader';
const REQUIRE_LEADER_VALUE = 'true';
/** Election timeouts without a leader before a require-leader stream ends (etcd's maxNoLeaderCnt). */
const MAX_NO_LEADER_CHECKS = 3;
/** What etcd adds to max-request-bytes before it fragments a response (grpcOverheadBytes). */
const FRAGMENT_OVERHEAD_BYTES = 512;

/** Events taken from one watcher at a time: keeps a turn of the event loop short. */
const MAX_EVENTS_PER_TAKE = 1000;
/** A response grows past this only to keep one revision's events together. */
const RESPONSE_BYTES = 1024 * 1024;
/** The encoded size of a response without its events (header, id, flags), rounded up. */
const RESPONSE_OVERHEAD_BYTES = 96;

/** Events bound for one response, with their encoded sizes (tag and length included). */
interface Batch {
  readonly events: EventWire[];
  readonly sizes: number[];
  bytes: number;
}

type WatchStreamCall = grpc.ServerDuplexStream<WatchRequestWire | RejectedRequest, WatchResponseWire>;

/** What a create request asked for, kept to restart the watch. */
interface WatchSpec {
  /** Keys raftree cannot store (not UTF-8) or bounds nothing meets select an empty interval. */
  readonly range: Pick<WatchOptions, 'key' | 'range' | 'rangeEnd'>;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly progressNotify: boolean;
  readonly fragment: boolean;
}

interface EtcdWatch {
  /** The int64 id in canonical decimal form. */
  readonly id: string;
  readonly spec: WatchSpec;
  /**
   * live: `watcher` serves it. restarting: its watcher fell behind and a new one starts on a
   * later turn. compacted: told so; only its id remains, until the client cancels it.
   */
  state: 'live' | 'restarting' | 'compacted';
  watcher: Watcher | null;
  /** Events were sent since the last progress tick. */
  notifiedSinceTick: boolean;
}

export function watchServiceImplementation(context: EtcdContext): grpc.UntypedServiceImplementation {
  const settings: StreamSettings = {
    progressIntervalMs: context.options.watchProgressIntervalMs ?? DEFAULT_ETCD_WATCH_PROGRESS_INTERVAL_MS,
    maxBufferedEvents: context.options.watchMaxBufferedEvents,
  };
  const watch = (call: WatchStreamCall): void => {
    new EtcdWatchStream(context, call, settings).start();
  };
  return { Watch: watch };
}

class EtcdWatchStream {
  private readonly watches = new Map<string, EtcdWatch>();
  private lastEventHeader: { revision: number; term: number; header: ResponseHeaderWire } | null = null;
  private readonly pump: WatchPump<EtcdWatch>;
  private nextAutoId = 0;
  /** A progress request waits for every watch to be sent what it has. */
  private progressRequested = false;
  private readonly lifecycle: WatchCallLifecycle;
  private progressTimer: NodeJS.Timeout | null = null;
  private leaderTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly context: EtcdContext,
    private readonly call: WatchStreamCall,
    private readonly settings: StreamSettings,
  ) {
    this.pump = new WatchPump<EtcdWatch>(call, {
      serve: (watch) => this.serve(watch),
      onError: (error) => this.fail(toEtcdError(error)),
      onIdle: () => this.maybeAnswerProgress(),
    });
    this.lifecycle = new WatchCallLifecycle(context.node, context.runner, call, 'etcd.Watch/Watch', () =>
      this.cleanUp(),
    );
  }

  private get closed(): boolean {
    return this.lifecycle.isEnded;
  }

  start(): void {
    const { runner, node } = this.context;
    if (runner.isStopped) {
      this.fail(toEtcdError(runner.shuttingDown));
      return;
    }
    const requireLeader = this.call.metadata.get(REQUIRE_LEADER_KEY)[0] === REQUIRE_LEADER_VALUE;
    if (requireLeader && node.replica.leaderId === null) {
      this.fail(EtcdErrors.noLeader);
      return;
    }
    this.lifecycle.listen((reason) => this.fail(toEtcdError(reason)));
    this.call.on('data', (request: WatchRequestWire | RejectedRequest) => this.onRequest(request));
    // No 'end' handler: like etcd, a client's half-close leaves the watches running.
    if (requireLeader) this.monitorLeader();
  }

  // --- Requests ---------------------------------------------------------------------------------

  private onRequest(request: WatchRequestWire | RejectedRequest): void {
    if (this.closed) return;
    try {
      if (request instanceof RejectedRequest) throw request;
      switch (request.request_union) {
        case 'create_request':
          this.create(request.create_request);
          return;
        case 'cancel_request':
          this.cancel(request.cancel_request);
          return;
        case 'progress_request':
          this.progressRequested = true;
          this.maybeAnswerProgress();
          return;
        default:
        // etcd ignores a WatchRequest with nothing set rather than ending the stream.
      }
    } catch (error) {
      // Bad input ends this stream (with a status saying why), never the node.
      this.fail(toEtcdError(error));
    }
  }

  private create(wire: WatchCreateRequestWire): void {
    // etcd reads an empty key as "\0", the smallest key.
    const key = wire.key.length === 0 ? Buffer.from([0]) : wire.key;
    const rangeEnd = wire.range_end;
    const fromKey = rangeEnd.length === 1 && rangeEnd[0] === 0;
    if (rangeEnd.length > 0 && !fromKey && Buffer.compare(key, rangeEnd) >= 0) {
      this.refuse(EMPTY_RANGE_REASON);
      return;
    }
    const requestedId = canonicalId(wire.watch_id);
    if (requestedId !== '0' && this.watches.has(requestedId)) {
      this.refuse(DUPLICATE_ID_REASON);
      return;
    }
    const filters = new Set(wire.filters);
    const watch: EtcdWatch = {
      id: requestedId === '0' ? this.allocateId() : requestedId,
      spec: {
        range: rangeSelector(etcdRange(key, rangeEnd)),
        prevKv: wire.prev_kv,
        noPut: filters.has(FilterType.NOPUT),
        noDelete: filters.has(FilterType.NODELETE),
        progressNotify: wire.progress_notify,
        fragment: wire.fragment,
      },
      state: 'live',
      watcher: null,
      notifiedSinceTick: false,
    };
    this.watches.set(watch.id, watch);
    // Before the watcher exists, so its events cannot overtake it.
    this.send({ header: etcdHeader(this.context), watch_id: watch.id, created: true });
    this.startWatcher(watch, startRevisionOf(wire.start_revision));
    if (watch.spec.progressNotify) this.startProgressTimer();
  }

  /** A create etcd's mvcc refused: created and canceled at once, with no id. */
  private refuse(reason: string): void {
    this.send({
      header: etcdHeader(this.context),
      watch_id: NO_WATCH,
      created: true,
      canceled: true,
      cancel_reason: reason,
    });
  }

  private allocateId(): string {
    while (this.watches.has(String(this.nextAutoId))) this.nextAutoId++;
    return String(this.nextAutoId++);
  }

  private cancel(wire: WatchCancelRequestWire): void {
    const watch = this.watches.get(canonicalId(wire.watch_id));
    // etcd answers nothing for an id it does not know.
    if (watch === undefined) return;
    this.forget(watch);
    watch.watcher?.cancel();
    this.send({ header: etcdHeader(this.context), watch_id: watch.id, canceled: true });
    // The cancelled watch may have been the one a progress request waited for.
    this.maybeAnswerProgress();
  }

  /** Answers a pending progress request once nothing taken from the store waits to be sent. */
  private maybeAnswerProgress(): void {
    if (!this.progressRequested || this.closed || this.pump.busy) return;
    for (const watch of this.watches.values()) if (watch.state === 'restarting') return;
    this.progressRequested = false;
    this.send({ header: etcdHeader(this.context), watch_id: NO_WATCH });
  }

  // --- Watchers ---------------------------------------------------------------------------------

  private startWatcher(watch: EtcdWatch, startRevision: number): void {
    let watcher: Watcher;
    try {
      watcher = this.context.node.replica.stateMachine.watch({
        ...watch.spec.range,
        startRevision,
        prevKv: watch.spec.prevKv,
        ...(this.settings.maxBufferedEvents === undefined
          ? {}
          : { maxBufferedEvents: this.settings.maxBufferedEvents }),
      });
    } catch (error) {
      if (error instanceof StateMachineError && error.code === StateMachineErrorCode.Compacted) {
        this.compacted(watch, error.compactRevision);
        return;
      }
      throw error;
    }
    watch.state = 'live';
    watch.watcher = watcher;
    watcher.setListener({
      // Both run inside apply: only note the fact, do the work on a later turn.
      onReadable: () => {
        if (watch.watcher === watcher && this.watches.get(watch.id) === watch) this.pump.markReadable(watch);
      },
      onCancel: (_watcher, reason) => {
        // At once, so that no progress reply can slip into the gap before the restart.
        if (reason.code === StateMachineErrorCode.WatcherTooSlow) this.restart(watch, watcher, reason);
        else setImmediate(() => this.onWatcherEnded(watch, watcher, reason));
      },
    });
  }

  /** Whether `watcher` still serves `watch` (not cancelled on request, replaced, or closing). */
  private serves(watch: EtcdWatch, watcher: Watcher): boolean {
    return !this.closed && watch.watcher === watcher && this.watches.get(watch.id) === watch;
  }

  private onWatcherEnded(watch: EtcdWatch, watcher: Watcher, reason: StateMachineError): void {
    if (!this.serves(watch, watcher)) return;
    if (reason.code === StateMachineErrorCode.Compacted) {
      this.compacted(watch, reason.compactRevision);
      return;
    }
    // STATE_RESTORED, LISTENER_FAILED, INTERNAL: raftree's own reasons, which etcd never has.
    this.forget(watch);
    this.send({
      header: etcdHeader(this.context),
      watch_id: watch.id,
      canceled: true,
      cancel_reason: reason.message,
    });
    this.maybeAnswerProgress();
  }

  /**
   * A watcher fell behind its client: events up to its progress revision were sent, and a new
   * watcher reads the rest from history (or reports the compaction that took it).
   */
  private restart(watch: EtcdWatch, watcher: Watcher, reason: StateMachineError): void {
    if (!this.serves(watch, watcher)) return;
    const fromRevision = reason.requestedRevision ?? watcher.progressRevision + 1;
    watch.state = 'restarting';
    watch.watcher = null;
    this.pump.forget(watch);
    // A later turn: the old watcher ended inside apply, where a new one should not start.
    setImmediate(() => {
      if (this.closed || this.watches.get(watch.id) !== watch || watch.state !== 'restarting') return;
      try {
        this.startWatcher(watch, fromRevision);
      } catch (error) {
        this.fail(toEtcdError(error));
        return;
      }
      // A progress request may have waited for this watch alone.
      this.maybeAnswerProgress();
    });
  }

  /** etcd's answer to a watch whose next revision was compacted away: the id stays taken. */
  private compacted(watch: EtcdWatch, compactRevision: number | undefined): void {
    watch.state = 'compacted';
    watch.watcher = null;
    this.pump.forget(watch);
    this.send({
      // etcd sends this from its store's sync loop, which has no header revision to give.
      header: etcdHeader(this.context, 0),
      watch_id: watch.id,
      canceled: true,
      compact_revision: String(compactRevision ?? this.context.node.replica.stateMachine.compactRevision),
    });
    this.maybeAnswerProgress();
  }

  private forget(watch: EtcdWatch): void {
    this.watches.delete(watch.id);
    this.pump.forget(watch);
  }

  // --- Events -----------------------------------------------------------------------------------

  /** Takes what the watch has ready and sends it; returns whether more is left. */
  private serve(watch: EtcdWatch): boolean {
    const watcher = watch.watcher;
    if (watcher === null || watch.state !== 'live') return false;
    const events = watcher.take(MAX_EVENTS_PER_TAKE);
    if (events.length > 0) this.sendEvents(watch, watcher, events);
    return watcher.readable;
  }

  /**
   * Sends taken events in responses of about RESPONSE_BYTES, split only between revisions (all
   * events of one txn share a revision and a response), unless the watch asked for fragments.
   * Like etcd, nothing is sent when the filters drop every event.
   */
  private sendEvents(watch: EtcdWatch, watcher: Watcher, events: readonly WatchEvent[]): void {
    const { noPut, noDelete } = watch.spec;
    let batch: Batch = { events: [], sizes: [], bytes: RESPONSE_OVERHEAD_BYTES };
    let batchRevision = 0;
    for (const event of events) {
      if (event.type === 'put' ? noPut : noDelete) continue;
      const revision = event.kv.modRevision;
      const size = delimitedSize(eventSize(event));
      if (batch.events.length > 0 && revision !== batchRevision && batch.bytes + size > RESPONSE_BYTES) {
        // Everything up to batchRevision has now been sent for this watch.
        this.sendBatch(watch, batch, batchRevision);
        batch = { events: [], sizes: [], bytes: RESPONSE_OVERHEAD_BYTES };
      }
      batch.events.push(eventToWire(event));
      batch.sizes.push(size);
      batch.bytes += size;
      batchRevision = revision;
    }
    if (batch.events.length === 0) return;
    // The watcher may know it is further along than its last event: safe to resume after that.
    this.sendBatch(watch, batch, Math.max(batchRevision, watcher.progressRevision));
  }

  private sendBatch(watch: EtcdWatch, batch: Batch, revision: number): void {
    watch.notifiedSinceTick = true;
    const header = this.eventHeader(revision);
    const limit = this.context.node.config.limits.maxRequestBytes + FRAGMENT_OVERHEAD_BYTES;
    const { events, sizes } = batch;
    if (!watch.spec.fragment || events.length < 2 || batch.bytes < limit) {
      this.pump.send(watchResponse({ header, watch_id: watch.id, events }), batch.bytes);
      return;
    }
    // etcd's sendFragments: as many events as stay under the limit (at least one) per response,
    // `fragment` on every response but the last.
    let start = 0;
    while (start < events.length) {
      let end = start;
      let bytes = RESPONSE_OVERHEAD_BYTES;
      while (end < events.length && (end === start || bytes + sizes[end]! < limit)) {
        bytes += sizes[end]!;
        end++;
      }
      const fragment = end < events.length;
      this.pump.send(
        watchResponse({ header, watch_id: watch.id, events: events.slice(start, end), fragment }),
        bytes,
      );
      start = end;
    }
  }

  // --- Progress notifications and leader monitoring ---------------------------------------------

  private startProgressTimer(): void {
    if (this.progressTimer !== null) return;
    // etcd adds up to 10% of jitter so that streams created together do not tick together.
    const interval = this.settings.progressIntervalMs;
    const period = Math.max(1, Math.round(interval + Math.random() * (interval / 10)));
    this.progressTimer = setInterval(() => this.notifyProgress(), period);
    this.progressTimer.unref();
  }

  /** Each progress_notify watch that heard nothing since the last tick and is caught up. */
  private notifyProgress(): void {
    if (this.closed || this.pump.paused) return;
    for (const watch of this.watches.values()) {
      if (!watch.spec.progressNotify) continue;
      const watcher = watch.watcher;
      if (!watch.notifiedSinceTick && watch.state === 'live' && watcher !== null && !watcher.readable) {
        this.send({ header: etcdHeader(this.context, watcher.progressRevision), watch_id: watch.id });
      }
      watch.notifiedSinceTick = false;
    }
  }

  /** etcd ends require-leader streams after some election timeouts without a leader. */
  private monitorLeader(): void {
    const replica = this.context.node.replica;
    let checksWithoutLeader = 0;
    this.leaderTimer = setInterval(() => {
      checksWithoutLeader = replica.leaderId === null ? checksWithoutLeader + 1 : 0;
      if (checksWithoutLeader >= MAX_NO_LEADER_CHECKS) this.fail(EtcdErrors.noLeader);
    }, replica.electionTimeoutMs);
    this.leaderTimer.unref();
  }

  // --- Output and the end of the stream ---------------------------------------------------------

  /**
   * The header of event responses at `revision`: one object for every watch on this stream that
   * a commit notifies, so it is built once and the serializer encodes it once (see
   * watch-codec.ts), not per watch.
   */
  private eventHeader(revision: number): ResponseHeaderWire {
    const term = this.context.headers.raftTerm;
    const last = this.lastEventHeader;
    if (last !== null && last.revision === revision && last.term === term) return last.header;
    const header = etcdHeader(this.context, revision);
    this.lastEventHeader = { revision, term, header };
    return header;
  }

  /** Writes one control response (created, canceled, progress). */

  private send(fields: Partial<WatchResponseWire> & Pick<WatchResponseWire, 'header' | 'watch_id'>): void {
    if (this.closed) return;
    this.pump.send(watchResponse(fields));
  }

  /** Ends the stream with an error status. */
  private fail(error: EtcdError): void {
    this.lifecycle.fail(error);
  }

  /** The stream ended: stop every watch and timer. */
  private cleanUp(): void {
    if (this.progressTimer !== null) clearInterval(this.progressTimer);
    if (this.leaderTimer !== null) clearInterval(this.leaderTimer);
    for (const watch of [...this.watches.values()]) {
      this.forget(watch);
      watch.watcher?.cancel();
    }
    this.pump.close();
  }
}

// --- Wire helpers -------------------------------------------------------------------------------

/** An int64 watch id in canonical decimal form ('0' when absent or malformed: "server picks"). */
function canonicalId(value: string): string {
  return /^-?\d+$/.test(value) ? BigInt(value).toString() : '0';
}

/**
 * The hub's start revision for etcd's: 0 is "from now"; a negative one reaches back before the
 * first revision (all history, unless compacted), like etcd's store reads it.
 */
function startRevisionOf(value: string): number {
  const revision = Number(value);
  if (!Number.isFinite(revision) || revision === 0) return 0;
  if (revision < 0) return 1;
  return Math.min(revision, Number.MAX_SAFE_INTEGER);
}

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest >= 128; rest = Math.floor(rest / 128)) size++;
  return size;
}

/** Encoded size of a length-delimited field holding `length` bytes (proto3 omits empty ones). */
function delimitedSize(length: number): number {
  return length === 0 ? 0 : 1 + varintSize(length) + length;
}

/** Encoded size of an int64 field (omitted when 0). */
function integerSize(value: number): number {
  return value === 0 ? 0 : 1 + varintSize(value);
}

function keyValueSize(kv: KeyValue): number {
  return (
    delimitedSize(Buffer.byteLength(kv.key, 'utf8')) +
    integerSize(kv.createRevision) +
    integerSize(kv.modRevision) +
    integerSize(kv.version) +
    delimitedSize(kv.value.length) +
    integerSize(kv.session)
  );
}

/** The protobuf size of an mvccpb.Event (a DELETE type takes 2 bytes; PUT, 0, is omitted). */
function eventSize(event: WatchEvent): number {
  return (
    (event.type === 'put' ? 0 : 2) +
    delimitedSize(keyValueSize(event.kv)) +
    (event.prevKv === undefined ? 0 : delimitedSize(keyValueSize(event.prevKv)))
  );
}
