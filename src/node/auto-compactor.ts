import { encodeCommand } from '../state-machine/index.js';
import type { NodeExtension, RaftreeNode } from './raftree-node.js';

/**
 * Automatic compaction by revision count: the leader keeps the last `retention` revisions of
 * history (for watches and past reads) and, once twice that has piled up, proposes a compact
 * through the log, so every replica forgets the same history at the same point. Checking at
 * twice the retention keeps compactions rare (each costs a pass over the keys).
 */
export function autoCompactorExtension(retention: number, checkIntervalMs = 1_000): NodeExtension {
  let timer: NodeJS.Timeout | null = null;
  let inFlight = false;
  return {
    started(node: RaftreeNode): void {
      timer = setInterval(() => {
        const { replica } = node;
        const machine = replica.stateMachine;
        if (inFlight || !replica.isLeaderCaughtUp) return;
        if (machine.revision - machine.compactRevision < 2 * retention) return;
        const revision = machine.revision - retention;
        inFlight = true;
        replica
          .propose(encodeCommand({ type: 'compact', revision }))
          .then((outcome) => {
            if (outcome.ok) node.logger.info({ revision, retention }, 'history compacted automatically');
          })
          .catch((error: unknown) =>
            node.logger.debug({ err: error }, 'automatic compaction did not complete'),
          )
          .finally(() => {
            inFlight = false;
          });
      }, checkIntervalMs);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
