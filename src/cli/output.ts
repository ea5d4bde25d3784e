/**
 * What the client commands print: the --json shapes (a contract for scripts, see docs/cli.md)
 * and the human-readable forms. Pure functions from results to strings.
 */
import type {
  DeleteResult,
  EndpointStatus,
  GetResult,
  KeyValue,
  Member,
  MembersResult,
  PutResult,
  TxnResult,
  WatchEvent,
} from '../client/index.js';

export type ValueEncoding = 'utf8' | 'base64';

export function encodeValue(value: Uint8Array, encoding: ValueEncoding): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString(encoding);
}

export interface KvJson {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

export function kvJson(kv: KeyValue, encoding: ValueEncoding = 'utf8'): KvJson {
  return {
    key: kv.key,
    value: encodeValue(kv.value, encoding),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  };
}

/** The kvs a get shows: for a children read, the children that are keys themselves. */
export function shownKvs(result: GetResult): readonly KeyValue[] {
  if (result.kvs.length > 0 || result.children.length === 0) return result.kvs;
  return result.children.flatMap((child) => (child.kv !== undefined ? [child.kv] : []));
}

export interface GetJsonOptions {
  readonly encoding?: ValueEncoding;
  readonly countOnly?: boolean;
  readonly children?: boolean;
}

export function getJson(result: GetResult, options: GetJsonOptions = {}): object {
  if (options.countOnly === true) return { revision: result.revision, count: result.count };
  const json: Record<string, unknown> = {
    revision: result.revision,
    kvs: shownKvs(result).map((kv) => kvJson(kv, options.encoding)),
  };
  if (options.children === true) {
    json['children'] = result.children.map((c) => ({ name: c.name, key: c.key, hasKey: c.hasKey }));
  }
  return json;
}

export function putJson(result: PutResult): object {
  return { revision: result.revision };
}

export function deleteJson(result: DeleteResult): object {
  return { revision: result.revision, deleted: result.deleted };
}

export function txnJson(result: TxnResult, encoding: ValueEncoding = 'utf8'): object {
  return {
    revision: result.revision,
    succeeded: result.succeeded,
    responses: result.responses.map((response) => {
      switch (response.type) {
        case 'get':
          return { type: 'get', ...getJson(response.result, { encoding }) };
        case 'put':
          return { type: 'put', revision: response.result.revision };
        case 'delete':
          return { type: 'delete', deleted: response.result.deleted };
      }
    }),
  };
}

export function watchEventJson(event: WatchEvent, encoding: ValueEncoding = 'utf8'): object {
  return {
    type: event.type,
    key: event.key,
    value: encodeValue(event.kv.value, encoding),
    modRevision: event.kv.modRevision,
    createRevision: event.kv.createRevision,
    version: event.kv.version,
    ...(event.prevKv !== undefined ? { prevValue: encodeValue(event.prevKv.value, encoding) } : {}),
  };
}

// ------------------------------------------------------------------------------------ human

/** etcdctl's layout: each key on a line, its value on the next (or keys alone). */
export function getHuman(
  result: GetResult,
  options: { keysOnly?: boolean; countOnly?: boolean; encoding?: ValueEncoding } = {},
): string {
  if (options.countOnly === true) return `${result.count}\n`;
  const lines: string[] = [];
  if (result.children.length > 0) {
    for (const child of result.children) {
      if (child.kv === undefined) {
        lines.push(`${child.key}/`);
      } else {
        lines.push(child.key);
        if (options.keysOnly !== true) lines.push(encodeValue(child.kv.value, options.encoding ?? 'utf8'));
      }
    }
  } else {
    for (const kv of result.kvs) {
      lines.push(kv.key);
      if (options.keysOnly !== true) lines.push(encodeValue(kv.value, options.encoding ?? 'utf8'));
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

export function txnHuman(result: TxnResult, encoding: ValueEncoding = 'utf8'): string {
  const lines = [`${result.succeeded ? 'SUCCEEDED' : 'FAILED'} (revision ${result.revision})`];
  for (const response of result.responses) {
    switch (response.type) {
      case 'put':
        lines.push('put: OK');
        break;
      case 'delete':
        lines.push(`del: ${response.result.deleted} deleted`);
        break;
      case 'get': {
        const kvs = shownKvs(response.result);
        lines.push(`get: ${kvs.length} key${kvs.length === 1 ? '' : 's'}`);
        for (const kv of kvs) lines.push(kv.key, encodeValue(kv.value, encoding));
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

export function watchEventHuman(event: WatchEvent, encoding: ValueEncoding = 'utf8'): string {
  const previous = event.prevKv !== undefined ? ` (was ${encodeValue(event.prevKv.value, encoding)})` : '';
  const body =
    event.type === 'put'
      ? `PUT ${event.key} = ${encodeValue(event.kv.value, encoding)}`
      : `DELETE ${event.key}`;
  return `[rev ${event.revision}] ${body}${previous}\n`;
}

/** A plain text table: columns padded to their widest cell, two spaces apart. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

// ---------------------------------------------------------------------------------- cluster

export interface NodeStatusJson {
  id: string | null;
  address: string;
  role: string | null;
  term: number | null;
  leader: string | null;
  commitIndex: number | null;
  appliedIndex: number | null;
  error?: string;
}

export function clusterStatusJson(statuses: readonly EndpointStatus[]): NodeStatusJson[] {
  return statuses.map((entry) =>
    entry.ok
      ? {
          id: entry.status.id,
          address: entry.status.address || entry.endpoint,
          role: entry.status.role,
          term: entry.status.term,
          leader: entry.status.leader === '' ? null : entry.status.leader,
          commitIndex: entry.status.commitIndex,
          appliedIndex: entry.status.appliedIndex,
        }
      : {
          id: null,
          address: entry.endpoint,
          role: null,
          term: null,
          leader: null,
          commitIndex: null,
          appliedIndex: null,
          error: oneLine(entry.error.message),
        },
  );
}

export function clusterStatusHuman(statuses: readonly EndpointStatus[]): string {
  const rows = statuses.map((entry) => {
    if (!entry.ok) return ['-', entry.endpoint, 'unreachable', '-', '-', '-', '-', '-'];
    const s = entry.status;
    const progress = s.progress
      .filter((p) => p.id !== s.id)
      .map((p) => `${p.id}:${p.match}${p.recentActive ? '' : '?'}`)
      .join(' ');
    return [
      s.id,
      s.address || entry.endpoint,
      s.role,
      String(s.term),
      String(s.commitIndex),
      String(s.appliedIndex),
      s.leader || '-',
      progress || '-',
    ];
  });
  const table = renderTable(
    ['ID', 'ADDRESS', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LEADER', 'PROGRESS'],
    rows,
  );
  const errors = statuses.flatMap((entry) =>
    entry.ok ? [] : [`${entry.endpoint}: ${oneLine(entry.error.message)}`],
  );
  return errors.length === 0 ? table : `${table}\n${errors.join('\n')}\n`;
}

export function membersJson(result: MembersResult): object {
  return { leader: result.leader === '' ? null : result.leader, members: result.members.map(memberJson) };
}

export function memberJson(member: Member): object {
  return { id: member.id, address: member.address, isLearner: member.isLearner };
}

export function membersHuman(members: readonly Member[], leader = ''): string {
  const rows = members.map((m) => [
    m.id,
    m.address,
    m.isLearner ? 'learner' : 'voter',
    m.id === leader ? '*' : '',
  ]);
  return renderTable(['ID', 'ADDRESS', 'TYPE', 'LEADER'], rows);
}

/** Error messages are printed as one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
