import type { NodeConfig } from './node-config.js';
import type { NodeExtension } from './raftree-node.js';
import { httpExtension } from '../http/index.js';
import { clientApiExtension } from '../api/index.js';
import { etcdApiExtension } from '../etcd/index.js';
import { coordinationExtension } from '../coordination/index.js';
import { registryExtension } from '../registry/index.js';
import { autoCompactorExtension } from './auto-compactor.js';

/**
 * The layers a production node runs on top of the replica: client API, etcd v3 API,
 * coordination, service registry, HTTP side port, and automatic compaction of history.
 */
export function nodeExtensions(config: NodeConfig): NodeExtension[] {
  const extensions = [
    clientApiExtension(),
    etcdApiExtension(),
    coordinationExtension(),
    registryExtension(),
    httpExtension(),
  ];
  if (config.autoCompactRetention) extensions.push(autoCompactorExtension(config.autoCompactRetention));
  return extensions;
}
