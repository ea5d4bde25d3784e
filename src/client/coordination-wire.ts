/**
 * The shapes @grpc/proto-loader makes of proto/coordination.proto under CLIENT_PROTO_OPTIONS
 * (camelCase fields, int64 as number, unset messages as null, bytes as Buffer).
 */
import type { ResponseHeaderWire } from './wire.js';

export interface SessionOpenResponseWire {
  header: ResponseHeaderWire | null;
  sessionId: number;
  ttlMs: number;
}

export interface SessionKeepAliveRequestWire {
  sessionId: number;
}

export interface SessionKeepAliveResponseWire {
  header: ResponseHeaderWire | null;
  sessionId: number;
  ttlMs: number;
}

export interface SessionCloseResponseWire {
  header: ResponseHeaderWire | null;
  deletedKeys: string[];
}

export interface SessionInfoResponseWire {
  header: ResponseHeaderWire | null;
  sessionId: number;
  ttlMs: number;
  remainingMs: number;
  keys: string[];
}

export interface SessionListResponseWire {
  header: ResponseHeaderWire | null;
  sessions: SessionInfoResponseWire[];
}

export interface NodeStatWire {
  path: string;
  createRevision: number;
  modRevision: number;
  version: number;
  sessionId: number;
  numChildren: number;
  dataLength: number;
}

export interface CreateRequestWire {
  path: string;
  value: Uint8Array;
  sessionId?: number;
  sequential?: boolean;
  parents?: boolean;
}

export interface CreateResponseWire {
  header: ResponseHeaderWire | null;
  path: string;
  createRevision: number;
}

export interface PathReadRequestWire {
  path: string;
  serializable?: boolean;
}

export interface StatResponseWire {
  header: ResponseHeaderWire | null;
  exists: boolean;
  stat: NodeStatWire | null;
  value: Uint8Array;
}

export interface ChildrenResponseWire {
  header: ResponseHeaderWire | null;
  names: string[];
}

export interface DeleteNodeRequestWire {
  path: string;
  expectedVersion?: number;
}

export interface HeaderOnlyResponseWire {
  header: ResponseHeaderWire | null;
}

export interface LeaderKeyWire {
  name: string;
  key: string;
  sessionId: number;
  fencingToken: number;
}

export interface CampaignRequestWire {
  name: string;
  value: Uint8Array;
  sessionId: number;
}

export interface CampaignResponseWire {
  header: ResponseHeaderWire | null;
  leader: LeaderKeyWire | null;
}

export interface LeaderResponseWire {
  header: ResponseHeaderWire | null;
  leader: LeaderKeyWire | null;
  value: Uint8Array;
}

export interface LockRequestWire {
  name: string;
  sessionId: number;
}

export interface LockResponseWire {
  header: ResponseHeaderWire | null;
  lock: LeaderKeyWire | null;
}
