import type { NodeConfig } from './node-config.js';
import type { NodeExtension } from './raftree-node.js';
import { httpExtension } from '../http/index.js';
import { clientApiExtension } from '../api/index.js';
import { coordinationExtension } from '../coordination/index.js';
import { registryExtension } from '../registry/index.js';

/** The layers a production node runs on top of the replica (client API, coordination, service registry, HTTP side port). */
export function nodeExtensions(_config: NodeConfig): NodeExtension[] {
  return [clientApiExtension(), coordinationExtension(), registryExtension(), httpExtension()];
}
