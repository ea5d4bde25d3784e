/**
 * A linearizability checker (Wing–Gong search with Lowe's memoization, per key) for the KV
 * register model the chaos workload uses. See docs/testing.md ("Chaos").
 */
export { checkKvHistory, checkKvOperations, explain } from './check.js';
export type { CheckOptions, CheckResult, KeyResult, KvEvent, Verdict } from './check.js';
export { toOperations } from './history.js';
export type { EventType, HistoryEvent, Operation, OperationsSummary } from './history.js';
export { kvModel, describeKvOperation } from './kv-model.js';
export type { KvInput, KvOutput, KvState } from './kv-model.js';
export { boundUnknownWrites } from './kv-patch.js';
export type { KvOperation } from './kv-patch.js';
export { ILLEGAL } from './model.js';
export type { Model } from './model.js';
export { searchLinearization } from './search.js';
export type { SearchBudget, SearchResult } from './search.js';
