import type { NodeConfig } from './node-config.js';
import type { NodeExtension } from './raftree-node.js';

/** The layers a production node runs on top of the replica (client API, HTTP side port). */
export function nodeExtensions(_config: NodeConfig): NodeExtension[] {
  return [];
}
