/** Errors the transport raises. Network input never throws out of it; these are for callers. */

/** The caller broke the transport's contract (a message to itself, a bad option). A bug. */
export class TransportUsageError extends Error {
  override readonly name = 'TransportUsageError';
}

/**
 * Bytes from the network that are not a valid Raft message (bad protobuf, missing body,
 * an index beyond 2^53, a gap in an append's entries...). The peer service answers these
 * with INVALID_ARGUMENT; they never reach the core.
 */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

/** The proto file could not be found next to (or above) the transport's module file. */
export class ProtoNotFoundError extends Error {
  override readonly name = 'ProtoNotFoundError';
}
