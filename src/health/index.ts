/**
 * Health checks: spec validation, HTTP/TCP/gRPC probes, TTL heartbeats, thresholds and the
 * runner that reports status changes. See docs/health-checks.md.
 */
export {
  CHECK_KINDS,
  DEFAULT_FAILURES_BEFORE_CRITICAL,
  DEFAULT_SUCCESSES_BEFORE_PASSING,
  HTTP_METHODS,
  MAX_DURATION_MS,
  MAX_THRESHOLD,
  validateCheckSpec,
} from './check-spec.js';
export type {
  CheckKind,
  CheckSpec,
  CheckSpecInput,
  GrpcCheckSpec,
  GrpcCheckSpecInput,
  HttpCheckSpec,
  HttpCheckSpecInput,
  HttpMethod,
  ProbeCheckSpec,
  ProbeSchedule,
  TcpCheckSpec,
  TcpCheckSpecInput,
  TtlCheckSpec,
  TtlCheckSpecInput,
} from './check-spec.js';
export { CheckRunner } from './check-runner.js';
export type { AddCheckOptions, CheckRunnerOptions, CheckTransition } from './check-runner.js';
export { CheckStateMachine, INITIAL_CHECK_STATUS } from './check-state-machine.js';
export type { CheckStatus, CheckThresholds, ResultLike, StatusChange } from './check-state-machine.js';
export { HealthCheckUsageError, InvalidCheckSpecError } from './errors.js';
export type { CheckSpecProblem } from './errors.js';
export { HEALTH_SERVICE_NAME, healthServiceDefinition, HealthProtoError } from './health-proto.js';
export type {
  HealthCheckRequestWire,
  HealthCheckResponseWire,
  HealthServiceDefinition,
  ServingStatus,
} from './health-proto.js';
export type { ProbeFunction } from './probe-loop.js';
export { MAX_BODY_BYTES } from './probes/http-probe.js';
export type { ProbeResult } from './probes/probe-result.js';
export { ProbeCancelledError, ProbeTimeoutError, runProbe } from './probes/run-probe.js';
export { TtlClock } from './ttl-clock.js';
