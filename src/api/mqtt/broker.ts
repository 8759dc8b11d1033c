/**
 * The built-in broker (aedes) of the default run: listens on loopback only, so
 * a newcomer sees events at once with `mosquitto_sub -t 'scardgate/#' -v`
 * without exposing anything to the network. aedes speaks MQTT 3.1.1, so the
 * gateway's own client uses 3.1.1 against it. Who may connect and publish:
 * broker-auth.ts.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { authenticate, publishRefusal, type BrokerPolicy, type Identity } from './broker-auth.js';

export interface EmbeddedBroker {
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(host: string, port: number, policy: BrokerPolicy): Promise<EmbeddedBroker> {
  const who = new WeakMap<Client, Identity>();
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const id = authenticate(policy, username, password);
      if (!id) return done(Object.assign(new Error('bad user name or password'), { returnCode: 4 }) as AuthenticateError, false);
      if (id !== 'gateway' && client.id === policy.gatewayClientId) {
        return done(Object.assign(new Error('client id reserved for the gateway'), { returnCode: 2 }) as AuthenticateError, false);
      }
      who.set(client, id);
      done(null, true);
    },
    authorizePublish: (client, packet, done) => {
      // client null: the broker's own $SYS messages.
      if (!client) return done(null);
      const refusal = publishRefusal(policy, who.get(client), packet.topic);
      done(refusal ? new Error(`publish refused: ${refusal}`) : null);
    },
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    broker.handle(sock);
  });
  try {
    await listen(server, host, port);
  } catch (e) {
    // aedes runs a heartbeat timer from creation on: close it, or a failed start keeps the process alive.
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw e;
  }
  const addr = server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  return {
    host,
    port: actualPort,
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(
        new Error(
          e.code === 'EADDRINUSE'
            ? `mqtt.embedded: ${host}:${port} is already in use (another broker?). Set mqtt.url to that broker, or mqtt.embedded.port to a free port.`
            : `mqtt.embedded: cannot listen on ${host}:${port}: ${e.message}`,
          { cause: e },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
