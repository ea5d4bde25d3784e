import type { Server } from 'node:http';
import type { NodeExtension, RaftreeNode } from '../node/raftree-node.js';
import { DASHBOARD_HTML } from './dashboard.js';
import { createNodeMetrics, type NodeMetrics } from './metrics.js';
import {
  boundPort,
  closeSidePort,
  listenSidePort,
  parseHostPort,
  sendJson,
  sendText,
  type RouteHandler,
} from './side-port.js';
import { checkHealth, nodeStatus } from './status.js';
import { registryHttpHandler } from '../registry/http-routes.js';

export type { NodeStatus, MemberStatus, ReplicationProgress, HealthReport } from './status.js';

export interface HttpExtensionOptions {
  /** How long /health waits for apply to reach the commit index before answering 503. */
  readonly maxApplyWaitMs?: number;
}

export interface HttpExtension extends NodeExtension {
  /** The port the side port bound (useful with port 0), or null when it is not running. */
  readonly port: number | null;
}

/**
 * The node's HTTP side port: /health, /status, /metrics and the dashboard at /. Started when
 * the node's config has an `http` address. `/v1/…` is reserved for the registry's HTTP API.
 */
export function httpExtension(options: HttpExtensionOptions = {}): HttpExtension {
  const maxApplyWaitMs = options.maxApplyWaitMs ?? 1_000;
  let server: Server | null = null;
  let metrics: NodeMetrics | null = null;

  const stop = async (): Promise<void> => {
    metrics?.dispose();
    metrics = null;
    const running = server;
    server = null;
    if (running) await closeSidePort(running);
  };

  return {
    get port() {
      return server ? boundPort(server) : null;
    },

    async started(node: RaftreeNode) {
      const address = node.config.http;
      if (address === null) return;
      const startedAt = performance.now();
      const nodeMetrics = createNodeMetrics(node);
      metrics = nodeMetrics;
      const routes = new Map<string, RouteHandler>([
        ['/', (_req, res) => sendText(res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML)],
        ['/status', (_req, res) => sendJson(res, 200, nodeStatus(node, startedAt))],
        [
          '/health',
          async (_req, res) => {
            const health = await checkHealth(node, maxApplyWaitMs);
            sendJson(res, health.ok ? 200 : 503, { id: node.config.id, ...health });
          },
        ],
        [
          '/metrics',
          async (_req, res) => {
            sendText(res, 200, nodeMetrics.registry.contentType, await nodeMetrics.registry.metrics());
          },
        ],
      ]);
      const logger = node.logger.child({ module: 'http' });
      try {
        server = await listenSidePort(address, routes, logger, registryHttpHandler(node));
      } catch (error) {
        // A node without its side port would look dead to health checks and scrapers, and the
        // caller cannot stop a node whose start threw: stop it here, then report why.
        nodeMetrics.dispose();
        metrics = null;
        await node.stop();
        throw error;
      }
      logger.info(
        { http: `${parseHostPort(address).host}:${boundPort(server)}` },
        'HTTP side port listening (/, /status, /health, /metrics, /v1/services)',
      );
    },

    stop,
  };
}
