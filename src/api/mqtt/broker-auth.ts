/**
 * Who may use the built-in broker, and for what. Without this any local user could publish
 * `request/transmit` with a VERIFY APDU and try PINs, going around the 0660 control and pcsc sockets.
 *
 * - Clients (mosquitto_sub/pub, scripts, scardctl) log in as user `scardgate` with the password in
 *   `<state.dir>/mqtt-password`: generated at the first start, mode 0640 so the scardgate group reads it
 *   (the state directory is 0750 scardgate:scardgate), never logged.
 * - The gateway's own client logs in with a second password that lives only in the daemon's memory and
 *   changes at every start: a client holding the file's password still cannot pass for the gateway.
 * - Anonymous or wrong credentials are refused (CONNACK 4 / 5).
 * - Only the gateway publishes under `<baseTopic>/` (availability, info, readers, reader states, events,
 *   responses) and the Home Assistant discovery prefix; a client may publish there only to
 *   `<baseTopic>/<gatewayId>/request/...`. Nobody but the broker publishes `$SYS/...` (aedes acts on
 *   `$SYS/<id>/new/clients`). A client may not take the gateway's client id (that would kick the
 *   gateway off the broker). A refused publish closes the client's connection (MQTT 3.1.1 has no way
 *   to refuse a PUBLISH otherwise).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const MQTT_PASSWORD_FILE = 'mqtt-password';
/** The user name of every client but the gateway. */
export const MQTT_CLIENT_USER = 'scardgate';
/** The gateway's own user name (its password is never written anywhere). */
export const MQTT_GATEWAY_USER = 'scardgate-gateway';

export const mqttPasswordPath = (stateDir: string): string => join(stateDir, MQTT_PASSWORD_FILE);

export interface BrokerCredentials {
  client: { username: string; password: string };
  gateway: { username: string; password: string };
}

/**
 * The client password from the state directory, made (0640, atomically) when missing or empty.
 * Mode 0640 rather than 0600: members of the scardgate group use it from the shell.
 */
export async function ensureMqttPassword(stateDir: string): Promise<string> {
  const path = mqttPasswordPath(stateDir);
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (text.length >= 16) return text;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`mqtt: cannot read the broker credential ${path}: ${(e as Error).message}`, { cause: e });
  }
  const password = randomBytes(24).toString('base64url');
  await mkdir(stateDir, { recursive: true, mode: 0o750 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, password + '\n', { mode: 0o640 });
  await chmod(tmp, 0o640);
  await rename(tmp, path);
  return password;
}

export async function brokerCredentials(stateDir: string): Promise<BrokerCredentials> {
  return {
    client: { username: MQTT_CLIENT_USER, password: await ensureMqttPassword(stateDir) },
    gateway: { username: MQTT_GATEWAY_USER, password: randomBytes(32).toString('base64url') },
  };
}

export interface BrokerPolicy {
  credentials: BrokerCredentials;
  /** `<baseTopic>`: everything below it is the gateway's. */
  baseTopic: string;
  /** `<baseTopic>/<gatewayId>`: clients publish only to `<root>/request/...`. */
  root: string;
  /** The gateway's client id: nobody else may use it. */
  gatewayClientId: string;
  /** The Home Assistant discovery prefix (the gateway's too), when discovery is on. */
  haPrefix?: string;
}

const same = (a: string, b: Buffer | string | undefined): boolean => {
  if (b === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.isBuffer(b) ? b : Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const under = (topic: string, prefix: string): boolean => topic === prefix || topic.startsWith(prefix + '/');

export type Identity = 'gateway' | 'client';

/** Which identity these credentials log in as, or undefined (refused). */
export function authenticate(policy: BrokerPolicy, username: string | undefined, password: Buffer | undefined): Identity | undefined {
  const { gateway, client } = policy.credentials;
  if (username === gateway.username) return same(gateway.password, password) ? 'gateway' : undefined;
  if (username === client.username) return same(client.password, password) ? 'client' : undefined;
  return undefined;
}

/** Undefined when `who` may publish to `topic`, else why not. */
export function publishRefusal(policy: BrokerPolicy, who: Identity | undefined, topic: string): string | undefined {
  if (topic.startsWith('$')) return `${topic}: $-topics are the broker's`;
  if (who === 'gateway') return undefined;
  if (who !== 'client') return 'not authenticated';
  if (under(topic, `${policy.root}/request`)) return undefined;
  if (under(topic, policy.baseTopic)) return `${topic}: only the gateway publishes under ${policy.baseTopic}/ (clients send requests to ${policy.root}/request/<method>)`;
  if (policy.haPrefix && under(topic, policy.haPrefix)) return `${topic}: only the gateway publishes Home Assistant discovery`;
  return undefined;
}
