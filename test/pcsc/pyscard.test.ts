/** pyscard (Debian's python3-pyscard) through the pcsc socket. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimGateway } from './helpers/sim-gateway.js';
import { requireTool } from './helpers/clients.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'clients', 'pyscard_check.py');

function requirePyscard(): void {
  requireTool('/usr/bin/python3', 'python3');
  requireTool('/usr/lib/python3/dist-packages/smartcard/scard', 'python3-pyscard');
}

/** A running pyscard script: its JSON lines, awaited one by one. */
class Py {
  readonly lines: Record<string, unknown>[] = [];
  private wake: (() => void) | null = null;
  private err = '';
  readonly exited: Promise<number>;
  readonly proc;
  constructor(env: NodeJS.ProcessEnv, ...args: string[]) {
    this.proc = spawn('/usr/bin/python3', [SCRIPT, ...args], { env });
    let buf = '';
    this.proc.stdout.on('data', (d) => {
      buf += String(d);
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
        buf = buf.slice(i + 1);
        this.wake?.();
      }
    });
    this.proc.stderr.on('data', (d) => (this.err += String(d)));
    this.exited = new Promise((r) => this.proc.on('close', (c) => { this.wake?.(); r(c ?? -1); }));
  }
  async step(name: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 20000;
    for (;;) {
      const l = this.lines.find((x) => x.step === name);
      if (l) return l;
      if (this.proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`pyscard: no '${name}' step; got ${JSON.stringify(this.lines)} ${this.err}`);
      }
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, 200); });
    }
  }
  has(name: string): boolean {
    return this.lines.some((x) => x.step === name);
  }
}

t.test('list, connect, transmit, status', async (t) => {
  requirePyscard();
  const gw = await startSimGateway([{ name: 'Py Reader', card: { type: 'iso7816' } }, { name: 'Py Other' }]);
  t.teardown(() => gw.stop());
  const py = new Py(gw.env, 'basic', 'Py Reader 00 00');
  t.same((await py.step('list')).readers, ['Py Reader 00 00', 'Py Other 01 00']);
  const snap = gw.core.readers()[0];
  t.equal((await py.step('connect')).protocol, snap.protocol || (await py.step('connect')).protocol);
  t.match((await py.step('transmit')).response, /^[0-9a-f]*[0-9a-f]{4}$/);
  const st = await py.step('status');
  t.equal(st.name, 'Py Reader 00 00');
  t.equal(st.atr, snap.atr.toString('hex'));
  t.equal((st.state as number) & 0xffff, 0x34, 'PRESENT|POWERED|NEGOTIABLE');
  await py.step('done');
  t.equal(await py.exited, 0);
});

t.test('getStatusChange across an insertion', async (t) => {
  requirePyscard();
  const gw = await startSimGateway([{ name: 'Py Slot' }]);
  t.teardown(() => gw.stop());
  const py = new Py(gw.env, 'wait-insert', 'Py Slot 00 00');
  const init = await py.step('initial');
  t.ok((init.state as number) & 0x10, 'EMPTY');
  await gw.waiters(1);
  gw.insert('Py Slot');
  const ins = await py.step('inserted');
  t.ok((ins.state as number) & 0x20, 'PRESENT');
  t.equal((ins.state as number) >>> 16, 1, 'event counter moved by the insertion');
  t.equal(ins.atr, gw.core.readers()[0].atr.toString('hex'));
  t.equal(await py.exited, 0);
});

t.test('transactions from two processes are exclusive', async (t) => {
  requirePyscard();
  const gw = await startSimGateway([{ name: 'Py Txn', card: { type: 'iso7816' } }]);
  t.teardown(() => gw.stop());
  const a = new Py(gw.env, 'txn', 'Py Txn 00 00');
  await a.step('began');
  const b = new Py(gw.env, 'txn', 'Py Txn 00 00');
  await b.step('begin-sent');
  // B's SCardBeginTransaction must not return while A holds the transaction.
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(b.has('began'), 'B waits while A holds the transaction');
  a.proc.stdin.write('\n');
  await a.step('ended');
  await b.step('began');
  b.proc.stdin.write('\n');
  await b.step('ended');
  t.equal(await a.exited, 0);
  t.equal(await b.exited, 0);
});
