import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ROOT,
  START_SCRIPT,
  consecutiveFreePorts,
  eventually,
  killAll,
  pidsFromFiles,
  processAlive,
  serveProcessesUnder,
} from './local-cluster-support.js';

interface Launch {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launch(env: NodeJS.ProcessEnv): Launch {
  const child = spawn(process.execPath, ['--import', 'tsx', START_SCRIPT], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  );
  return { child, output: () => text, exited };
}

describe('npm start (scripts/start-local-cluster.ts)', () => {
  const dataRoots: string[] = [];
  const launched: ChildProcess[] = [];

  async function environment(): Promise<{
    env: NodeJS.ProcessEnv;
    dataRoot: string;
    grpcBase: number;
    httpBase: number;
  }> {
    const dataRoot = await mkdtemp(join(tmpdir(), 'raftree-npm-start-'));
    dataRoots.push(dataRoot);
    const grpcBase = await consecutiveFreePorts(3);
    const httpBase = await consecutiveFreePorts(3);
    const env = {
      ...process.env,
      RAFTREE_DATA: dataRoot,
      RAFTREE_BASE_PORT: String(grpcBase),
      RAFTREE_HTTP_BASE_PORT: String(httpBase),
      RAFTREE_TICK_MS: '20',
    };
    return { env, dataRoot, grpcBase, httpBase };
  }

  afterEach(() => {
    for (const child of launched.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  afterAll(async () => {
    for (const dataRoot of dataRoots) {
      killAll(serveProcessesUnder(dataRoot));
      await rm(dataRoot, { recursive: true, force: true });
    }
  });

  it('is what `npm start` runs', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['start']).toContain('scripts/start-local-cluster.ts');
  });

  it('runs three node processes, prints the endpoints, and stops them all on SIGTERM', async () => {
    const { env, dataRoot, grpcBase, httpBase } = await environment();
    const cluster = launch(env);
    launched.push(cluster.child);
    await eventually(
      'the endpoints banner',
      async () => (cluster.output().includes('endpoints:') ? true : undefined),
      45_000,
    );
    const output = cluster.output();
    expect(output).toMatch(/raftree local cluster is up \(leader: n[123]\)/);
    for (let i = 0; i < 3; i++) {
      expect(output).toContain(`gRPC 127.0.0.1:${grpcBase + i}`);
      expect(output).toContain(`http://127.0.0.1:${httpBase + i}/`);
    }
    expect(output).toContain('npx raftree put /hello world');
    expect(output).toContain(`export RAFTREE_ENDPOINTS=127.0.0.1:${grpcBase},`);
    expect(output).toContain('scripts/cluster.sh kill $(scripts/cluster.sh leader)');
    // Pretty logs, one prefix per node, no raw JSON.
    expect(output).toMatch(/^n1 {2}\d\d:\d\d:\d\d\.\d{3} INFO {2}node started/m);
    expect(output).not.toMatch(/^n\d\s+\{"level"/m);

    const pids = pidsFromFiles(dataRoot);
    expect(pids).toHaveLength(3);
    expect(pids.every(processAlive)).toBe(true);
    expect(serveProcessesUnder(dataRoot).sort()).toEqual([...pids].sort());
    const health = await fetch(`http://127.0.0.1:${httpBase}/health`);
    expect(health.status).toBe(200);

    cluster.child.kill('SIGTERM');
    const exit = await Promise.race([
      cluster.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('launcher did not exit')), 20_000)),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(cluster.output()).toContain('all nodes stopped');
    expect(pids.filter(processAlive)).toEqual([]);
    expect(serveProcessesUnder(dataRoot)).toEqual([]);
    expect(pidsFromFiles(dataRoot)).toEqual([]);
  }, 90_000);

  it('refuses to start when a port is taken, naming it', async () => {
    const { env, dataRoot, grpcBase } = await environment();
    const squatter: Server = createServer();
    await new Promise<void>((done) => squatter.listen(grpcBase + 1, '127.0.0.1', done));
    try {
      const cluster = launch(env);
      launched.push(cluster.child);
      const exit = await cluster.exited;
      expect(exit.code).toBe(1);
      expect(cluster.output()).toContain(`already in use on 127.0.0.1: ${grpcBase + 1} (n2 gRPC)`);
      expect(serveProcessesUnder(dataRoot)).toEqual([]);
    } finally {
      await new Promise<void>((done) => squatter.close(() => done()));
    }
  }, 30_000);
});
