/** Errors the balancers raise. All of them are caller mistakes, never bad instance data. */

/** A strategy name or option that makes no sense; the message says which and why. */
export class InvalidBalancerOptionError extends Error {
  override readonly name = 'InvalidBalancerOptionError';
}

/** A hashing strategy was asked to pick without `context.key`, so it cannot be sticky. */
export class MissingHashKeyError extends Error {
  override readonly name = 'MissingHashKeyError';
}
