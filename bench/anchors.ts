/**
 * The targets of issue 6: per row, the better of etcd 3.4 and ZooKeeper 3.8 as measured on
 * this machine kind (three nodes on loopback, 256-byte values; ±20 % noise).
 */
import type { Better } from './results.js';

export interface Anchor {
  readonly value: number;
  readonly source: string;
}

const ANCHORS: Readonly<Record<string, Anchor>> = {
  'put-1/opsPerSecond': { value: 1_433, source: 'ZooKeeper' },
  'put-1/p99Ms': { value: 2.2, source: 'etcd' },
  'put-16/opsPerSecond': { value: 5_224, source: 'ZooKeeper' },
  'put-64/opsPerSecond': { value: 9_443, source: 'ZooKeeper' },
  'put-64/p99Ms': { value: 29.8, source: 'ZooKeeper' },
  'put-256/opsPerSecond': { value: 11_495, source: 'ZooKeeper' },
  'put-256/p99Ms': { value: 64.8, source: 'ZooKeeper' },
  'get-linearizable-64/opsPerSecond': { value: 3_584, source: 'etcd' },
  'get-serializable-64/opsPerSecond': { value: 19_527, source: 'ZooKeeper' },
  'watch-latency-follower/ackToEventP50Ms': { value: 0.7, source: 'ZooKeeper' },
  'watch-latency-follower/ackToEventP99Ms': { value: 3.8, source: 'etcd' },
  'watch-latency-leader/ackToEventP50Ms': { value: 0.7, source: 'ZooKeeper' },
  'watch-latency-leader/ackToEventP99Ms': { value: 3.8, source: 'etcd' },
  'failover/medianFailoverMs': { value: 855, source: 'ZooKeeper' },
  'memory-idle/maxNodeRssMb': { value: 27, source: 'etcd' },
  'memory-after-load/maxNodeRssMb': { value: 195, source: 'etcd' },
};

export function anchorFor(rowId: string, metricKey: string): Anchor | undefined {
  return ANCHORS[`${rowId}/${metricKey}`];
}

/** Whether `value` is at least as good as `reference`, given which way is better. */
export function meets(value: number, reference: number, better: Better): boolean | null {
  if (better === 'higher') return value >= reference;
  if (better === 'lower') return value <= reference;
  return null;
}
