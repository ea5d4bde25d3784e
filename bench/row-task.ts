/** One unit of the run, for one store: a row (or a step that yields no row, like a warm-up). */
import type { RowResult } from './results.js';

export interface RowTask {
  /** For error messages. */
  readonly label: string;
  run(): Promise<readonly RowResult[]>;
}

export function task(label: string, run: () => Promise<RowResult | readonly RowResult[] | void>): RowTask {
  return {
    label,
    run: async () => {
      const result = await run();
      if (result === undefined) return [];
      return Array.isArray(result) ? result : [result as RowResult];
    },
  };
}
