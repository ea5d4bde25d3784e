/**
 * The `raftree` client commands as a user runs them (child processes of the built CLI) against
 * a real three-node cluster: put/get/del/txn/compact, the exact --json shapes, human output,
 * and the exit codes and one-line messages of bad input.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../support/cli-runner.js';
import { ProcessCluster } from '../support/process-cluster.js';

let cluster: ProcessCluster;
let endpoints: string;

beforeAll(async () => {
  cluster = await ProcessCluster.start();
  endpoints = cluster.endpoints().join(',');
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

function cli(...args: string[]): Promise<CliResult> {
  return runCli([...args, '--endpoints', endpoints]);
}

async function json(...args: string[]): Promise<unknown> {
  const result = await cli(...args, '--json');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const lines = result.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!);
}

/** One line on stderr, no stack trace. */
function expectOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  expect(result.code).toBe(code);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^raftree: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('raftree put / get / del', () => {
  it('put and get with the exact JSON shapes', async () => {
    const put = (await json('put', '/cli/a', 'hello')) as { revision: number };
    expect(Object.keys(put)).toEqual(['revision']);
    expect(put.revision).toBeGreaterThan(0);

    const got = await json('get', '/cli/a');
    expect(JSON.stringify(got)).toBe(
      JSON.stringify({
        revision: (got as { revision: number }).revision,
        kvs: [
          {
            key: '/cli/a',
            value: 'hello',
            createRevision: put.revision,
            modRevision: put.revision,
            version: 1,
          },
        ],
      }),
    );
    expect((got as { revision: number }).revision).toBeGreaterThanOrEqual(put.revision);
  });

  it('human output', async () => {
    const put = await cli('put', '/cli/h', 'two words');
    expect(put.code).toBe(0);
    expect(put.stdout).toMatch(/^OK \(revision \d+\)\n$/);
    const got = await cli('get', '/cli/h');
    expect(got.stdout).toBe('/cli/h\ntwo words\n');
    const missing = await cli('get', '/cli/none');
    expect(missing).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('get --prefix, --keys-only, --count-only, --limit, --children, --rev, --serializable, --base64', async () => {
    const first = (await json('put', '/cli/p/a', 'A')) as { revision: number };
    await json('put', '/cli/p/b', 'B');
    await json('put', '/cli/p/b/c', 'C');
    await json('put', '/cli/p/a', 'A2');

    const prefix = (await json('get', '/cli/p/', '--prefix')) as { kvs: { key: string; value: string }[] };
    expect(prefix.kvs.map((kv) => `${kv.key}=${kv.value}`)).toEqual([
      '/cli/p/a=A2',
      '/cli/p/b=B',
      '/cli/p/b/c=C',
    ]);
    expect((await cli('get', '/cli/p/', '--prefix', '--keys-only')).stdout).toBe(
      '/cli/p/a\n/cli/p/b\n/cli/p/b/c\n',
    );
    expect((await cli('get', '/cli/p/', '--prefix', '--count-only')).stdout).toBe('3\n');
    expect(await json('get', '/cli/p/', '--prefix', '--count-only')).toMatchObject({ count: 3 });

    const limited = await cli('get', '/cli/p/', '--prefix', '--limit', '1');
    expect(limited.stdout).toBe('/cli/p/a\nA2\n');
    expect(limited.stderr).toMatch(/3 keys match; showing the first 1/);

    const children = (await json('get', '/cli/p', '--children')) as {
      kvs: { key: string }[];
      children: unknown[];
    };
    expect(children.kvs.map((kv) => kv.key)).toEqual(['/cli/p/a', '/cli/p/b']);
    expect(children.children).toEqual([
      { name: 'a', key: '/cli/p/a', hasKey: true },
      { name: 'b', key: '/cli/p/b', hasKey: true },
    ]);

    const old = (await json('get', '/cli/p/a', '--rev', String(first.revision))) as {
      kvs: { value: string }[];
    };
    expect(old.kvs[0]!.value).toBe('A');
    expect(((await json('get', '/cli/p/a', '--serializable')) as { kvs: unknown[] }).kvs).toHaveLength(1);
    const b64 = (await json('get', '/cli/p/a', '--base64')) as { kvs: { value: string }[] };
    expect(b64.kvs[0]!.value).toBe(Buffer.from('A2').toString('base64'));
  });

  it('put reads the value from stdin when it is omitted', async () => {
    const put = await runCli(['put', '/cli/stdin', '--endpoints', endpoints], { input: 'from stdin\n' });
    expect(put.code).toBe(0);
    expect((await cli('get', '/cli/stdin')).stdout).toBe('/cli/stdin\nfrom stdin\n\n');
  });

  it('del a key and a prefix', async () => {
    await json('put', '/cli/d/a', '1');
    await json('put', '/cli/d/b', '2');
    const one = (await json('del', '/cli/d/a')) as { revision: number; deleted: number };
    expect(Object.keys(one)).toEqual(['revision', 'deleted']);
    expect(one.deleted).toBe(1);
    const none = await cli('del', '/cli/d/a');
    expect(none.stdout).toMatch(/^deleted 0 keys \(revision \d+\)\n$/);
    expect(await json('del', '/cli/d/', '--prefix')).toMatchObject({ deleted: 1 });
  });

  it('compact, after which old revisions are gone', async () => {
    const old = (await json('put', '/cli/compact', 'v1')) as { revision: number };
    const newer = (await json('put', '/cli/compact', 'v2')) as { revision: number };
    const compacted = await cli('compact', String(newer.revision));
    expect(compacted.code).toBe(0);
    expect(compacted.stdout).toMatch(new RegExp(`before revision ${newer.revision}`));
    expectOneLineError(
      await cli('get', '/cli/compact', '--rev', String(old.revision)),
      1,
      /OUT_OF_RANGE.*compacted/,
    );
  });

  it('RAFTREE_ENDPOINTS is the default for --endpoints', async () => {
    const result = await runCli(['put', '/cli/env', 'x', '--json'], {
      env: { RAFTREE_ENDPOINTS: endpoints },
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toHaveProperty('revision');
  });
});

describe('raftree txn', () => {
  it('compare-and-swap from arguments, both branches', async () => {
    const args = [
      'txn',
      '--if',
      'version(/cli/txn) = 0',
      '--then',
      'put /cli/txn "first value"',
      '--else',
      'get /cli/txn',
    ];
    const created = (await json(...args)) as { revision: number; succeeded: boolean; responses: unknown[] };
    expect(Object.keys(created)).toEqual(['revision', 'succeeded', 'responses']);
    expect(created.succeeded).toBe(true);
    expect(created.responses).toEqual([{ type: 'put', revision: created.revision }]);

    const again = (await json(...args)) as {
      succeeded: boolean;
      responses: { type: string; kvs: unknown[] }[];
    };
    expect(again.succeeded).toBe(false);
    expect(again.responses[0]!.type).toBe('get');
    expect(again.responses[0]!.kvs).toEqual([
      {
        key: '/cli/txn',
        value: 'first value',
        createRevision: created.revision,
        modRevision: created.revision,
        version: 1,
      },
    ]);

    const human = await cli(...args);
    expect(human.stdout).toMatch(/^FAILED \(revision \d+\)\nget: 1 key\n\/cli\/txn\nfirst value\n$/);

    const swap = await cli(
      'txn',
      '--if',
      'value(/cli/txn) = "first value"',
      '--if',
      `mod(/cli/txn) = ${created.revision}`,
      '--then',
      'put /cli/txn second',
      '--then',
      'del /cli/other',
    );
    expect(swap.stdout).toMatch(/^SUCCEEDED \(revision \d+\)\nput: OK\ndel: 0 deleted\n$/);
  });

  it('reads an etcdctl-style script from stdin', async () => {
    const script = 'create(/cli/script) = 0\n\nput /cli/script one\n\nget /cli/script\n';
    const first = await runCli(['txn', '--json', '--endpoints', endpoints], { input: script });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ succeeded: true });
    const second = await runCli(['txn', '--json', '--endpoints', endpoints], { input: script });
    expect(JSON.parse(second.stdout)).toMatchObject({
      succeeded: false,
      responses: [{ type: 'get', kvs: [{ value: 'one' }] }],
    });
  });
});

describe('raftree --version', () => {
  it("prints package.json's version and exits 0", async () => {
    const { version } = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'),
    ) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag]);
      expect(result).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });
});

