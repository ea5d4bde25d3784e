/** Watch over gRPC: history then live, modes, prev_kv, cancel, compaction, progress, slow consumers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openRawWatch,
  openWatch,
  startCluster,
  text,
  unary,
  waitFor,
  type ApiClients,
  type RawWatchStream,
  type TestCluster,
  type WatchSession,
} from './api-harness.js';

const PREFIX = 1;
const CHILDREN = 2;
const PUT = 0;
const DELETE = 1;

let cluster: TestCluster;
const sessions: WatchSession[] = [];
const raws: RawWatchStream[] = [];
const leader = (): ApiClients => cluster.clients[cluster.leaderIndex()]!;
const follower = (): ApiClients => cluster.clients[cluster.followerIndex()]!;
const put = async (key: string, value: string): Promise<number> =>
  (await unary<{ header: { revision: number } }>(leader().kv, 'Put', { key, value: text(value) })).header
    .revision;
const watchOn = (clients: ApiClients): WatchSession => {
  const session = openWatch(clients);
  sessions.push(session);
  return session;
};

beforeAll(async () => {
  cluster = await startCluster({ api: { watchProgressIntervalMs: 100, watchMaxBufferedEvents: 50 } });
}, 30_000);

afterAll(async () => {
  for (const session of sessions) session.close();
  for (const raw of raws) raw.close();
  await cluster?.stop();
}, 30_000);

describe('Watch', () => {
  it('delivers history from start_revision, then live events, in order and once', async () => {
    const r1 = await put('/w/hist', 'a');
    await put('/w/hist', 'b');
    await put('/w/hist', 'c');
    const watch = watchOn(follower());
    watch.send({ create: { key: '/w/hist', startRevision: r1 } });
    const created = await watch.next((r) => r.created);
    expect(created.canceled).toBe(false);
    const id = created.watchId;
    expect(id).toBeGreaterThan(0);
    await waitFor(() => watch.events(id).length === 3, 'three history events');
    const r4 = await put('/w/hist', 'd');
    await waitFor(() => watch.events(id).length === 4, 'the live event');
    const events = watch.events(id);
    expect(events.map((e) => e.kv.value.toString())).toEqual(['a', 'b', 'c', 'd']);
    expect(events.map((e) => e.kv.modRevision)).toEqual([r1, r1 + 1, r1 + 2, r4]);
    // Each events response's header says how far the watch has been delivered.
    const last = watch.responses.filter((r) => r.watchId === id && r.events.length > 0).at(-1)!;
    expect(last.header.revision).toBeGreaterThanOrEqual(r4);
  });

  it("watches a prefix and a path's direct children, with prev_kv and deletes", async () => {
    const watch = watchOn(leader());
    watch.send({ create: { key: '/w/dir', mode: CHILDREN, prevKv: true, watchId: 10 } });
    watch.send({ create: { key: '/w/dir/', mode: PREFIX, watchId: 11 } });
    expect((await watch.next((r) => r.created && r.watchId === 10)).canceled).toBe(false);
    expect((await watch.next((r) => r.created && r.watchId === 11)).canceled).toBe(false);
    await put('/w/dir/x', 'one');
    await put('/w/dir/x/deep', 'deep');
    await put('/w/dirx', 'sibling');
    await put('/w/dir/x', 'two');
    await unary(leader().kv, 'Delete', { key: '/w/dir/x' });
    await waitFor(
      () => watch.events(10).length === 3 && watch.events(11).length === 4,
      'children and prefix events',
    );
    const children = watch.events(10);
    expect(children.map((e) => [e.type, e.kv.key])).toEqual([
      [PUT, '/w/dir/x'],
      [PUT, '/w/dir/x'],
      [DELETE, '/w/dir/x'],
    ]);
    expect(children[1]!.prevKv?.value.toString()).toBe('one');
    expect(children[2]!.prevKv?.value.toString()).toBe('two');
    expect(watch.events(11).map((e) => e.kv.key)).toEqual([
      '/w/dir/x',
      '/w/dir/x/deep',
      '/w/dir/x',
      '/w/dir/x',
    ]);
    expect(watch.events(11)[1]!.prevKv).toBeNull();
  });

  it('groups the events of one revision (a txn) in one response', async () => {
    const watch = watchOn(leader());
    watch.send({ create: { key: '/w/txn/', mode: PREFIX } });
    const id = (await watch.next((r) => r.created)).watchId;
    await unary(leader().kv, 'Txn', {
      success: [1, 2, 3].map((i) => ({ put: { key: `/w/txn/${i}`, value: text(`${i}`) } })),
    });
    const response = await watch.next((r) => r.watchId === id && r.events.length > 0);
    expect(response.events).toHaveLength(3);
  });

  it('cancels a watch on request, and answers an unknown id without closing the stream', async () => {
    const watch = watchOn(leader());
    watch.send({ create: { key: '/w/cancel' } });
    const id = (await watch.next((r) => r.created)).watchId;
    watch.send({ cancel: { watchId: id } });
    const canceled = await watch.next((r) => r.canceled && r.watchId === id);
    expect(canceled.cancelReason).toBe('');
    watch.send({ cancel: { watchId: 999 } });
    const unknown = await watch.next((r) => r.canceled && r.watchId === 999);
    expect(unknown.cancelReason).toBe('unknown watch id 999');
    // The stream still serves, and the canceled watch got nothing.
    watch.send({ create: { key: '/w/cancel', watchId: 5 } });
    await watch.next((r) => r.created && r.watchId === 5);
    await put('/w/cancel', 'x');
    await watch.next((r) => r.watchId === 5 && r.events.length === 1);
    expect(watch.events(id)).toHaveLength(0);
    // A client-chosen id already in use is refused.
    watch.send({ create: { key: '/w/other', watchId: 5 } });
    const duplicate = await watch.next((r) => r.created && r.canceled && r.watchId === 5);
    expect(duplicate.cancelReason).toMatch(/already in use/);
  });

  it('refuses a bad create with a reason, keeping the stream', async () => {
    const watch = watchOn(follower());
    watch.send({ create: { key: 'no-slash', mode: CHILDREN, watchId: 3 } });
    const refused = await watch.next((r) => r.watchId === 3);
    expect(refused).toMatchObject({ created: true, canceled: true });
    expect(refused.cancelReason).toMatch(/CHILDREN needs a path/);
    watch.send({ create: { key: '/w/fine', watchId: 3 } });
    expect((await watch.next((r) => r.watchId === 3)).canceled).toBe(false);
  });

  it('cancels a watch from a compacted revision, naming the compact revision', async () => {
    const first = await put('/w/compacted', 'old');
    const second = await put('/w/compacted', 'new');
    await unary(leader().kv, 'Compact', { revision: second });
    const watch = watchOn(follower());
    await waitFor(
      () => cluster.nodes[cluster.followerIndex()]!.replica.stateMachine.compactRevision >= second,
      'compaction on the follower',
    );
    watch.send({ create: { key: '/w/compacted', startRevision: first } });
    const response = await watch.next((r) => r.canceled);
    expect(response.compactRevision).toBe(second);
    expect(response.cancelReason).toContain(`${second}`);
    expect(response.cancelReason).toMatch(/compacted/);
  });

  it('answers a progress request, and sends periodic progress to watches that ask', async () => {
    const watch = watchOn(leader());
    watch.send({ create: { key: '/w/progress', progressNotify: true } });
    const id = (await watch.next((r) => r.created)).watchId;
    const revision = await put('/w/unrelated', 'x');
    watch.send({ progress: {} });
    const progress = await watch.next((r) => r.progress && r.watchId === -1);
    expect(progress.header.revision).toBeGreaterThanOrEqual(revision);
    const periodic = await watch.next((r) => r.progress && r.watchId === id, 3000);
    expect(periodic.header.revision).toBeGreaterThanOrEqual(revision);
  });

  it('cancels a watch whose client stops reading, saying where to resume', async () => {
    const raw = openRawWatch(leader().address);
    raws.push(raw);
    raw.send({ create: { key: '/w/slow/', mode: PREFIX, watchId: 1 } });
    await waitFor(() => raw.responses.some((r) => r.created), 'the watch to be created');
    raw.pause();
    const value = Buffer.alloc(32 * 1024, 1);
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          unary(leader().kv, 'Put', { key: `/w/slow/${batch}-${i}`, value }),
        ),
      );
    }
    raw.resume();
    await waitFor(() => raw.responses.some((r) => r.canceled), 'the watch to be canceled as too slow');
    const canceled = raw.responses.find((r) => r.canceled)!;
    expect(canceled.cancelReason).toMatch(/fell more than 50 events behind.*resume from revision \d+/);
    // Everything delivered before the cancel is in order, and the resume point follows it.
    const revisions = raw.responses.flatMap((r) => r.events.map((e) => e.kv.modRevision));
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(revisions.length).toBeLessThan(200);
    const resumeAt = Number(/resume from revision (\d+)/.exec(canceled.cancelReason)![1]);
    expect(resumeAt).toBe(revisions.at(-1)! + 1);
    // The member still serves other watches and writes.
    const other = watchOn(leader());
    other.send({ create: { key: '/w/after-slow' } });
    await other.next((r) => r.created);
  });
});
