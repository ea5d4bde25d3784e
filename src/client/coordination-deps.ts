/** What the coordination helpers (sessions, tree, elections, locks) need from RaftreeClient. */
import type { RetryPolicy } from './backoff.js';
import type { CallSpec } from './call-runner.js';
import type { ConnectionPool } from './connection.js';
import type { CoordinationMethods } from './coordination-proto.js';
import type { EndpointSelector } from './endpoint-selector.js';

/** Something long-lived (a session's keep-alive, an observation) that client.close() ends. */
export interface ClientResource {
  /** Stops local activity; never calls the server. */
  stopLocally(): void;
}

export interface CoordinationDeps {
  readonly methods: CoordinationMethods;
  /** One call with the client's retries, leader preference and deadline. */
  call<Res>(spec: CallSpec<Res>): Promise<Res>;
  readonly pool: ConnectionPool;
  readonly selector: EndpointSelector;
  readonly retry: RetryPolicy;
  readonly connectTimeoutMs: number;
  /** Registers a resource for client.close(); returns the function that forgets it. */
  track(resource: ClientResource): () => void;
}
