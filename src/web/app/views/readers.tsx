import { useEffect, useState } from 'preact/hooks';
import { api, hasCard, type Reader } from '../api.js';
import { announce, announceError } from '../announce.js';
import { dateTime, spacedHex } from '../format.js';
import type { ReaderFault } from '../main.js';
import { PinPad } from './pinpad.js';

/** [data-state, css class, text]. The class is "idle", not "empty": .empty is nobody's page placeholder any more. */
export function stateOf(r: Reader): [string, string, string] {
  if (r.state === 'unavailable') return ['unavailable', 'unavailable', 'Reader unavailable'];
  if (r.state === 'mute') return ['error', 'fault', 'Card mute'];
  if (r.state === 'present') return ['present', 'present', 'Card present'];
  return ['empty', 'idle', 'No card'];
}

export function Readers({ readers, errors, onConsole }: { readers: Reader[] | undefined; errors: Record<string, ReaderFault>; onConsole: (reader: string) => void }) {
  const [models, setModels] = useState<string[]>(['iso7816']);
  const [model, setModel] = useState('iso7816');
  const [error, setError] = useState('');
  const [note, setNote] = useState<Record<string, string>>({});
  useEffect(() => {
    api<{ cardModels: string[] }>('GET', '/api/readers').then((r) => setModels(r.cardModels), () => undefined);
  }, []);
  if (readers === undefined) return <p class="muted">Connecting to the gateway…</p>;
  if (readers.length === 0)
    return (
      <div class="placeholder" id="no-readers">
        <h2>No readers</h2>
        <p>The gateway sees no reader. <a href="#/setup">Add a reader</a> from the serial ports, I2C buses and USB devices of this board.</p>
      </div>
    );
  const sim = async (r: Reader, action: 'insert' | 'remove') => {
    setError('');
    try {
      await api('POST', `/api/readers/${encodeURIComponent(r.name)}/simulate/${action}`, action === 'insert' ? { card: model } : {});
      announce(action === 'insert' ? `simulated ${model} card inserted in ${r.name}` : `simulated card removed from ${r.name}`);
    } catch (e) {
      setError((e as Error).message);
      announceError((e as Error).message);
    }
  };
  const beep = async (r: Reader) => {
    setError('');
    setNote((n) => ({ ...n, [r.name]: 'Identifying…' }));
    try {
      await api('POST', `/api/readers/${encodeURIComponent(r.name)}/feedback`, { led: 'blink', buzzer: { ms: 200 } });
      const text = `LED blinked and buzzer sounded at ${dateTime(new Date())}: this is the reader that just signalled.`;
      setNote((n) => ({ ...n, [r.name]: text }));
      announce(`${r.name}: ${text}`);
    } catch (e) {
      const text = `Identify failed: ${(e as Error).message}`;
      setNote((n) => ({ ...n, [r.name]: text }));
      announceError(`${r.name}: ${text}`);
    }
  };
  return (
    <>
      <h2>Readers</h2>
      {error && <p class="error">{error}</p>}
      <ul class="readers" id="readers">
        {readers.map((r) => {
          const [state, cls, text] = stateOf(r);
          return (
            <li key={r.name} class={`reader ${cls}`} data-reader={r.name}>
              <div class="row">
                <strong class="name">{r.name}</strong>
                <span class={`badge ${cls}`} data-state={state}>
                  {text}
                </span>
              </div>
              <dl>
                <dt>Driver</dt>
                <dd>{r.driver}</dd>
                {hasCard(r) && (
                  <>
                    <dt>ATR</dt>
                    <dd class="mono atr">{r.atr ? spacedHex(r.atr) : '—'}</dd>
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
                <dd>{dateTime(r.since)}</dd>
              </dl>
              {errors[r.name] && (
                <p class="error small reader-error">
                  Last error {dateTime(errors[r.name].at)}: {errors[r.name].message} (<a href="#/health">health</a>)
                </p>
              )}
              {note[r.name] && (
                <p class="small identify-note" role="status">
                  {note[r.name]}
                </p>
              )}
              <div class="actions">
                {hasCard(r) && <button onClick={() => onConsole(r.name)}>APDU console</button>}
                {r.capabilities.feedback && (
                  <button class="secondary identify" aria-label={`Identify ${r.name}: blink its LED and sound its buzzer`} onClick={() => beep(r)}>
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
                      <select value={model} onChange={(e) => setModel(e.currentTarget.value)} aria-label={`simulated card model for ${r.name}`}>
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
              {r.capabilities.pinpad && <PinPad reader={r.name} />}
            </li>
          );
        })}
      </ul>
    </>
  );
}
