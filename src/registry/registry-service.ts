/**
 * The registry's operations, shared by the gRPC service and the HTTP routes. Writes
 * (register, deregister, heartbeat) run on the leader — a follower forwards the request there
 * through the API layer's LeaderRouter — and reads (discover) are served by any member,
 * linearizable by default.
 */
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { within, type CallContext } from '../api/call-context.js';
import { ApiError, fromStateMachineError, outcomeUnknown, tooLarge } from '../api/errors.js';
import type { HeaderFactory } from '../api/header.js';
import type { LeaderRouter } from '../api/leader-router.js';
import type { RaftreeNode } from '../node/raftree-node.js';
import {
  encodeCommand,
  StateMachineErrorCode,
  type Command,
  type KeyValue,
  type TxnResult,
} from '../state-machine/index.js';
import type { HealthManager } from './health-manager.js';
import {
  applyFilter,
  decodeInstance,
  encodeInstance,
  initialHealth,
  servicePrefix,
  serviceKey,
  type InstanceRecord,
  type ServiceInstance,
} from './model.js';
import { discoverFilterFromWire, registrationFromWire, requireName } from './validation.js';
import {
  instanceToWire,
  recordToWire,
  type DeregisterRequestWire,
  type DeregisterResponseWire,
  type DiscoverRequestWire,
  type DiscoverResponseWire,
  type HeartbeatRequestWire,
  type HeartbeatResponseWire,
  type RegisterRequestWire,
  type RegisterResponseWire,
} from './wire.js';

/** Attempts of a registration whose compare-and-swap lost to a concurrent write of the same key. */
const MAX_REGISTER_ATTEMPTS = 5;

export function notFound(message: string): ApiError {
  return new ApiError(grpc.status.NOT_FOUND, message);
}

/** The record of a stored key, or undefined when its value is not a readable instance. */
export function recordOf(kv: KeyValue): InstanceRecord | undefined {
  const instance = decodeInstance(kv.key, kv.value);
  if (instance === undefined) return undefined;
  return {
    instance,
    key: kv.key,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    session: kv.session,
  };
}

export interface RegistryDependencies {
  readonly node: RaftreeNode;
  readonly headers: HeaderFactory;
  readonly router: LeaderRouter;
  readonly service: ServiceDefinition;
  readonly health: HealthManager;
  /** Epoch ms for check timestamps (injected by tests). */
  readonly now?: () => number;
}

export class RegistryOperations {
  private readonly now: () => number;

  constructor(private readonly deps: RegistryDependencies) {
    this.now = deps.now ?? Date.now;
  }

  private get replica() {
    return this.deps.node.replica;
  }

  private method(name: string): MethodDefinition<object, object> {
    return this.deps.service[name]!;
  }

  // --- writes -----------------------------------------------------------------------------------

  async register(wire: RegisterRequestWire, context: CallContext): Promise<RegisterResponseWire> {
    const registration = registrationFromWire(wire);
    const { instance: fields, sessionId } = registration;
    return this.deps.router.route(this.method('Register'), wire, context, 'write', async () => {
      const store = this.replica.stateMachine;
      if (sessionId > 0 && !store.hasSession(sessionId)) throw unknownSession(sessionId);
      const key = serviceKey(fields.name, fields.id);
      for (let attempt = 1; ; attempt++) {
        const existing = store.range({ key }).kvs[0];
        const previous = existing === undefined ? undefined : decodeInstance(key, existing.value);
        const instance: ServiceInstance = {
          ...fields,
          health: initialHealth(fields.checks, previous, this.now()),
        };
        const value = encodeInstance(instance);
        const limit = this.deps.node.config.limits.maxValueBytes;
        if (value.length > limit) {
          throw tooLarge(
            `the instance's JSON is ${value.length} bytes; the limit is ${limit} (fewer tags or metadata)`,
          );
        }
        const result = await this.proposeTxn(
          {
            type: 'txn',
            compare: [{ key, target: 'modRevision', op: '=', value: existing?.modRevision ?? 0 }],
            success: [{ type: 'put', key, value, ...(sessionId > 0 ? { session: sessionId } : {}) }],
            failure: [],
          },
          context,
        );
        if (result.succeeded) {
          return {
            header: this.deps.headers.make(result.revision),
            instance: instanceToWire(instance, {
              createRevision: existing?.createRevision ?? result.revision,
              modRevision: result.revision,
              session: sessionId,
            }),
          };
        }
        if (attempt >= MAX_REGISTER_ATTEMPTS) {
          throw new ApiError(
            grpc.status.ABORTED,
            `instance ${fields.name}/${fields.id} kept changing while it was being registered; retry`,
          );
        }
      }
    });
  }

