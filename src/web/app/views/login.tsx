import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';

export function Login({ expired, onIn }: { expired: boolean; onIn: (csrf: string) => void }) {
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
    <form class="login" onSubmit={submit} id="login-form">
      <h1>scardgate</h1>
      {expired && <p class="warn" id="session-expired">Your session expired. Log in again.</p>}
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
      <p class="muted small">First start: the password is printed once in the gateway's log (journalctl -u scardgate). Change it with scardctl passwd.</p>
    </form>
  );
}
