import { useState } from 'preact/hooks';
import { api, type GatewayEvent } from '../api.js';

const PAGE = 100;

function summary(e: GatewayEvent): string {
  const d = e.data;
  const parts: string[] = [];
  for (const k of ['uid', 'cardType', 'atr', 'protocol', 'error', 'message']) if (d[k] !== undefined) parts.push(`${k} ${String(d[k])}`);
  return parts.join(' · ');
}

export function Events({ events, journal, onOlder }: { events: GatewayEvent[]; journal: boolean; onOlder: (evs: GatewayEvent[]) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const oldest = events.length ? events[events.length - 1].seq : 0;
  const older = async () => {
    setBusy(true);
    setError('');
    try {
      const r = await api<{ events: GatewayEvent[] }>('GET', `/api/events?after=${Math.max(0, oldest - 1 - PAGE)}&limit=${PAGE}`);
      onOlder(r.events.filter((e) => e.seq < oldest));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  if (!journal) return <div class="empty"><h2>Event journal not running</h2><p>Card events are not being recorded; see Diagnostics and Logs.</p></div>;
  if (events.length === 0) return <div class="empty" id="no-events"><h2>No events yet</h2><p>Present a card to a reader: it shows here at once.</p></div>;
  return (
    <>
    <table class="events" id="events">
      <thead>
        <tr><th>#</th><th>Time</th><th>Event</th><th>Reader</th><th>Details</th></tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.seq} class={e.type.replace('.', '-')}>
            <td>{e.seq}</td>
            <td>{new Date(e.time).toLocaleTimeString()}</td>
            <td>{e.type}</td>
            <td>{e.reader}</td>
            <td class="mono">{summary(e)}</td>
          </tr>
        ))}
      </tbody>
    </table>
    {oldest > 1 && (
      <p>
        <button class="link" disabled={busy} onClick={older} id="events-older">{busy ? 'Loading…' : 'Load older events'}</button>
      </p>
    )}
    {error && <p class="error" role="alert">{error}</p>}
    </>
  );
}
