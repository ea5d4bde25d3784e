/**
 * Encodes each watch event once, however many watchers receive it.
 *
 * The hub hands every watcher of a key the same event object (one with and one without the
 * previous value), but proto-loader's serializer would convert and encode it again inside every
 * watcher's WatchResponse: with 100 watchers on a prefix that is most of a follower's CPU.
 * Here an event becomes wire fields once (a WeakMap on the hub's event) and protobuf bytes once
 * (a WeakMap on those fields); a WatchResponse is its other fields, encoded as usual, followed
 * by the events' bytes as field 11. Field 11 is the message's last field, so the result is
 * byte for byte what encoding the whole message would give (test/unit/etcd-watch-codec.test.ts).
 */
import { join } from 'node:path';
import type { MethodDefinition } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { WatchEvent } from '../state-machine/index.js';
import { kvToWire } from './kv-responses.js';
import { etcdProtoDir } from './proto.js';
import { EventType, type EventWire, type WatchResponseWire } from './wire-types.js';

/** `repeated mvccpb.Event events = 11;` in WatchResponse: tag (11 << 3) | length-delimited. */
const EVENTS_TAG = (11 << 3) | 2;
/** `ResponseHeader header = 1;` in WatchResponse. */
const HEADER_TAG = (1 << 3) | 2;

const wireOfEvent = new WeakMap<WatchEvent, EventWire>();

/** The event's wire fields, built once per hub event and shared by every watcher that gets it. */
export function eventToWire(event: WatchEvent): EventWire {
  let wire = wireOfEvent.get(event);
  if (wire === undefined) {
    wire = {
      type: event.type === 'put' ? EventType.PUT : EventType.DELETE,
      kv: kvToWire(event.kv),
      prev_kv: event.prevKv === undefined ? null : kvToWire(event.prevKv),
    };
    wireOfEvent.set(event, wire);
  }
  return wire;
}

/** A WatchResponse with every field it does not name at its default. */
export function watchResponse(
  fields: Partial<WatchResponseWire> & Pick<WatchResponseWire, 'header' | 'watch_id'>,
): WatchResponseWire {
  return {
    created: false,
    canceled: false,
    compact_revision: '0',
    cancel_reason: '',
    fragment: false,
    events: [],
    ...fields,
  };
}

interface WatchTypes {
  readonly response: protobuf.Type;
  readonly header: protobuf.Type;
  readonly event: protobuf.Type;
}

let cachedTypes: WatchTypes | null = null;

function watchTypes(): WatchTypes {
  if (cachedTypes !== null) return cachedTypes;
  const root = new protobuf.Root();
  const dir = etcdProtoDir();
  // Imports name files relative to proto/etcd (e.g. "mvccpb/kv.proto").
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(dir, target));
  root.loadSync(join(dir, 'etcdserverpb/rpc.proto'), { keepCase: true });
  cachedTypes = {
    response: root.lookupType('etcdserverpb.WatchResponse'),
    header: root.lookupType('etcdserverpb.ResponseHeader'),
    event: root.lookupType('mvccpb.Event'),
  };
  return cachedTypes;
}

/**
 * A serializer for WatchResponse that encodes each distinct event object and each distinct
 * header object once: the watch service gives every watch a commit notifies the same header,
 * and converting its four 64-bit decimal strings (Long.fromString) per watch cost as much as
 * the rest of the response. The header is field 1, the first encoded, so writing its cached
 * bytes first and then the other fields keeps the bytes identical.
 */
export function watchResponseSerializer(): (response: WatchResponseWire) => Buffer {
  const { response: responseType, header: headerType, event: eventType } = watchTypes();
  const bytesOfEvent = new WeakMap<EventWire, Uint8Array>();
  const bytesOfHeader = new WeakMap<object, Uint8Array>();
  return (response) => {
    const { events, header, ...rest } = response;
    const writer = protobuf.Writer.create();
    // proto-loader omits an absent (null) message field; so do we.
    if (header !== null && header !== undefined) {
      let headerBytes = bytesOfHeader.get(header);
      if (headerBytes === undefined) {
        headerBytes = headerType.encode(headerType.fromObject(header)).finish();
        bytesOfHeader.set(header, headerBytes);
      }
      writer.uint32(HEADER_TAG).bytes(headerBytes);
    }
    responseType.encode(responseType.fromObject(rest), writer);
    for (const event of events) {
      let bytes = bytesOfEvent.get(event);
      if (bytes === undefined) {
        bytes = eventType.encode(eventType.fromObject(event)).finish();
        bytesOfEvent.set(event, bytes);
      }
      writer.uint32(EVENTS_TAG).bytes(bytes);
    }
    const encoded = writer.finish();
    return Buffer.isBuffer(encoded)
      ? encoded
      : Buffer.from(encoded.buffer, encoded.byteOffset, encoded.length);
  };
}

/** The Watch method with the serializer above (requests still decode as proto-loader does). */
export function withWatchSerializer(
  method: MethodDefinition<object, object>,
): MethodDefinition<object, object> {
  return { ...method, responseSerialize: watchResponseSerializer() as (value: object) => Buffer };
}
