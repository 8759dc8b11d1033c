/** APDU console: hex checked as typed (the project's one hex parser), status word decoded, history, copy. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, hasCard, type Reader } from '../api.js';
import { parseHex } from '../../../iso7816/hex.js';
import { renderApdu } from '../../../log/redact.js';
import type { Exchange as GatewayExchange } from '../../../gateway/apdu.js';

/** One line of history, as kept in localStorage: the command as the gateway shows it (PIN bytes redacted), never as typed. */
interface Exchange {
  reader: string;
  command: string;
  response?: string;
  sw?: string;
  swText?: string;
  ok?: boolean;
  error?: string;
  ms?: number;
  at: string;
}

/** The typed command as it may be kept: secret-bearing data redacted, like the gateway's answers and logs. */
const redacted = (text: string): string => {
  try {
    return renderApdu(parseHex(text));
  } catch {
    return text;
  }
};

const HISTORY_KEY = 'scardgate.apdu.history';
const MAX_HISTORY = 50;

function checkHex(text: string): { ok: true; bytes: number } | { ok: false; message: string } {
  if (text.trim() === '') return { ok: false, message: '' };
  try {
    const b = parseHex(text);
    if (b.length < 4) return { ok: false, message: `a command APDU has at least 4 bytes (CLA INS P1 P2); ${b.length} so far` };
    return { ok: true, bytes: b.length };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

const swClass = (x: Exchange): string => (x.ok ? 'success' : x.sw?.startsWith('62') || x.sw?.startsWith('63') ? 'warning' : 'error');

function loadHistory(): Exchange[] {
  try {
    return JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]') as Exchange[];
  } catch {
    return [];
  }
}

async function copy(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Plain-HTTP pages have no clipboard API: fall back to a selected textarea.
    const t = document.createElement('textarea');
    t.value = text;
    document.body.appendChild(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
}

export function Console({ readers, initialReader }: { readers: Reader[]; initialReader: string }) {
  const withCard = readers.filter(hasCard);
  const [reader, setReader] = useState(initialReader || withCard[0]?.name || readers[0]?.name || '');
  const [apdu, setApdu] = useState('00 A4 04 00 00');
  const [busy, setBusy] = useState(false);
  const [history, setHistory] = useState<Exchange[]>(loadHistory);
  const [keep, setKeep] = useState(false);
  const [session, setSession] = useState<string | undefined>(undefined);
  const check = checkHex(apdu);

  useEffect(() => {
    if (!reader && readers[0]) setReader(withCard[0]?.name ?? readers[0].name);
  }, [readers.length]);
  useEffect(() => {
    localStorage.setItem(HISTORY_KEY, JSON.stringify(history.slice(0, MAX_HISTORY)));
  }, [history]);
  useEffect(() => () => void (session && api('DELETE', `/api/sessions/${session}`).catch(() => undefined)), [session]);

  const send = async (e: Event) => {
    e.preventDefault();
    if (!check.ok || !reader) return;
    setBusy(true);
    const at = new Date().toISOString();
    try {
      let x: GatewayExchange;
      const t0 = performance.now();
      if (keep) {
        let id = session;
        if (!id) {
          // A browser tab left open must not hold a card for long; every APDU renews the lease.
          id = (await api<{ session: string }>('POST', '/api/sessions', { reader, leaseMs: 120000 })).session;
          setSession(id);
        }
        x = (await api<{ responses: GatewayExchange[] }>('POST', `/api/sessions/${id}/transmit`, { apdus: [apdu] })).responses[0];
      } else {
        x = (await api<{ responses: GatewayExchange[] }>('POST', '/api/transmit', { reader, apdus: [apdu] })).responses[0];
      }
      const ms = performance.now() - t0;
      setHistory((h) => [{ reader, command: x.apdu, response: x.response, sw: x.sw, swText: x.swText, ok: x.ok, ms, at }, ...h].slice(0, MAX_HISTORY));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && keep) setSession(undefined);
      setHistory((h) => [{ reader, command: redacted(apdu), error: (err as Error).message, at }, ...h].slice(0, MAX_HISTORY));
    } finally {
      setBusy(false);
    }
  };

  if (readers.length === 0) return <div class="empty"><h2>No readers</h2><p>Nothing to send an APDU to.</p></div>;
  const last = history[0];
  return (
    <>
      <form class="console" onSubmit={send} id="apdu-form">
        <label>
          Reader
          <select value={reader} onChange={(e) => { setReader(e.currentTarget.value); setSession(undefined); }} id="apdu-reader">
            {readers.map((r) => (
              <option value={r.name}>
                {r.name} {hasCard(r) ? '' : '(no card)'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Command APDU (hex)
          <input
            id="apdu-input"
            class={`mono ${apdu.trim() && !check.ok ? 'invalid' : ''}`}
            value={apdu}
            spellcheck={false}
            autoComplete="off"
            aria-invalid={!check.ok}
            onInput={(e) => setApdu(e.currentTarget.value)}
          />
        </label>
        <p class={check.ok ? 'muted small' : 'error small'} id="apdu-check">
          {check.ok ? `${check.bytes} bytes` : check.message || 'type a command APDU, e.g. 00 A4 04 00 00'}
        </p>
        <div class="row">
          <label class="inline">
            <input type="checkbox" checked={keep} onChange={(e) => { setKeep(e.currentTarget.checked); setSession(undefined); }} /> keep card connected between commands
          </label>
          <button type="submit" disabled={!check.ok || busy || !reader} id="apdu-send">
            {busy ? 'Sending…' : 'Send'}
          </button>
        </div>
      </form>
      {last && (
        <section class="result" id="apdu-result">
          {last.error ? (
            <p class="error" role="alert">{last.error}</p>
          ) : (
            <>
              <p>
                <span class={`sw ${swClass(last)}`} id="apdu-sw">{last.sw}</span> <span id="apdu-sw-text">{last.swText ?? ''}</span>
                <span class="muted small"> · {last.ms?.toFixed(1)} ms</span>
              </p>
              <pre class="mono" id="apdu-response">{last.response || '(empty)'}</pre>
              <button class="link" onClick={() => copy(last.response ?? '')}>Copy response</button>
            </>
          )}
        </section>
      )}
      {history.length > 0 && (
        <section>
          <h3>History <button class="link" onClick={() => setHistory([])}>clear</button></h3>
          <ul class="history">
            {history.map((h) => (
              <li>
                <button class="link mono" title="reuse this command" onClick={() => setApdu(h.command)}>{h.command}</button>
                {' → '}
                {h.error ? <span class="error">{h.error}</span> : <span class={`sw ${swClass(h)}`}>{h.sw}</span>}
                <button class="link" onClick={() => copy(`${h.command}\n${h.response ?? h.error ?? ''}`)}>copy</button>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}
