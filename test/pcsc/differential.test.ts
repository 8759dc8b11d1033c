/**
 * Differential tests: the same PC/SC call sequences, through Debian's
 * libpcsclite, against (a) Debian's pcscd + vsmartcard's vpcd driver and
 * (b) scardgate + its vpcd driver, each with Debian's vicc iso7816 card.
 * Return codes, states and data must be identical, except the deliberate
 * differences listed in DIFFERENCES (and in the README).
 */
import t from 'tap';
import { startPcscd } from './helpers/pcscd.js';
import { startVpcdGateway } from './helpers/vpcd-gateway.js';
import { runSequence } from './helpers/differential.js';

const PCSCD_PORT = 41300;
const SCARDGATE_PORT = 41400;

// States as GetStatusChange reports them, to wait for with the right current state.
const EMPTY = '0x10';
const PRESENT_INUSE_C1 = '0x00010122';
const PRESENT_C1 = '0x00010022';

const SEQUENCES: Record<string, string[]> = {
  'connect, transmit, status, control, attributes': [
    'A ctx 1', 'A list', 'A gsc #0 0 0', 'A gsc #1 0 0',
    'INSERT 0', `A gsc #0 ${EMPTY} 10000`,
    'A connect 1 #0 2 3', 'A status 1', 'A status 1 4', 'A status 1 100 2',
    'A transmit 1 00A4040000', 'A transmit 1 00A4000C023F00', 'A transmit 1 00B0000000', 'A transmit 1 00A4040000 1',
    'A transmit 1 00A4040000 258 t0', 'A transmit 1 00A4040000 258 raw',
    'A control 1 0x42000D48 - 256',
    'A getattrib 1 0x00090303 264', 'A getattrib 1 0x7FFF0003 264', 'A getattrib 1 0x00010100 264', 'A getattrib 1 0x00010102 264',
    'A getattrib 1 0x0007A007 264', 'A getattrib 1 0x00080201 264', 'A getattrib 1 0x00090303 2', 'A setattrib 1 0x00090303 00',
    'A disconnect 1 0', 'A disconnect 1 0', 'A release 1',
  ],
  'share modes and transactions': [
    'A ctx 1', 'B ctx 1', 'INSERT 0', `A gsc #0 ${EMPTY} 10000`,
    'A connect 1 #0 2 3', 'B connect 1 #0 1 3', 'B connect 1 #0 2 3', 'B connect 2 #0 3 0', 'A gsc #0 0 0',
    'A begin 1', 'A begin 1', 'A transmit 1 00A4040000', 'B& begin 1', 'A end 1 0', 'A transmit 1 00A4040000', 'A end 1 0', 'B<',
    'A end 1 0', 'B transmit 1 00A4040000', 'B end 1 0', 'B end 1 0',
    'B disconnect 2 0', 'B disconnect 1 0', 'A reconnect 1 1 3 0', 'A gsc #0 0 0', 'B connect 1 #0 2 3', 'B connect 1 #0 3 0',
    'A reconnect 1 2 3 0', 'A gsc #0 0 0', 'A disconnect 1 0', 'A connect 1 #1 2 3', 'A connect 1 #1 3 0', 'A status 1', 'A disconnect 1 0',
    'A release 1', 'B release 1',
  ],
  'reset and removal while connected': [
    'A ctx 1', 'B ctx 1', 'INSERT 0', `A gsc #0 ${EMPTY} 10000`,
    'A connect 1 #0 2 3', 'B connect 1 #0 2 3',
    'A reconnect 1 2 3 3', 'A reconnect 1 2 3 0', 'A reconnect 1 2 3 1', 'B transmit 1 00A4040000', 'B status 1', 'B reconnect 1 2 3 0',
    'B transmit 1 00A4040000', 'A reconnect 1 2 3 2', 'A status 1', 'A transmit 1 00A4040000', 'B transmit 1 00A4040000', 'B reconnect 1 2 3 0',
    'A begin 1', 'A end 1 1', 'A transmit 1 00A4040000', 'A reconnect 1 2 3 0', 'B disconnect 1 1', 'A transmit 1 00A4040000', 'A reconnect 1 2 3 0',
    'REMOVE 0', `A gsc #0 ${PRESENT_INUSE_C1} 10000`,
    'A transmit 1 00A4040000', 'A status 1', 'A begin 1', 'A end 1 0', 'A getattrib 1 0x00090303 264', 'A control 1 0x42000D48 - 256',
    'A reconnect 1 2 3 0', 'A connect 2 #0 2 3',
    'INSERT 0', 'A gsc #0 0x00020012 10000', 'A reconnect 1 2 3 0', 'A transmit 1 00A4040000', 'A disconnect 1 3',
    'A release 1', 'B release 1',
  ],
  // While A holds a transaction, pcscd makes B's Status (client retry on SHARING_VIOLATION) and Connect (daemon wait)
  // wait until it ends; A ends it with RESET, so the waiting Status sees W_RESET_CARD and the waiting Connect gets a
  // fresh handle. scardgate answers both at once (A's sleep gives them time; README "Differences from pcscd").
  'transaction held: other handles\' Status and Connect': [
    'A ctx 1', 'B ctx 1', 'INSERT 0', `A gsc #0 ${EMPTY} 10000`,
    'A connect 1 #0 2 3', 'B connect 1 #0 2 3', 'A begin 1',
    'B& status 1', 'A sleep 400', 'A transmit 1 00A4040000', 'A end 1 1', 'B<', 'B status 1', 'B reconnect 1 2 3 0',
    'A begin 1', 'B& connect 2 #0 2 3', 'A sleep 400', 'A end 1 1', 'B<', 'B status 2', 'B transmit 2 00A4040000', 'B status 1',
    'B disconnect 2 0', 'B disconnect 1 0', 'A disconnect 1 0', 'A release 1', 'B release 1',
  ],
  'failed reconnect: protocol returned, removed card, bad share mode, protocol mismatch, DIRECT without card': [
    'A ctx 1', 'INSERT 0', `A gsc #0 ${EMPTY} 10000`,
    'A connect 1 #0 2 3', 'A reconnect 1 9 3 0', 'A reconnect 1 2 0 0', 'A reconnect 1 2 3 7', 'A reconnect 1 2 1 0', 'A reconnect 1 2 3 0',
    'A connect 2 #1 3 0', 'A reconnect 2 3 0 0', 'A reconnect 2 3 0 1', 'A reconnect 2 2 3 0', 'A status 2', 'A disconnect 2 0',
    'REMOVE 0', `A gsc #0 ${PRESENT_INUSE_C1} 10000`,
    'A reconnect 1 2 3 0', 'A reconnect 1 2 3 1', 'A reconnect 1 3 0 0', 'A reconnect 1 9 3 0', 'A status 1', 'A disconnect 1 0',
    'A release 1',
  ],
  'EXCLUSIVE to SHARED inside a transaction, EndTransaction, then another connect': [
    'A ctx 1', 'B ctx 1', 'INSERT 0', `A gsc #0 ${EMPTY} 10000`,
    'A connect 1 #0 1 3', 'A begin 1', 'A reconnect 1 2 3 0', 'A transmit 1 00A4040000', 'A end 1 0', 'A end 1 0',
    'B& connect 1 #0 2 3', 'A sleep 400', 'A transmit 1 00A4040000', 'A disconnect 1 0', 'B<', 'B transmit 1 00A4040000', 'B begin 1', 'B end 1 0',
    'B disconnect 1 0', 'A release 1', 'B release 1',
  ],
  'disconnect with UNPOWER: what other handles see, the next connect': [
    'A ctx 1', 'B ctx 1', 'INSERT 0', `A gsc #0 ${EMPTY} 10000`,
    'A connect 1 #0 2 3', 'B connect 1 #0 2 3', 'A disconnect 1 2', 'B status 1', 'B transmit 1 00A4040000', 'A connect 1 #0 2 3',
    'A transmit 1 00A4040000', 'B reconnect 1 2 3 0', 'B transmit 1 00A4040000', 'A disconnect 1 0', 'B disconnect 1 2', 'A gsc #0 0 0',
    'A connect 1 #0 2 3', 'A status 1', 'A transmit 1 00A4040000', 'A disconnect 1 2', 'A connect 1 #0 3 0', 'A status 1', 'A disconnect 1 0',
    'A release 1', 'B release 1',
  ],
  'removal and re-insertion: a stale handle\'s warnings before and after a failed reconnect': [
    'A ctx 1', 'B ctx 1', 'INSERT 0', `A gsc #0 ${EMPTY} 10000`,
    'A connect 1 #0 2 3', 'B connect 1 #0 2 3', 'REMOVE 0', `A gsc #0 ${PRESENT_INUSE_C1} 10000`,
    'A transmit 1 00A4040000', 'A status 1', 'A reconnect 1 2 3 0', 'A transmit 1 00A4040000', 'A status 1',
    'INSERT 0', 'A gsc #0 0x00020012 10000',
    'A transmit 1 00A4040000', 'A status 1', 'B transmit 1 00A4040000', 'B status 1', 'B begin 1',
    'A reconnect 1 2 3 0', 'A transmit 1 00A4040000', 'B reconnect 1 2 3 0', 'B transmit 1 00A4040000',
    'A disconnect 1 0', 'B disconnect 1 0', 'A release 1', 'B release 1',
  ],
  'status change: timeout, cancel, unknown reader, insertion, removal': [
    'A ctx 1', 'A gsc #1 0x10 300', 'A gsc-cancel #1 0x10 300', 'A gsc nope 0 100', 'A gsc pnp 0 200',
    'A& gsc #0 0x10 20000', 'INSERT 0', 'A<', `A gsc #0 ${PRESENT_C1} 0`,
    'A& gsc #0 0x00010022 20000', 'REMOVE 0', 'A<',
    'A release 1',
  ],
};

