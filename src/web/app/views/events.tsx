/** Event history: filter by reader, type and UID, free search, pause, export, a table on desktops and cards on phones. */
import { useMemo, useState } from 'preact/hooks';
import { api, type GatewayEvent } from '../api.js';
import { dateTime, zoneName } from '../format.js';
import { PHONE, useMedia } from '../hooks.js';
import { announce, announceError } from '../announce.js';

const PAGE = 100;

function summary(e: GatewayEvent): string {
  const d = e.data;
  const parts: string[] = [];
  for (const k of ['uid', 'cardType', 'atr', 'protocol', 'error', 'message']) if (d[k] !== undefined && d[k] !== null && d[k] !== '') parts.push(`${k} ${String(d[k])}`);
  return parts.join(' · ');
}

const uidOf = (e: GatewayEvent): string => String(e.data.uid ?? '');

export interface EventFilter {
  reader: string;
  type: string;
  uid: string;
  text: string;
}

export function filterEvents(events: GatewayEvent[], f: EventFilter): GatewayEvent[] {
  const uid = f.uid.replace(/[\s:]/g, '').toUpperCase();
  const text = f.text.trim().toLowerCase();
  return events.filter(
    (e) =>
      (!f.reader || e.reader === f.reader) &&
      (!f.type || e.type === f.type) &&
      (!uid || uidOf(e).replace(/[\s:]/g, '').toUpperCase().includes(uid)) &&
      (!text || JSON.stringify(e).toLowerCase().includes(text)),
  );
}

const csvCell = (v: unknown): string => {
  const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function toCsv(events: GatewayEvent[]): string {
  const head = ['seq', 'time', 'type', 'reader', 'uid', 'cardType', 'atr', 'protocol', 'data'];
  const rows = events.map((e) => [e.seq, e.time, e.type, e.reader, e.data.uid, e.data.cardType, e.data.atr, e.data.protocol, e.data].map(csvCell).join(','));
  return [head.join(','), ...rows].join('\r\n') + '\r\n';
}

function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function Events({ events, journal, onOlder }: { events: GatewayEvent[]; journal: boolean; onOlder: (evs: GatewayEvent[]) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [f, setF] = useState<EventFilter>({ reader: '', type: '', uid: '', text: '' });
  const [paused, setPaused] = useState<GatewayEvent[] | undefined>(undefined);
  const phone = useMedia(PHONE);
  const source = paused ?? events;
  const readers = useMemo(() => [...new Set(events.map((e) => e.reader).filter(Boolean))].sort(), [events]);
  const types = useMemo(() => [...new Set(events.map((e) => e.type))].sort(), [events]);
  const shown = useMemo(() => filterEvents(source, f), [source, f]);
  const waiting = paused ? events.filter((e) => e.seq > (paused[0]?.seq ?? 0)).length : 0;

  const oldest = events.length ? events[events.length - 1].seq : 0;
  const older = async () => {
    setBusy(true);
    setError('');
    try {
      const r = await api<{ events: GatewayEvent[] }>('GET', `/api/events?after=${Math.max(0, oldest - 1 - PAGE)}&limit=${PAGE}`);
      onOlder(r.events.filter((e) => e.seq < oldest));
      announce(`${r.events.length} older events loaded`);
    } catch (e) {
      setError((e as Error).message);
      announceError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const set = (k: keyof EventFilter) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');

  if (!journal)
    return (
      <div class="placeholder">
        <h2>Event journal not running</h2>
        <p>Card events are not being recorded; see Diagnostics and Logs.</p>
      </div>
    );
  return (
    <>
      <h2>Events</h2>
      <form class="toolbar" role="search" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        <label>
          Reader
          <select id="ev-reader" value={f.reader} onChange={set('reader')}>
            <option value="">all readers</option>
            {readers.map((r) => <option value={r}>{r}</option>)}
          </select>
        </label>
        <label>
          Type
          <select id="ev-type" value={f.type} onChange={set('type')}>
            <option value="">all types</option>
            {types.map((t) => <option value={t}>{t}</option>)}
          </select>
        </label>
        <label>
          UID
          <input id="ev-uid" class="mono" size={12} value={f.uid} onInput={set('uid')} placeholder="e.g. 04A1B2" autoComplete="off" spellcheck={false} />
        </label>
        <label>
          Search
          <input id="ev-search" type="search" value={f.text} onInput={set('text')} autoComplete="off" />
        </label>
        <button type="button" class="secondary" id="ev-pause" aria-pressed={paused !== undefined} onClick={() => {
          setPaused(paused ? undefined : events);
          announce(paused ? 'live updates resumed' : 'live updates paused');
        }}>
          {paused ? `Resume${waiting ? ` (${waiting} new)` : ''}` : 'Pause'}
        </button>
        <button type="button" class="secondary" id="ev-csv" onClick={() => download(`scardgate-events-${stamp}.csv`, 'text/csv', toCsv(shown))}>
          Export CSV
        </button>
        <button type="button" class="secondary" id="ev-json" onClick={() => download(`scardgate-events-${stamp}.json`, 'application/json', JSON.stringify(shown, null, 2) + '\n')}>
          Export JSON
        </button>
      </form>
      <p class="muted small" id="ev-count" role="status">
        {shown.length} of {source.length} loaded events{paused ? ', paused' : ', live'} · times in {zoneName()}
      </p>
      {events.length === 0 ? (
        <div class="placeholder" id="no-events">
          <h3>No events yet</h3>
          <p>Present a card to a reader: it shows here at once.</p>
        </div>
      ) : phone ? (
        <ol class="cards" id="events" aria-label="Events, newest first">
          {shown.map((e) => (
            <li key={e.seq} class={`ev t-${e.type.replace('.', '-')}`} data-type={e.type}>
              <div class="head">
                <strong class={`t-${e.type.replace('.', '-')}`}>{e.type}</strong>
                <span class="muted small">#{e.seq}</span>
              </div>
              <div class="small">{dateTime(e.time)}</div>
              <div class="small">{e.reader}</div>
              {summary(e) && <div class="mono small">{summary(e)}</div>}
            </li>
          ))}
        </ol>
      ) : (
        <table class="events" id="events">
          <caption class="sr-only">Events, newest first</caption>
          <thead>
            <tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Reader</th><th scope="col">Details</th></tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.seq} class={`ev ${e.type.replace('.', '-')}`} data-type={e.type}>
                <td>{e.seq}</td>
                <td>{dateTime(e.time)}</td>
                <td class={`t-${e.type.replace('.', '-')}`}>{e.type}</td>
                <td>{e.reader}</td>
                <td class="mono">{summary(e)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {oldest > 1 && (
        <p>
          <button class="link" disabled={busy} onClick={older} id="events-older">{busy ? 'Loading…' : 'Load older events'}</button>
        </p>
      )}
      {error && <p class="error">{error}</p>}
    </>
  );
}
