import { RaftError } from './errors.js';
import { ConfChangeType, type ConfChange, type ConfState, type NodeId } from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Membership changes are rare, so a readable JSON encoding inside the entry is fine here. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify(change));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const parsed: unknown = JSON.parse(decoder.decode(data));
  if (typeof parsed !== 'object' || parsed === null)
    throw new RaftError('INVALID_ARGUMENT', 'conf change is not an object');
  const { type, nodeId, context } = parsed as Record<string, unknown>;
  const types: readonly string[] = Object.values(ConfChangeType);
  if (typeof type !== 'string' || !types.includes(type)) {
    throw new RaftError('INVALID_ARGUMENT', `unknown conf change type ${String(type)}`);
  }
  if (typeof nodeId !== 'string' || nodeId.length === 0) {
    throw new RaftError('INVALID_ARGUMENT', 'conf change needs a node id');
  }
  const change: ConfChange = { type: type as ConfChangeType, nodeId };
  return typeof context === 'string' ? { ...change, context } : change;
}

/** Check a change against the configuration it would apply to; throws INVALID_CONF_CHANGE. */
export function validateConfChange(conf: ConfState, change: ConfChange): void {
  const isVoter = conf.voters.includes(change.nodeId);
  const isLearner = conf.learners.includes(change.nodeId);
  switch (change.type) {
    case ConfChangeType.AddVoter:
      if (isVoter) throw new RaftError('INVALID_CONF_CHANGE', `${change.nodeId} is already a voter`);
      return;
    case ConfChangeType.AddLearner:
      if (isLearner) throw new RaftError('INVALID_CONF_CHANGE', `${change.nodeId} is already a learner`);
      if (isVoter) {
        throw new RaftError(
          'INVALID_CONF_CHANGE',
          `${change.nodeId} is a voter; demoting a voter is not supported`,
        );
      }
      return;
    case ConfChangeType.RemoveNode:
      if (!isVoter && !isLearner)
        throw new RaftError('INVALID_CONF_CHANGE', `${change.nodeId} is not a member`);
      if (isVoter && conf.voters.length === 1) {
        throw new RaftError('INVALID_CONF_CHANGE', `cannot remove ${change.nodeId}: it is the last voter`);
      }
      return;
  }
}

/**
 * The configuration after `change`. Committed changes are applied even when they are no-ops
 * (a replica must never diverge from the log), so this is total: it never throws.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const id: NodeId = change.nodeId;
  const voters = conf.voters.filter((v) => v !== id);
  const learners = conf.learners.filter((v) => v !== id);
  switch (change.type) {
    case ConfChangeType.AddVoter:
      voters.push(id);
      break;
    case ConfChangeType.AddLearner:
      if (conf.voters.includes(id)) return conf;
      learners.push(id);
      break;
    case ConfChangeType.RemoveNode:
      if (voters.length === 0) return conf; // never remove the last voter
      break;
  }
  return { voters: voters.sort(), learners: learners.sort() };
}
