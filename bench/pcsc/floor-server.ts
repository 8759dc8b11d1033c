/**
 * bench/pcsc/floor's Node server: the pcsc socket's own read and write path
 * (src/net/socket-io.ts: reads into the shared buffer through net.Socket's
 * onread, replies with one write(2)) around no work at all: each request (a
 * 4-byte length, then that many bytes) is answered with a fixed reply.
 *
 *   node floor-server.mjs PATH REPLY_BYTES   (prints "ready")
 */
import { createServer } from 'node:net';
import { unlinkSync } from 'node:fs';
import { fdOf, startReadingInto, writeReply } from '../../src/net/socket-io.js';

const [path, replyArg] = process.argv.slice(2);
const reply = Buffer.alloc(Number(replyArg));
try {
  unlinkSync(path);
} catch {
  /* not there */
}
const server = createServer({ pauseOnConnect: true }, (socket) => {
  const fd = fdOf(socket);
  let need = -1;
  let have = 0;
  const head = Buffer.alloc(4);
  startReadingInto(socket, (n, buf) => {
    for (let i = 0; i < n; ) {
      if (need < 0) {
        head[have++] = buf[i++];
        if (have === 4) {
          need = head.readUInt32LE(0);
          have = 0;
        }
      } else {
        const take = Math.min(need - have, n - i);
        have += take;
        i += take;
      }
      if (need >= 0 && have === need) {
        need = -1;
        have = 0;
        writeReply(socket, reply, false, fd);
      }
    }
  });
  socket.on('error', () => socket.destroy());
});
server.listen(path, () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
