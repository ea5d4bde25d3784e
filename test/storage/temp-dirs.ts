import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Temp directories under the OS temp dir, removed together. */
export class TempDirs {
  private readonly dirs: string[] = [];

  async make(label = 'storage'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `raftree-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  async removeAll(): Promise<void> {
    const dirs = this.dirs.splice(0);
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}
