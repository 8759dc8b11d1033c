/** An mqtt.js observer for the tests: records every message and waits for the ones a test expects. */
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt';
import { waitFor } from '../helpers/wait-for.js';

export interface Msg {
  topic: string;
  text: string;
  retain: boolean;
  packet: IPublishPacket;
  json<T = any>(): T;
}

export class Observer {
  readonly messages: Msg[] = [];
  private waiters: Array<{ pred: (m: Msg) => boolean; resolve: (m: Msg) => void }> = [];
  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m: Msg = {
        topic,
        text: payload.toString(),
        retain: packet.retain,
        packet,
        json: () => JSON.parse(payload.toString()),
      };
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  static async connect(url: string, topics: string[], opts: IClientOptions = {}): Promise<Observer> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 200, ...opts });
    const o = new Observer(client);
    if (topics.length) await client.subscribeAsync(topics, { qos: 1 });
    return o;
  }

  /** The first message (already received or future) matching pred. */
  waitFor(pred: (m: Msg) => boolean, timeoutMs = 10000, what = 'message'): Promise<Msg> {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out waiting for ${what}; got: ${this.messages.map((m) => `${m.topic} ${m.text.slice(0, 120)}`).join('\n')}`));
      }, timeoutMs);
      const done = (m: Msg): void => {
        clearTimeout(t);
        resolve(m);
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  /** Messages received after index `from` matching pred (use with messages.length as a mark). */
  since(from: number, pred: (m: Msg) => boolean = () => true): Msg[] {
    return this.messages.slice(from).filter(pred);
  }

  async waitCount(pred: (m: Msg) => boolean, n: number, timeoutMs = 30000): Promise<Msg[]> {
    return waitFor(
      () => {
        const got = this.messages.filter(pred);
        return got.length >= n ? got : undefined;
      },
      `${n} matching messages`,
      timeoutMs,
      20,
    );
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** One request over mqtt.js: publish to request/<method>, wait for the response (matched by transaction). */
export async function request(
  o: Observer,
  root: string,
  method: string,
  params: Record<string, unknown> | string,
  transaction: string | number = `t${Math.random().toString(36).slice(2)}`,
): Promise<any> {
  const payload = typeof params === 'string' ? params : JSON.stringify({ ...params, transaction });
  const mark = o.messages.length;
  const wait = o.waitFor(
    (m) => o.messages.indexOf(m) >= mark && m.topic === `${root}/response/${method}` && (typeof params === 'string' || m.json().transaction === transaction),
    15000,
    `response to ${method}`,
  );
  await o.client.publishAsync(`${root}/request/${method}`, payload, { qos: 1 });
  return (await wait).json();
}
