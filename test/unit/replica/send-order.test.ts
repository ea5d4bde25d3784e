/**
 * When a replica's messages leave relative to its synced write (Replica.handleReady): a
 * leader's appends go to the transport, to be written at once, before the write starts (the
 * followers' fsyncs are on the commit path, not the leader's); a follower's acknowledgement
 * only after the write is durable, also to be written at once. Committed entries written by
 * earlier Readies are applied before the write, not after it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EntryType } from '../../../src/raft/types.js';
import { encodeCommand } from '../../../src/state-machine/index.js';
import { Journal, ReplicaHarness, waitFor } from './harness.js';

const harness = new ReplicaHarness();
afterEach(() => harness.stopAll());

describe('replica send order', () => {
  it(
    'a leader hands its appends over to be written now, before its synced write',
    { timeout: 10_000 },
    async () => {
      const journal = new Journal();
      await harness.startLeader(journal);
      // The new leader's first entry (after the three founding ones) goes to both followers
      // before it is written.
      await waitFor(() => journal.events.includes('persist 4'), 'the first entry written');
      // (A heartbeat falling due in the same turn may share the hand-over.)
      const appendsIn = (event: string): number =>
        event
          .split(' ')[1]!
          .split(',')
          .filter((type) => type === 'append').length;
      const handedOver = journal.indexWhere(
        (event) => /^send \S+ now$/.test(event) && appendsIn(event) === 2,
        'both appends handed over now',
      );
      expect(handedOver).toBeLessThan(journal.indexOf('persist 4'));
      // Its vote request, which promises the persisted term and vote, waited for its write.
      expect(journal.events.filter((e) => e.startsWith('send vote')).every((e) => e.endsWith('now'))).toBe(
        true,
      );
    },
  );

  it(
    'a follower hands its acknowledgement over to be written now, after its synced write',
    { timeout: 10_000 },
    async () => {
      const journal = new Journal();
      const replica = await harness.start('n2', journal, 1_000); // never campaigns during the test
      await waitFor(() => journal.events.includes('persisted'), 'the founding entries written');
      // After the founding configuration (entries 1-3, term 1), n1's first entry of term 2.
      const data = encodeCommand({ type: 'put', key: '/k', value: new Uint8Array([1]) });
      replica.step({
        type: 'append',
        from: 'n1',
        to: 'n2',
        term: 2,
        prevLogIndex: 3,
        prevLogTerm: 1,
        entries: [{ index: 4, term: 2, type: EntryType.Normal, data }],
        commit: 0,
      });
      await waitFor(() => journal.sent.some((m) => m.type === 'appendResp'), 'the acknowledgement');
      const writing = journal.indexOf('persist 4');
      expect(journal.events[writing + 1]).toBe('persisted');
      expect(journal.indexOf('send appendResp now')).toBeGreaterThan(writing + 1);
    },
  );

  it(
    'a follower applies committed entries it holds durably before writing the next ones',
    { timeout: 10_000 },
    async () => {
      const journal = new Journal();
      const replica = await harness.start('n2', journal, 1_000);
      await waitFor(() => journal.events.includes('persisted'), 'the founding entries written');
      const entry = (index: number) => ({
        index,
        term: 2,
        type: EntryType.Normal,
        data: encodeCommand({ type: 'put', key: `/k${index}`, value: new Uint8Array([1]) }),
      });
      const append = (entries: ReturnType<typeof entry>[], prevLogIndex: number, commit: number): void =>
        replica.step({
          type: 'append',
          from: 'n1',
          to: 'n2',
          term: 2,
          prevLogIndex,
          prevLogTerm: prevLogIndex === 3 ? 1 : 2,
          entries,
          commit,
        });
      append([entry(4)], 3, 0);
      await waitFor(() => journal.sentOf('appendResp').length === 1, 'entry 4 acknowledged');

      // Entry 4's commit comes with the next round's entry 5, as a leader's rounds send it.
      let appliedWhenWriting5 = -1;
      journal.onPersist = (batch) => {
        if (batch.entries[0]?.index === 5) appliedWhenWriting5 = replica.stateMachine.appliedIndex;
      };
      append([entry(5)], 4, 4);
      await waitFor(() => journal.sentOf('appendResp').length === 2, 'entry 5 acknowledged');
      expect(appliedWhenWriting5).toBe(4);
    },
  );
});
