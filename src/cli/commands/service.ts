/**
 * `raftree service register|deregister|list|watch|heartbeat`: the service registry.
 *
 *   raftree service register api --id api-1 --host 10.0.0.5 --port 8080 --tag v2 --meta zone=a \
 *     --http-check http://10.0.0.5:8080/health --interval 5
 *   raftree service list api --healthy
 *   raftree service watch api --json
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  RaftreeClient,
  type RegisteredInstance,
  type RegistryCheckInput,
  type ServiceWatchEvent,
} from '../../client/index.js';
import { CliError } from '../cli-error.js';
import { oneLine } from '../output.js';
import {
  clientCommand,
  parseEndpoints,
  positiveInteger,
  print,
  toCliError,
  usage,
  usageErrorsExitWith2,
  withClient,
  type ClientCommandOptions,
} from './client-command.js';

interface RegisterOptions extends ClientCommandOptions {
  id: string;
  host: string;
  port: number;
  tag: string[];
  meta: Record<string, string>;
  weight?: number;
  ttl?: number;
  httpCheck?: string;
  tcpCheck?: { host: string; port: number };
  grpcCheck?: { host: string; port: number };
  grpcService?: string;
  interval?: number;
  checkTimeout?: number;
  failures?: number;
  successes?: number;
  session?: number;
}

interface ListOptions extends ClientCommandOptions {
  tag: string[];
  meta: Record<string, string>;
  healthy?: boolean;
  limit?: number;
}

interface HeartbeatOptions extends ClientCommandOptions {
  check?: string;
}

/** "10", "10s", "1.5s", "500ms", "2m" → milliseconds. A bare number is seconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a duration such as 10, 10s, 500ms or 2m.');
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  const ms = Math.round(unit === 'ms' ? amount : unit === 'm' ? amount * 60_000 : amount * 1000);
  if (ms <= 0) throw new InvalidArgumentError('expected a positive duration.');
  return ms;
}

function hostPort(value: string): { host: string; port: number } {
  const match = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 1 && port <= 65_535)) throw new InvalidArgumentError('expected HOST:PORT.');
  return { host: match[1]!, port };
}

function portNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65_535) {
    throw new InvalidArgumentError('expected a port from 1 to 65535.');
  }
  return Number(value);
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function collectMeta(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('expected KEY=VALUE.');
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/** The checks the register flags ask for. */
export function checksFromOptions(options: RegisterOptions): RegistryCheckInput[] {
  const schedule = {
    ...(options.interval === undefined ? {} : { intervalMs: options.interval }),
    ...(options.checkTimeout === undefined ? {} : { timeoutMs: options.checkTimeout }),
    ...(options.failures === undefined ? {} : { failuresBeforeCritical: options.failures }),
    ...(options.successes === undefined ? {} : { successesBeforePassing: options.successes }),
  };
  const checks: RegistryCheckInput[] = [];
  if (options.ttl !== undefined) checks.push({ kind: 'ttl', ttlMs: options.ttl });
  // The registry fills in interval / timeout when they are not given.
  if (options.httpCheck !== undefined) {
    checks.push({ kind: 'http', url: options.httpCheck, ...schedule } as RegistryCheckInput);
  }
  if (options.tcpCheck !== undefined) {
    checks.push({ kind: 'tcp', ...options.tcpCheck, ...schedule } as RegistryCheckInput);
  }
  if (options.grpcCheck !== undefined) {
    checks.push({
      kind: 'grpc',
      ...options.grpcCheck,
      ...(options.grpcService === undefined ? {} : { service: options.grpcService }),
      ...schedule,
    } as RegistryCheckInput);
  }
  return checks;
}

// --- output ---------------------------------------------------------------------------------------

export function instanceJson(instance: RegisteredInstance): object {
  return {
    name: instance.name,
    id: instance.id,
    host: instance.host,
    port: instance.port,
    tags: instance.tags,
    metadata: instance.metadata,
    weight: instance.weight,
    healthy: instance.healthy,
    health: instance.health,
    checks: instance.checks,
    session: instance.session,
    createRevision: instance.createRevision,
    modRevision: instance.modRevision,
  };
}

function address(instance: RegisteredInstance): string {
  return instance.host.includes(':')
    ? `[${instance.host}]:${instance.port}`
    : `${instance.host}:${instance.port}`;
}

