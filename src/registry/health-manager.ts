/**
 * Health checks are run by the cluster's leader. Once it has caught up (applied an entry of
 * its own term, so it sees every registration and every status committed before its
 * election), it watches `/_services/` and keeps one running check (src/health's CheckRunner)
 * per check of every instance, each started from the status the log holds. Only transitions
 * are written: a txn that replaces the instance's health if the key's modRevision is still the
 * one read (re-read and retried otherwise), keeping the key's session so an ephemeral
 * registration stays ephemeral.
 *
 * When leadership moves, the old leader stops its checks at once (on the soft-state change)
 * and the new leader takes all of them over from the logged statuses. A transition whose
 * proposal was lost is noticed by the periodic resync (the running status differs from the
 * stored one) and proposed again.
 */
import * as grpc from '@grpc/grpc-js';
import { within, type CallContext } from '../api/call-context.js';
import { ApiError } from '../api/errors.js';
import type { Logger } from '../common/logger.js';
import { CheckRunner, type CheckTransition } from '../health/check-runner.js';
import type { CheckSpec } from '../health/check-spec.js';
import type { ProbeFunction } from '../health/probe-loop.js';
import type { Replica } from '../replica/replica.js';
import { encodeCommand, StateMachineErrorCode, type KeyValue, type Watcher } from '../state-machine/index.js';
import {
  canonicalJson,
  decodeInstance,
  encodeInstance,
  parseServiceKey,
  SERVICES_PREFIX,
  withCheckState,
  type CheckDefinition,
  type HealthStatus,
} from './model.js';

export interface HealthManagerOptions {
  readonly replica: Replica;
  readonly logger: Logger;
  /** Epoch ms for transition timestamps (default Date.now). */
  readonly now?: () => number;
  /** Replaces the real probes (tests). */
  readonly probe?: ProbeFunction;
  /** How often leadership is looked at (default 100 ms); soft-state changes are seen at once. */
  readonly pollIntervalMs?: number;
  /** How often every instance is compared with the running checks (default 5 s). */
  readonly resyncIntervalMs?: number;
  /** Spread each check's first probe over its interval (default true). */
  readonly staggerFirstProbe?: boolean;
}

/** Attempts of one transition whose compare-and-swap lost to a concurrent write. */
const MAX_WRITE_ATTEMPTS = 5;
/** How long a heartbeat waits for a new leader to take the checks over. */
const TAKEOVER_WAIT_MS = 2_000;

interface RunningEntry {
  readonly key: string;
  readonly name: string;
  readonly definition: string;
  /** The output of the last transition the runner reported (for a re-proposal). */
  lastOutput: string;
}

interface Activation {
  readonly term: number;
  readonly runner: CheckRunner;
  watcher: Watcher | null;
  readonly running: Map<string, RunningEntry>;
  /** Per instance key: the transition writes in progress, one after another. */
  readonly writes: Map<string, Promise<void>>;
  drainScheduled: boolean;
  lastResyncAt: number;
}

const checkIdOf = (key: string, name: string): string => `${key}#${name}`;

export class HealthManager {
  private readonly replica: Replica;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly resyncIntervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private active: Activation | null = null;
  private stopped = false;
  /** Transitions written since start (for tests and metrics). */
  transitionsWritten = 0;

  constructor(private readonly options: HealthManagerOptions) {
    this.replica = options.replica;
    this.log = options.logger;
    this.now = options.now ?? Date.now;
    this.resyncIntervalMs = options.resyncIntervalMs ?? 5_000;
  }

  start(): void {
    if (this.timer !== null || this.stopped) return;
    this.timer = setInterval(() => this.tick(), this.options.pollIntervalMs ?? 100);
    this.timer.unref();
    this.replica.on('softState', this.onSoftState);
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.replica.off('softState', this.onSoftState);
    await this.deactivate('the node is stopping');
  }

  /** Whether this node currently runs the cluster's checks. */
  get isActive(): boolean {
    return this.active !== null;
  }

  /** Ids (`KEY#CHECK`) of the checks running here. */
  runningChecks(): string[] {
    return this.active === null ? [] : [...this.active.running.keys()];
  }

  /**
   * Records a heartbeat for the named TTL checks of the instance at `key` (on the leader). A
   * leader that has not taken the checks over yet is waited for briefly.
   */
  async heartbeat(key: string, names: readonly string[], context: CallContext): Promise<void> {
    let activation = this.active;
    if (activation === null) {
      this.tick();
      activation = this.active;
    }
    if (activation === null) {
      await within(context, this.waitForActivation(), () => takingOver());
      activation = this.active;
      if (activation === null) throw takingOver();
    }
    // The registration may be newer than the last drained watch event.
    this.syncKey(activation, key);
    for (const name of names) {
      const id = checkIdOf(key, name);
      if (!activation.running.has(id)) continue;
      activation.runner.heartbeat(id);
    }
  }

