/**
 * Finding the etcd binary, and installing Debian's etcd-server with apt only when asked
 * (--install-etcd): the bench never installs anything on its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function findEtcd(): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'etcd');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export function etcdVersion(binary: string): string {
  try {
    const output = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return /etcd Version:\s*(\S+)/.exec(output)?.[1] ?? output.split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

/** Runs `apt-get install -y etcd-server` (as root, or through sudo), output to our stderr. */
export function installEtcdWithApt(): void {
  const asRoot = process.getuid?.() === 0;
  const command = asRoot ? 'apt-get' : 'sudo';
  const args = asRoot ? ['install', '-y', 'etcd-server'] : ['apt-get', 'install', '-y', 'etcd-server'];
  process.stderr.write(`bench: --install-etcd: running ${command} ${args.join(' ')}\n`);
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  if (result.status !== 0) {
    throw new Error(
      `installing etcd-server with apt failed (exit ${result.status ?? result.signal}); ` +
        `try "apt-get update" first, or install etcd yourself and put it on PATH`,
    );
  }
}