export function instanceHuman(instance: RegisteredInstance): string {
  const parts = [`${instance.name}/${instance.id}`, address(instance), instance.health.status];
  if (instance.weight !== 1) parts.push(`weight=${instance.weight}`);
  if (instance.tags.length > 0) parts.push(`tags=${instance.tags.join(',')}`);
  const meta = Object.entries(instance.metadata);
  if (meta.length > 0) parts.push(`meta=${meta.map(([k, v]) => `${k}=${v}`).join(',')}`);
  if (instance.session > 0) parts.push(`session=${instance.session}`);
  for (const check of instance.health.checks) {
    parts.push(`[${check.name} ${check.status}${check.output ? `: ${oneLine(check.output)}` : ''}]`);
  }
  return parts.join('  ');
}

export function serviceEventJson(event: ServiceWatchEvent): object {
  if (event.type === 'snapshot') {
    return { type: 'snapshot', revision: event.revision, instances: event.instances.map(instanceJson) };
  }
  return {
    type: event.type,
    revision: event.revision,
    name: event.name,
    id: event.id,
    ...(event.instance === undefined ? {} : { instance: instanceJson(event.instance) }),
    ...(event.previous === undefined || event.type === 'deregistered'
      ? {}
      : { previousStatus: event.previous.health.status }),
  };
}

export function serviceEventHuman(event: ServiceWatchEvent): string {
  if (event.type === 'snapshot') {
    const lines = event.instances.map((i) => `  ${instanceHuman(i)}`);
    return `snapshot at revision ${event.revision}: ${event.instances.length} instance(s)\n${lines.map((l) => `${l}\n`).join('')}`;
  }
  const subject = `${event.name}/${event.id}`;
  switch (event.type) {
    case 'registered':
      return `[${event.revision}] registered ${event.instance === undefined ? subject : instanceHuman(event.instance)}\n`;
    case 'health': {
      const from = event.previous?.health.status ?? '?';
      const to = event.instance?.health.status ?? '?';
      const why = event.instance?.health.checks
        .filter((c) => c.status === to)
        .map((c) => `${c.name}: ${oneLine(c.output)}`)
        .join('; ');
      return `[${event.revision}] health ${subject} ${from} -> ${to}${why ? ` (${why})` : ''}\n`;
    }
    case 'updated':
      return `[${event.revision}] updated ${event.instance === undefined ? subject : instanceHuman(event.instance)}\n`;
    case 'deregistered':
      return `[${event.revision}] deregistered ${subject}\n`;
  }
}

// --- commands -------------------------------------------------------------------------------------

