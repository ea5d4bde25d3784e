/**
 * Turns an emitter of values ('value' event name given), 'error' and 'close' into an async
 * iterator: values queue until asked for, an error rejects the next call once, close ends it.
 */
import type { EventEmitter } from 'node:events';

export interface IterableSource {
  readonly emitter: EventEmitter;
  readonly valueEvent: string;
  /** Already ended / failed when the iterator is created. */
  readonly ended: boolean;
  readonly error: Error | null;
  /** Called when the consumer stops early (`break` out of for-await). */
  readonly close: () => void;
}

export function eventIterator<T>(source: IterableSource): AsyncIterator<T> {
  const { emitter, valueEvent } = source;
  const queue: T[] = [];
  let finished = source.ended;
  let failure: Error | null = source.error;
  let waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | null = null;
  const settle = (): void => {
    if (waiter === null) return;
    const w = waiter;
    if (queue.length > 0) {
      waiter = null;
      w.resolve({ value: queue.shift()!, done: false });
    } else if (failure !== null) {
      waiter = null;
      const error = failure;
      failure = null;
      finished = true;
      w.reject(error);
    } else if (finished) {
      waiter = null;
      w.resolve({ value: undefined, done: true });
    }
  };
  const onValue = (value: T): void => {
    queue.push(value);
    settle();
  };
  const onError = (error: Error): void => {
    failure = error;
    settle();
  };
  const onClose = (): void => {
    finished = true;
    detach();
    settle();
  };
  const detach = (): void => {
    emitter.off(valueEvent, onValue);
    emitter.off('error', onError);
    emitter.off('close', onClose);
  };
  emitter.on(valueEvent, onValue);
  emitter.on('error', onError);
  emitter.on('close', onClose);
  return {
    next: () =>
      new Promise<IteratorResult<T>>((resolve, reject) => {
        waiter = { resolve, reject };
        settle();
      }),
    return: () => {
      detach();
      source.close();
      return Promise.resolve({ value: undefined, done: true });
    },
  };
}
