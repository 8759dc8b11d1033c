/**
 * Hostile clients for the soak (the long versions of test/pcsc/limits.test.ts,
 * test/cli/control-hostile.test.ts, test/mqtt/flood.test.ts and
 * test/http/hostile.test.ts): one attack every interval, round robin, while the
 * soak's well-behaved clients measure what everyone else sees. Each attack
 * records whether the gateway cut the attacker off (or throttled it) in time.
 *
 * Attacks:
 *   pcsc-garbage      bytes that are no request on the pcsc socket: closed at once
 *   pcsc-half         4 of a request header's 8 bytes, then silence: closed after the half-message timeout
 *   control-garbage   lines that are not JSON, then a line over the 1 MiB limit: answered with errors, then closed
 *   mqtt-flood        hundreds of requests at once from one client: answered (or refused as busy), never unanswered
 *   http-slowloris    request headers one byte every 2 s: closed by the request timeout
 *   http-huge-body    a body over http.bodyLimitBytes: 413 or closed
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';

export interface HostileTargets {
  pcscSocket?: string;
  controlSocket?: string;
  /** MQTT broker URL and the gateway's topic root (`scardgate/<gatewayId>`). */
  mqtt?: { url: string; root: string; options?: mqtt.IClientOptions };
  /** http://host:port of the HTTP frontend. */
  httpUrl?: string;
}

export interface AttackTally {
  runs: number;
  /** Cut off, refused or throttled as the limits say. */
  handled: number;
  /** Not cut off within the deadline (a finding). */
  notHandled: number;
  /** Attacks that could not run (target down: a daemon restart in progress). */
  skipped: number;
  detail?: string;
}

type Attack = (t: HostileTargets) => Promise<{ handled: boolean; detail?: string } | undefined>;

/** Resolves true when the server closes `s` within `ms`. */
function closedWithin(s: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.destroyed || s.readableEnded) return resolve(true);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    s.once('close', done);
    s.once('end', done);
    s.on('data', () => undefined);
  });
}

function open(path: string | { host: string; port: number }): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = typeof path === 'string' ? connect(path) : connect(path.port, path.host);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
}

const ATTACKS: Record<string, Attack> = {
  'pcsc-garbage': async (t) => {
    if (!t.pcscSocket) return undefined;
    const s = await open(t.pcscSocket);
    if (!s) return undefined;
    // A size that is wrong for any command.
    s.write(Buffer.concat([Buffer.from('ff00000001000000', 'hex'), randomBytes(64)]));
    return { handled: await closedWithin(s, 5000) };
  },
  'pcsc-half': async (t) => {
    if (!t.pcscSocket) return undefined;
    const s = await open(t.pcscSocket);
    if (!s) return undefined;
    s.write(Buffer.from('10000000', 'hex'));
    // README "pcsc socket limits": a half-sent request is closed after 10 s.
    return { handled: await closedWithin(s, 20000) };
  },
  'control-garbage': async (t) => {
    if (!t.controlSocket) return undefined;
    const s = await open(t.controlSocket);
    if (!s) return undefined;
    let answers = 0;
    s.on('data', (d: Buffer) => void (answers += d.toString().split('\n').filter((l) => l.includes('"error"')).length));
    for (let i = 0; i < 20; i++) s.write(`${randomBytes(40).toString('latin1').replace(/\n/g, ' ')}\n`);
    await new Promise((r) => setTimeout(r, 500));
    // Over the line limit: the channel cannot find the next request, so it closes.
    s.write(Buffer.alloc((1 << 20) + 16, 0x61));
    const closed = await closedWithin(s, 10000);
    return { handled: closed && answers > 0, detail: `${answers} error answers` };
  },
  'mqtt-flood': async (t) => {
    if (!t.mqtt) return undefined;
    let c: mqtt.MqttClient;
    try {
      c = await mqtt.connectAsync(t.mqtt.url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...t.mqtt.options });
    } catch {
      return undefined;
    }
    const N = 500;
    let answered = 0;
    let busy = 0;
    c.on('message', (_topic, p) => {
      answered++;
      if (p.toString().includes('SCARD_E_SERVER_TOO_BUSY')) busy++;
    });
    await c.subscribeAsync('soak/hostile/reply', { qos: 0 });
    for (let i = 0; i < N; i++) {
      c.publish(`${t.mqtt.root}/request/readers`, '{}', { qos: 0, properties: { responseTopic: 'soak/hostile/reply', correlationData: Buffer.from(String(i)) } });
    }
    const deadline = Date.now() + 30000;
    while (answered < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await c.endAsync(true).catch(() => undefined);
    // Every request answered, some possibly refused as busy: the gate throttles, it does not drop.
    return { handled: answered === N, detail: `${answered}/${N} answered, ${busy} busy` };
  },
  'http-slowloris': async (t) => {
    if (!t.httpUrl) return undefined;
    const u = new URL(t.httpUrl);
    const s = await open({ host: u.hostname, port: Number(u.port) });
    if (!s) return undefined;
    const head = `GET /api/info HTTP/1.1\r\nHost: ${u.host}\r\nX-Slow: `;
    let i = 0;
    const drip = setInterval(() => {
      if (!s.destroyed) s.write(head[i++ % head.length]);
    }, 2000);
    try {
      return { handled: await closedWithin(s, 120000) };
    } finally {
      clearInterval(drip);
    }
  },
  'http-huge-body': async (t) => {
    if (!t.httpUrl) return undefined;
    const u = new URL(t.httpUrl);
    const s = await open({ host: u.hostname, port: Number(u.port) });
    if (!s) return undefined;
    const size = 64 << 20;
    let reply = '';
    s.on('data', (d: Buffer) => void (reply += d.toString('latin1')));
    s.write(`POST /api/transmit HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`);
    const chunk = Buffer.alloc(1 << 16, 0x20);
    let sent = 0;
    while (sent < size && !s.destroyed && !/^HTTP\/1\.1 4\d\d/.test(reply)) {
      if (!s.write(chunk)) await new Promise((r) => s.once('drain', r).once('close', r));
      sent += chunk.length;
    }
    const closed = await closedWithin(s, 10000);
    const status = /^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1];
    return { handled: closed || status === '413' || status === '401', detail: `status ${status ?? 'none'} after ${Math.round(sent / 1024)} KiB` };
  },
};

/** Runs one attack every `intervalMs`, round robin, until stop(); stop() returns the tally per attack. */
export function startHostileClients(targets: () => HostileTargets, intervalMs: number, log: (msg: string) => void): { stop(): Promise<Record<string, AttackTally>> } {
  const tally: Record<string, AttackTally> = {};
  const names = Object.keys(ATTACKS);
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, intervalMs));
      if (!running) break;
      const name = names[n++ % names.length];
      const tt = (tally[name] ??= { runs: 0, handled: 0, notHandled: 0, skipped: 0 });
      try {
        const r = await ATTACKS[name](targets());
        if (!r) {
          tt.skipped++;
          continue;
        }
        tt.runs++;
        if (r.handled) tt.handled++;
        else {
          tt.notHandled++;
          log(`hostile: ${name} was not cut off${r.detail ? ` (${r.detail})` : ''}`);
        }
        if (r.detail) tt.detail = r.detail;
      } catch (e) {
        tt.skipped++;
        log(`hostile: ${name} could not run: ${(e as Error).message}`);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return tally;
    },
  };
}