/**
 * Deliberate differences: step -> [pcscd + vpcd, scardgate]. Each is listed in
 * the README ("Differences from pcscd").
 */
const DIFFERENCES: Record<string, [string, string]> = {
  // vsmartcard's vpcd (0.8 in bookworm) answers no IOCTL; scardgate's vpcd driver offers GET_TLV_PROPERTIES (extended APDU size).
  'A control 1 0x42000D48 - 256': ['control rv=0x8010001F len=0 data=', 'control rv=0x00000000 len=6 data=120442330012'],
  // vpcd knows no attributes; scardgate's core answers the standard ones from what it knows of the reader and card.
  'A getattrib 1 0x00090303 264': ['getattrib rv=0x8010001F len=264 data=', 'getattrib rv=0x00000000 len=11 data=3B951381018073FF01000B'],
  'A getattrib 1 0x7FFF0003 264': ['getattrib rv=0x80100008 len=264 data=', 'getattrib rv=0x00000000 len=18 data=5669727475616C2050434420303020303000'],
  'A getattrib 1 0x0007A007 264': ['getattrib rv=0x8010001F len=264 data=', 'getattrib rv=0x00000000 len=4 data=0C000100'],
  'A getattrib 1 0x00080201 264': ['getattrib rv=0x8010001F len=264 data=', 'getattrib rv=0x00000000 len=4 data=02000000'],
  'A getattrib 1 0x00090303 2': ['getattrib rv=0x8010001F len=2 data=', 'getattrib rv=0x80100008 len=11 data='],
  'A setattrib 1 0x00090303 00': ['setattrib rv=0x80100016', 'setattrib rv=0x8010001F'],
  // Status during another handle's transaction: pcscd's client retries until it ends (then the reset it ended with
  // shows); scardgate answers at once with the state of that moment.
  'B<': [
    'status rv=0x80100068 namelen=0 state=0x00000000 proto=0 atrlen=0',
    'status rv=0x00000000 namelen=18 state=0x00010034 proto=2 atrlen=11 name=[Virtual PCD 00 00] atr=3B951381018073FF01000B',
  ],
};

