/** raftree's version, from the package.json above this module (src/ under tsx, dist/src/ compiled). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

export function raftreeVersion(): string {
  if (cached !== null) return cached;
  cached = 'unknown';
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(directory, 'package.json');
    if (existsSync(candidate)) {
      try {
        const parsed = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown; version?: unknown };
        if (parsed.name === 'raftree' && typeof parsed.version === 'string') {
          cached = parsed.version;
          break;
        }
      } catch {
        // An unreadable package.json on the way up is not ours; keep looking.
      }
    }
    const parent = dirname(directory);
    if (parent === directory) break;
    directory = parent;
  }
  return cached;
}
