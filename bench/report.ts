/** The table printed at the end, and the comparison of two stores row by row. */
import { anchorFor, meets } from './anchors.js';
import type { Better, Metric, StoreResults } from './results.js';
import { median, roundRatios } from './rounds.js';

export interface ComparedMetric {
  readonly rowId: string;
  readonly rowTitle: string;
  readonly metricKey: string;
  readonly label: string;
  readonly better: Better;
  readonly values: readonly (number | null)[];
  /** First store / second store (with rounds: the median of the rounds' ratios, see rounds.ts). */
  readonly ratio: number | null;
  /** With rounds: each round's ratio, for the spread shown beside the median. */
  readonly roundRatios: readonly number[] | null;
  /** Whether the first store is at least as good as the second; null when not judged. */
  readonly firstWins: boolean | null;
  readonly anchor: number | null;
  readonly meetsAnchor: boolean | null;
}

/** Every metric of the first store's rows, with the other stores' values beside it. */
export function compare(stores: readonly StoreResults[]): ComparedMetric[] {
  const [first, ...others] = stores;
  if (first === undefined) return [];
  const compared: ComparedMetric[] = [];
  const rowIds = [...new Set(stores.flatMap((s) => s.rows.map((r) => r.id)))];
  for (const rowId of rowIds) {
    const rows = stores.map((s) => s.rows.find((r) => r.id === rowId));
    const title = rows.find((r) => r !== undefined)!.title;
    const metricKeys = [...new Set(rows.flatMap((r) => r?.metrics.map((m) => m.key) ?? []))];
    for (const key of metricKeys) {
      const metrics = rows.map((r) => r?.metrics.find((m) => m.key === key));
      const model = metrics.find((m): m is Metric => m !== undefined)!;
      const values = metrics.map((m) => m?.value ?? null);
      const [mine, theirs] = [values[0] ?? null, others.length > 0 ? (values[1] ?? null) : null];
      const comparable = others.length > 0 && model.better !== 'unlike';
      const perRound = comparable ? roundRatios(rows[0], rows[1], key) : null;
      const paired = perRound === null ? null : median(perRound);
      const ratio =
        paired ?? (comparable && mine !== null && theirs !== null && theirs !== 0 ? mine / theirs : null);
      const anchor = anchorFor(rowId, key);
      compared.push({
        rowId,
        rowTitle: title,
        metricKey: key,
        label: model.label,
        better: model.better,
        values,
        ratio,
        roundRatios: perRound,
        // With rounds, the verdict follows the paired ratio shown beside it.
        firstWins:
          paired !== null
            ? meets(paired, 1, model.better)
            : comparable && mine !== null && theirs !== null
              ? meets(mine, theirs, model.better)
              : null,
        anchor: anchor?.value ?? null,
        meetsAnchor: anchor !== undefined && mine !== null ? meets(mine, anchor.value, model.better) : null,
      });
    }
  }
  return compared;
}

function formatNumber(value: number | null, decimals: number): string {
  if (value === null) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

function decimalsOf(stores: readonly StoreResults[], rowId: string, key: string): number {
  for (const store of stores) {
    const found = store.rows.find((r) => r.id === rowId)?.metrics.find((m) => m.key === key);
    if (found !== undefined) return found.decimals;
  }
  return 0;
}

/** "0.79x", and with rounds the spread of the rounds' ratios: "0.79x (0.73-0.87)". */
function formatRatio(item: ComparedMetric, times: string): string {
  if (item.ratio === null) return '-';
  const middle = `${item.ratio.toFixed(2)}${times}`;
  const spread = item.roundRatios;
  if (spread === null || spread.length < 2) return middle;
  return `${middle} (${Math.min(...spread).toFixed(2)}-${Math.max(...spread).toFixed(2)})`;
}

function verdict(wins: boolean | null): string {
  if (wins === null) return '';
  return wins ? 'win' : 'LOSE';
}

/** A plain-text table: one line per metric, the row title on its first metric. */
export function renderTable(stores: readonly StoreResults[]): string {
  const compared = compare(stores);
  const header = [
    'row',
    'metric',
    ...stores.map((s) => `${s.kind} ${s.version}`),
    ...(stores.length > 1 ? [`${stores[0]!.kind}/${stores[1]!.kind}`, ''] : []),
    'target',
    '',
  ];
  const lines: string[][] = [];
  let previousRow = '';
  for (const item of compared) {
    const decimals = decimalsOf(stores, item.rowId, item.metricKey);
    lines.push([
      item.rowId === previousRow ? '' : item.rowTitle,
      item.label,
      ...item.values.map((v) => formatNumber(v, decimals)),
      ...(stores.length > 1 ? [formatRatio(item, 'x'), verdict(item.firstWins)] : []),
      item.anchor === null ? '' : formatNumber(item.anchor, decimals),
      item.meetsAnchor === null ? '' : item.meetsAnchor ? 'met' : 'MISSED',
    ]);
    previousRow = item.rowId;
  }
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column]!.length)),
  );
  const leftAligned = new Set([0, 1]);
  const format = (cells: readonly string[]): string =>
    cells
      .map((cell, column) =>
        leftAligned.has(column) ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(format)].join('\n');
}

