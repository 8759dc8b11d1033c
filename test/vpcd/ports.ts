/** Consecutive free loopback ports for vpcd slots (port, port+1, ...). */
import net from 'node:net';

async function canBind(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen({ host: '127.0.0.1', port }, () => resolve(s));
  });
}

export async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    const held: net.Server[] = [];
    let ok = true;
    for (let i = 0; i < count; i++) {
      const s = await canBind(base + i);
      if (!s) {
        ok = false;
        break;
      }
      held.push(s);
    }
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found on 127.0.0.1`);
}
