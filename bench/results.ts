/** The shape of what the bench measures, shared by the table and the JSON. */

/**
 * Which way is better, for the win / lose column; 'info' is never judged; 'unlike' is measured
 * differently by the stores, so it is shown side by side with neither a verdict nor a ratio.
 */
export type Better = 'higher' | 'lower' | 'info' | 'unlike';

export interface Metric {
  /** Stable key, the same for every store, e.g. "opsPerSecond", "p99Ms". */
  readonly key: string;
  readonly label: string;
  readonly value: number | null;
  readonly better: Better;
  /** Digits after the point in the table. */
  readonly decimals: number;
}

export interface RowResult {
  /** Stable id, the same for every store, e.g. "put-64". */
  readonly id: string;
  readonly title: string;
  readonly metrics: readonly Metric[];
  readonly notes: readonly string[];
  /** 1-minute load average when the row started and ended. */
  readonly load: { readonly before: number; readonly after: number };
  /** Anything else worth keeping in the JSON (per-node figures, trials). */
  readonly detail?: Readonly<Record<string, unknown>>;
  /** Every round's figures, when the row ran in several (`--rounds`; metrics are their medians). */
  readonly rounds?: readonly RoundFigures[];
}

export interface RoundFigures {
  readonly metrics: Readonly<Record<string, number | null>>;
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface StoreResults {
  readonly kind: string;
  readonly version: string;
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  readonly clientRouting: string;
  readonly rows: readonly RowResult[];
  readonly startedAt: string;
  readonly elapsedSeconds: number;
}

export function metric(
  key: string,
  label: string,
  value: number | null,
  better: Better,
  decimals = 0,
): Metric {
  return { key, label, value: value === null || Number.isFinite(value) ? value : null, better, decimals };
}