describe('bad input', () => {
  it('usage errors exit 2 with one line', async () => {
    expectOneLineError(await cli('get'), 2, /missing required argument 'key'.*raftree get --help/);
    expectOneLineError(await cli('get', '/a', '--rev', 'abc'), 2, /--rev.*invalid/);
    expectOneLineError(await cli('get', '/a', '--limit', '0'), 2, /--limit.*invalid/);
    expectOneLineError(await cli('get', '/a', '--prefix', '--children'), 2, /--prefix or --children/);
    expectOneLineError(await cli('get', '/a', '--bogus'), 2, /unknown option '--bogus'/);
    expectOneLineError(await cli('put', '', 'x'), 2, /KEY must not be empty/);
    expectOneLineError(await cli('compact', 'x'), 2, /REVISION must be a positive integer/);
    expectOneLineError(
      await cli('txn', '--if', 'versio(/a) = 0', '--then', 'put /a 1'),
      2,
      /unknown compare target "versio"/,
    );
    expectOneLineError(await cli('txn', '--then', 'put /a'), 2, /expected put KEY VALUE/);
    expectOneLineError(await runCli(['txn', '--endpoints', endpoints], { input: '' }), 2, /no ops/);
    expectOneLineError(
      await runCli(['get', '/a', '--endpoints', 'nonsense']),
      2,
      /"nonsense" is not HOST:PORT/,
    );
  });

  it('server refusals exit 1 with the status and the reason', async () => {
    const big = Buffer.alloc(1024 * 1024 + 10, 'x');
    const tooBig = await runCli(['put', '/cli/big', '--endpoints', endpoints], { input: big });
    expectOneLineError(tooBig, 1, /RESOURCE_EXHAUSTED.*values may be at most 1048576 bytes/);
    expectOneLineError(await cli('get', '/a', '--rev', '999999999'), 1, /OUT_OF_RANGE/);
    expectOneLineError(await cli('get', 'a', '--children'), 1, /INVALID_ARGUMENT/);
  });

  it('an unreachable cluster exits 1 naming the endpoints', async () => {
    const result = await runCli(['get', '/a', '--endpoints', '127.0.0.1:1,127.0.0.1:2', '--timeout', '1500']);
    expectOneLineError(result, 1, /UNAVAILABLE.*127\.0\.0\.1:1, 127\.0\.0\.1:2.*is the cluster running/);
    const put = await runCli(['put', '/a', 'x', '--endpoints', '127.0.0.1:1', '--timeout', '1500']);
    expectOneLineError(put, 1, /UNAVAILABLE/);
  });
});
