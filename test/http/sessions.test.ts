/** Technician sessions: idle and absolute expiry on an injected clock, password change, bounded table, CSRF comparison. */
import t from 'tap';
import { WebSocket } from 'ws';
import { SessionStore, csrfMatches, type EndReason } from '../../src/api/http/auth/sessions.js';
import { setPassword } from '../../src/api/http/auth/password.js';
import { startTestGateway, Client, PASSWORD } from './harness.js';

/** A clock the test moves by hand: expiry is decided by the store's arithmetic, not by how fast the machine is. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

t.test('a session ends after the idle time and announces why', async (t) => {
  const c = clock();
  const store = new SessionStore(30_000, { now: c.now });
  const ended: Array<[string, EndReason]> = [];
  store.on('ended', (id, why) => ended.push([id, why]));
  const s = store.create();
  c.advance(30_000);
  t.equal(store.get(s.id)?.id, s.id, 'alive at exactly the idle time');
  c.advance(30_001);
  t.equal(store.get(s.id), undefined, 'idle session gone one ms past the idle time');
  t.same(ended, [[s.id, 'idle']]);
  t.equal(store.get(undefined), undefined);
  t.equal(store.get('nope'), undefined);
});

t.test('use keeps a session alive against the idle time, not against the absolute lifetime', async (t) => {
  const c = clock();
  const store = new SessionStore(60_000, { now: c.now, maxAgeMs: 600_000 });
  const ended: EndReason[] = [];
  store.on('ended', (_id, why) => ended.push(why));
  const s = store.create();
  for (let i = 0; i < 10; i++) {
    c.advance(59_000);
    t.ok(store.get(s.id), `still alive after use ${i} (${(i + 1) * 59} s)`);
  }
  c.advance(11_000);
  t.equal(store.get(s.id), undefined, 'ended at the absolute lifetime although used every minute');
  t.same(ended, ['lifetime']);
});

t.test('a different password stamp ends the session; keepOnly keeps the one that changed it', async (t) => {
  const store = new SessionStore(60_000);
  const a = store.create('stamp-1');
  const b = store.create('stamp-1');
  t.ok(store.get(a.id, 'stamp-1'));
  store.keepOnly(a.id, 'stamp-2');
  t.equal(store.get(b.id, 'stamp-2'), undefined, 'the other session ended');
  t.ok(store.get(a.id, 'stamp-2'), 'the changing session lives on with the new stamp');
  t.equal(store.get(a.id, 'stamp-3'), undefined, 'and ends at the next change');
});

t.test('the table is bounded: the least recently used session goes first', async (t) => {
  const c = clock();
  const store = new SessionStore(60_000, { now: c.now });
  const first = store.create();
  c.advance(1);
  const rest = Array.from({ length: 63 }, () => store.create());
  t.equal(store.size, 64);
  const extra = store.create();
  t.equal(store.size, 64);
  t.equal(store.get(first.id), undefined, 'oldest evicted');
  t.ok(store.get(extra.id));
  t.ok(store.get(rest[0].id));
});

t.test('CSRF tokens compare exactly, whatever the input', async (t) => {
  const s = new SessionStore(1000).create();
  t.equal(csrfMatches(s, s.csrf), true);
  t.equal(csrfMatches(s, s.csrf.slice(0, -1) + (s.csrf.endsWith('A') ? 'B' : 'A')), false);
  t.equal(csrfMatches(s, s.csrf + 'x'), false);
  t.equal(csrfMatches(s, undefined), false);
  t.equal(csrfMatches(s, ['x']), false);
  t.equal(csrfMatches(s, ''), false);
});

t.test('a password change (scardctl passwd writes the file) ends every session of the old password, live channel included', async (t) => {
  const g = await startTestGateway();
  t.teardown(() => g.stop());
  const one = new Client(g.url);
  const two = new Client(g.url);
  await one.login();
  await two.login();
  t.equal((await one.req('GET', '/api/readers')).status, 200);
  const ws = new WebSocket(g.url.replace('http', 'ws') + '/api/live', { headers: { cookie: two.cookie, origin: g.url } });
  await new Promise((r) => ws.once('open', r));
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await setPassword(g.stateDir, 'a-brand-new-password');
  const after = await one.req('GET', '/api/readers');
  t.equal(after.status, 401, 'the old cookie stops working');
  t.equal(await closed, 4001, "the other session's live channel closes too");
  t.equal((await two.req('GET', '/api/readers')).status, 401, 'and its cookie');
  await t.rejects(new Client(g.url).login(PASSWORD), /login failed: 401/, 'the old password is refused');
  const fresh = new Client(g.url);
  await fresh.login('a-brand-new-password');
  t.equal((await fresh.req('GET', '/api/readers')).status, 200, 'a login with the new password works');
});
