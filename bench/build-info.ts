/**
 * Which commit a raftree build comes from, for the report: git, or else a REVISION file at
 * the root of an exported tree (`git archive HEAD | tar -x -C DIR; git rev-parse HEAD > DIR/REVISION`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function gitRevision(dir: string): string {
  try {
    const run = (args: string[]): string =>
      execFileSync('git', ['-C', dir, ...args], {
        encoding: 'utf8',
        timeout: 5_000,
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    const commit = run(['rev-parse', '--short', 'HEAD']);
    const dirty = run(['status', '--porcelain', '--untracked-files=no']) !== '';
    return dirty ? `${commit} + uncommitted changes` : commit;
  } catch {
    return revisionFile(dir) ?? 'unknown';
  }
}

function revisionFile(dir: string): string | null {
  for (let at = dir; ; at = dirname(at)) {
    try {
      return readFileSync(join(at, 'REVISION'), 'utf8').trim().slice(0, 7);
    } catch {
      if (dirname(at) === at) return null;
    }
  }
}
