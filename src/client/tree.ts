/**
 * The ZooKeeper-style tree on the client: create (with parents, ephemeral and sequential
 * options), stat / exists, children and delete with an expected version.
 */
import type { CoordinationDeps } from './coordination-deps.js';
import { headerFromWire, toBytes, bytesToText, type Bytes, type ResponseHeader } from './types.js';

/** Anything that names a session: a Session helper or its id. */
export type SessionRef = number | { readonly id: number };

export function sessionIdOf(session: SessionRef | undefined): number {
  if (session === undefined) return 0;
  return typeof session === 'number' ? session : session.id;
}

export interface CreateOptions {
  /** Make the node ephemeral: it is deleted when this session ends. */
  readonly session?: SessionRef;
  /** Append a 10-digit, per-parent, strictly increasing counter to the name. */
  readonly sequential?: boolean;
  /** Create missing ancestors (as empty persistent nodes), like mkdir -p. */
  readonly parents?: boolean;
  readonly deadlineMs?: number;
}

export interface CreateResult {
  readonly header: ResponseHeader;
  /** The created path: for a sequential node, with its suffix. */
  readonly path: string;
  readonly createRevision: number;
  readonly revision: number;
}

export interface NodeStat {
  readonly path: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** The owning session of an ephemeral node; 0 for a persistent one. */
  readonly sessionId: number;
  readonly ephemeral: boolean;
  readonly numChildren: number;
  readonly dataLength: number;
  readonly value: Uint8Array;
  /** The store revision the read was served at. */
  readonly revision: number;
  text(): string;
}

export interface TreeReadOptions {
  /** Read this member's local state: faster, possibly stale. */
  readonly serializable?: boolean;
  readonly deadlineMs?: number;
}

export interface DeleteNodeOptions {
  /** Delete only if the node's version is this (it changed otherwise: FAILED_PRECONDITION). */
  readonly expectedVersion?: number;
  readonly deadlineMs?: number;
}

export async function createNode(
  deps: CoordinationDeps,
  path: string,
  value: Bytes,
  options: CreateOptions = {},
): Promise<CreateResult> {
  const request = {
    path,
    value: toBytes(value),
    sessionId: sessionIdOf(options.session),
    sequential: options.sequential ?? false,
    parents: options.parents ?? false,
  };
  const response = await deps.call({
    operation: `create ${path}`,
    kind: 'write',
    idempotent: false,
    deadlineMs: options.deadlineMs,
    send: (c, deadline) => c.unary(deps.methods.create, request, deadline),
    headerOf: (r) => r.header,
  });
  const header = headerFromWire(response.header);
  return { header, path: response.path, createRevision: response.createRevision, revision: header.revision };
}

export async function statNode(
  deps: CoordinationDeps,
  path: string,
  options: TreeReadOptions = {},
): Promise<NodeStat | undefined> {
  const response = await deps.call({
    operation: `stat ${path}`,
    kind: 'read',
    idempotent: true,
    deadlineMs: options.deadlineMs,
    send: (c, deadline) =>
      c.unary(deps.methods.stat, { path, serializable: options.serializable ?? false }, deadline),
    headerOf: (r) => r.header,
  });
  if (!response.exists || response.stat === null) return undefined;
  const stat = response.stat;
  const value = response.value;
  return {
    path: stat.path,
    createRevision: stat.createRevision,
    modRevision: stat.modRevision,
    version: stat.version,
    sessionId: stat.sessionId,
    ephemeral: stat.sessionId !== 0,
    numChildren: stat.numChildren,
    dataLength: stat.dataLength,
    value,
    revision: headerFromWire(response.header).revision,
    text: () => bytesToText(value),
  };
}

export async function childrenOf(
  deps: CoordinationDeps,
  path: string,
  options: TreeReadOptions = {},
): Promise<string[]> {
  const response = await deps.call({
    operation: `children ${path}`,
    kind: 'read',
    idempotent: true,
    deadlineMs: options.deadlineMs,
    send: (c, deadline) =>
      c.unary(deps.methods.children, { path, serializable: options.serializable ?? false }, deadline),
    headerOf: (r) => r.header,
  });
  return response.names;
}

export async function deleteNode(
  deps: CoordinationDeps,
  path: string,
  options: DeleteNodeOptions = {},
): Promise<{ header: ResponseHeader; revision: number }> {
  const response = await deps.call({
    operation: `delete node ${path}`,
    kind: 'write',
    idempotent: false,
    deadlineMs: options.deadlineMs,
    send: (c, deadline) =>
      c.unary(deps.methods.deleteNode, { path, expectedVersion: options.expectedVersion ?? -1 }, deadline),
    headerOf: (r) => r.header,
  });
  const header = headerFromWire(response.header);
  return { header, revision: header.revision };
}
