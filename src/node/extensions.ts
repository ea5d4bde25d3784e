import type { NodeConfig } from './node-config.js';
import type { NodeExtension } from './raftree-node.js';
import { httpExtension } from '../http/index.js';
import { clientApiExtension } from '../api/index.js';

/** The layers a production node runs on top of the replica (client API, HTTP side port). */
export function nodeExtensions(_config: NodeConfig): NodeExtension[] {
  return [clientApiExtension(), httpExtension()];
}
