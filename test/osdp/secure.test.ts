/**
 * Secure Channel cryptography (docs/osdp.md §6) against vectors derived here
 * with the openssl command-line tool (an AES independent of node:crypto)
 * following the derivation steps in the docs, then a whole session: the MAC
 * chain over several packets in both directions.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import {
  SCBK_D,
  clientCryptogram,
  computeMac,
  decryptData,
  deriveSessionKeys,
  encryptData,
  initialRmac,
  SecureSession,
  serverCryptogram,
} from '../../src/osdp/secure.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function openssl(mode: 'ecb' | 'cbc', key: Buffer, data: Buffer, iv?: Buffer, decrypt = false): Buffer {
  const args = ['enc', `-aes-128-${mode}`, '-K', key.toString('hex'), '-nopad'];
  if (iv) args.push('-iv', iv.toString('hex'));
  if (decrypt) args.push('-d');
  const r = spawnSync('openssl', args, { input: data });
  if (r.error || r.status !== 0) throw new Error(`openssl is needed for these vectors (apt-get install openssl): ${r.error?.message ?? r.stderr.toString()}`);
  return r.stdout;
}

const rndA = hex('0102030405060708');
const rndB = hex('a1a2a3a4a5a6a7a8');
const scbk = hex('000102030405060708090a0b0c0d0e0f');

t.test('SCBK-D is 0x30..0x3F', async (t) => {
  t.same(SCBK_D, Buffer.from('0123456789:;<=>?', 'latin1'));
});

t.test('session keys, cryptograms, initial R-MAC', async (t) => {
  for (const key of [SCBK_D, scbk]) {
    const k = deriveSessionKeys(key, rndA);
    const block = (b1: string): Buffer => hex(`01 ${b1} 010203040506 0000000000000000`);
    t.same(k.enc, openssl('ecb', key, block('82')), 'S-ENC');
    t.same(k.mac1, openssl('ecb', key, block('01')), 'S-MAC1');
    t.same(k.mac2, openssl('ecb', key, block('02')), 'S-MAC2');
    const cc = openssl('ecb', k.enc, Buffer.concat([rndA, rndB]));
    const sc = openssl('ecb', k.enc, Buffer.concat([rndB, rndA]));
    t.same(clientCryptogram(k, rndA, rndB), cc, 'client (PD) cryptogram = AES(S-ENC, RND.A||RND.B)');
    t.same(serverCryptogram(k, rndA, rndB), sc, 'server (CP) cryptogram = AES(S-ENC, RND.B||RND.A)');
    t.same(initialRmac(k, sc), openssl('ecb', k.mac2, openssl('ecb', k.mac1, sc)), 'R-MAC-I');
  }
  t.notSame(deriveSessionKeys(SCBK_D, rndA).enc, deriveSessionKeys(scbk, rndA).enc, 'the key matters');
});

/** MAC from its definition: CBC-MAC with S-MAC1 over all blocks but the last, the last with S-MAC2; 0x80 pad only when needed. */
function macOracle(k: ReturnType<typeof deriveSessionKeys>, iv: Buffer, msg: Buffer): Buffer {
  const padded = msg.length % 16 || msg.length === 0 ? Buffer.concat([msg, hex('80'), Buffer.alloc(15 - (msg.length % 16))]) : msg;
  const head = padded.subarray(0, padded.length - 16);
  const chain = head.length ? openssl('cbc', k.mac1, head, iv).subarray(-16) : iv;
  const last = Buffer.from(padded.subarray(-16).map((x, i) => x ^ chain[i]));
  return openssl('ecb', k.mac2, last);
}

t.test('MAC over short, aligned and long messages', async (t) => {
  const k = deriveSessionKeys(scbk, rndA);
  const iv = hex('00112233445566778899aabbccddeeff');
  for (const len of [0, 7, 15, 16, 17, 32, 45]) {
    const msg = Buffer.from(Array.from({ length: len }, (_, i) => (i * 37 + 11) & 0xff));
    t.same(computeMac(k, iv, msg), macOracle(k, iv, msg), `${len} bytes`);
  }
});

t.test('data encryption: 0x80 padding, IV = last MAC inverted', async (t) => {
  const k = deriveSessionKeys(scbk, rndA);
  const lastMac = hex('00112233445566778899aabbccddeeff');
  const inv = Buffer.from(lastMac.map((x) => ~x & 0xff));
  for (const len of [1, 15, 16, 20]) {
    const d = Buffer.alloc(len, 0x5a);
    const padded = Buffer.concat([d, hex('80'), Buffer.alloc(15 - (len % 16))]);
    const e = encryptData(k, lastMac, d);
    t.same(e, openssl('cbc', k.enc, padded, inv), `${len} bytes`);
    t.same(decryptData(k, lastMac, e), d);
  }
  t.equal(decryptData(k, hex('ff'.repeat(16)), encryptData(k, lastMac, hex('01'))), undefined, 'wrong IV: the padding check fails');
  t.equal(decryptData(k, lastMac, hex('00'.repeat(15))), undefined, 'not a whole block');
});

t.test('MAC chain across a session', async (t) => {
  const k = deriveSessionKeys(scbk, rndA);
  const rmacI = initialRmac(k, serverCryptogram(k, rndA, rndB));
  const cp = new SecureSession(k, rmacI);
  const pd = new SecureSession(k, rmacI);
  for (let i = 0; i < 5; i++) {
    const cmd = Buffer.from(`command ${i} with some data`);
    const enc = cp.encryptCommand(Buffer.from('payload'));
    t.same(pd.decryptCommand(enc), Buffer.from('payload'));
    const m = cp.macCommand(cmd);
    t.ok(pd.checkCommand(cmd, m), `command ${i} MAC`);
    const reply = Buffer.from(`reply ${i}`);
    const renc = pd.encryptReply(Buffer.from('answer'));
    t.same(cp.decryptReply(renc), Buffer.from('answer'));
    t.ok(cp.checkReply(reply, pd.macReply(reply)), `reply ${i} MAC`);
  }
  const stale = cp.macCommand(Buffer.from('x'));
  t.ok(pd.checkCommand(Buffer.from('x'), stale));
  t.ok(cp.checkReply(Buffer.from('y'), pd.macReply(Buffer.from('y'))));
  t.notOk(pd.checkCommand(Buffer.from('x'), stale), 'a replayed command no longer matches once a reply moved the chain on');
});
