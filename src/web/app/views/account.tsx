/** Account: change the password (other logins end), sign out everywhere, API tokens for machines. */
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrf } from '../api.js';
import { announce, announceError } from '../announce.js';
import { dateTime } from '../format.js';

interface Token {
  id: string;
  name: string;
  created: string;
  scopes: string[];
}

const SCOPES = [
  ['read', 'read: readers, events, status'],
  ['transmit', 'transmit: APDUs, sessions, feedback (includes read)'],
  ['admin', 'admin: configuration, tokens, restart, logs (includes all)'],
] as const;

export function Account({ onSignedOut }: { onSignedOut: () => void }) {
  return (
    <div id="account">
      <h2>Account</h2>
      <div class="grid2">
        <PasswordForm />
        <section class="panel" aria-labelledby="everywhere-h">
          <h3 id="everywhere-h">Sign out everywhere</h3>
          <p class="small">Ends every technician login on this gateway, this one included (a phone left logged in, a shared laptop).</p>
          <button
            class="danger"
            id="signout-everywhere"
            onClick={async () => {
              if (!confirm('Sign out every browser logged in to this gateway, this one included?')) return;
              try {
                await api('POST', '/api/auth/signout-everywhere');
              } catch {
                // The session is gone either way (a 401 here means it already was).
              }
              onSignedOut();
            }}
          >
            Sign out everywhere
          </button>
        </section>
      </div>
      <Tokens />
    </div>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const mismatch = again !== '' && again !== next;
  const short = next !== '' && next.length < 8;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMsg(undefined);
    try {
      const r = await api<{ csrfToken: string; endedSessions: number }>('POST', '/api/auth/password', { current, password: next });
      setCsrf(r.csrfToken);
      setCurrent('');
      setNext('');
      setAgain('');
      const text = `Password changed. ${r.endedSessions} other login${r.endedSessions === 1 ? '' : 's'} ended.`;
      setMsg({ ok: true, text });
      announce(text);
    } catch (err) {
      setMsg({ ok: false, text: (err as Error).message });
      announceError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={submit} id="password-form" aria-labelledby="pw-h">
      <h3 id="pw-h">Change password</h3>
      <label>
        Current password
        <input type="password" id="pw-current" autoComplete="current-password" value={current} onInput={(e) => setCurrent(e.currentTarget.value)} required />
      </label>
      <label>
        New password (at least 8 characters)
        <input type="password" id="pw-new" autoComplete="new-password" value={next} aria-invalid={short} onInput={(e) => setNext(e.currentTarget.value)} required minLength={8} />
      </label>
      <label>
        New password again
        <input type="password" id="pw-again" autoComplete="new-password" value={again} aria-invalid={mismatch} aria-describedby="pw-hint" onInput={(e) => setAgain(e.currentTarget.value)} required />
      </label>
      <p class={mismatch ? 'error small' : 'muted small'} id="pw-hint">
        {mismatch ? 'The two new passwords differ.' : 'Every other login on this gateway ends when the password changes.'}
      </p>
      <button type="submit" id="pw-save" disabled={busy || !current || short || !next || next !== again}>
        {busy ? 'Changing…' : 'Change password'}
      </button>
      {msg && (
        <p class={msg.ok ? 'ok' : 'error'} id="pw-result">
          {msg.text}
        </p>
      )}
    </form>
  );
}

function Tokens() {
  const [tokens, setTokens] = useState<Token[] | undefined>(undefined);
  const [name, setName] = useState('');
  const [scope, setScope] = useState<string>('read');
  const [made, setMade] = useState<{ name: string; token: string } | undefined>(undefined);
  const [error, setError] = useState('');
  const load = () => api<{ tokens: Token[] }>('GET', '/api/tokens').then((r) => setTokens(r.tokens), (e) => setError((e as Error).message));
  useEffect(() => void load(), []);
  const create = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      const r = await api<Token & { token: string }>('POST', '/api/tokens', { name, scopes: [scope] });
      setMade({ name: r.name, token: r.token });
      setName('');
      announce(`token ${r.name} created: copy it now, it is shown once`);
      await load();
    } catch (err) {
      setError((err as Error).message);
      announceError((err as Error).message);
    }
  };
  const revoke = async (t: Token) => {
    if (!confirm(`Revoke the token "${t.name}"? Machines using it are refused from now on.`)) return;
    try {
      await api('DELETE', `/api/tokens/${encodeURIComponent(t.id)}`);
      announce(`token ${t.name} revoked`);
      if (made?.name === t.name) setMade(undefined);
      await load();
    } catch (err) {
      setError((err as Error).message);
      announceError((err as Error).message);
    }
  };
  return (
    <section class="panel" aria-labelledby="tok-h" id="tokens">
      <h3 id="tok-h">API tokens</h3>
      <p class="small">For machines (door controllers, scripts): send <span class="mono">Authorization: Bearer &lt;token&gt;</span>. The gateway keeps only a hash.</p>
      <form class="toolbar" onSubmit={create}>
        <label>
          Token name
          <input id="token-name" value={name} onInput={(e) => setName(e.currentTarget.value)} pattern="[A-Za-z0-9_.@\-]{1,64}" placeholder="door-controller" required autoComplete="off" />
        </label>
        <fieldset>
          <legend>Scope</legend>
          {SCOPES.map(([v, label]) => (
            <label class="inline">
              <input type="radio" name="token-scope" value={v} id={`token-scope-${v}`} checked={scope === v} onChange={() => setScope(v)} /> {label}
            </label>
          ))}
        </fieldset>
        <button type="submit" id="token-create" disabled={!name}>Create token</button>
      </form>
      {made && (
        <div class="banner ok" id="token-made">
          <p>
            Token <strong>{made.name}</strong>: copy it now, it is not shown again.
          </p>
          <label>
            Token value
            <input class="mono" id="token-value" readOnly value={made.token} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <button class="link" onClick={() => setMade(undefined)}>I have copied it</button>
        </div>
      )}
      {error && <p class="error">{error}</p>}
      {tokens === undefined ? (
        <p class="muted">Loading…</p>
      ) : tokens.length === 0 ? (
        <p class="muted" id="no-tokens">No tokens.</p>
      ) : (
        <ul class="cards" id="token-list">
          {tokens.map((t) => (
            <li data-token={t.name}>
              <div class="head">
                <strong>{t.name}</strong>
                <button class="secondary" aria-label={`Revoke token ${t.name}`} onClick={() => revoke(t)}>
                  Revoke
                </button>
              </div>
              <div class="small muted">
                created {dateTime(t.created)} · scope: <span class="token-scopes">{t.scopes.join(', ')}</span>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
