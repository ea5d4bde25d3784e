import * as grpc from '@grpc/grpc-js';
import type { GrpcCheckSpec } from '../check-spec.js';
import { healthServiceDefinition, HEALTH_SERVICE_NAME } from '../health-proto.js';
import { formatAddress, onAbort, type ProbeOutcome } from './probe-result.js';

const PROBE_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // A channel of its own per probe: sharing subchannels with other clients in this process would
  // let one probe's close() (or another client's broken connection) colour the next result.
  'grpc.use_local_subchannel_pool': 1,
  // The probe itself is the retry; a transparent retry would hide a flapping target.
  'grpc.enable_retries': 0,
};

/**
 * Calls grpc.health.v1.Health/Check for `service` and passes only on SERVING. A fresh channel
 * per probe measures what a new client would see and leaves no connection behind between probes.
 */
export function grpcProbe(
  spec: GrpcCheckSpec,
  signal: AbortSignal,
  deadlineMs: number,
): Promise<ProbeOutcome> {
  const address = formatAddress(spec.host, spec.port);
  const subject = `gRPC health of ${spec.service === '' ? 'the server' : JSON.stringify(spec.service)} at ${address}`;
  const check = healthServiceDefinition().Check;
  return new Promise<ProbeOutcome>((resolve, reject) => {
    const credentials = spec.tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
    const client = new grpc.Client(address, credentials, PROBE_CHANNEL_OPTIONS);
    const call = client.makeUnaryRequest(
      check.path,
      check.requestSerialize,
      check.responseDeserialize,
      { service: spec.service },
      new grpc.Metadata(),
      // The deadline tells a well-behaved server when to give up too.
      { deadline: Date.now() + deadlineMs },
      (error, response) => {
        unsubscribe();
        client.close();
        if (error) resolve({ ok: false, detail: `${subject}: ${describeGrpcError(error)}` });
        else if (response?.status === 'SERVING') resolve({ ok: true, detail: `${subject}: SERVING` });
        else resolve({ ok: false, detail: `${subject}: ${response?.status ?? 'no response'}` });
      },
    );
    const unsubscribe = onAbort(signal, () => {
      call.cancel();
      client.close();
      reject(signal.reason);
    });
  });
}

function describeGrpcError(error: grpc.ServiceError): string {
  switch (error.code) {
    case grpc.status.NOT_FOUND:
      return 'the server does not know this service (NOT_FOUND)';
    case grpc.status.UNIMPLEMENTED:
      return `the server does not implement ${HEALTH_SERVICE_NAME} (UNIMPLEMENTED)`;
    default:
      return `${grpc.status[error.code] ?? error.code}: ${error.details}`;
  }
}
