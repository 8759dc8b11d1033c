/** Technician sessions: idle expiry, bounded table, CSRF comparison. */
import t from 'tap';
import { SessionStore, csrfMatches } from '../../src/api/http/auth/sessions.js';

t.test('a session ends after the idle time and announces it', async (t) => {
  const store = new SessionStore(30);
  const ended: string[] = [];
  store.on('ended', (id) => ended.push(id));
  const s = store.create();
  t.equal(store.get(s.id)?.id, s.id);
  await new Promise((r) => setTimeout(r, 60));
  t.equal(store.get(s.id), undefined, 'idle session gone');
  t.same(ended, [s.id]);
  t.equal(store.get(undefined), undefined);
  t.equal(store.get('nope'), undefined);
});

t.test('use keeps a session alive', async (t) => {
  const store = new SessionStore(2000);
  const s = store.create();
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 30));
    t.ok(store.get(s.id), `still alive after use ${i}`);
  }
});

t.test('the table is bounded: the least recently used session goes first', async (t) => {
  const store = new SessionStore(60_000);
  const first = store.create();
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
