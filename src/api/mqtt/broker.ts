/**
 * The built-in broker (aedes) of the default run: listens on loopback only, so
 * a newcomer sees events at once with `mosquitto_sub -t 'scardgate/#' -v`
 * without exposing anything to the network. aedes speaks MQTT 3.1.1, so the
 * gateway's own client uses 3.1.1 against it.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(host: string, port: number): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
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