/** Settings, client routing and load of each store, printed above the table. */
export function renderPreamble(stores: readonly StoreResults[]): string {
  const lines: string[] = [];
  for (const store of stores) {
    lines.push(`${store.kind} ${store.version} (${store.elapsedSeconds.toFixed(0)} s)`);
    for (const [key, value] of Object.entries(store.settings)) lines.push(`  ${key}: ${value}`);
    lines.push(`  client: ${store.clientRouting}`);
    const loads = store.rows.flatMap((r) => [r.load.before, r.load.after]);
    if (loads.length > 0)
      lines.push(
        `  load average (1 min) during the rows: ${Math.min(...loads).toFixed(2)} - ${Math.max(...loads).toFixed(2)}`,
      );
    const others = store.rows
      .map((r) => ({
        title: r.title,
        cores: r.metrics.find((m) => m.key === 'otherProcessesCores')?.value ?? null,
      }))
      .filter((o): o is { title: string; cores: number } => o.cores !== null);
    if (others.length > 0) {
      const busiest = others.reduce((a, b) => (b.cores > a.cores ? b : a));
      const mean = others.reduce((sum, o) => sum + o.cores, 0) / others.length;
      const niced = store.rows.map((r) => r.metrics.find((m) => m.key === 'nicedProcessesCores')?.value ?? 0);
      lines.push(
        `  other processes' CPU during the rows: mean ${mean.toFixed(2)} cores, most ${busiest.cores.toFixed(2)} (${busiest.title}); ` +
          `niced background work: up to ${Math.max(...niced).toFixed(2)} cores`,
      );
    }
    const notes = store.rows.flatMap((r) => r.notes.map((n) => `${r.title}: ${n}`));
    for (const note of notes) lines.push(`  note: ${note}`);
  }
  lines.push(
    "target: issue 6's anchor, the better of etcd 3.4 and ZooKeeper 3.8 on this machine kind; ratios are raftree/etcd, 'win' means at least as good",
  );
  return lines.join('\n');
}

/** Metrics left out of the Markdown summary (they stay in the text table and the JSON). */
const DETAIL_ONLY = new Set([
  'errors',
  'busiestNodeCores',
  'otherProcessesCores',
  'nicedProcessesCores',
  'otherStoreCores',
  'eventsBeforeAck',
  'missedEvents',
  'deliveredShare',
  'minNodeRssMb',
  'restartedRssMb',
  'streamFailures',
  'failedTrials',
  'droppedToElectedMs',
]);

/** The comparison as a Markdown table (for docs/benchmarks.md), one line per metric. */
export function renderMarkdown(stores: readonly StoreResults[]): string {
  const compared = compare(stores).filter((c) => !DETAIL_ONLY.has(c.metricKey));
  const two = stores.length > 1;
  const header = [
    'row',
    'metric',
    ...stores.map((s) => `${s.kind} ${s.version}`),
    ...(two ? ['ratio', ''] : []),
    'target',
    '',
  ];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
  ];
  let previousRow = '';
  for (const item of compared) {
    const decimals = decimalsOf(stores, item.rowId, item.metricKey);
    const cells = [
      item.rowId === previousRow ? '' : item.rowTitle,
      item.label,
      ...item.values.map((v) => formatNumber(v, decimals)),
      ...(two
        ? [formatRatio(item, '×'), item.firstWins === null ? '' : item.firstWins ? 'win' : '**lose**']
        : []),
      item.anchor === null ? '' : formatNumber(item.anchor, decimals),
      item.meetsAnchor === null ? '' : item.meetsAnchor ? 'met' : '**missed**',
    ];
    lines.push(`| ${cells.join(' | ')} |`);
    previousRow = item.rowId;
  }
  return lines.join('\n');
}