  // --- leadership -------------------------------------------------------------------------------

  private readonly onSoftState = (): void => {
    // Losing leadership must stop the checks now, not at the next poll.
    if (!this.replica.isLeader && this.active !== null) void this.deactivate('lost leadership');
    else setImmediate(() => this.tick());
  };

  private tick(): void {
    if (this.stopped) return;
    try {
      if (!this.replica.isLeader) {
        if (this.active !== null) void this.deactivate('lost leadership');
        return;
      }
      const term = this.replica.term;
      if (this.active !== null && this.active.term !== term) void this.deactivate('a new term began');
      if (this.active === null) {
        if (this.replica.isLeaderCaughtUp) this.activate(term);
        return;
      }
      if (this.now() - this.active.lastResyncAt >= this.resyncIntervalMs) this.resync(this.active);
    } catch (error) {
      this.log.error({ err: error }, 'health check manager failed; retrying at the next tick');
    }
  }

  private waitForActivation(): Promise<void> {
    return new Promise<void>((resolve) => {
      const until = Date.now() + TAKEOVER_WAIT_MS;
      const poll = (): void => {
        this.tick();
        if (this.active !== null || Date.now() >= until || this.stopped) resolve();
        else setTimeout(poll, 20);
      };
      poll();
    });
  }

  private activate(term: number): void {
    const runner = new CheckRunner({
      onTransition: (transition) => this.onTransition(activation, transition),
      now: this.now,
      ...(this.options.probe === undefined ? {} : { probe: this.options.probe }),
      ...(this.options.staggerFirstProbe === undefined
        ? {}
        : { staggerFirstProbe: this.options.staggerFirstProbe }),
      onCallbackError: (error, transition) =>
        this.log.error({ err: error, check: transition.checkId }, 'health transition handler failed'),
    });
    const activation: Activation = {
      term,
      runner,
      watcher: null,
      running: new Map(),
      writes: new Map(),
      drainScheduled: false,
      lastResyncAt: 0,
    };
    this.active = activation;
    this.watch(activation);
    this.resync(activation);
    this.log.info({ term, checks: activation.running.size }, 'running the cluster health checks as leader');
  }

  private async deactivate(why: string): Promise<void> {
    const activation = this.active;
    if (activation === null) return;
    this.active = null;
    activation.watcher?.cancel();
    activation.watcher = null;
    const count = activation.running.size;
    activation.running.clear();
    this.log.info({ term: activation.term, checks: count, why }, 'stopped running the cluster health checks');
    await activation.runner.stop();
  }

  // --- following the registry -------------------------------------------------------------------

  private watch(activation: Activation): void {
    const watcher = this.replica.stateMachine.watch({ key: SERVICES_PREFIX, range: 'prefix' });
    activation.watcher = watcher;
    watcher.setListener({
      // Both run inside apply: note the fact, work on a later turn.
      onReadable: () => this.scheduleDrain(activation),
      onCancel: () =>
        setImmediate(() => {
          // Ended by us, or the state was replaced (snapshot): follow again from a full read.
          if (this.active !== activation || activation.watcher !== watcher) return;
          this.watch(activation);
          this.resync(activation);
        }),
    });
  }

  private scheduleDrain(activation: Activation): void {
    if (activation.drainScheduled) return;
    activation.drainScheduled = true;
    setImmediate(() => {
      activation.drainScheduled = false;
      if (this.active !== activation || activation.watcher === null) return;
      try {
        const touched = new Set<string>();
        for (const event of activation.watcher.take()) touched.add(event.kv.key);
        for (const key of touched) this.syncKey(activation, key);
        if (activation.watcher.readable) this.scheduleDrain(activation);
      } catch (error) {
        this.log.error({ err: error }, 'could not follow registry changes; resyncing');
        this.resync(activation);
      }
    });
  }

  /** Compares every instance with the running checks, and re-proposes lost transitions. */
  private resync(activation: Activation): void {
    activation.lastResyncAt = this.now();
    const result = this.replica.stateMachine.range({ key: SERVICES_PREFIX, range: 'prefix' });
    const seen = new Set<string>();
    for (const kv of result.kvs) {
      seen.add(kv.key);
      this.syncKey(activation, kv.key, kv);
      this.repairStatuses(activation, kv);
    }
    for (const entry of [...activation.running.values()]) {
      if (!seen.has(entry.key)) this.stopCheck(activation, checkIdOf(entry.key, entry.name));
    }
  }

