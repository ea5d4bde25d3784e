/**
 * The nemesis: a seeded schedule of faults, carried out against a ChaosCluster while the
 * workload runs, and healed at the end.
 *
 * The seed fixes the SEQUENCE of decisions (which fault, aimed at what — "the leader", "a
 * random node", "a minority" — for how long, and the quiet time after). Which node is the
 * leader when a step runs is looked up then, so replaying a seed replays the same plan against
 * whatever the cluster does: timing on a real machine is never bit-for-bit reproducible.
 */
import { SeededRandom } from '../../src/common/prng.js';
import type { ChaosCluster } from './chaos-cluster.js';
import { bridge, deafen, isolate, silence, split, type Partition } from './partitions.js';

export type FaultKind = 'kill' | 'pause' | 'partition';
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'partition'];

/** Whom a process fault hits. */
export type Target = 'leader' | 'random' | 'minority' | 'all';
export type PartitionShape =
  'isolate-leader' | 'isolate-random' | 'split' | 'bridge' | 'deafen-leader' | 'silence-leader';

export type Fault =
  | { readonly kind: 'kill'; readonly target: Target }
  | { readonly kind: 'pause'; readonly target: Exclude<Target, 'all'> }
  | { readonly kind: 'partition'; readonly shape: PartitionShape };

export interface Step {
  /** One fault, or two at once (a combination). */
  readonly faults: readonly Fault[];
  readonly holdMs: number;
  readonly quietMs: number;
}

export interface NemesisOptions {
  readonly kinds: readonly FaultKind[];
  readonly seed: number;
  readonly holdMs?: readonly [number, number];
  readonly quietMs?: readonly [number, number];
}

export interface TimelineEntry {
  /** ms since the run started. */
  readonly at: number;
  readonly event: 'start' | 'end' | 'note';
  readonly description: string;
}

/** The first `count` steps of the schedule a seed defines. */
export function planSchedule(options: NemesisOptions, count: number): Step[] {
  if (options.kinds.length === 0) return [];
  const random = new SeededRandom(options.seed);
  const [holdMin, holdMax] = options.holdMs ?? [1_000, 5_000];
  const [quietMin, quietMax] = options.quietMs ?? [1_000, 3_000];
  const steps: Step[] = [];
  for (let i = 0; i < count; i++) {
    const first = planFault(random, random.pick(options.kinds));
    const faults = [first];
    // Sometimes two different kinds at once: a paused leader behind a partition, a kill during a split...
    const others = options.kinds.filter((k) => k !== first.kind);
    if (others.length > 0 && random.chance(0.2)) faults.push(planFault(random, random.pick(others)));
    steps.push({
      faults,
      holdMs: random.between(holdMin, holdMax),
      quietMs: random.between(quietMin, quietMax),
    });
  }
  return steps;
}

function planFault(random: SeededRandom, kind: FaultKind): Fault {
  const roll = random.next();
  switch (kind) {
    case 'kill':
      return {
        kind,
        target: roll < 0.5 ? 'leader' : roll < 0.75 ? 'random' : roll < 0.9 ? 'minority' : 'all',
      };
    case 'pause':
      return { kind, target: roll < 0.6 ? 'leader' : roll < 0.9 ? 'random' : 'minority' };
    case 'partition': {
      const shapes: PartitionShape[] = [
        'isolate-leader',
        'isolate-leader',
        'isolate-random',
        'split',
        'bridge',
        'deafen-leader',
        'silence-leader',
      ];
      return { kind, shape: shapes[Math.floor(roll * shapes.length)]! };
    }
  }
}

/** What a fault did, so that it can be undone. */
interface Applied {
  readonly description: string;
  undo(): Promise<void>;
}

