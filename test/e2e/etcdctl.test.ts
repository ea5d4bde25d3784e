/**
 * Debian's etcdctl (3.4) against a three-node raftree cluster, compared with what the same
 * command sequence prints against a real three-node etcd (Debian's etcd-server).
 *
 * Each test runs one scenario against both clusters at once and compares the transcripts:
 * every command's exit code, stdout and stderr, after the narrow normalisation CtlSession
 * documents (test/support/etcdctl.ts) plus the few per-command hooks below, each saying what
 * legitimately differs. Anything else that differs fails the test: that is a semantic
 * difference between raftree and etcd.
 *
 * Scenarios run one after another (revisions are compared relative to each scenario's start,
 * so no other writes may interleave); the two clusters run each scenario concurrently.
 * Without etcdctl or etcd the file skips, naming the Debian package to install; tests whose
 * raftree service is not registered yet skip, naming the service.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { TestCluster } from './api-harness.js';
import { startEtcdCluster } from './etcd-harness.js';
import {
  CtlSession,
  discoverBackend,
  etcdTools,
  hooks,
  runEtcdctl,
  startRealEtcd,
  type Backend,
  type ComparedStep,
  type EtcdctlProcess,
  type RealEtcdCluster,
  type StepHook,
} from '../support/etcdctl.js';

const tools = etcdTools();
if (tools.missing !== null) console.warn(`etcdctl comparison tests skipped: ${tools.missing}`);

const NAMES = ['n1', 'n2', 'n3'] as const;

// --- Which etcd services raftree registers --------------------------------------------------------

type ServiceName = 'kv' | 'watch' | 'lease' | 'cluster' | 'maintenance' | 'election' | 'lock';

/** One method per service; a probe sends bytes no request decodes from. */
const PROBES: Record<ServiceName, string> = {
  kv: '/etcdserverpb.KV/Range',
  watch: '/etcdserverpb.Watch/Watch',
  lease: '/etcdserverpb.Lease/LeaseLeases',
  cluster: '/etcdserverpb.Cluster/MemberList',
  maintenance: '/etcdserverpb.Maintenance/Status',
  election: '/v3electionpb.Election/Leader',
  lock: '/v3lockpb.Lock/Unlock',
};

const GARBAGE = Buffer.from([0xff, 0xff, 0xff]);

/**
 * The services a server registers: grpc-js answers a method nobody registered with
 * UNIMPLEMENTED at once, while a registered one rejects the undecodable request (or, for the
 * Watch stream, keeps it open). Nothing is written.
 */
async function registeredServices(address: string): Promise<Set<ServiceName>> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const identity = (b: Buffer): Buffer => b;
  const probe = (path: string, streaming: boolean): Promise<boolean> =>
    new Promise((resolve) => {
      const deadline = Date.now() + 3_000;
      if (!streaming) {
        client.makeUnaryRequest(path, identity, identity, GARBAGE, { deadline }, (error) =>
          resolve(error?.code !== grpc.status.UNIMPLEMENTED),
        );
        return;
      }
      const call = client.makeBidiStreamRequest(path, identity, identity, { deadline });
      const timer = setTimeout(() => {
        call.cancel();
        resolve(true);
      }, 1_000);
      call.on('data', () => undefined);
      call.on('error', (error: grpc.ServiceError) => {
        clearTimeout(timer);
        resolve(error.code !== grpc.status.UNIMPLEMENTED);
      });
      call.write(GARBAGE);
    });
  try {
    const entries = await Promise.all(
      (Object.entries(PROBES) as [ServiceName, string][]).map(
        async ([name, path]) => [name, await probe(path, name === 'watch')] as const,
      ),
    );
    return new Set(entries.filter(([, registered]) => registered).map(([name]) => name));
  } finally {
    client.close();
  }
}

// --- Hooks for output that legitimately differs ---------------------------------------------------

/** Cells of an ASCII table row, or null for a border line (widths follow the values). */
function tableCells(line: string): string[] | null {
  if (line.startsWith('+')) return null;
  if (!line.startsWith('|')) return [line];
  return line
    .split('|')
    .slice(1, -1)
    .map((cell) => cell.trim());
}

/** Tables compared cell by cell: rows as `a | b | c`, borders dropped. */
const tableRows: StepHook = ({ stdout, stderr }) => ({
  stdout: stdout.flatMap((line) => {
    const cells = tableCells(line);
    return cells === null ? [] : [cells.join(' | ')];
  }),
  stderr,
});

/**
 * `member list` rows: etcd sorts members by their (random) ids, so after naming ids the order
 * is arbitrary; compared sorted by name. The JSON form's members likewise.
 */
const memberRows: StepHook = ({ stdout, stderr }) => {
  const sorted = stdout.map((line) => {
    if (!line.startsWith('{')) return line;
    const parsed = JSON.parse(line) as { members?: { name?: string }[] };
    parsed.members?.sort((a, b) => String(a.name).localeCompare(String(b.name)));
    return JSON.stringify(parsed);
  });
  const header = sorted.filter((line) => line.startsWith('ID |'));
  const rows = sorted.filter((line) => !line.startsWith('ID |')).sort();
  return { stdout: [...header, ...rows], stderr };
};

/**
 * `endpoint status` in simple or table form: the server version (must be 3.4.x), db size, raft
 * term and indexes differ by implementation and history; which member leads differs by chance
 * (the scenario checks separately that exactly one does and every member agrees).
 */