  async deregister(wire: DeregisterRequestWire, context: CallContext): Promise<DeregisterResponseWire> {
    const name = requireName(wire.name, 'name');
    const id = requireName(wire.id, 'id');
    return this.deps.router.route(this.method('Deregister'), wire, context, 'write', async () => {
      const key = serviceKey(name, id);
      const outcome = await this.propose({ type: 'delete', key }, context);
      if (outcome.type !== 'delete' || outcome.deleted === 0) {
        throw notFound(`instance ${id} of service ${name} is not registered (nothing to deregister)`);
      }
      return { header: this.deps.headers.make(outcome.revision) };
    });
  }

  async heartbeat(wire: HeartbeatRequestWire, context: CallContext): Promise<HeartbeatResponseWire> {
    const name = requireName(wire.name, 'name');
    const id = requireName(wire.id, 'id');
    const checkName = typeof wire.check === 'string' ? wire.check : '';
    return this.deps.router.route(this.method('Heartbeat'), wire, context, 'write', async () => {
      // The leader's state must include every registration acknowledged before this call.
      await this.barrier(context);
      const key = serviceKey(name, id);
      const kv = this.replica.stateMachine.range({ key }).kvs[0];
      const instance = kv === undefined ? undefined : decodeInstance(key, kv.value);
      if (instance === undefined) throw notFound(`instance ${id} of service ${name} is not registered`);
      const ttlChecks = instance.checks.filter(
        (c) => c.kind === 'ttl' && (checkName === '' || c.name === checkName),
      );
      if (ttlChecks.length === 0) {
        if (checkName !== '') {
          throw notFound(`instance ${name}/${id} has no TTL check named ${JSON.stringify(checkName)}`);
        }
        throw new ApiError(
          grpc.status.FAILED_PRECONDITION,
          `instance ${name}/${id} has no TTL check, so there is nothing to heartbeat; register it with a ttl check`,
        );
      }
      const names = ttlChecks.map((c) => c.name);
      await this.deps.health.heartbeat(key, names, context);
      return { header: this.deps.headers.make(), checks: names };
    });
  }

  // --- reads ------------------------------------------------------------------------------------

  async discover(wire: DiscoverRequestWire, context: CallContext): Promise<DiscoverResponseWire> {
    const { name, filter } = discoverFilterFromWire(wire);
    if (wire.serializable !== true) await this.barrier(context);
    const { records, revision } = this.readInstances(name);
    const { matched, count } = applyFilter(records, filter);
    return { header: this.deps.headers.make(revision), instances: matched.map(recordToWire), count };
  }

  /** Every readable instance of `name` ("" = all services) in key order, from local state. */
  readInstances(name: string): { records: InstanceRecord[]; revision: number } {
    const result = this.replica.stateMachine.range({ key: servicePrefix(name), range: 'prefix' });
    const records: InstanceRecord[] = [];
    for (const kv of result.kvs) {
      const record = recordOf(kv);
      if (record !== undefined) records.push(record);
    }
    return { records, revision: result.revision };
  }

  async barrier(context: CallContext): Promise<void> {
    await within(
      context,
      this.replica.readBarrier(),
      () =>
        new ApiError(
          grpc.status.DEADLINE_EXCEEDED,
          'the deadline passed while confirming the read with the leader; retry, or ask for a serializable read',
        ),
    );
  }

  // --- proposals --------------------------------------------------------------------------------

  private async propose(command: Command, context: CallContext) {
    const outcome = await within(context, this.replica.propose(encodeCommand(command)), () =>
      outcomeUnknown(grpc.status.DEADLINE_EXCEEDED, 'the deadline passed before the write was applied'),
    );
    if (!outcome.ok) {
      if (outcome.error.code === StateMachineErrorCode.SessionNotFound) {
        throw unknownSession(outcome.error.sessionId ?? 0);
      }
      throw fromStateMachineError(outcome.error);
    }
    return outcome.result;
  }

  private async proposeTxn(command: Command, context: CallContext): Promise<TxnResult> {
    const result = await this.propose(command, context);
    if (result.type !== 'txn') {
      throw new ApiError(grpc.status.INTERNAL, `internal error: a txn produced a ${result.type} result`);
    }
    return result;
  }
}

export function unknownSession(sessionId: number): ApiError {
  return notFound(
    `session ${sessionId} does not exist (it was never opened, or it was closed or expired); ` +
      `open a session first, or register without one`,
  );
}
