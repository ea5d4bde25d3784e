/**
 * Bad input over gRPC: every refusal has the right status code and an actionable message,
 * nothing reaches the log, and the node keeps serving (also after raw garbage on its port).
 */
import { connect as netConnect } from 'node:net';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callError, startCluster, text, unary, type ApiClients, type TestCluster } from './api-harness.js';

const PREFIX = 1;
const CHILDREN = 2;
const KiB = 1024;
const MiB = 1024 * KiB;

let cluster: TestCluster;
const leader = (): ApiClients => cluster.clients[cluster.leaderIndex()]!;
const follower = (): ApiClients => cluster.clients[cluster.followerIndex()]!;
const revisionNow = async (): Promise<number> =>
  (await unary<{ header: { revision: number } }>(leader().kv, 'Range', { key: '/x' })).header.revision;

async function expectStatus(promise: Promise<unknown>, code: grpc.status, message: RegExp): Promise<void> {
  const error = await callError(promise);
  expect({ code: grpc.status[error.code], details: error.details }).toMatchObject({
    code: grpc.status[code],
  });
  expect(error.details).toMatch(message);
}

beforeAll(async () => {
  cluster = await startCluster();
}, 30_000);

afterAll(async () => {
  await cluster?.stop();
}, 30_000);

describe('request validation', () => {
  it('refuses bad keys, values and sizes before proposing, on leader and follower alike', async () => {
    const before = await revisionNow();
    for (const client of [leader(), follower()]) {
      const kv = client.kv;
      await expectStatus(
        unary(kv, 'Put', { key: '', value: text('v') }),
        grpc.status.INVALID_ARGUMENT,
        /key is empty/,
      );
      // 2049 two-byte characters: under the limit in characters, over it in UTF-8 bytes.
      await expectStatus(
        unary(kv, 'Put', { key: 'é'.repeat(2049), value: text('v') }),
        grpc.status.INVALID_ARGUMENT,
        /4098 bytes.*at most 4096 bytes/,
      );
      await expectStatus(
        unary(kv, 'Put', { key: '/big', value: Buffer.alloc(MiB + 1) }),
        grpc.status.RESOURCE_EXHAUSTED,
        /values may be at most 1048576 bytes/,
      );
      await expectStatus(
        unary(kv, 'Put', { key: '/huge', value: Buffer.alloc(1.6 * MiB) }),
        grpc.status.RESOURCE_EXHAUSTED,
        /limit is 1572864 bytes per request/,
      );
      await expectStatus(
        unary(kv, 'Txn', {
          success: [
            { put: { key: '/t1', value: Buffer.alloc(0.9 * MiB) } },
            { put: { key: '/t2', value: Buffer.alloc(0.9 * MiB) } },
          ],
        }),
        grpc.status.RESOURCE_EXHAUSTED,
        /per request/,
      );
      const ops = Array.from({ length: 129 }, (_, i) => ({ put: { key: `/ops/${i}`, value: text('v') } }));
      await expectStatus(
        unary(kv, 'Txn', { success: ops }),
        grpc.status.INVALID_ARGUMENT,
        /129 success ops; at most 128/,
      );
      await expectStatus(
        unary(kv, 'Txn', {
          success: [{ put: { key: '/dup', value: text('a') } }, { put: { key: '/dup', value: text('b') } }],
        }),
        grpc.status.INVALID_ARGUMENT,
        /duplicate key/,
      );
      await expectStatus(unary(kv, 'Txn', { success: [{}] }), grpc.status.INVALID_ARGUMENT, /op #1 is empty/);
      await expectStatus(
        unary(kv, 'Delete', { key: '', prefix: true }),
        grpc.status.INVALID_ARGUMENT,
        /empty prefix/,
      );
      await expectStatus(unary(kv, 'Delete', { key: '' }), grpc.status.INVALID_ARGUMENT, /key is empty/);
      await expectStatus(
        unary(kv, 'Compact', { revision: 0 }),
        grpc.status.INVALID_ARGUMENT,
        /positive revision/,
      );
      await expectStatus(
        unary(kv, 'Compact', { revision: -3 }),
        grpc.status.INVALID_ARGUMENT,
        /positive revision/,
      );
    }
    expect(await revisionNow()).toBe(before);
  });

  it('refuses malformed reads', async () => {
    const kv = follower().kv;
    for (const path of ['a/b', '/a//b', '/a/', '']) {
      await expectStatus(
        unary(kv, 'Range', { key: path, mode: CHILDREN }),
        grpc.status.INVALID_ARGUMENT,
        /CHILDREN needs a path|empty/,
      );
    }
    await unary(kv, 'Range', { key: '/', mode: CHILDREN });
    await unary(kv, 'Range', { key: '', mode: PREFIX, countOnly: true });
    await expectStatus(
      unary(kv, 'Range', { key: '/a', revision: -1 }),
      grpc.status.INVALID_ARGUMENT,
      /revision must not be negative/,
    );
    await expectStatus(
      unary(kv, 'Range', { key: '/a', limit: -5 }),
      grpc.status.INVALID_ARGUMENT,
      /limit must not be negative/,
    );
    await expectStatus(
      unary(kv, 'Range', { key: '/a', mode: 7 }),
      grpc.status.INVALID_ARGUMENT,
      /mode 7 is not one of EXACT/,
    );
    await expectStatus(
      unary(kv, 'Txn', { compare: [{ key: '/a', target: 9 }] }),
      grpc.status.INVALID_ARGUMENT,
      /target 9 is not one of VALUE/,
    );
    await expectStatus(
      unary(kv, 'Range', { key: '/a', revision: 1_000_000 }),
      grpc.status.OUT_OF_RANGE,
      /in the future/,
    );
    await expectStatus(unary(kv, 'Range', { key: '' }), grpc.status.INVALID_ARGUMENT, /key is empty/);
  });

  it('answers undecodable protobuf with INVALID_ARGUMENT and keeps serving', async () => {
    const raw = new grpc.Client(leader().address, grpc.credentials.createInsecure());
    try {
      const send = (bytes: Buffer): Promise<grpc.ServiceError> =>
        new Promise((resolve) => {
          raw.makeUnaryRequest(
            '/raftree.v1.KV/Put',
            (b: Buffer) => b,
            (b: Buffer) => b,
            bytes,
            new grpc.Metadata(),
            { deadline: Date.now() + 5000 },
            (error) => resolve(error!),
          );
        });
      // Field 2 (value) claiming 5 bytes where 1 follows; then a varint that never ends.
      for (const bytes of [Buffer.from([0x12, 0x05, 0x01]), Buffer.from([0xff, 0xff, 0xff, 0xff])]) {
        const error = await send(bytes);
        expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
        expect(error.details).toMatch(/undecodable PutRequest/);
      }
    } finally {
      raw.close();
    }
    await unary(leader().kv, 'Put', { key: '/after-garbage', value: text('ok') });
  });

  it('survives random bytes written straight to the gRPC port', async () => {
    for (const target of [leader().address, follower().address]) {
      const [host, port] = target.split(':');
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve) => {
          const socket = netConnect(Number(port), host!, () => {
            socket.write(randomBytes(4096));
            socket.end();
          });
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
          // The server need not hang up on garbage at once; it must just keep serving others.
          setTimeout(() => socket.destroy(), 100);
        });
      }
      // Half an HTTP/2 preface, then nothing: the connection must not block others.
      const stalled = netConnect(Number(port), host!, () => stalled.write('PRI * HTTP/2.0\r\n'));
      stalled.on('error', () => {});
      const client = cluster.clients.find((c) => c.address === target)!;
      const written = await unary<{ header: { revision: number } }>(client.kv, 'Put', {
        key: '/after-noise',
        value: text(target),
      });
      expect(written.header.revision).toBeGreaterThan(0);
      stalled.destroy();
    }
  });
});
