/** Shared by the chaos end-to-end tests: one short run, its report attached on failure. */
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { formatReport, saveResults } from './report.js';
import { runChaos, type ChaosOptions } from './runner.js';
import { REPO_ROOT } from './chaos-cluster.js';

export async function expectChaosRunPasses(
  options: Omit<ChaosOptions, 'onProgress' | 'signal'>,
): Promise<void> {
  const report = await runChaos(options);
  let saved = '';
  if (report.verdict !== 'pass')
    saved = `\nsaved in ${saveResults(report, resolve(REPO_ROOT, 'chaos-results'))}`;
  // The whole report in the message: a failing run explains itself in the test output.
  expect(report.verdict, formatReport(report) + saved).toBe('pass');
  // A run that did nothing proves nothing.
  expect(report.counts.ok).toBeGreaterThan(100);
  if (options.nemesis.length > 0) expect(report.faultsInjected).toBeGreaterThan(0);
}
