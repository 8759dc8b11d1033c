/**
 * API tokens carry scopes (read < transmit < admin): every route refuses a token without the scope it
 * needs (403 naming the scope and the token), `scardctl token list` shows them, and the audit line of a
 * change names the token (name and id), never its text.
 */
import t from 'tap';
import { startTestGateway, type TestGateway, Client } from './harness.js';
import { createToken } from '../../src/api/http/auth/tokens.js';
import { token as tokenCommand } from '../../src/cli/commands/passwd-token.js';
import { waitFor } from '../helpers/wait-for.js';
import type { Scope } from '../../src/api/http/auth/scopes.js';

let g: TestGateway;
let reader = '';
t.before(async () => {
  g = await startTestGateway();
  const c = new Client(g.url);
  await c.login();
  reader = (await c.req('GET', '/api/readers')).json.readers.map((r: { name: string }) => r.name).find((n: string) => n.startsWith('Sim A'));
});
t.teardown(async () => g?.stop());

const enc = encodeURIComponent;

/** Every route and the scope it needs; bodies valid enough that only the scope decides 403. */
function routes(): Array<[Scope, string, string, unknown?]> {
  return [
    ['read', 'GET', '/api/auth/session'],
    ['read', 'POST', '/api/auth/logout'],
    ['read', 'GET', '/api/readers'],
    ['read', 'GET', `/api/readers/${enc(reader)}`],
    ['read', 'GET', '/api/events'],
    ['read', 'GET', '/api/events/recent'],
    ['read', 'GET', '/api/status'],
    ['read', 'GET', '/api/cache'],
    ['read', 'GET', `/api/readers/${enc(reader)}/cache`],
    ['transmit', 'PUT', `/api/readers/${enc(reader)}/cache/cert`, { data: '01' }],
    ['transmit', 'DELETE', `/api/readers/${enc(reader)}/cache`],
    ['transmit', 'POST', `/api/readers/${enc(reader)}/control`, { code: 0x42000000 + 3400, data: '' }],
    ['transmit', 'POST', `/api/readers/${enc(reader)}/feedback`, { led: 'green' }],
    ['transmit', 'POST', `/api/readers/${enc(reader)}/simulate/remove`, {}],
    ['transmit', 'POST', `/api/readers/${enc(reader)}/simulate/insert`, { card: 'iso7816' }],
    ['transmit', 'POST', `/api/readers/${enc(reader)}/simulate/pinpad`, { cancel: true }],
    ['transmit', 'POST', '/api/transmit', { reader, apdu: '00A40000023F00' }],
    ['transmit', 'POST', '/api/sessions/abc/transmit', { apdu: '00A40000023F00' }],
    ['transmit', 'DELETE', '/api/sessions/abc'],
    ['admin', 'GET', '/api/diagnostics'],
    ['admin', 'GET', '/api/logs'],
    ['admin', 'GET', '/api/config'],
    // Invalid YAML: an admin token gets 400, never a saved file.
    ['admin', 'PUT', '/api/config', { yaml: 'gatewayId: [' }],
  ];
}

const RANK: Scope[] = ['read', 'transmit', 'admin'];

t.test('every route needs its scope from a token', async (t) => {
  const c = new Client(g.url);
  for (const held of RANK) {
    const { token } = await createToken(g.stateDir, `tok-${held}`, [held]);
    const auth = { authorization: `Bearer ${token}` };
    for (const [need, method, path, body] of routes()) {
      const r = await c.req(method, path, body, auth);
      if (RANK.indexOf(held) >= RANK.indexOf(need)) {
        t.not(r.status, 403, `${held} token may ${method} ${path} (got ${r.status} ${r.text.slice(0, 100)})`);
        t.not(r.status, 401, `${held} token authenticated for ${method} ${path}`);
      } else {
        t.equal(r.status, 403, `${held} token refused ${method} ${path}`);
        t.match(r.json?.message, new RegExp(`needs the ${need} scope; token "tok-${held}" has ${held}`), 'says which scope is missing');
      }
    }
  }
});

t.test('a route without a rule is closed to tokens below admin (a new route is not open by accident)', async (t) => {
  const { requiredScope } = await import('../../src/api/http/auth/route-scopes.js');
  t.equal(requiredScope('POST', '/api/something-new'), 'admin');
  t.equal(requiredScope('GET', '/api/something-new'), 'read');
  t.equal(requiredScope('POST', '/api/tokens'), 'admin');
  t.equal(requiredScope('POST', '/api/auth/password'), 'admin');
  t.equal(requiredScope('POST', '/api/restart'), 'admin');
  t.equal(requiredScope('GET', '/api/tokens'), 'admin', 'listing tokens is admin too');
  t.equal(requiredScope('POST', '/api/x', 'transmit'), 'transmit', "a route's own scope wins");
});

t.test('the audit line names the token (name and id), never its text', async (t) => {
  const { token, record } = await createToken(g.stateDir, 'ops-admin', ['admin']);
  const c = new Client(g.url);
  const r = await c.req('PUT', '/api/config', { yaml: 'gatewayId: [' }, { authorization: `Bearer ${token}` });
  t.equal(r.status, 400);
  const line = await waitFor(
    () => g.ring.tail().map((l) => JSON.parse(l)).find((l) => l.msg === 'HTTP API change' && l.route === '/api/config' && String(l.by).includes('ops-admin')),
    'the audit line of PUT /api/config',
  );
  t.equal(line.by, `token ops-admin (${record.id})`);
  t.equal(line.level, 'info', 'administrative changes are logged at info');
  const { token: ro } = await createToken(g.stateDir, 'viewer', ['read']);
  await c.req('PUT', '/api/config', { yaml: 'x: 1' }, { authorization: `Bearer ${ro}` });
  const refused = await waitFor(() => g.ring.tail().map((l) => JSON.parse(l)).find((l) => l.msg === 'API token refused: scope' && String(l.by).includes('viewer')), 'the refusal line');
  t.match(refused.by, /^token viewer \([0-9a-f]+\)$/);
  const all = g.ring.tail().join('\n');
  t.notOk(all.includes(token.slice(4)) || all.includes(ro.slice(4)), 'no token text in any log line');
});

t.test('scardctl token create --scope / list shows scopes', async (t) => {
  const out: string[] = [];
  const io = (args: string[], json = false) => ({
    args: [...args, '--state-dir', g.stateDir],
    json,
    client: () => Promise.reject(new Error('no daemon needed')),
    out: (s: string) => out.push(s),
    err: (s: string) => out.push(s),
    signal: new AbortController().signal,
  });
  t.equal(await tokenCommand.run(io(['create', 'door', '--scope', 'transmit'])), 0);
  t.match(out.at(-1), /scopes transmit/);
  t.equal(await tokenCommand.run(io(['create', 'both', '--scope=read,admin'])), 0);
  await t.rejects(tokenCommand.run(io(['create', 'bad', '--scope', 'root'])), /unknown scope "root" \(one of read, transmit, admin\)/);
  out.length = 0;
  t.equal(await tokenCommand.run(io(['list'])), 0);
  t.match(out.join('\n'), /^door\t[0-9a-f]+\ttransmit\t/m);
  t.match(out.join('\n'), /^both\t[0-9a-f]+\tread,admin\t/m);
  out.length = 0;
  await tokenCommand.run(io(['list'], true));
  t.same(JSON.parse(out[0]).find((x: { name: string }) => x.name === 'door').scopes, ['transmit']);
});
