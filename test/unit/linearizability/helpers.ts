/** A small notation for hand-built histories: one line per operation, times in ms. */
import type { KvEvent, KvInput, KvOperation, KvOutput } from '../../support/linearizability/index.js';

let nextId = 0;

function operation(
  process: number,
  call: number,
  ret: number,
  input: KvInput,
  output: KvOutput | undefined,
): KvOperation {
  return { id: nextId++, process, call, return: ret, input, output };
}

/** put(k, v) by `process`, invoked at `call`, acknowledged at `ret` (Infinity: unknown outcome). */
export function put(process: number, call: number, ret: number, key: string, value: string): KvOperation {
  return operation(process, call, ret, { f: 'put', key, value }, ret === Infinity ? undefined : { f: 'put' });
}

export function get(
  process: number,
  call: number,
  ret: number,
  key: string,
  value: string | null,
): KvOperation {
  return operation(process, call, ret, { f: 'get', key }, { f: 'get', value });
}

/** succeeded undefined: unknown outcome (return Infinity). */
export function cas(
  process: number,
  call: number,
  ret: number,
  key: string,
  expected: string | null,
  value: string,
  succeeded?: boolean,
): KvOperation {
  const output: KvOutput | undefined = succeeded === undefined ? undefined : { f: 'cas', succeeded };
  return operation(
    process,
    call,
    succeeded === undefined ? Infinity : ret,
    { f: 'cas', key, expected, value },
    output,
  );
}

export function del(process: number, call: number, ret: number, key: string, deleted?: number): KvOperation {
  const output: KvOutput | undefined =
    ret === Infinity ? undefined : deleted === undefined ? { f: 'delete' } : { f: 'delete', deleted };
  return operation(process, call, ret, { f: 'delete', key }, output);
}

/** The events a recorder would have written for these operations (info for unknown outcomes). */
export function toEvents(operations: readonly KvOperation[]): KvEvent[] {
  const events: KvEvent[] = [];
  for (const o of operations) {
    events.push({ type: 'invoke', id: o.id, process: o.process, time: o.call, input: o.input });
    if (o.output === undefined)
      events.push({ type: 'info', id: o.id, time: o.call + 1_000_000, error: 'timeout' });
    else events.push({ type: 'ok', id: o.id, time: o.return, output: o.output });
  }
  return events.sort((a, b) => a.time - b.time);
}
