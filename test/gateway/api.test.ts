/**
 * The application layer on its own (no frontend): reader naming, shapes,
 * the APDU rule, redaction, errors, scopes, session close disposition.
 * test/gateway/frontends.test.ts drives the same operations through MQTT,
 * HTTP and the control channel.
 */
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { errorBody } from '../../src/gateway/errors.js';
import { SCARD } from '../../src/pcsc/constants.js';

const VERIFY = '00 20 00 81 04 31 32 33 34';
const caller = { owner: 'test' };

t.test('operations over the core', async (t) => {
  const gw = await startTestGateway();
  t.teardown(() => gw.stop());
  const api = gw.gateway.context.api;
  const fail = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      return errorBody(e);
    }
    throw new Error('expected a failure');
  };

  t.test('readers: one shape, numbered from 1, with ids', async (t) => {
    const { readers, cardModels } = await api.call('readers', {}, caller);
    t.equal(readers.length, 4);
    t.same(
      readers.map((r) => [r.number, r.name.startsWith('Simulated'), r.state]),
      [
        [1, true, 'present'],
        [2, true, 'present'],
        [3, true, 'present'],
        [4, true, 'empty'],
      ],
    );
    t.match(readers[0], { id: /^Simulated_Contact_Reader_A/, atr: /^3B[0-9A-F]+$/, card: { contactless: false }, uid: null });
    t.match(readers[2], { card: { contactless: true }, uid: /^[0-9A-F]{8}$/ });
    t.same(readers[3], { ...readers[3], atr: null, protocol: null, card: null, cardType: null });
    t.ok(cardModels.includes('iso7816'));
  });

  t.test('one naming rule: exact name, id, 1-based number, unique part', async (t) => {
    const all = (await api.call('readers', {}, caller)).readers;
    for (const spec of [all[1].name, all[1].id, '2', 'reader b']) {
      t.equal((await api.call('reader/status', { reader: spec }, caller)).name, all[1].name, spec);
    }
    t.match(await fail(api.call('reader/status', { reader: '0' }, caller)), { code: SCARD.E_UNKNOWN_READER, name: 'SCARD_E_UNKNOWN_READER', message: /no reader number 0 \(readers are numbered 1..4/ });
    t.match(await fail(api.call('reader/status', { reader: 'contact' }, caller)), { name: 'SCARD_E_UNKNOWN_READER', message: /matches 3 readers/ });
  });

  t.test('bad parameters name the field', async (t) => {
    t.same(await fail(api.call('transmit', { reader: '2', apdus: ['00A4zz'] }, caller)), {
      code: SCARD.E_INVALID_PARAMETER,
      name: 'SCARD_E_INVALID_PARAMETER',
      message: 'Invalid parameter given. apdus.0: not a valid APDU (invalid hex character "z" at position 4)',
    });
    t.match(await fail(api.call('transmit', { reader: '2', apdus: ['00A4'] }, caller)), { message: /apdus\.0: not a valid APDU/ });
    t.match(await fail(api.call('transmit', { reader: '2', apdus: ['00B0000000'], protocol: 'T1' }, caller)), { message: /protocol: must be one of "T=0", "T=1", "RAW", "any", got "T1"/ });
    t.match(await fail(api.call('readers', { bogus: 1 }, caller)), { message: /unknown field "bogus"/ });
    t.match(await fail(api.call('frobnicate', {}, caller)), { name: 'SCARD_E_INVALID_PARAMETER', message: /unknown operation "frobnicate"/ });
  });

  t.test('a VERIFY PIN is redacted in the answer and the log', async (t) => {
    const run = await api.call('transmit', { reader: '2', apdus: [VERIFY, '00 20 00 81 00'] }, caller);
    t.equal(run.protocol, 'T=1');
    t.equal(run.responses[0].apdu, '00 20 00 81 04 <4 bytes redacted>');
    t.equal(run.responses[0].sw, '9000');
    t.notMatch(JSON.stringify(run), /31323334|31 32 33 34/);
    t.notMatch(gw.logs.raw, /31323334|31 32 33 34/);
    t.ok(gw.logs.lines.some((l) => l.msg === 'APDU exchanged' && l.apdu === '00 20 00 81 04 <4 bytes redacted>'), 'the exchange is logged, redacted');
  });

  t.test('session close resets the card unless asked to leave it', async (t) => {
    const s = await api.call('session/open', { reader: '2' }, caller);
    await api.call('session/transmit', { session: s.session, apdus: [VERIFY] }, caller);
    t.match(await fail(api.call('session/transmit', { session: s.session, apdus: ['00B0000000'] }, { owner: 'other' })), { name: 'SCARD_E_INVALID_HANDLE' });
    t.same(await api.call('session/close', { session: s.session }, caller), { session: s.session, disposition: 'reset' });
    // After the reset the PIN is no longer verified: VERIFY without data asks for it again (63Cx).
    const after = await api.call('transmit', { reader: '2', apdus: ['00 20 00 81 00'] }, caller);
    t.match(after.responses[0].sw, /^63C/);
    const s2 = await api.call('session/open', { reader: '2' }, caller);
    await api.call('session/transmit', { session: s2.session, apdus: [VERIFY] }, caller);
    t.same(await api.call('session/close', { session: s2.session, disposition: 'leave' }, caller), { session: s2.session, disposition: 'leave' });
    const left = await api.call('transmit', { reader: '2', apdus: ['00 20 00 81 00'] }, caller);
    t.equal(left.responses[0].sw, '9000', 'left verified when asked');
    await api.call('session/close', { session: (await api.call('session/open', { reader: '2' }, caller)).session }, caller);
  });

  t.test('simulate: remove from an empty reader is an error', async (t) => {
    t.match(await fail(api.call('simulate/remove', { reader: '4' }, caller)), { code: SCARD.E_NO_SMARTCARD, message: /has no card to remove/ });
    const inserted = await api.call('simulate/insert', { reader: '4', card: 'iso7816' }, caller);
    t.match(inserted, { number: 4, state: 'present', atr: /^3B/ });
    t.match(await api.call('simulate/remove', { reader: '4' }, caller), { state: 'empty', atr: null });
  });

  t.test('scopes: each operation declares what it needs', async (t) => {
    const reader = { owner: 'tok', scopes: ['read'] as const };
    t.equal((await api.call('readers', {}, { ...reader, scopes: ['read'] })).readers.length, 4);
    t.match(await fail(api.call('transmit', { reader: '2', apdus: ['00B0000000'] }, { ...reader, scopes: ['read'] })), {
      code: SCARD.E_NO_ACCESS,
      message: /"transmit" needs the transmit scope/,
    });
    t.match(await fail(api.call('config/get', {}, { owner: 'tok', scopes: ['transmit'] })), { code: SCARD.E_NO_ACCESS });
  });
});