export class Nemesis {
  readonly timeline: TimelineEntry[] = [];
  private stopping = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** Separate stream for runtime choices (which random node), so the plan itself never shifts. */
  private readonly choices: SeededRandom;
  private readonly schedule: Step[];
  stepsRun = 0;

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly options: NemesisOptions,
    private readonly clock: () => number,
  ) {
    this.choices = new SeededRandom(options.seed ^ 0x51ed);
    // More steps than any run uses: the shortest step is holdMin + quietMin.
    this.schedule = planSchedule(options, 500);
  }

  start(): void {
    this.loop = this.run();
  }

  /** Ends the current fault early (without undoing it: see heal) and stops the schedule. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  /** Every link passes, every node runs: the end of every run. */
  async heal(): Promise<void> {
    await this.stop();
    this.cluster.mesh.heal();
    await this.cluster.reviveAll();
    this.note('end', 'healed: every link passes, every node running');
  }

  /** Which faults were active at time `at` (for the latency table). */
  activeAt(at: number): string[] {
    const active = new Map<string, number>();
    for (const entry of this.timeline) {
      if (entry.at > at) break;
      if (entry.event === 'start') active.set(entry.description, entry.at);
      if (entry.event === 'end') active.delete(entry.description);
    }
    return [...active.keys()];
  }

  private async run(): Promise<void> {
    if (this.options.kinds.length === 0) return;
    await this.sleep(this.schedule[0]!.quietMs);
    for (const step of this.schedule) {
      if (this.stopping) return;
      const applied: Applied[] = [];
      for (const fault of step.faults) {
        const done = await this.apply(fault);
        if (done !== null) {
          applied.push(done);
          this.note('start', done.description);
        }
      }
      this.stepsRun++;
      await this.sleep(step.holdMs);
      for (const done of applied.reverse()) {
        await done.undo();
        this.note('end', done.description);
      }
      await this.sleep(step.quietMs);
    }
  }

  private async apply(fault: Fault): Promise<Applied | null> {
    const ids = this.cluster.ids;
    const leader = await this.cluster.leader();
    const serving = ids.filter((id) => this.cluster.isServing(id));
    const pickOne = (preferLeader: boolean) =>
      preferLeader && leader !== undefined ? leader : this.choices.pick(serving.length > 0 ? serving : ids);
    const minority = () => {
      const size = Math.max(1, Math.floor((ids.length - 1) / 2));
      const others = shuffle(
        ids.filter((id) => id !== leader),
        this.choices,
      );
      // The leader first when there is one: losing it is what makes a minority fault interesting.
      return (leader !== undefined ? [leader, ...others] : others).slice(0, size);
    };
    const targets = (target: Target): string[] =>
      target === 'all' ? [...ids] : target === 'minority' ? minority() : [pickOne(target === 'leader')];

    switch (fault.kind) {
      case 'kill': {
        const victims = targets(fault.target).filter((id) => this.cluster.isRunning(id));
        if (victims.length === 0) return null;
        await Promise.all(victims.map((id) => this.cluster.kill(id)));
        return {
          description: `kill ${victims.join(' ')}${describeTarget(fault.target, victims, leader)}`,
          undo: async () => {
            for (const id of victims) if (!this.cluster.isRunning(id)) await this.cluster.restart(id);
          },
        };
      }
      case 'pause': {
        const victims = targets(fault.target).filter((id) => this.cluster.isServing(id));
        if (victims.length === 0) return null;
        for (const id of victims) this.cluster.pause(id);
        return {
          description: `pause ${victims.join(' ')}${describeTarget(fault.target, victims, leader)}`,
          undo: async () => {
            for (const id of victims) this.cluster.resume(id);
          },
        };
      }
      case 'partition': {
        const partition = this.partition(fault.shape, leader);
        this.cluster.mesh.apply(partition.cut);
        return {
          description: `partition ${partition.kind} ${partition.description}`,
          undo: async () => this.cluster.mesh.heal(),
        };
      }
    }
  }

  private partition(shape: PartitionShape, leader: string | undefined): Partition {
    const ids = this.cluster.ids;
    const focus = leader ?? this.choices.pick(ids);
    switch (shape) {
      case 'isolate-leader':
        return isolate(ids, focus);
      case 'isolate-random':
        return isolate(ids, this.choices.pick(ids));
      case 'split': {
        // The leader lands in the minority: the majority must elect, the old leader step down.
        const others = shuffle(
          ids.filter((id) => id !== focus),
          this.choices,
        );
        const minoritySize = Math.floor((ids.length - 1) / 2);
        const minority = [focus, ...others.slice(0, minoritySize - 1)];
        return split(
          minority,
          ids.filter((id) => !minority.includes(id)),
        );
      }
      case 'bridge': {
        // Order the others so the old leader sits on one side, not on the bridge.
        const bridgeNode = this.choices.pick(ids.filter((id) => id !== focus));
        const rest = ids.filter((id) => id !== bridgeNode);
        return bridge([focus, ...rest.filter((id) => id !== focus), bridgeNode], bridgeNode);
      }
      case 'deafen-leader':
        return deafen(ids, focus);
      case 'silence-leader':
        return silence(ids, focus);
    }
  }

  private note(event: TimelineEntry['event'], description: string): void {
    this.timeline.push({ at: this.clock(), event, description });
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}

function describeTarget(target: Target, victims: readonly string[], leader: string | undefined): string {
  if (target === 'leader')
    return victims[0] === leader ? ' (the leader)' : ' (no leader known: a random node)';
  if (target === 'all') return ' (every node)';
  if (target === 'minority')
    return ` (a minority${leader !== undefined && victims.includes(leader) ? ', with the leader' : ''})`;
  return '';
}

/** Fisher–Yates with the given generator. */
function shuffle<T>(items: readonly T[], random: SeededRandom): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}
