/**
 * The shapes @grpc/proto-loader makes of proto/coordination.proto with the server's loader
 * options (camelCase fields, int64 as number, defaults filled in, bytes as Buffer). Requests
 * are untrusted: handlers read them through the checked readers in validation.ts.
 */
import type { ResponseHeaderWire } from '../api/wire-types.js';

export interface SessionOpenRequestWire {
  readonly ttlMs: unknown;
}

export interface SessionOpenResponseWire {
  readonly header: ResponseHeaderWire;
  readonly sessionId: number;
  readonly ttlMs: number;
}

export interface SessionIdRequestWire {
  readonly sessionId: unknown;
}

export interface SessionKeepAliveResponseWire {
  readonly header: ResponseHeaderWire;
  readonly sessionId: number;
  /** 0: the session no longer exists. */
  readonly ttlMs: number;
}

export interface SessionCloseResponseWire {
  readonly header: ResponseHeaderWire;
  readonly deletedKeys: string[];
}

export interface SessionInfoResponseWire {
  readonly header: ResponseHeaderWire;
  readonly sessionId: number;
  readonly ttlMs: number;
  readonly remainingMs: number;
  readonly keys: string[];
}

export interface SessionListResponseWire {
  readonly header: ResponseHeaderWire;
  readonly sessions: SessionInfoResponseWire[];
}

export interface NodeStatWire {
  readonly path: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly sessionId: number;
  readonly numChildren: number;
  readonly dataLength: number;
}

export interface CreateRequestWire {
  readonly path: unknown;
  readonly value: unknown;
  readonly sessionId: unknown;
  readonly sequential: unknown;
  readonly parents: unknown;
}

export interface CreateResponseWire {
  readonly header: ResponseHeaderWire;
  readonly path: string;
  readonly createRevision: number;
}

export interface PathReadRequestWire {
  readonly path: unknown;
  readonly serializable: unknown;
}

export interface StatResponseWire {
  readonly header: ResponseHeaderWire;
  readonly exists: boolean;
  readonly stat: NodeStatWire | null;
  readonly value: Uint8Array;
}

export interface ChildrenResponseWire {
  readonly header: ResponseHeaderWire;
  readonly names: string[];
}

export interface DeleteNodeRequestWire {
  readonly path: unknown;
  readonly expectedVersion: unknown;
}

export interface HeaderOnlyResponseWire {
  readonly header: ResponseHeaderWire;
}

export interface LeaderKeyWire {
  readonly name: string;
  readonly key: string;
  readonly sessionId: number;
  readonly fencingToken: number;
}

export interface CampaignRequestWire {
  readonly name: unknown;
  readonly value: unknown;
  readonly sessionId: unknown;
}

export interface CampaignResponseWire {
  readonly header: ResponseHeaderWire;
  readonly leader: LeaderKeyWire;
}

export interface ResignRequestWire {
  readonly leader: unknown;
}

export interface LeaderRequestWire {
  readonly name: unknown;
}

export interface LeaderResponseWire {
  readonly header: ResponseHeaderWire;
  readonly leader: LeaderKeyWire | null;
  readonly value: Uint8Array;
}

export interface LockRequestWire {
  readonly name: unknown;
  readonly sessionId: unknown;
}

export interface LockResponseWire {
  readonly header: ResponseHeaderWire;
  readonly lock: LeaderKeyWire;
}

export interface UnlockRequestWire {
  readonly lock: unknown;
}
