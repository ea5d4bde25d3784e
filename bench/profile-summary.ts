/**
 * Top self-time functions of a V8 CPU profile (node --cpu-prof), and self time per area
 * (raftree's own modules by directory, each npm package, Node internals, GC, idle).
 *
 * Usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

export interface ProfileSummary {
  /** Time with the function anywhere on the stack (each function once per sample). */
  readonly inclusive: readonly SelfTime[];
  /** Wall time the profile covers. */
  readonly wallMs: number;
  readonly totalMs: number;
  readonly functions: readonly SelfTime[];
  readonly areas: readonly SelfTime[];
}

/** Which part of the program a frame belongs to. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/(?:dist\/)?src\/([^/]+)\//.exec(url);
  if (own) return `src/${own[1]}`;
  return url;
}

function frameName(frame: CallFrame): string {
  const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist|src)\//, '$1/');
  return `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
}

export function summarize(profile: CpuProfile, top: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const functionMs = new Map<string, number>();
  const inclusiveMs = new Map<string, number>();
  const areaMs = new Map<string, number>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (node === undefined) return;
    totalMs += ms;
    const name = frameName(node.callFrame);
    functionMs.set(name, (functionMs.get(name) ?? 0) + ms);
    const area = areaOf(node.callFrame);
    areaMs.set(area, (areaMs.get(area) ?? 0) + ms);
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame !== undefined && frame.functionName !== '(root)') onStack.add(frameName(frame));
    }
    for (const name of onStack) inclusiveMs.set(name, (inclusiveMs.get(name) ?? 0) + ms);
  });
  const ranked = (map: Map<string, number>, limit: number): SelfTime[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, ms]) => ({ name, ms, share: totalMs > 0 ? ms / totalMs : 0 }));
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    totalMs,
    functions: ranked(functionMs, top),
    inclusive: ranked(inclusiveMs, top),
    areas: ranked(areaMs, top),
  };
}

function renderRanking(title: string, rows: readonly SelfTime[]): string {
  const lines = rows.map(
    (r) => `${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`,
  );
  return [title, ...lines].join('\n');
}

export function renderSummary(file: string, summary: ProfileSummary): string {
  return [
    `${file}: ${summary.wallMs.toFixed(0)} ms profiled, ${summary.totalMs.toFixed(0)} ms of samples`,
    '',
    renderRanking('self time by area', summary.areas),
    '',
    renderRanking('top self-time functions', summary.functions),
    '',
    renderRanking('top functions by inclusive time (anywhere on the stack)', summary.inclusive),
  ].join('\n');
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '30' } },
    allowPositionals: true,
  });
  const file = positionals[0];
  if (file === undefined) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [--top 30]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(`${renderSummary(file, summarize(profile, Number(values.top)))}\n`);
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) main();
