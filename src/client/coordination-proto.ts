/** Loads proto/coordination.proto once and exposes the Session, Tree and Election methods. */
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition } from '@grpc/proto-loader';
import { findProtoFile } from '../transport/raft-proto.js';
import type * as W from './coordination-wire.js';
import { CLIENT_PROTO_OPTIONS, ClientProtoError } from './proto.js';

type Empty = Record<string, never>;

export interface CoordinationMethods {
  readonly sessionOpen: MethodDefinition<{ ttlMs: number }, W.SessionOpenResponseWire>;
  readonly sessionKeepAlive: MethodDefinition<W.SessionKeepAliveRequestWire, W.SessionKeepAliveResponseWire>;
  readonly sessionClose: MethodDefinition<{ sessionId: number }, W.SessionCloseResponseWire>;
  readonly sessionInfo: MethodDefinition<{ sessionId: number }, W.SessionInfoResponseWire>;
  readonly sessionList: MethodDefinition<Empty, W.SessionListResponseWire>;
  readonly create: MethodDefinition<W.CreateRequestWire, W.CreateResponseWire>;
  readonly stat: MethodDefinition<W.PathReadRequestWire, W.StatResponseWire>;
  readonly children: MethodDefinition<W.PathReadRequestWire, W.ChildrenResponseWire>;
  readonly deleteNode: MethodDefinition<W.DeleteNodeRequestWire, W.HeaderOnlyResponseWire>;
  readonly campaign: MethodDefinition<W.CampaignRequestWire, W.CampaignResponseWire>;
  readonly resign: MethodDefinition<{ leader: W.LeaderKeyWire }, W.HeaderOnlyResponseWire>;
  readonly leader: MethodDefinition<{ name: string }, W.LeaderResponseWire>;
  readonly observe: MethodDefinition<{ name: string }, W.LeaderResponseWire>;
  readonly lock: MethodDefinition<W.LockRequestWire, W.LockResponseWire>;
  readonly unlock: MethodDefinition<{ lock: W.LeaderKeyWire }, W.HeaderOnlyResponseWire>;
}

let cached: CoordinationMethods | null = null;

export function coordinationMethods(): CoordinationMethods {
  if (cached !== null) return cached;
  const definition = protoLoader.loadSync(findProtoFile('coordination.proto'), CLIENT_PROTO_OPTIONS);
  const method = (service: string, name: string): MethodDefinition<object, object> => {
    const found = definition[`raftree.v1.${service}`];
    const m =
      found !== undefined && name in found ? (found as protoLoader.ServiceDefinition)[name] : undefined;
    if (m === undefined)
      throw new ClientProtoError(`raftree.v1.${service}/${name} is not in coordination.proto`);
    return m;
  };
  const methods = {
    sessionOpen: method('Session', 'Open'),
    sessionKeepAlive: method('Session', 'KeepAlive'),
    sessionClose: method('Session', 'Close'),
    sessionInfo: method('Session', 'Info'),
    sessionList: method('Session', 'List'),
    create: method('Tree', 'Create'),
    stat: method('Tree', 'Stat'),
    children: method('Tree', 'Children'),
    deleteNode: method('Tree', 'Delete'),
    campaign: method('Election', 'Campaign'),
    resign: method('Election', 'Resign'),
    leader: method('Election', 'Leader'),
    observe: method('Election', 'Observe'),
    lock: method('Election', 'Lock'),
    unlock: method('Election', 'Unlock'),
  };
  // wire.ts-style promise about what CLIENT_PROTO_OPTIONS make of coordination.proto.
  cached = methods as unknown as CoordinationMethods;
  return cached;
}