  /** Makes the running checks of the instance at `key` match what is stored. */
  private syncKey(activation: Activation, key: string, known?: KeyValue): void {
    if (parseServiceKey(key) === undefined) return;
    const kv = known ?? this.replica.stateMachine.range({ key }).kvs[0];
    const instance = kv === undefined ? undefined : decodeInstance(key, kv.value);
    const desired = new Map<string, CheckDefinition>((instance?.checks ?? []).map((c) => [c.name, c]));
    for (const entry of [...activation.running.values()]) {
      if (entry.key !== key) continue;
      const definition = desired.get(entry.name);
      if (definition === undefined || canonicalJson(definition) !== entry.definition) {
        this.stopCheck(activation, checkIdOf(key, entry.name));
      }
    }
    if (instance === undefined) return;
    for (const definition of instance.checks) {
      const id = checkIdOf(key, definition.name);
      if (activation.running.has(id)) continue;
      const stored = instance.health.checks.find((c) => c.name === definition.name);
      const { name: _name, ...spec } = definition;
      try {
        activation.runner.add(id, spec as CheckSpec, { initialStatus: stored?.status ?? 'critical' });
        activation.running.set(id, {
          key,
          name: definition.name,
          definition: canonicalJson(definition),
          lastOutput: stored?.output ?? '',
        });
      } catch (error) {
        this.log.warn({ err: error, check: id }, 'cannot run a stored health check');
      }
    }
  }

  private stopCheck(activation: Activation, id: string): void {
    if (!activation.running.delete(id)) return;
    void activation.runner.remove(id);
  }

  /** A running status the log does not hold (its proposal was lost): propose it again. */
  private repairStatuses(activation: Activation, kv: KeyValue): void {
    const instance = decodeInstance(kv.key, kv.value);
    if (instance === undefined || activation.writes.has(kv.key)) return;
    for (const state of instance.health.checks) {
      const id = checkIdOf(kv.key, state.name);
      const entry = activation.running.get(id);
      const status = activation.runner.status(id);
      if (entry === undefined || status === undefined || status === state.status) continue;
      this.enqueueWrite(activation, kv.key, state.name, status, entry.lastOutput, this.now());
    }
  }

  // --- writing transitions ----------------------------------------------------------------------

  private onTransition(activation: Activation, transition: CheckTransition): void {
    if (this.active !== activation) return;
    const entry = activation.running.get(transition.checkId);
    if (entry === undefined) return;
    entry.lastOutput = transition.detail;
    this.enqueueWrite(activation, entry.key, entry.name, transition.to, transition.detail, transition.at);
  }

  private enqueueWrite(
    activation: Activation,
    key: string,
    name: string,
    status: HealthStatus,
    output: string,
    since: number,
  ): void {
    const previous = activation.writes.get(key) ?? Promise.resolve();
    const next = previous
      .then(() => this.writeTransition(activation, key, name, status, output, since))
      .catch((error: unknown) => {
        // Leadership moved or the proposal was lost: the next leader (or the resync) decides again.
        this.log.debug({ err: error, key, check: name }, 'health transition was not written');
      })
      .finally(() => {
        if (activation.writes.get(key) === next) activation.writes.delete(key);
      });
    activation.writes.set(key, next);
  }

  private async writeTransition(
    activation: Activation,
    key: string,
    name: string,
    status: HealthStatus,
    output: string,
    since: number,
  ): Promise<void> {
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      if (this.active !== activation || !activation.running.has(checkIdOf(key, name))) return;
      // The runner may have flipped back while this write waited its turn.
      if (activation.runner.status(checkIdOf(key, name)) !== status) return;
      const kv = this.replica.stateMachine.range({ key }).kvs[0];
      const instance = kv === undefined ? undefined : decodeInstance(key, kv.value);
      if (kv === undefined || instance === undefined) return;
      const current = instance.health.checks.find((c) => c.name === name);
      if (current === undefined || current.status === status) return;
      const next = withCheckState(instance, name, status, output, since);
      if (next === undefined) return;
      const outcome = await this.replica.propose(
        encodeCommand({
          type: 'txn',
          compare: [{ key, target: 'modRevision', op: '=', value: kv.modRevision }],
          success: [
            {
              type: 'put',
              key,
              value: encodeInstance(next),
              ...(kv.session > 0 ? { session: kv.session } : {}),
            },
          ],
          failure: [],
        }),
      );
      if (!outcome.ok) {
        // The owning session ended meanwhile: its keys are being deleted, nothing to record.
        if (outcome.error.code !== StateMachineErrorCode.SessionNotFound) {
          this.log.warn({ err: outcome.error, key, check: name }, 'health transition was refused');
        }
        return;
      }
      if (outcome.result.type === 'txn' && outcome.result.succeeded) {
        this.transitionsWritten++;
        const parsed = parseServiceKey(key);
        this.log.info(
          {
            service: parsed?.name,
            instance: parsed?.id,
            check: name,
            from: current.status,
            to: status,
            detail: output,
            revision: outcome.result.revision,
          },
          `health check ${status === 'passing' ? 'passing' : 'critical'}`,
        );
        return;
      }
      // The instance was written meanwhile (re-registered, or another check moved): re-read.
    }
  }
}

function takingOver(): ApiError {
  return new ApiError(
    grpc.status.UNAVAILABLE,
    'the leader is still taking over the health checks (it was elected moments ago); retry',
  );
}
