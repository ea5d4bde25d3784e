/** `raftree cluster status|members|add|remove|transfer`. */
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { clusterStatusHuman, clusterStatusJson, membersHuman, membersJson, memberJson } from '../output.js';
import {
  clientCommand,
  print,
  usageErrorsExitWith2,
  withClient,
  type ClientCommandOptions,
} from './client-command.js';

interface AddOptions extends ClientCommandOptions {
  learner?: boolean;
}

export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('inspect and change cluster membership');
  usageErrorsExitWith2(cluster);

  clientCommand(
    cluster,
    'status',
    'the status of every endpoint: role, term, commit and applied index, leader',
  ).action(async (options: ClientCommandOptions) => {
    const statuses = await withClient(options, (client) =>
      client.clusterStatus({ deadlineMs: options.timeout }),
    );
    print(
      options,
      () => clusterStatusJson(statuses),
      () => clusterStatusHuman(statuses),
    );
    if (statuses.every((s) => !s.ok)) throw new CliError('no endpoint answered (is the cluster running?)');
  });

  clientCommand(cluster, 'members', 'list the members and the leader').action(
    async (options: ClientCommandOptions) => {
      const result = await withClient(options, (client) => client.members());
      print(
        options,
        () => membersJson(result),
        () => membersHuman(result.members, result.leader),
      );
    },
  );

  clientCommand(
    cluster,
    'add <id> <address>',
    'add a member (start its node with the same --peers first or after)',
  )
    .option('--learner', 'add as a learner: it receives the log but does not vote')
    .action(async (id: string, address: string, options: AddOptions) => {
      const members = await withClient(options, (client) =>
        client.memberAdd(id, address, { learner: options.learner ?? false }),
      );
      print(
        options,
        () => ({ members: members.map(memberJson) }),
        () => `added ${id}\n${membersHuman(members)}`,
      );
    });

  clientCommand(cluster, 'remove <id>', 'remove a member').action(
    async (id: string, options: ClientCommandOptions) => {
      const members = await withClient(options, (client) => client.memberRemove(id));
      print(
        options,
        () => ({ members: members.map(memberJson) }),
        () => `removed ${id}\n${membersHuman(members)}`,
      );
    },
  );

  clientCommand(cluster, 'transfer <id>', 'hand leadership to member ID').action(
    async (id: string, options: ClientCommandOptions) => {
      const header = await withClient(options, (client) => client.transferLeadership(id));
      print(
        options,
        () => ({ leader: id, term: header.raftTerm }),
        () => `leadership transferred to ${id}\n`,
      );
    },
  );
}