const statusRows: StepHook = ({ stdout, stderr }) => ({
  stdout: stdout.map((line) => {
    const separator = line.includes(' | ') ? ' | ' : ', ';
    const cells = line.split(separator);
    if (cells[0] === 'ENDPOINT' || cells.length < 9) return line;
    const [endpoint, id, version, size, leader, learner, , , , ...errors] = cells;
    return [
      endpoint,
      id,
      /^3\.4\.\d+(\+[\w.-]+)?$/.test(version ?? '') ? '<3.4.x>' : version,
      /^\d+(\.\d+)? [kMG]?B$/.test(size ?? '') ? '<size>' : size,
      leader === 'true' || leader === 'false' ? '<true|false>' : leader,
      learner,
      '<term>',
      '<index>',
      '<index>',
      ...errors,
    ].join(separator);
  }),
  stderr,
});

/** `endpoint hashkv` simple lines: the hash is over each implementation's own storage. */
const hashRows: StepHook = ({ stdout, stderr }) => ({
  stdout: stdout.map((line) => line.replace(/^(<addr n\d>), \d+$/, '$1, <hash>')),
  stderr,
});

/** Renames members to the roles the scenario gave them (old leader, target, follower...). */
function roles(names: Record<string, string>): StepHook {
  const rename = (line: string): string =>
    line.replace(/<(member|addr) (n\d)>/g, (whole, kind: string, name: string) =>
      names[name] === undefined ? whole : `<${kind} ${names[name]}>`,
    );
  return ({ stdout, stderr }) => ({ stdout: stdout.map(rename), stderr: stderr.map(rename) });
}

function composeHooks(...list: StepHook[]): StepHook {
  return (lines) => list.reduce((acc, hook) => hook(acc), lines);
}

// --- Helpers for scenarios ------------------------------------------------------------------------

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

interface StatusEntry {
  Endpoint: string;
  Status: { leader: string; header: { member_id: string } };
}

/** etcdctl txn's non-interactive stdin: compares, success ops, failure ops, each ended by a blank line. */
function txnInput(compares: string[], success: string[], failure: string[]): string {
  return [...compares, '', ...success, '', ...failure, ''].join('\n') + '\n';
}

/** Each endpoint's Status, ids kept as decimal strings. */
async function endpointStatus(session: CtlSession): Promise<StatusEntry[]> {
  const result = await runEtcdctl(session.endpoints(), ['endpoint', 'status', '-w', 'json']);
  if (result.code !== 0)
    throw new Error(`${session.backend.label}: endpoint status failed: ${result.stderr}`);
  return JSON.parse(result.stdout.replace(/:(\d{10,})/g, ':"$1"')) as StatusEntry[];
}

/** Waits until every member has applied the same revision (followers apply a moment later). */
async function converged(session: CtlSession): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    const result = await runEtcdctl(session.endpoints(), ['endpoint', 'status', '-w', 'json']);
    const revisions = new Set([...result.stdout.matchAll(/"revision":(\d+)/g)].map((m) => m[1]));
    if (result.code === 0 && revisions.size === 1) return;
    if (Date.now() > until)
      throw new Error(`${session.backend.label}: members did not converge: ${result.stdout}`);
    await sleep(20);
  }
}

/** The leader's member name, once every endpoint names the same one. */
async function leaderName(session: CtlSession): Promise<string> {
  const until = Date.now() + 10_000;
  for (;;) {
    const statuses = await endpointStatus(session);
    const leaders = new Set(statuses.map((s) => s.Status.leader));
    const [leader] = leaders;
    const name = leader === undefined ? undefined : session.backend.members.get(leader);
    if (leaders.size === 1 && name !== undefined) return name;
    if (Date.now() > until) throw new Error(`${session.backend.label}: no agreed leader`);
    await sleep(50);
  }
}

/**
 * Makes sure a plain (revision-less) watch is established before the scenario writes: puts
 * `value-N` markers on `key` until the watch prints one. Returns the line count to skip.
 */
async function syncWatch(session: CtlSession, watch: EtcdctlProcess, key: string): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const put = await runEtcdctl(session.endpoints(), ['put', key, `__sync_${attempt}`]);
    if (put.code !== 0) throw new Error(`${session.backend.label}: sync put failed: ${put.stderr}`);
    try {
      await watch.waitFor('a sync marker', () => watch.stdoutLines.some((l) => l.startsWith('__sync_')), 200);
      break;
    } catch {
      // not watching yet
    }
  }
  await watch.waitFor('a sync marker', () => watch.stdoutLines.some((l) => l.startsWith('__sync_')), 2_000);
  // Markers put while the first was on its way may follow it: skip through the last.
  return watch.stdoutLines.findLastIndex((l) => l.startsWith('__sync_')) + 1;
}

/** A watch's output from line `from` on, recorded as one step. */
async function finishWatch(
  session: CtlSession,
  watch: EtcdctlProcess,
  label: string,
  from: number,
): Promise<void> {
  await session.finish(watch, label, ({ stdout, stderr }) => ({ stdout: stdout.slice(from), stderr }));
}

/**
 * RAFTREE_ETCDCTL_DUMP=DIR writes each test's two normalised transcripts there (etcd.json and
 * raftree.json per test), to read what was compared.
 */
