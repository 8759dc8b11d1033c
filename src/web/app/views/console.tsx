/** APDU console: hex checked as typed (the project's one hex parser), status word decoded, history, copy. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Reader } from '../api.js';
import { parseHex } from '../../../iso7816/hex.js';
import { decodeSw } from '../../../iso7816/status-words.js';
import { loadHistory, MAX_HISTORY, redactExchange, saveHistory, type Exchange } from '../history.js';
import { announce, announceError } from '../announce.js';
import { dateTime } from '../format.js';

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
  const withCard = readers.filter((r) => r.cardPresent);
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
  useEffect(() => saveHistory(history), [history]);
  useEffect(() => () => void (session && api('DELETE', `/api/sessions/${session}`).catch(() => undefined)), [session]);

  const send = async (e: Event) => {
    e.preventDefault();
    if (!check.ok || !reader) return;
    setBusy(true);
    const at = new Date().toISOString();
    try {
      let r: Exchange;
      if (keep) {
        let id = session;
        if (!id) {
          id = (await api<{ id: string }>('POST', '/api/sessions', { reader })).id;
          setSession(id);
        }
        r = await api<Exchange>('POST', `/api/sessions/${id}/transmit`, { apdu });
      } else {
        r = await api<Exchange>('POST', '/api/transmit', { reader, apdu });
      }
      const x = redactExchange({ ...r, reader, command: r.command ?? apdu, at });
      setHistory((h) => [x, ...h].slice(0, MAX_HISTORY));
      if (x.secret) setApdu('');
      announce(`${x.sw ?? ''} ${x.swText ?? ''}`.trim() || 'answered');
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && keep) setSession(undefined);
      const x = redactExchange({ reader, command: apdu, error: (err as Error).message, at });
      setHistory((h) => [x, ...h].slice(0, MAX_HISTORY));
      if (x.secret) setApdu('');
      announceError(x.error ?? '');
    } finally {
      setBusy(false);
    }
  };

  if (readers.length === 0) return <div class="placeholder"><h2>No readers</h2><p>Nothing to send an APDU to.</p></div>;
  const last = history[0];
  return (
    <>
      <h2>APDU console</h2>
      <form class="console" onSubmit={send} id="apdu-form">
        <label>
          Reader
          <select value={reader} onChange={(e) => { setReader(e.currentTarget.value); setSession(undefined); }} id="apdu-reader">
            {readers.map((r) => (
              <option value={r.name}>
                {r.name} {r.cardPresent ? '' : '(no card)'}
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
            aria-invalid={apdu.trim() !== '' && !check.ok}
            aria-describedby="apdu-check"
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
        <section class="result" id="apdu-result" aria-label="Last answer">
          {last.error ? (
            <p class="error">{last.error}</p>
          ) : (
            <>
              <p>
                <span class={`sw ${last.swKind}`} id="apdu-sw">{last.sw}</span> <span id="apdu-sw-text">{last.swText ?? (last.sw ? decodeSw(parseInt(last.sw, 16)).text : '')}</span>
                <span class="muted small"> · {last.ms?.toFixed(1)} ms</span>
              </p>
              <pre class="mono" id="apdu-response">{last.response || '(empty)'}</pre>
              <p class="muted small">{last.reader} · {dateTime(last.at)}</p>
              <button class="link" onClick={() => copy(last.response ?? '')}>Copy response</button>
            </>
          )}
        </section>
      )}
      {history.length > 0 && (
        <section>
          <h3>History <button class="link" onClick={() => setHistory([])}>clear</button></h3>
          <p class="muted small">Kept in this browser until you sign out; PINs and keys are never stored.</p>
          <ul class="history" id="apdu-history">
            {history.map((h) => (
              <li>
                {h.secret ? (
                  <span class="mono">{h.command}</span>
                ) : (
                  <button class="link mono" title="reuse this command" onClick={() => setApdu(h.command)}>{h.command}</button>
                )}
                {' → '}
                {h.error ? <span class="error">{h.error}</span> : <span class={`sw ${h.swKind}`}>{h.sw}</span>}
                <button class="link" aria-label={`copy exchange of ${dateTime(h.at)}`} onClick={() => copy(`${h.command}\n${h.response ?? h.error ?? ''}`)}>copy</button>
                <div class="muted small">{h.reader} · {dateTime(h.at)}</div>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}