export function registerServiceCommands(program: Command): void {
  const service = program
    .command('service')
    .description('register, find and watch service instances (with health checks run by the cluster)');
  usageErrorsExitWith2(service);

  clientCommand(service, 'register <name>', 'register (or re-register) an instance of service NAME')
    .requiredOption('--id <id>', 'the instance id (unique within the service)')
    .requiredOption('--host <host>', 'the host clients connect to')
    .requiredOption('--port <port>', 'the port clients connect to', portNumber)
    .option('--tag <tag>', 'a tag (repeatable)', collect, [])
    .option('--meta <key=value>', 'a metadata entry (repeatable)', collectMeta, {})
    .option('--weight <n>', 'relative share for weighted load balancing (default 1)', positiveInteger)
    .option(
      '--ttl <duration>',
      'add a TTL check: critical unless `service heartbeat` comes within it',
      parseDuration,
    )
    .option('--http-check <url>', 'add an HTTP check: passes on a 2xx answer', (v: string) => v)
    .option('--tcp-check <host:port>', 'add a TCP check: passes when a connection opens', hostPort)
    .option('--grpc-check <host:port>', 'add a gRPC health-protocol check: passes on SERVING', hostPort)
    .option('--grpc-service <name>', 'the service the gRPC check asks about (default: the whole server)')
    .option('--interval <duration>', 'time between probes of the checks above (default 10s)', parseDuration)
    .option('--check-timeout <duration>', 'bound of each probe (default min(5s, interval/2))', parseDuration)
    .option(
      '--failures <n>',
      'failed probes in a row that make a passing check critical (default 3)',
      positiveInteger,
    )
    .option(
      '--successes <n>',
      'good probes in a row that make a critical check passing (default 1)',
      positiveInteger,
    )
    .option(
      '--session <id>',
      'tie the registration to this session: it disappears when the session ends',
      positiveInteger,
    )
    .addHelpText(
      'after',
      '\nDurations: 10 (seconds), 10s, 500ms, 2m. A new check is critical until it first passes.\n\n' +
        'Examples:\n' +
        '  raftree service register api --id api-1 --host 10.0.0.5 --port 8080 --tag v2 --http-check http://10.0.0.5:8080/health\n' +
        '  raftree service register worker --id w1 --host 10.0.0.7 --port 9000 --ttl 15s',
    )
    .action(async (name: string, options: RegisterOptions) => {
      const checks = checksFromOptions(options);
      const result = await withClient(options, (client) =>
        client.register({
          name,
          id: options.id,
          host: options.host,
          port: options.port,
          tags: options.tag,
          metadata: options.meta,
          ...(options.weight === undefined ? {} : { weight: options.weight }),
          ...(options.session === undefined ? {} : { session: options.session }),
          checks,
        }),
      );
      print(
        options,
        () => ({ revision: result.revision, instance: instanceJson(result.instance) }),
        () => `registered ${instanceHuman(result.instance)} (revision ${result.revision})\n`,
      );
    });

  clientCommand(service, 'deregister <name> <id>', 'remove instance ID of service NAME').action(
    async (name: string, id: string, options: ClientCommandOptions) => {
      const result = await withClient(options, (client) => client.deregister(name, id));
      print(
        options,
        () => ({ revision: result.revision }),
        () => `deregistered ${name}/${id} (revision ${result.revision})\n`,
      );
    },
  );

  clientCommand(service, 'list [name]', 'list the instances of service NAME (default: every service)')
    .option('--tag <tag>', 'only instances with this tag (repeatable: all of them)', collect, [])
    .option('--meta <key=value>', 'only instances with this metadata entry (repeatable)', collectMeta, {})
    .option('--healthy', 'only instances whose checks all pass')
    .option('--limit <n>', 'at most N instances', positiveInteger)
    .action(async (name: string | undefined, options: ListOptions) => {
      const result = await withClient(options, (client) =>
        client.discover(name ?? '', {
          tags: options.tag,
          metadata: options.meta,
          healthyOnly: options.healthy ?? false,
          ...(options.limit === undefined ? {} : { limit: options.limit }),
        }),
      );
      print(
        options,
        () => ({
          revision: result.revision,
          count: result.count,
          instances: result.instances.map(instanceJson),
        }),
        () =>
          result.instances.length === 0
            ? `no instances${name === undefined ? '' : ` of ${name}`} match\n`
            : result.instances.map((i) => `${instanceHuman(i)}\n`).join(''),
      );
    });

  clientCommand(service, 'heartbeat <name> <id>', 'reset the TTL checks of instance ID of service NAME')
    .option('--check <name>', 'only this TTL check')
    .action(async (name: string, id: string, options: HeartbeatOptions) => {
      const result = await withClient(options, (client) =>
        client.heartbeat(name, id, options.check === undefined ? {} : { check: options.check }),
      );
      print(
        options,
        () => ({ checks: result.checks }),
        () => `heartbeat ${name}/${id}: ${result.checks.join(', ')}\n`,
      );
    });

  clientCommand(
    service,
    'watch <name>',
    'print the instances of service NAME, then every change, until Ctrl-C',
  )
    .addHelpText(
      'after',
      '\nFirst a snapshot of the instances, then one line per registration, health change and\n' +
        'deregistration; with --json one JSON object per line.',
    )
    .action(async (name: string, options: ClientCommandOptions) => {
      if (name === '') throw usage('NAME is empty');
      await runServiceWatch(name, options);
    });
}

async function runServiceWatch(name: string, options: ClientCommandOptions): Promise<void> {
  const client = new RaftreeClient({
    endpoints: parseEndpoints(options.endpoints),
    deadlineMs: options.timeout,
  });
  const watch = client.watchService(name);
  const stop = (): void => watch.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.on('error', stop);
  watch.on('error', (error) =>
    process.stderr.write(`raftree: service watch interrupted (${oneLine(error.message)}); starting over\n`),
  );
  try {
    for await (const event of watch) {
      process.stdout.write(
        options.json === true ? `${JSON.stringify(serviceEventJson(event))}\n` : serviceEventHuman(event),
      );
    }
  } catch (error) {
    const cliError = toCliError(error);
    throw cliError instanceof CliError ? cliError : error;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    client.close();
  }
}
