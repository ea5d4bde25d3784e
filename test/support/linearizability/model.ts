/**
 * What the checker needs to know about a sequential object: its initial state, how one
 * operation changes it, and when two states are equal (for the memo).
 */

/** Returned by `step` when an operation cannot have produced the output it did in that state. */
export const ILLEGAL: unique symbol = Symbol('illegal');
export type Illegal = typeof ILLEGAL;

export interface Model<State, Input, Output> {
  readonly name: string;
  init(): State;
  /**
   * The state after `input` ran in `state` and answered `output`, or ILLEGAL. `output` is
   * undefined for an operation whose outcome is unknown: then the step must always be legal
   * (the search decides where, if anywhere, it took effect).
   */
  step(state: State, input: Input, output: Output | undefined): State | Illegal;
  /** Equal states have equal keys and different states different keys: the memo relies on it. */
  stateKey(state: State): string;
  describeState(state: State): string;
  describeOperation(input: Input, output: Output | undefined): string;
}
