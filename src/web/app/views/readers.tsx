import { useEffect, useState } from 'preact/hooks';
import { api, hasCard, type Reader } from '../api.js';

function stateOf(r: Reader): [string, string] {
  if (r.state === 'unavailable') return ['unavailable', 'Reader unavailable'];
  if (r.state === 'mute') return ['error', 'Card mute'];
  if (r.state === 'present') return ['present', 'Card present'];
  return ['empty', 'No card'];
}

export function Readers({ readers, errors, onConsole }: { readers: Reader[] | undefined; errors: Record<string, { message: string; at: string }>; onConsole: (reader: string) => void }) {
  const [models, setModels] = useState<string[]>(['iso7816']);
  const [model, setModel] = useState('iso7816');
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ cardModels: string[] }>('GET', '/api/readers').then((r) => setModels(r.cardModels), () => undefined);
  }, []);
  if (readers === undefined) return <p class="muted">Connecting to the gateway…</p>;
  if (readers.length === 0)
    return (
      <div class="empty" id="no-readers">
        <h2>No readers</h2>
        <p>The gateway sees no reader. Check the drivers section in Config, and Diagnostics for the serial ports, I2C buses and USB devices of this board.</p>
      </div>
    );
  const sim = async (r: Reader, action: 'insert' | 'remove') => {
    setError('');
    try {
      await api('POST', `/api/readers/${encodeURIComponent(r.name)}/simulate/${action}`, action === 'insert' ? { card: model } : {});
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const beep = async (r: Reader) => {
    setError('');
    try {
      await api('POST', `/api/readers/${encodeURIComponent(r.name)}/feedback`, { led: 'blink', buzzer: { ms: 200 } });
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <>
      {error && <p class="error" role="alert">{error}</p>}
      <ul class="readers" id="readers">
        {readers.map((r) => {
          const [cls, text] = stateOf(r);
          return (
            <li class={`reader ${cls}`} data-reader={r.name}>
              <div class="row">
                <strong class="name">{r.name}</strong>
                <span class={`badge ${cls}`} data-state={cls}>
                  {text}
                </span>
              </div>
              <dl>
                <dt>Driver</dt>
                <dd>{r.driver}</dd>
                {hasCard(r) && (
                  <>
                    <dt>ATR</dt>
                    <dd class="mono atr">{r.atr ? r.atr.replace(/(..)(?=.)/g, '$1 ') : '—'}</dd>
                    {r.uid && (
                      <>
                        <dt>UID</dt>
                        <dd class="mono uid">{r.uid}</dd>
                      </>
                    )}
                    {r.cardType && (
                      <>
                        <dt>Type</dt>
                        <dd>{r.cardType}</dd>
                      </>
                    )}
                    {r.protocol && (
                      <>
                        <dt>Protocol</dt>
                        <dd>{r.protocol}</dd>
                      </>
                    )}
                  </>
                )}
                <dt>Events</dt>
                <dd>{r.eventCounter}</dd>
                <dt>Since</dt>
                <dd>{new Date(r.since).toLocaleTimeString()}</dd>
              </dl>
              {errors[r.name] && (
                <p class="error small reader-error">
                  {new Date(errors[r.name].at).toLocaleTimeString()}: {errors[r.name].message}
                </p>
              )}
              <div class="actions">
                {hasCard(r) && <button onClick={() => onConsole(r.name)}>APDU console</button>}
                {r.capabilities.feedback && (
                  <button class="link" title="blink the LED and sound the buzzer: which reader is this?" onClick={() => beep(r)}>
                    Identify
                  </button>
                )}
                {r.capabilities.simulate &&
                  (hasCard(r) ? (
                    <button class="sim-remove" onClick={() => sim(r, 'remove')}>
                      Remove simulated card
                    </button>
                  ) : (
                    <>
                      <select value={model} onChange={(e) => setModel(e.currentTarget.value)} aria-label="card model">
                        {models.map((m) => (
                          <option value={m}>{m}</option>
                        ))}
                      </select>
                      <button class="sim-insert" onClick={() => sim(r, 'insert')}>
                        Insert simulated card
                      </button>
                    </>
                  ))}
              </div>
            </li>
          );
        })}
      </ul>
    </>
  );
}
