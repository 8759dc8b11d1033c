import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fdOf, startReading, startReadingInto, writeReply } from '../../src/net/socket-io.js';

/** An accepted socket (paused, as the pcsc server accepts them) and the client end. */
async function pair(t: Test): Promise<{ server: Socket; client: Socket }> {
  const dir = mkdtempSync(join(tmpdir(), 'socket-io-'));
  const path = join(dir, 's');
  const srv = createServer({ pauseOnConnect: true });
  await new Promise<void>((r) => srv.listen(path, r));
  const accepted = new Promise<Socket>((r) => srv.once('connection', r));
  const client = createConnection(path);
  const server = await accepted;
  t.teardown(() => {
    client.destroy();
    server.destroy();
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { server, client };
}

function readBytes(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => reject(new Error(`read ${got} of ${n} bytes within 10 s`)), 10000);
    s.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        clearTimeout(timer);
        resolve(Buffer.concat(parts));
      }
    });
  });
}

t.test('reads bypass the stream; each chunk is handed over in order and must be copied', async (t) => {
  const { server, client } = await pair(t);
  const got: Buffer[] = [];
  let done: () => void;
  const all = new Promise<void>((r) => (done = r));
  t.ok(startReading(server, (c) => {
    got.push(Buffer.from(c));
    if (Buffer.concat(got).length === 300) done();
  }), 'this Node offers the onread mode on an accepted socket');
  client.write(Buffer.alloc(100, 1));
  client.write(Buffer.alloc(200, 2));
  await all;
  t.same(Buffer.concat(got), Buffer.concat([Buffer.alloc(100, 1), Buffer.alloc(200, 2)]));
  const ended = new Promise((r) => server.once('end', r));
  client.end();
  await ended;
  t.pass("the client's end still arrives as the stream's 'end'");
});

t.test('startReadingInto: the shared buffer and the byte count of each read, in order', async (t) => {
  const { server, client } = await pair(t);
  const got: Buffer[] = [];
  let done: () => void;
  const all = new Promise<void>((r) => (done = r));
  t.ok(
    startReadingInto(server, (n, buf) => {
      t.ok(buf.length >= n, 'the count is within the buffer');
      got.push(Buffer.from(buf.subarray(0, n)));
      if (Buffer.concat(got).length === 300) done();
    }),
    'reads bypass the stream',
  );
  client.write(Buffer.alloc(100, 3));
  client.write(Buffer.alloc(200, 4));
  await all;
  t.same(Buffer.concat(got), Buffer.concat([Buffer.alloc(100, 3), Buffer.alloc(200, 4)]), 'exactly the bytes sent, nothing of earlier reads');
});

t.test('writeReply with the descriptor kept by the caller; a destroyed socket is never written', async (t) => {
  const { server, client } = await pair(t);
  startReading(server, () => undefined);
  const fd = fdOf(server);
  t.ok(fd >= 0, 'an accepted socket has a descriptor');
  const received: Buffer[] = [];
  client.on('data', (d: Buffer) => received.push(d));
  const clientClosed = new Promise((r) => client.once('close', r));
  writeReply(server, Buffer.from('ping'), false, fd);
  server.on('error', () => undefined);
  server.destroy();
  // After destroy the descriptor (maybe another file's by now) is left alone: the stream gets the bytes and drops them.
  t.doesNotThrow(() => writeReply(server, Buffer.from('late'), false, fd));
  await clientClosed;
  t.same(Buffer.concat(received), Buffer.from('ping'), 'the reply before destroy arrived, nothing after it');
});

t.test('replies: order kept, and a mutable buffer queued for a slow reader is a copy', async (t) => {
  const { server, client } = await pair(t);
  startReading(server, () => undefined);
  client.pause();
  // Fill the socket's kernel buffer until the stream has to queue.
  const table = Buffer.alloc(2944);
  let sent = 0;
  const expected: Buffer[] = [];
  for (let i = 0; server.writableLength === 0; i++) {
    if (i > 100000) throw new Error('the socket never had to queue');
    table.fill(i & 0xff);
    writeReply(server, table, true);
    expected.push(Buffer.from(table));
    sent += table.length;
  }
  t.ok(server.writableLength > 0, 'a reply is queued in the stream');
  // Later replies go behind the queued ones, and the table changes after being handed over.
  const tail = Buffer.from('after');
  writeReply(server, tail);
  table.fill(0xee);
  client.resume();
  const all = await readBytes(client, sent + tail.length);
  t.same(all, Buffer.concat([...expected, tail]), 'every reply as it was when written, in order');
});