function dumpTranscripts(expected: ComparedStep[], actual: ComparedStep[]): void {
  const dir = process.env['RAFTREE_ETCDCTL_DUMP'];
  if (dir === undefined || dir === '') return;
  const name = (expect.getState().currentTestName ?? 'test').replace(/[^\w.-]+/g, '_').slice(0, 120);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.etcd.json`), `${JSON.stringify(expected, null, 2)}\n`);
  writeFileSync(join(dir, `${name}.raftree.json`), `${JSON.stringify(actual, null, 2)}\n`);
}

// --- The tests ------------------------------------------------------------------------------------

const title = `etcdctl ${tools.missing === null ? '' : `(skipped: ${tools.missing}) `}against raftree and real etcd`;

describe.skipIf(tools.missing !== null)(title, () => {
  let raftree: TestCluster | undefined;
  let etcd: RealEtcdCluster | undefined;
  let raftreeBackend: Backend;
  let etcdBackend: Backend;
  let services = new Set<ServiceName>();

  beforeAll(async () => {
    const [r, e] = await Promise.allSettled([startEtcdCluster(), startRealEtcd({ size: NAMES.length })]);
    if (r.status === 'fulfilled') raftree = r.value;
    if (e.status === 'fulfilled') etcd = e.value;
    if (r.status === 'rejected') throw r.reason;
    if (e.status === 'rejected') throw e.reason;
    const real = e.value;
    [raftreeBackend, etcdBackend, services] = await Promise.all([
      discoverBackend('raftree', r.value.addresses, NAMES),
      discoverBackend(
        'etcd',
        real.endpoints,
        NAMES,
        real.members.map((m) => m.peerUrl.replace(/^http:\/\//, '')),
      ),
      registeredServices(r.value.addresses[0]!),
    ]);
  }, 45_000);

  afterAll(async () => {
    await Promise.all([raftree?.stop(), etcd?.stop()]);
  });

  /** Skips the test, naming what raftree does not serve yet. */
  function needs(context: TestContext, ...wanted: ServiceName[]): void {
    const missing = wanted.filter((s) => !services.has(s));
    context.skip(
      missing.length > 0,
      `raftree does not register the etcd ${missing.join(', ')} service yet (src/etcd/index.ts SERVICES)`,
    );
  }

  /**
   * Runs `scenario` against both clusters at once; their transcripts must be equal. Revisions
   * count from the scenario's start unless `absolute` (only while both stores are fresh).
   */
  async function compare(
    scenario: (session: CtlSession) => Promise<void>,
    { absolute = false } = {},
  ): Promise<ComparedStep[]> {
    const sessions = [new CtlSession(etcdBackend), new CtlSession(raftreeBackend)] as const;
    try {
      if (!absolute) await Promise.all(sessions.map((s) => s.mark()));
      // Both run to the end (or fail) before anything is judged, so no process outlives the test.
      const outcomes = await Promise.allSettled(sessions.map((s) => scenario(s)));
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.status === 'rejected') {
          throw new Error(`${sessions[i]!.backend.label}: the scenario failed`, { cause: outcome.reason });
        }
      }
      const [expected, actual] = sessions.map((s) => s.transcript());
      dumpTranscripts(expected!, actual!);
      expect(actual, 'raftree (actual) vs etcd (expected)').toEqual(expected);
      return expected!;
    } finally {
      await Promise.all(sessions.map((s) => s.cleanup()));
    }
  }

  it('reads an empty store: etcd says revision 1, raftree 0 (a known difference: raftree counts from 0)', async (context) => {
    needs(context, 'kv');
    // Must run first: both stores are still empty (discovery and probes only read).
    const [real, ours] = await Promise.all(
      [etcdBackend, raftreeBackend].map((b) => runEtcdctl(b.endpoints, ['get', 'nothing', '-w', 'json'])),
    );
    const headerOf = (stdout: string): Record<string, unknown> =>
      (JSON.parse(stdout) as { header: Record<string, unknown> }).header;
    expect(real!.code).toBe(0);
    expect(headerOf(real!.stdout)['revision']).toBe(1);
    expect(ours!.code).toBe(0);
    // proto3 leaves a zero revision out of the JSON.
    expect(headerOf(ours!.stdout)['revision']).toBeUndefined();
    expect(Object.keys(headerOf(ours!.stdout)).sort()).toEqual(['cluster_id', 'member_id', 'raft_term']);
    await compare(async (s) => {
      await s.run(['get', '--from-key', '', '--keys-only']);
    });
  });

  it('put / get / del and their flags print what etcd prints', async (context) => {
    needs(context, 'kv');
    await compare(async (s) => {
      await s.mark();
      await s.run(['put', 'kv/a', '1']);
      await s.run(['put', 'kv/b', '2']);
      await s.run(['put', 'kv/c', '3']);
      await s.run(['put', '--prev-kv', 'kv/a', '10']);
      await s.run(['put', '--prev-kv', 'kv/new', 'x']);
      await s.run(['put', 'kv/stdin'], { input: 'from stdin\n' });
      await s.run(['get', 'kv/stdin', '-w', 'json']);
      await s.run(['del', 'kv/stdin']);
      await s.run(['get', 'kv/a']);
      await s.run(['get', 'kv/missing']);
      await s.run(['get', '--prefix', 'kv/']);
      await s.run(['get', '--from-key', 'kv/b']);
      await s.run(['get', 'kv/a', 'kv/c']);
      await s.run(['get', '--prefix', '--keys-only', 'kv/']);
      await s.run(['get', '--prefix', '--print-value-only', 'kv/']);
      await s.run(['get', '--prefix', '--limit=2', 'kv/']);
      await s.run(['get', '--prefix', '--sort-by=MODIFY', '--order=DESCEND', 'kv/']);
      await s.run(['get', '--prefix', '--sort-by=VALUE', '--order=ASCEND', 'kv/']);
      await s.run(['get', '--consistency=s', 'kv/b']);
      await s.run(['get', 'kv/a', `--rev=${s.rev(1)}`], { label: 'get kv/a --rev=<rev+1>' });
      await s.run(['get', 'kv/a', `--rev=${s.rev(3)}`], { label: 'get kv/a --rev=<rev+3>' });
      await s.run(['get', 'kv/a', '-w', 'json']);
      await s.run(['get', '--prefix', 'kv/', '-w', 'json']);
      await s.run(['get', '--prefix', '--limit=1', 'kv/', '-w', 'json']);
      await s.run(['put', 'kv/a', '11', '-w', 'json']);
      await s.run(['put', '--prev-kv', 'kv/a', '12', '-w', 'json']);
      await s.run(['del', 'kv/b']);
      await s.run(['del', 'kv/b']);
      await s.run(['del', '--prev-kv', 'kv/c']);
      await s.run(['del', '--prev-kv', 'kv/new', '-w', 'json']);
      await s.run(['put', 'kv/d', '4']);
      await s.run(['put', 'kv/e', '5']);
      await s.run(['del', '--from-key', 'kv/d']);
      await s.run(['put', 'kv/f', '6']);
      await s.run(['del', '--prefix', 'kv/']);
      await s.run(['get', '--prefix', 'kv/']);
      await s.run(['get', 'kv/a', '-w', 'json']);
    });
  });

  it('compaction, and reads of compacted or future revisions, fail as in etcd', async (context) => {
    needs(context, 'kv');
    await compare(async (s) => {
      await s.mark();
      await s.run(['put', 'cp/k', 'v1']);
      await s.run(['put', 'cp/k', 'v2']);
      await s.run(['put', 'cp/k', 'v3']);
      const relative =
        (n: number): StepHook =>
        ({ stdout, stderr }) => ({
          stdout: stdout.map((l) =>
            l.replace(`compacted revision ${s.rev(n)}`, `compacted revision <rev+${n}>`),
          ),
          stderr,
        });
      await s.run(['compaction', String(s.rev(2))], { label: 'compaction <rev+2>', hook: relative(2) });
      await s.run(['get', 'cp/k', `--rev=${s.rev(1)}`], { label: 'get cp/k --rev=<rev+1> (compacted)' });
      await s.run(['get', 'cp/k', `--rev=${s.rev(2)}`], {
        label: 'get cp/k --rev=<rev+2> (the compaction point)',
      });
      await s.run(['get', 'cp/k', `--rev=${s.rev(100)}`], { label: 'get cp/k --rev=<rev+100> (future)' });
      await s.run(['compaction', String(s.rev(1))], { label: 'compaction <rev+1> (already compacted)' });
      await s.run(['compaction', String(s.rev(100))], { label: 'compaction <rev+100> (future)' });
      await s.run(['compaction', '--physical', String(s.rev(3))], {
        label: 'compaction --physical <rev+3>',
        hook: relative(3),
      });
      await s.run(['get', 'cp/k', '-w', 'json']);
      await s.run(['del', 'cp/k']);
    });
  });

  it('txn fed on stdin: compares, success and failure branches', async (context) => {
    needs(context, 'kv');
    await compare(async (s) => {
      await s.mark();
      await s.run(['put', 'tx/k', 'v']);
      const succeeds = txnInput(
        [
          'value("tx/k") = "v"',
          'version("tx/k") > "0"',
          `mod("tx/k") < "${s.rev(100)}"`,
          `create("tx/k") = "${s.rev(1)}"`,
        ],
        ['put tx/a 1', 'get --prefix tx/', 'del tx/gone'],
        ['put tx/f 1'],
      );
      const succeedsLabel = 'txn (value =, version >, mod <, create = → put, get --prefix, del)';
      await s.run(['txn'], { input: succeeds, label: succeedsLabel });
      const fails = txnInput(
        ['value("tx/k") = "v"', 'value("tx/k") != "v"'],
        ['put tx/a 2'],
        ['get tx/k', 'put tx/f x', 'del --prefix tx/a'],
      );
      await s.run(['txn'], { input: fails, label: 'txn (value = and != → failure: get, put, del --prefix)' });
      await s.run(['txn'], { input: txnInput(['version("tx/none") = "0"'], ['put tx/none 1'], []) });
      await s.run(['txn'], { input: txnInput(['version("tx/none") > "0"'], [], ['get tx/none']) });
      await s.run(['txn'], { input: txnInput([], ['put tx/e 1', 'get tx/e'], []) });
      await s.run(['txn'], { input: txnInput([], [], []) });
      await s.run(['txn'], {
        input: txnInput(['value("tx/k") > "a"', 'value("tx/k") < "w"'], ['get --prefix --keys-only tx/'], []),
      });
      await s.run(['get', '--prefix', 'tx/']);
      await s.run(['del', '--prefix', 'tx/']);
    });
  });

  it('txn -w json: each sub-response header as etcd sends it (revision only, as of that operation)', async (context) => {
    needs(context, 'kv');
    await compare(async (s) => {
      await s.run(['put', 'tj/k', 'v']);
      // A write, then a read that sees it, then a delete of nothing.
      const succeeds = txnInput(
        ['value("tj/k") = "v"'],
        ['put tj/a 1', 'get --prefix tj/', 'del tj/gone'],
        [],
      );
      await s.run(['txn', '-w', 'json'], { input: succeeds, label: 'txn -w json (put, get --prefix, del)' });
      // A read before the write in the same txn, then a write, then a delete.
      const fails = txnInput(['value("tj/k") != "v"'], [], ['get tj/k', 'put tj/f x', 'del --prefix tj/a']);
      await s.run(['txn', '-w', 'json'], {
        input: fails,
        label: 'txn -w json (failure: get, put, del --prefix)',
      });
      await s.run(['del', '--prefix', 'tj/']);
    });
  });

  it('error paths: unknown lease, empty key, duplicate txn keys', async (context) => {
    needs(context, 'kv');
    await compare(async (s) => {
      await s.run(['put', '--lease=1234abcd', 'er/k', 'v']);
      await s.run(['put', '', 'v']);
      await s.run(['get', '']);
      await s.run(['del', '']);
      await s.run(['txn'], { input: txnInput([], ['put er/d 1', 'put er/d 2'], []) });
      await s.run(['txn'], { input: txnInput([], ['put er/d 1', 'del er/d'], []) });
      await s.run(['txn'], { input: txnInput([], ['put er/d 1'], ['put er/d 1']) });
      await s.run(['txn'], { input: 'nonsense("k") = "v"\n\n\n\n' });
      await s.run(['put', '--ignore-value', 'er/missing']);
      await s.run(['get', 'er/k']);
    });
  });

  it('lease grant / put --lease / timetolive / list / keep-alive --once / revoke', async (context) => {
    needs(context, 'kv', 'lease');
    await compare(async (s) => {
      await s.mark();
      const first = await s.run(['lease', 'grant', '10']);
      const second = await s.run(['lease', 'grant', '20', '-w', 'json']);
      const id1 = /lease ([0-9a-f]{16}) granted/.exec(first.stdout)?.[1] ?? 'none';
      const id2 = BigInt(/"ID":(\d+)/.exec(second.stdout)?.[1] ?? 0)
        .toString(16)
        .padStart(16, '0');
      await s.run(['put', `--lease=${id1}`, 'ls/a', '1']);
      await s.run(['put', `--lease=${id1}`, 'ls/b', '2']);
      await s.run(['put', `--lease=${id2}`, 'ls/c', '3']);
      await s.run(['get', '--prefix', 'ls/', '-w', 'json']);
      await s.run(['lease', 'timetolive', id1, '--keys'], { hook: hooks.sortLeaseKeys });
      await s.run(['lease', 'timetolive', id1, '--keys', '-w', 'json'], { hook: hooks.sortLeaseKeys });
      await s.run(['lease', 'timetolive', id2]);
      await s.run(['lease', 'list'], { hook: hooks.sortAfterFirst });
      await s.run(['lease', 'list', '-w', 'json'], {
        hook: ({ stdout, stderr }) => ({
          stdout: stdout.map((line) => {
            if (!line.startsWith('{')) return line;
            const parsed = JSON.parse(line) as { leases?: { id: string }[] };
            parsed.leases?.sort((a, b) => a.id.localeCompare(b.id));
            return JSON.stringify(parsed);
          }),
          stderr,
        }),
      });
      await s.run(['lease', 'keep-alive', '--once', id1]);
      await s.run(['lease', 'keep-alive', '--once', '-w', 'json', id1]);
      await s.run(['put', `--lease=${id2}`, '--ignore-lease', 'ls/a', 'moved']);
      await s.run(['put', '--ignore-lease', 'ls/none', 'x']);
      await s.run(['lease', 'revoke', id1]);
      await s.run(['get', '--prefix', 'ls/']);
      await s.run(['get', 'ls/', '-w', 'json']);
      await s.run(['lease', 'timetolive', id1]);
      await s.run(['lease', 'timetolive', id1, '-w', 'json']);
      await s.run(['lease', 'revoke', id1]);
      await s.run(['lease', 'keep-alive', '--once', id1]);
      await s.run(['put', `--lease=${id1}`, 'ls/x', '1']);
      await s.run(['lease', 'revoke', id2, '-w', 'json']);
      await s.run(['get', '--prefix', 'ls/']);
      await s.run(['lease', 'list']);
    });
  });

  it('lease grant above one hour: etcd grants it, raftree refuses (a known difference: raftree caps TTLs at 3600 s)', async (context) => {
    needs(context, 'lease');
    const [real, ours] = await Promise.all(
      [etcdBackend, raftreeBackend].map((b) => runEtcdctl(b.endpoints, ['lease', 'grant', '3601'])),
    );
    expect(real).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^lease [0-9a-f]{16} granted with TTL\(3601s\)\n$/),
    });
    const granted = /lease ([0-9a-f]{16})/.exec(real!.stdout)?.[1] ?? '';
    expect((await runEtcdctl(etcdBackend.endpoints, ['lease', 'revoke', granted])).code).toBe(0);
    expect(ours!.code).toBe(1);
    expect(ours!.stderr).toContain('Error: failed to grant lease (etcdserver: too large lease TTL)\n');
  });

  it('lease keep-alive streams renewals until killed', async (context) => {
    needs(context, 'lease');
    await compare(async (s) => {
      const grant = await s.run(['lease', 'grant', '10']);
      const id = /lease ([0-9a-f]{16}) granted/.exec(grant.stdout)?.[1] ?? 'none';
      const keepAlive = s.spawn(['lease', 'keep-alive', id]);
      await keepAlive.waitFor('a renewal', () => keepAlive.stdoutLines.length >= 1);
      // Renewals come every TTL/3 s: only the first is certain to be in both transcripts.
      await s.finish(keepAlive, `lease keep-alive ${id}`, ({ stdout, stderr }) => ({
        stdout: stdout.slice(0, 1),
        stderr,
      }));
      await s.run(['lease', 'revoke', id]);
    });
  });

  it('watch: a key, a prefix, --rev history, --prev-kv, a compacted start', async (context) => {
    needs(context, 'kv', 'watch');
    await compare(async (s) => {
      // A plain watch on one key, established before the writes.
      const onKey = s.spawn(['watch', 'wk']);
      const skipKey = await syncWatch(s, onKey, 'wk');
      await s.mark();
      await s.run(['put', 'wk', 'a']);
      await s.run(['put', 'wk/other', 'x']);
      await s.run(['put', 'wk', 'b']);
      await s.run(['del', 'wk']);
      await s.run(['txn'], { input: txnInput([], ['put wk c', 'put wk2 d', 'del wk/other'], []) });
      await s.run(['put', 'wk', '__end']);
      await onKey.waitFor('the end marker', () => onKey.stdoutLines.includes('__end'));
      await finishWatch(s, onKey, 'watch wk', skipKey);

      // A prefix watch.
      const onPrefix = s.spawn(['watch', '--prefix', 'wp/']);
      const skipPrefix = await syncWatch(s, onPrefix, 'wp/sync');
      await s.run(['put', 'wp/a', '1']);
      await s.run(['put', 'wq/a', 'not watched']);
      await s.run(['put', 'wp/b', '2']);
      await s.run(['del', '--prefix', 'wp/']);
      await s.run(['put', 'wp/end', '__end']);
      await onPrefix.waitFor('the end marker', () => onPrefix.stdoutLines.includes('__end'));
      await finishWatch(s, onPrefix, 'watch --prefix wp/', skipPrefix);

      // History: started after the writes, from a revision.
      await s.mark();
      await s.run(['put', 'wr/a', '1']);
      await s.run(['put', 'wr/a', '2']);
      await s.run(['del', 'wr/a']);
      await s.run(['put', 'wr/b', '3']);
      const fromRev = s.spawn(['watch', '--prefix', `--rev=${s.rev(2)}`, 'wr/']);
      const fromRevPrev = s.spawn(['watch', '--prefix', '--prev-kv', `--rev=${s.rev(1)}`, 'wr/']);
      const keyPrev = s.spawn(['watch', '--prev-kv', `--rev=${s.rev(1)}`, 'wr/a']);
      await fromRev.waitFor('history', () => fromRev.stdoutLines.includes('wr/b'));
      await fromRevPrev.waitFor('history', () => fromRevPrev.stdoutLines.includes('wr/b'));
      await keyPrev.waitFor('history', () => keyPrev.stdoutLines.includes('DELETE'));
      await s.run(['put', 'wr/a', '4']);
      await keyPrev.waitFor('the live event', () => keyPrev.stdoutLines.at(-1) === '4');
      await fromRevPrev.waitFor('the live event', () => fromRevPrev.stdoutLines.at(-1) === '4');
      await fromRev.waitFor('the live event', () => fromRev.stdoutLines.at(-1) === '4');
      await finishWatch(s, fromRev, 'watch --prefix --rev=<rev+2> wr/', 0);
      await finishWatch(s, fromRevPrev, 'watch --prefix --prev-kv --rev=<rev+1> wr/', 0);
      await finishWatch(s, keyPrev, 'watch --prev-kv --rev=<rev+1> wr/a', 0);

      // A range watch [from, to).
      await s.mark();
      const range = s.spawn(['watch', `--rev=${s.rev(1)}`, 'wr/a', 'wr/c']);
      await s.run(['put', 'wr/c', 'outside']);
      await s.run(['put', 'wr/b', 'inside']);
      await range.waitFor('the event', () => range.stdoutLines.includes('inside'));
      await finishWatch(s, range, 'watch --rev=<rev+1> wr/a wr/c', 0);

      // Compacted history: the server cancels the watch.
      await s.run(['compaction', String(s.rev(2))], {
        label: 'compaction <rev+2>',
        hook: ({ stdout, stderr }) => ({ stdout: stdout.map((l) => l.replace(/\d+$/, '<rev+2>')), stderr }),
      });
      const compacted = await s.run(['watch', `--rev=${s.rev(1)}`, 'wr/b'], {
        label: 'watch --rev=<rev+1> wr/b (compacted)',
        timeoutMs: 10_000,
      });
      expect(compacted.code, `${s.backend.label}: a canceled watch exits`).not.toBeNull();
      await s.run(['del', '--prefix', 'w']);
    });
  });

  it('member list, endpoint status / health / hashkv, alarm list', async (context) => {
    needs(context, 'kv', 'cluster', 'maintenance');
    await compare(async (s) => {
      await s.run(['member', 'list'], { hook: memberRows });
      await s.run(['member', 'list', '-w', 'json'], { hook: memberRows });
      await s.run(['member', 'list', '-w', 'table'], { hook: composeHooks(tableRows, memberRows) });
      await s.run(['member', 'list'], { members: [1], hook: memberRows });
      // etcd lists members in ascending id order.
      const listed = await runEtcdctl(s.endpoints(), ['member', 'list']);
      const ids = listed.stdout
        .trim()
        .split('\n')
        .map((line) => BigInt(`0x${line.split(',')[0]}`));
      s.note(
        'member list is in ascending id order',
        ids.every((id, i) => i === 0 || ids[i - 1]! < id),
      );

      await s.run(['endpoint', 'status'], { hook: statusRows });
      await s.run(['endpoint', 'status', '-w', 'table'], { hook: composeHooks(tableRows, statusRows) });
      await s.run(['endpoint', 'status', '-w', 'json']);
      const statuses = await endpointStatus(s);
      const leaders = new Set(statuses.map((entry) => entry.Status.leader));
      const [leader] = leaders;
      s.note(
        'every member names one leader, a member',
        leaders.size === 1 && s.backend.members.has(leader ?? ''),
      );
      s.note(
        'the leader says it leads',
        statuses.filter((entry) => entry.Status.header.member_id === leader).length === 1,
      );

      await s.run(['endpoint', 'health'], { hook: hooks.sortLines });
      await s.run(['endpoint', 'health', '-w', 'json'], {
        hook: ({ stdout, stderr }) => ({
          stdout: stdout.map((line) => {
            if (!line.startsWith('[')) return line;
            const parsed = JSON.parse(line) as { endpoint: string }[];
            return JSON.stringify(parsed.sort((a, b) => a.endpoint.localeCompare(b.endpoint)));
          }),
          stderr,
        }),
      });

      await s.run(['put', 'hk/a', '1']);
      await converged(s);
      await s.run(['endpoint', 'hashkv'], { hook: hashRows });
      await s.run(['endpoint', 'hashkv', '-w', 'json']);
      const hashes = await runEtcdctl(s.endpoints(), ['endpoint', 'hashkv']);
      s.note(
        'every member has the same hash',
        new Set(
          hashes.stdout
            .trim()
            .split('\n')
            .map((l) => l.split(', ')[1]),
        ).size === 1,
      );
      await s.run(['del', 'hk/a']);

      await s.run(['alarm', 'list']);
      await s.run(['alarm', 'disarm']);
    });
  });

  it('alarm list -w json: etcd answers without a response header', async (context) => {
    needs(context, 'maintenance');
    await compare(async (s) => {
      await s.run(['alarm', 'list', '-w', 'json']);
      await s.run(['alarm', 'disarm', '-w', 'json']);
    });
  });

  it('move-leader transfers leadership and refuses what etcd refuses', async (context) => {
    needs(context, 'kv', 'cluster', 'maintenance');
    await compare(async (s) => {
      const leader = await leaderName(s);
      const target = NAMES.find((n) => n !== leader)!;
      const follower = NAMES.find((n) => n !== leader && n !== target)!;
      const hexOf = (name: string): string =>
        BigInt([...s.backend.members].find(([, n]) => n === name)![0]).toString(16);
      const named = roles({ [leader]: 'old leader', [target]: 'target', [follower]: 'follower' });
      await s.run(['move-leader', hexOf(target)], { label: 'move-leader <target>', hook: named });
      const now = await leaderName(s);
      s.note('the target leads', now === target);
      const renamed = roles({ [target]: 'leader', [follower]: 'follower', [leader]: 'follower 2' });
      await s.run(['move-leader', hexOf(target)], {
        label: 'move-leader <the leader itself>',
        hook: renamed,
      });
      await s.run(['move-leader', 'ffff'], { label: 'move-leader <not a member>', hook: renamed });
      await s.run(['move-leader', hexOf(leader)], {
        members: [NAMES.indexOf(follower)],
        label: 'move-leader <follower 2> through the follower only',
        hook: renamed,
      });
    });
  });

  it('snapshot save streams a snapshot from one member', async (context) => {
    needs(context, 'maintenance');
    await compare(async (s) => {
      const dir = s.tempDir();
      await s.run(['snapshot', 'save', `${dir}/all.db`], {
        label: 'snapshot save <dir>/all.db (every endpoint)',
      });
      await s.run(['snapshot', 'save', `${dir}/one.db`], {
        members: [0],
        label: 'snapshot save <dir>/one.db [n1]',
      });
    });
  });

  it("snapshot status reads etcd's snapshot, not raftree's (a known difference: not a bbolt file)", async (context) => {
    needs(context, 'maintenance');
    const outcomes = await Promise.all(
      [etcdBackend, raftreeBackend].map(async (backend) => {
        const s = new CtlSession(backend);
        try {
          const file = `${s.tempDir()}/one.db`;
          const saved = await runEtcdctl([backend.endpoints[0]!], ['snapshot', 'save', file]);
          expect(saved.code, `${backend.label}: ${saved.stderr}`).toBe(0);
          return await runEtcdctl([], ['snapshot', 'status', file, '-w', 'json']);
        } finally {
          await s.cleanup();
        }
      }),
    );
    expect(outcomes[0]!.code).toBe(0);
    expect(outcomes[1]).toMatchObject({ code: 1, stderr: 'Error: invalid database\n' });
  });

  /** elect: the first candidate leads, a second waits, an observer follows both. */
  async function electScenario(s: CtlSession, name: string): Promise<void> {
    const first = s.spawn(['elect', name, 'v1']);
    await first.waitFor('leadership', () => first.stdoutLines.length >= 2);
    s.learnLeasesFromKeys(name, first.stdoutLines);
    const second = s.spawn(['elect', name, 'v2']);
    const observer = s.spawn(['elect', '-l', name]);
    await observer.waitFor('the leader', () => observer.stdoutLines.length >= 2);
    await sleep(300);
    s.note('the second candidate waits', second.stdoutLines.length === 0 && second.running);
    await s.finish(first, `elect ${name} v1 (interrupted while leading)`);
    await second.waitFor('leadership', () => second.stdoutLines.length >= 2);
    s.learnLeasesFromKeys(name, second.stdoutLines);
    await observer.waitFor('the new leader', () => observer.stdoutLines.length >= 4);
    await s.finish(second, `elect ${name} v2 (interrupted while leading)`);
    await sleep(200);
    await s.finish(observer, `elect -l ${name}`);
    await s.run(['get', '--prefix', `${name}/`]);
  }

  /** lock: the first holder holds, a second waits until the first is interrupted. */
  async function lockScenario(s: CtlSession, name: string): Promise<void> {
    const first = s.spawn(['lock', name]);
    await first.waitFor('the lock', () => first.stdoutLines.length >= 1);
    s.learnLeasesFromKeys(name, first.stdoutLines);
    const second = s.spawn(['lock', name]);
    await sleep(300);
    s.note('the second waits', second.stdoutLines.length === 0 && second.running);
    await s.finish(first, `lock ${name} (interrupted while holding)`);
    await second.waitFor('the lock', () => second.stdoutLines.length >= 1);
    s.learnLeasesFromKeys(name, second.stdoutLines);
    // A third, with a command to run under the lock, runs it once the second lets go.
    const third = s.spawn(['lock', name, 'echo', 'ran under the lock']);
    await sleep(200);
    s.note('the command waits for the lock', third.stdoutLines.length === 0 && third.running);
    await s.finish(second, `lock ${name} (interrupted while holding)`);
    await third.exited();
    await s.finish(third, `lock ${name} echo ran under the lock`);
    await s.run(['get', '--prefix', `${name}/`]);
  }

  it('elect: one leads, a second waits, elect -l observes', async (context) => {
    needs(context, 'kv', 'lease', 'watch', 'election');
    await compare((s) => electScenario(s, 'el'));
  });

  it('lock: a second holder waits until the first is interrupted', async (context) => {
    needs(context, 'kv', 'lease', 'watch', 'lock');
    await compare((s) => lockScenario(s, 'lk'));
  });

  it('lock: a holder killed with SIGKILL lets the next in when its lease expires', async (context) => {
    needs(context, 'kv', 'lease', 'watch', 'lock');
    await compare(async (s) => {
      const first = s.spawn(['lock', '--ttl=2', 'lkk']);
      await first.waitFor('the lock', () => first.stdoutLines.length >= 1);
      s.learnLeasesFromKeys('lkk', first.stdoutLines);
      const second = s.spawn(['lock', '--ttl=2', 'lkk']);
      await sleep(200);
      await first.stop('SIGKILL');
      const killedAt = Date.now();
      await s.finish(first, 'lock --ttl=2 lkk (SIGKILLed while holding)');
      await second.waitFor('the lock', () => second.stdoutLines.length >= 1, 15_000);
      const waited = Date.now() - killedAt;
      s.learnLeasesFromKeys('lkk', second.stdoutLines);
      // Nothing revoked the lease: the lock passed on only when its 2 s TTL ran out.
      s.note('the second waited for the lease to expire', waited >= 1_000 && waited < 10_000);
      await s.finish(second, 'lock --ttl=2 lkk');
      await s.run(['get', '--prefix', 'lkk/']);
    });
  });

  it('elect and lock with a follower stopped', async (context) => {
    needs(context, 'kv', 'lease', 'watch', 'election', 'lock', 'maintenance');
    // Stop a member that holds nothing special (not the leader) in both clusters.
    const [etcdLeader, raftreeLeader] = await Promise.all(
      [etcdBackend, raftreeBackend].map((b) => leaderName(new CtlSession(b))),
    );
    const etcdVictim = NAMES.findIndex((n) => n !== etcdLeader);
    const raftreeVictim = NAMES.findIndex((n) => n !== raftreeLeader);
    await Promise.all([etcd!.stopMember(etcdVictim), raftree!.stopNode(raftreeVictim)]);
    // etcdctl keeps every endpoint, the stopped one too, as a user's configuration would.
    await compare(async (s) => {
      await electScenario(s, 'el2');
      await lockScenario(s, 'lk2');
    });
  });
});
