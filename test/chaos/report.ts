/** The run's report for a person, and the files a failed run leaves behind. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosReport } from './runner.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export function formatReport(report: ChaosReport): string {
  const lines: string[] = [];
  const { options, counts } = report;
  lines.push('');
  lines.push(
    `raftree chaos: ${options.nodes} nodes, ${options.clients} clients, ${options.keys} keys, ` +
      `${seconds(options.timeMs)}, nemesis ${options.nemesis.join(',') || 'none'}, seed ${options.seed}`,
  );
  lines.push('');
  lines.push('operations (ok / fail / info):');
  lines.push(`  total   ${counts.ok} / ${counts.fail} / ${counts.info}`);
  for (const [f, c] of Object.entries(counts.byFunction))
    lines.push(`  ${f.padEnd(7)} ${c.ok} / ${c.fail} / ${c.info}`);
  lines.push('');
  lines.push(`nemesis timeline (${report.faultsInjected} fault steps):`);
  for (const entry of report.timeline) {
    lines.push(
      `  ${seconds(entry.at).padStart(7)}  ${entry.event === 'start' ? '+' : entry.event === 'end' ? '-' : ' '} ${entry.description}`,
    );
  }
  if (report.timeline.length === 0) lines.push('  (none)');
  lines.push('');
  lines.push('latency of ok operations over time (by invocation time):');
  lines.push('  window          ok  fail  info    p50 ms   p99 ms   max ms');
  for (const b of report.latency) {
    lines.push(
      `  ${`${seconds(b.from)}-${seconds(b.to)}`.padEnd(13)} ${String(b.ok).padStart(5)} ${String(b.fail).padStart(5)} ` +
        `${String(b.info).padStart(5)} ${b.p50.toFixed(0).padStart(9)} ${b.p99.toFixed(0).padStart(8)} ${b.max.toFixed(0).padStart(8)}`,
    );
  }
  lines.push('');
  lines.push(
    `watch: ${report.watch.events} events, created ${report.watch.creations} time(s), ${report.watch.reconnects} reconnect attempt(s)`,
  );
  lines.push('');
  lines.push('checks:');
  const lin = report.linearizability;
  if (lin !== null) {
    const steps = lin.keys.reduce((sum, k) => sum + k.steps, 0);
    const ms = lin.keys.reduce((sum, k) => sum + k.ms, 0);
    lines.push(
      `  ${mark(lin.verdict === 'linearizable' ? true : lin.verdict === 'unknown' ? null : false)} linearizability: ${lin.verdict} ` +
        `(${lin.keys.length} keys, ${steps} search steps, ${ms.toFixed(0)} ms; ${lin.boundedUnknownWrites} unknown writes bounded by an observation)`,
    );
    const bad = lin.keys.filter((k) => k.verdict !== 'linearizable');
    // A broken build fails every key the same way: three explanations are enough to read
    // (run.json has them all).
    if (bad.length > 3) lines.push(`      ${bad.length} keys failed; the first 3:`);
    for (const key of bad.slice(0, 3)) {
      lines.push(
        `      ${key.key}: ${key.verdict}${key.exhausted !== undefined ? ` (ran out of ${key.exhausted})` : ''}`,
      );
      if (key.explanation !== undefined)
        for (const l of key.explanation.split('\n')) lines.push(`        ${l}`);
    }
  } else {
    lines.push(`  ${mark(false)} linearizability: not checked`);
  }
  for (const check of report.checks) {
    lines.push(`  ${mark(check.passed)} ${check.name}: ${check.summary}`);
    for (const problem of check.problems) lines.push(`        ${problem}`);
  }
  for (const error of report.errors) lines.push(`  ${mark(false)} ${error}`);
  lines.push('');
  lines.push(`VERDICT: ${report.verdict.toUpperCase()}`);
  return lines.join('\n');
}

const mark = (passed: boolean | null) => (passed === true ? '✓' : passed === null ? '?' : '✗');

/** Writes history.jsonl, timeline, report, options and every node's log; returns the directory. */
export function saveResults(report: ChaosReport, root: string): string {
  const dir = join(root, report.startedAt.replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'history.jsonl'), report.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  writeFileSync(
    join(dir, 'timeline.txt'),
    report.timeline.map((e) => `${seconds(e.at)}\t${e.event}\t${e.description}`).join('\n') + '\n',
  );
  writeFileSync(join(dir, 'report.txt'), formatReport(report) + '\n');
  writeFileSync(
    join(dir, 'run.json'),
    JSON.stringify(
      {
        options: report.options,
        verdict: report.verdict,
        errors: report.errors,
        counts: report.counts,
        linearizability: report.linearizability,
        checks: report.checks,
        replay: replayCommand(report),
      },
      null,
      2,
    ),
  );
  for (const [id, log] of report.logs) writeFileSync(join(dir, `${id}.log`), log);
  return dir;
}

export function replayCommand(report: ChaosReport): string {
  const o = report.options;
  return (
    `npm run chaos -- --time ${o.timeMs / 1000} --nodes ${o.nodes} --nemesis ${o.nemesis.join(',') || 'none'} ` +
    `--clients ${o.clients} --keys ${o.keys} --seed ${o.seed}`
  );
}
