/**
 * Transactions: compares, then the `success` ops if every compare holds, else the `failure`
 * ops, applied atomically as one revision. Build them from plain objects or with the helpers:
 *
 *   await client.txn({
 *     compare: [compare.version('/config').equals(0)],
 *     success: [op.put('/config', 'v1')],
 *     failure: [op.get('/config')],
 *   });
 *   await client.txn().if(compare.value('/a').equals('x')).then(op.delete('/a')).commit();
 */
import { RaftreeError } from './errors.js';
import { toBytes, type Bytes } from './types.js';
import type {
  CompareResultWire,
  CompareTargetWire,
  CompareWire,
  RangeModeWire,
  RequestOpWire,
} from './wire.js';

export type CompareTarget = 'value' | 'version' | 'createRevision' | 'modRevision';
export type CompareOperator = '=' | '!=' | '<' | '>';

export interface Compare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly operator: CompareOperator;
  /** Bytes or text for 'value'; a non-negative integer for the others. */
  readonly value: Bytes | number;
}

/** Options a read accepts inside a txn (a txn is always linearizable). */
export interface TxnGetOptions {
  readonly prefix?: boolean;
  readonly children?: boolean;
  readonly revision?: number;
  readonly limit?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
}

export type TxnOp =
  | { readonly type: 'get'; readonly key: string; readonly options?: TxnGetOptions }
  | { readonly type: 'put'; readonly key: string; readonly value: Bytes; readonly prevKv?: boolean }
  | { readonly type: 'delete'; readonly key: string; readonly prefix?: boolean; readonly prevKv?: boolean };

export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

/** `compare.version('/a').equals(0)`, `compare.value('/a').notEquals('x')`, ... */
export class CompareBuilder<V extends Bytes | number> {
  constructor(
    private readonly key: string,
    private readonly target: CompareTarget,
  ) {}

  is(operator: CompareOperator, value: V): Compare {
    return { key: this.key, target: this.target, operator, value };
  }
  equals(value: V): Compare {
    return this.is('=', value);
  }
  notEquals(value: V): Compare {
    return this.is('!=', value);
  }
  lessThan(value: V): Compare {
    return this.is('<', value);
  }
  greaterThan(value: V): Compare {
    return this.is('>', value);
  }
}

export const compare = {
  value: (key: string) => new CompareBuilder<Bytes>(key, 'value'),
  /** 0 when the key does not exist. */
  version: (key: string) => new CompareBuilder<number>(key, 'version'),
  createRevision: (key: string) => new CompareBuilder<number>(key, 'createRevision'),
  modRevision: (key: string) => new CompareBuilder<number>(key, 'modRevision'),
};

export const op = {
  get: (key: string, options?: TxnGetOptions): TxnOp =>
    options === undefined ? { type: 'get', key } : { type: 'get', key, options },
  put: (key: string, value: Bytes, options: { prevKv?: boolean } = {}): TxnOp => ({
    type: 'put',
    key,
    value,
    ...options,
  }),
  delete: (key: string, options: { prefix?: boolean; prevKv?: boolean } = {}): TxnOp => ({
    type: 'delete',
    key,
    ...options,
  }),
};

/** `client.txn().if(...).then(...).else(...).commit()`. */
export class TxnBuilder<R> {
  private readonly compares: Compare[] = [];
  private readonly successOps: TxnOp[] = [];
  private readonly failureOps: TxnOp[] = [];

  constructor(private readonly run: (request: TxnRequest) => Promise<R>) {}

  if(...compares: Compare[]): this {
    this.compares.push(...compares);
    return this;
  }
  then(...ops: TxnOp[]): this {
    this.successOps.push(...ops);
    return this;
  }
  else(...ops: TxnOp[]): this {
    this.failureOps.push(...ops);
    return this;
  }
  request(): TxnRequest {
    return { compare: [...this.compares], success: [...this.successOps], failure: [...this.failureOps] };
  }
  commit(): Promise<R> {
    return this.run(this.request());
  }
}

const TARGETS: Record<CompareTarget, CompareTargetWire> = {
  value: 'VALUE',
  version: 'VERSION',
  createRevision: 'CREATE_REVISION',
  modRevision: 'MOD_REVISION',
};

const RESULTS: Record<CompareOperator, CompareResultWire> = {
  '=': 'EQUAL',
  '!=': 'NOT_EQUAL',
  '<': 'LESS',
  '>': 'GREATER',
};

function invalid(details: string): RaftreeError {
  return new RaftreeError({ code: 'INVALID_ARGUMENT', details, operation: 'txn' });
}

export function compareToWire(c: Compare): CompareWire {
  const target = TARGETS[c.target];
  const result = RESULTS[c.operator];
  if (target === undefined) throw invalid(`unknown compare target "${String(c.target)}"`);
  if (result === undefined) throw invalid(`unknown compare operator "${String(c.operator)}"`);
  if (c.target === 'value') {
    if (typeof c.value === 'number')
      throw invalid(`value(${c.key}) compares with text or bytes, not a number`);
    return { key: c.key, target, result, value: toBytes(c.value) };
  }
  if (typeof c.value !== 'number' || !Number.isSafeInteger(c.value) || c.value < 0) {
    throw invalid(
      `${c.target}(${c.key}) compares with a non-negative integer, got ${JSON.stringify(c.value)}`,
    );
  }
  return { key: c.key, target, result, number: c.value };
}

export function rangeModeOf(
  options: { readonly prefix?: boolean; readonly children?: boolean },
  operation: string,
): RangeModeWire {
  if (options.prefix === true && options.children === true) {
    throw new RaftreeError({
      code: 'INVALID_ARGUMENT',
      details: 'choose prefix or children, not both',
      operation,
    });
  }
  return options.prefix === true ? 'PREFIX' : options.children === true ? 'CHILDREN' : 'EXACT';
}

export function opToWire(o: TxnOp): RequestOpWire {
  switch (o.type) {
    case 'get': {
      const options = o.options ?? {};
      return {
        range: {
          key: o.key,
          mode: rangeModeOf(options, 'txn'),
          revision: options.revision ?? 0,
          limit: options.limit ?? 0,
          keysOnly: options.keysOnly ?? false,
          countOnly: options.countOnly ?? false,
        },
      };
    }
    case 'put':
      return { put: { key: o.key, value: toBytes(o.value), prevKv: o.prevKv ?? false } };
    case 'delete':
      return { delete: { key: o.key, prefix: o.prefix ?? false, prevKv: o.prevKv ?? false } };
    default:
      throw invalid(`unknown op type "${String((o as { type?: unknown }).type)}"`);
  }
}
