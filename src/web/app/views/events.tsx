import type { GatewayEvent } from '../api.js';

function summary(e: GatewayEvent): string {
  const d = e.data;
  const parts: string[] = [];
  for (const k of ['uid', 'cardType', 'atr', 'protocol', 'error', 'message']) if (d[k] !== undefined) parts.push(`${k} ${String(d[k])}`);
  return parts.join(' · ');
}

export function Events({ events, journal }: { events: GatewayEvent[]; journal: boolean }) {
  if (!journal) return <div class="empty"><h2>Event journal not running</h2><p>Card events are not being recorded; see Diagnostics and Logs.</p></div>;
  if (events.length === 0) return <div class="empty" id="no-events"><h2>No events yet</h2><p>Present a card to a reader: it shows here at once.</p></div>;
  return (
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
  );
}
