/**
 * MQTT request/response for the soak's loads: requests on `<root>/request/<method>`
 * with a response topic and correlation data (MQTT 5), answered or timed out
 * after 10 s (a timeout is counted like any other error).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { inc, type Tally } from './common.js';

export interface Requester {
  request(method: string, body: Record<string, unknown>): Promise<any>;
  /** Count an answer of a transmit-like request as an exchange of `kind` or an error by PC/SC code. */
  count(kind: string, r: any): void;
  close(): Promise<void>;
}

/** The PC/SC code name of a failed answer, else its error text (shortened). */
function errorName(r: any): string {
  const e = r.error;
  const name = r.data?.name ?? e?.name ?? e?.code;
  if (name !== undefined) return String(name);
  return String(typeof e === 'string' ? e : (e?.message ?? JSON.stringify(e))).slice(0, 60);
}

export async function startRequester(url: string, root: string, tally: Tally): Promise<Requester> {
  const req: MqttClient = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 300 });
  await req.subscribeAsync('soak/reply/#', { qos: 1 });
  let corr = 0;
  const waiting = new Map<string, (r: any) => void>();
  req.on('message', (_t, p, packet) => {
    const id = packet.properties?.correlationData?.toString() ?? '';
    const w = waiting.get(id);
    if (w) {
      waiting.delete(id);
      w(JSON.parse(p.toString()));
    }
  });
  return {
    request: (method, body) => {
      const id = String(corr++);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve({ status: 'error', error: 'timeout', data: { name: 'TIMEOUT(no answer in 10 s)' } });
        }, 10000);
        waiting.set(id, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        req.publish(`${root}/request/${method}`, JSON.stringify(body), { qos: 1, properties: { responseTopic: `soak/reply/${method}`, correlationData: Buffer.from(id) } });
      });
    },
    count: (kind, r) => {
      if (r.status === 'ok') {
        const bad = (r.data?.responses ?? []).find((x: any) => x.error);
        if (bad) inc(tally.errors, `${kind} ${bad.error.name ?? 'error'}`);
        else inc(tally.exchanges, kind);
      } else inc(tally.errors, `${kind} ${errorName(r)}`);
    },
    close: () => req.endAsync(true),
  };
}
