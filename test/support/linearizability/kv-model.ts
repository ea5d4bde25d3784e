/**
 * The register model of one key, as the chaos workload uses it: put, linearizable get,
 * compare-and-set (a txn "if value(k) == expected then put(k, new)"; expected null means "if
 * the key does not exist") and delete. Values are text; null is "no such key".
 */
import { ILLEGAL, type Illegal, type Model } from './model.js';

export type KvInput =
  | { readonly f: 'put'; readonly key: string; readonly value: string }
  | { readonly f: 'get'; readonly key: string }
  | { readonly f: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly f: 'delete'; readonly key: string };

export type KvOutput =
  | { readonly f: 'put' }
  | { readonly f: 'get'; readonly value: string | null }
  | { readonly f: 'cas'; readonly succeeded: boolean }
  /** `deleted` (0 or 1) when the reply said; absent when the workload did not ask. */
  | { readonly f: 'delete'; readonly deleted?: number };

export type KvState = string | null;

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  name: 'kv-register',
  init: () => null,
  step(state, input, output): KvState | Illegal {
    if (output !== undefined && output.f !== input.f) return ILLEGAL;
    switch (input.f) {
      case 'put':
        return input.value;
      case 'get':
        // A read with an unknown outcome observed nothing: it cannot constrain anything.
        if (output === undefined) return state;
        return (output as { value: string | null }).value === state ? state : ILLEGAL;
      case 'cas': {
        const holds = state === input.expected;
        if (output === undefined) return holds ? input.value : state;
        const succeeded = (output as { succeeded: boolean }).succeeded;
        if (succeeded !== holds) return ILLEGAL;
        return succeeded ? input.value : state;
      }
      case 'delete': {
        const deleted = output === undefined ? undefined : (output as { deleted?: number }).deleted;
        if (deleted !== undefined && deleted !== (state === null ? 0 : 1)) return ILLEGAL;
        return null;
      }
    }
  },
  // JSON keeps null and the string "null" apart.
  stateKey: (state) => JSON.stringify(state),
  describeState: (state) => (state === null ? '(absent)' : JSON.stringify(state)),
  describeOperation: describeKvOperation,
};

export function describeKvOperation(input: KvInput, output: KvOutput | undefined): string {
  const result = (text: string) => (output === undefined ? `${text} → ?` : text);
  switch (input.f) {
    case 'put':
      return result(`put(${input.key}, ${JSON.stringify(input.value)})`);
    case 'get': {
      const value =
        output?.f === 'get' ? (output.value === null ? '(absent)' : JSON.stringify(output.value)) : '?';
      return `get(${input.key}) → ${value}`;
    }
    case 'cas': {
      const expected = input.expected === null ? '(absent)' : JSON.stringify(input.expected);
      const outcome = output?.f === 'cas' ? String(output.succeeded) : '?';
      return `cas(${input.key}, ${expected} → ${JSON.stringify(input.value)}) → ${outcome}`;
    }
    case 'delete': {
      const deleted =
        output?.f === 'delete' ? (output.deleted === undefined ? 'ok' : `${output.deleted} deleted`) : '?';
      return `delete(${input.key}) → ${deleted}`;
    }
  }
}
