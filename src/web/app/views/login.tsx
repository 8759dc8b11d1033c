import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';

const WHY = {
  expired: 'Your session expired. Log in again.',
  restarted: 'The gateway restarted. Log in again.',
  password: 'Signed out: the password changed or every session was ended. Log in again.',
} as const;

export function Login({ expired, onIn }: { expired: '' | keyof typeof WHY; onIn: (csrf: string) => void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await api<{ csrfToken: string }>('POST', '/api/auth/login', { password });
      setPassword('');
      onIn(r.csrfToken);
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      setError(status === 401 ? 'Wrong password.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main>
    <form class="login" onSubmit={submit} id="login-form" aria-labelledby="login-title">
      <h1 id="login-title">scardgate</h1>
      {expired && (
        <p class="warn" id="session-expired" role="status">
          {WHY[expired]}
        </p>
      )}
      <label>
        Technician password
        <input type="password" id="password" autoFocus autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={busy || password.length === 0} id="login">
        {busy ? 'Checking…' : 'Log in'}
      </button>
      {error && (
        <p class="error" role="alert" id="login-error">
          {error}
        </p>
      )}
      <p class="muted small">First start: the generated password is in the file initial-web-password in the gateway's state directory (sudo cat /var/lib/scardgate/initial-web-password; the log names it). Change it under Account once logged in, or with scardctl passwd.</p>
    </form>
    </main>
  );
}