t.test('pcscd + vpcd and scardgate + vpcd give the same results', async (t) => {
  const only = process.env.PCSC_DIFF_ONLY;
  for (const [name, steps] of Object.entries(SEQUENCES)) {
    if (only && !name.includes(only)) continue;
    await t.test(name, async (t) => {
      const pcscd = await startPcscd({ port: PCSCD_PORT });
      let reference: string[];
      try {
        reference = await runSequence(pcscd, PCSCD_PORT, steps);
      } finally {
        await pcscd.stop();
      }
      const gw = await startVpcdGateway({ port: SCARDGATE_PORT });
      let ours: string[];
      try {
        ours = await runSequence(gw, SCARDGATE_PORT, steps);
      } finally {
        await gw.stop();
      }
      if (process.env.PCSC_DIFF_VERBOSE) t.comment(`pcscd:\n${reference.join('\n')}\nscardgate:\n${ours.join('\n')}`);
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i];
        const known = DIFFERENCES[step];
        if (known && reference[i] === `${step} => ${known[0]}`) {
          t.equal(ours[i], `${step} => ${known[1]}`, `${step} (deliberate difference)`);
        } else t.equal(ours[i], reference[i], step);
      }
    });
  }
});

t.test('opensc-tool and pcsc_scan answer the same through pcscd and scardgate', async (t) => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { startVicc } = await import('../helpers/vicc.js');
  const run = promisify(execFile);
  const tools = async (env: NodeJS.ProcessEnv): Promise<Record<string, string>> => {
    const o = async (...args: string[]) => (await run('opensc-tool', args, { env, timeout: 30000 })).stdout;
    const scan = (await run('pcsc_scan', ['-n', '-t', '2'], { env, timeout: 30000 }).catch((e: { stdout: string }) => e)).stdout;
    return {
      list: await o('-l'),
      atr: await o('-a'),
      apdus: await o('-s', '00A4040000', '-s', '00A4000C023F00', '-s', '00B0000000'),
      scan: scan.split('\n').filter((l) => /Reader \d|Card state|ATR:|^\d+: /.test(l)).map((l) => l.replace(/^[\s\\|/-]+/, '')).join('\n'),
    };
  };
  const withCard = async (port: number, d: { env: NodeJS.ProcessEnv; stop(): Promise<void> }, waitPresent: () => Promise<void>) => {
    const card = startVicc({ port });
    try {
      await waitPresent();
      return await tools(d.env);
    } finally {
      await card.stop();
      await d.stop();
    }
  };
  const { CallsClient } = await import('./helpers/clients.js');
  const present = (env: NodeJS.ProcessEnv) => async () => {
    const c = new CallsClient(env);
    await c.call('ctx 1');
    await c.call(`gsc #0 ${EMPTY} 10000`);
    await c.kill();
  };
  const pcscd = await startPcscd({ port: PCSCD_PORT });
  const reference = await withCard(PCSCD_PORT, pcscd, present(pcscd.env));
  const gw = await startVpcdGateway({ port: SCARDGATE_PORT });
  const ours = await withCard(SCARDGATE_PORT, gw, present(gw.env));
  t.match(reference.list, /Yes\s+Virtual PCD 00 00/);
  t.match(reference.scan, /ATR: 3B 95 13 81 01 80 73 FF 01 00 0B/);
  t.same(ours, reference);
});
