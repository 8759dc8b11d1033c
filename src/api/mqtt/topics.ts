/**
 * The whole MQTT API of a gateway in one file: every topic under
 * `<baseTopic>/<gatewayId>/`, its payload type, retain/QoS, and the request
 * methods (the gateway's operations). The MQTT frontend, the README and the
 * web UI's live channel all read it; nothing else spells a topic.
 *
 *   availability                      "online" | "offline"          retained, QoS 1, last will
 *   info                              GatewayInfo                   retained, QoS 1
 *   readers                           ReadersList                   retained, QoS 1
 *   reader/<readerId>/state           ReaderState                   retained, QoS 1 (empty payload = reader gone)
 *   events                            GatewayEvent                  QoS 1, not retained, from the durable outbox
 *   request/<method>                  parameters of the operation   in (methods: src/gateway/catalog.ts)
 *   response/<method>                 Response                      QoS 1, not retained (MQTT 5: to the request's response topic)
 *   response                          Response                      the same, for a request topic without a usable method (`request/`)
 */
import type { GatewayEvent } from '../../events/types.js';
import type { ErrorBody } from '../../gateway/errors.js';
import { readerIdBase } from '../../gateway/readers.js';
import { OPERATION_NAMES } from '../../gateway/catalog.js';

export type { GatewayEvent };

/** The fixed topic names below `<baseTopic>/<gatewayId>/`. */
export const TOPIC = {
  availability: 'availability',
  info: 'info',
  readers: 'readers',
  events: 'events',
  request: 'request',
  response: 'response',
} as const;

/** Topic builders for one gateway. */
export function topicsFor(baseTopic: string, gatewayId: string) {
  const root = `${baseTopic}/${gatewayId}`;
  return {
    root,
    availability: `${root}/${TOPIC.availability}`,
    info: `${root}/${TOPIC.info}`,
    readers: `${root}/${TOPIC.readers}`,
    readerState: (readerId: string) => `${root}/reader/${readerId}/state`,
    events: `${root}/${TOPIC.events}`,
    request: (method: string) => `${root}/${TOPIC.request}/${method}`,
    requestWildcard: `${root}/${TOPIC.request}/#`,
    response: (method: string) => `${root}/${TOPIC.response}/${method}`,
    /** Answers to a request whose method makes no topic (`request/`, `request/a//b`): a `response/#` subscriber gets them too. */
    responseNoMethod: `${root}/${TOPIC.response}`,
  };
}
export type GatewayTopics = ReturnType<typeof topicsFor>;

/** A topic level that is safe to publish (the reader id rule of src/gateway/readers.ts). */
export const topicSegment = readerIdBase;

/** True when `topic` may be published (no wildcards, no empty level, no NUL). */
export function isPublishableTopic(topic: string): boolean {
  if (!topic.length || topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) return false;
  return topic.split('/').every((level) => level.length > 0);
}

export type Availability = 'online' | 'offline';

export type { Reader as ReaderState, ReaderPresence } from '../../gateway/readers.js';
export type { ReadersAnswer as ReadersList, GatewayInfo } from '../../gateway/types.js';

/** Every response: Zigbee2MQTT's envelope; `error` is the gateway's error body; `transaction` echoes the request's. */
export type Response<T = unknown> = { status: 'ok'; data: T; transaction?: string | number } | { status: 'error'; error: ErrorBody; transaction?: string | number };

/** Longest `transaction` string echoed back; a longer one is refused and not echoed. */
export const TRANSACTION_MAX_LENGTH = 256;

/** Every Home Assistant tag config of one gateway (to clear them when discovery is turned off). */
export const haTagConfigWildcard = (prefix: string, gatewayId: string): string => `${prefix}/tag/${topicSegment(`scardgate_${gatewayId}`)}/+/config`;

/** Home Assistant tag scanner discovery: `<prefix>/tag/<nodeId>/<objectId>/config`. */
export const haTagConfigTopic = (prefix: string, gatewayId: string, readerId: string): string =>
  `${prefix}/tag/${topicSegment(`scardgate_${gatewayId}`)}/${topicSegment(readerId)}/config`;

/** Request methods: the gateway's operations (src/gateway/catalog.ts), one name each. */
export const METHODS = OPERATION_NAMES;
