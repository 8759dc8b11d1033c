/** Health at a glance: the gateway (MQTT, outbox, event rate, CPU, memory, disk) and each reader, with small charts. */
import { useState } from 'preact/hooks';
import { api, type GatewayEvent, type Reader } from '../api.js';
import { dateTime, duration, mb } from '../format.js';
import { usePoll } from '../hooks.js';
import { Bars, Line, quantile, round } from '../charts.js';
import { stateOf } from './readers.js';
import type { ReaderFault } from '../main.js';

interface ReaderHealth {
  name: string;
  driver: string;
  available: boolean;
  cardPresent: boolean;
  mute: boolean;
  since: string;
  uptimeSeconds: number;
  insertions: number;
  removals: number;
  readerErrors: number;
  exchanges: number;
  exchangeFailures: number;
  errorsByCode: Record<string, number>;
  lastError: { code: string | null; message: string; at: string } | null;
  linkRetries: number | null;
  firmware: string | null;
  latencyMs: Array<{ at: string; ms: number }>;
}

interface HealthJson {
  time: string;
  countingSince: string;
  gateway: {
    uptimeSeconds: number;
    cpuPercent: number;
    rssBytes: number;
    heapUsedBytes: number;
    mqtt: { connected: boolean; url: string; outboxDepth: number | null; running: boolean } | null;
    journal: boolean;
    eventsLastHour: number;
    eventsPerMinute5: number;
    disk: { path: string; freeBytes: number; totalBytes: number } | { path: string; error: string };
  };
  readers: ReaderHealth[];
  series: { minutes: number; from: string; perMinute: Record<string, number[]> };
}

export function Health({ readers, events, faults }: { readers: Reader[]; events: GatewayEvent[]; faults: Record<string, ReaderFault> }) {
  const [h, setH] = useState<HealthJson | undefined>(undefined);
  const [error, setError] = useState('');
  // Re-polled when a card event arrives too, so counts follow the readers view.
  usePoll(
    () =>
      api<HealthJson>('GET', '/api/health').then(
        (x) => {
          setH(x);
          setError('');
        },
        (e) => setError((e as Error).message),
      ),
    5000,
    [events[0]?.seq ?? 0, readers.length],
  );
  if (!h) return error ? <p class="error">{error}</p> : <p class="muted">Loading…</p>;
  const g = h.gateway;
  const disk = 'error' in g.disk ? undefined : g.disk;
  const diskLow = disk && disk.freeBytes < 0.1 * disk.totalBytes;
  return (
    <div id="health">
      <h2>Health</h2>
      {error && <p class="error">Last refresh failed: {error}</p>}
      <section class="panel" aria-labelledby="gw-h">
        <h3 id="gw-h">Gateway</h3>
        <div class="kpis" id="gw-kpis">
          <div>
            MQTT
            <b class={g.mqtt ? (g.mqtt.connected ? 'ok' : 'error') : 'muted'} id="gw-mqtt">
              {g.mqtt ? (g.mqtt.connected ? 'connected' : g.mqtt.running ? 'disconnected' : 'not running') : 'disabled'}
            </b>
            {g.mqtt && <span class="small mono">{g.mqtt.url}</span>}
          </div>
          <div>
            Outbox
            <b id="gw-outbox" class={g.mqtt?.outboxDepth ? 'warn' : ''}>{g.mqtt?.outboxDepth ?? '—'}</b>
            <span class="small">events waiting</span>
          </div>
          <div>
            Event rate
            <b>{g.eventsPerMinute5}/min</b>
            <span class="small">{g.eventsLastHour} in the last hour</span>
          </div>
          <div>
            CPU
            <b>{g.cpuPercent.toFixed(1)} %</b>
            <span class="small">of one core</span>
          </div>
          <div>
            Memory
            <b>{mb(g.rssBytes)}</b>
            <span class="small">RSS, heap {mb(g.heapUsedBytes)}</span>
          </div>
          <div>
            Outbox disk
            <b class={diskLow ? 'error' : ''}>{disk ? mb(disk.freeBytes) : 'unknown'}</b>
            <span class="small">{disk ? `free of ${mb(disk.totalBytes)}` : 'error' in g.disk ? g.disk.error : ''}</span>
          </div>
          <div>
            Uptime
            <b>{duration(g.uptimeSeconds)}</b>
          </div>
        </div>
      </section>
      <p class="muted small">Counts since {dateTime(h.countingSince)} (the web service's start); charts over the last {h.series.minutes} minutes.</p>
      <ul class="readers" id="reader-health">
        {h.readers.map((r) => {
          const live = readers.find((x) => x.name === r.name);
          const [state, cls, text] = live ? stateOf(live) : ['unavailable', 'unavailable', 'Reader unavailable'];
          const series = h.series.perMinute[r.name] ?? new Array<number>(h.series.minutes).fill(0);
          const lat = r.latencyMs.map((x) => x.ms);
          const sorted = [...lat].sort((a, b) => a - b);
          const fault = faults[r.name];
          const lastError = fault && (!r.lastError || fault.at > r.lastError.at) ? { code: null, message: fault.message, at: fault.at } : r.lastError;
          const codes = Object.entries(r.errorsByCode);
          return (
            <li class={`reader ${cls}`} data-reader={r.name}>
              <div class="row">
                <strong>{r.name}</strong>
                <span class={`badge ${cls}`} data-state={state}>{text}</span>
              </div>
              <dl>
                <dt>Driver</dt>
                <dd>{r.driver}{r.firmware ? ` · firmware ${r.firmware}` : ''}</dd>
                <dt>Uptime</dt>
                <dd>{r.available ? duration(r.uptimeSeconds) : 'down'}</dd>
                <dt>Cards</dt>
                <dd class="h-cards">{r.insertions} inserted · {r.removals} removed</dd>
                <dt>Exchanges</dt>
                <dd class="h-exchanges">{r.exchanges}{r.exchangeFailures ? ` (${r.exchangeFailures} failed)` : ''}</dd>
                <dt>Errors</dt>
                <dd class="h-errors">
                  {codes.length === 0 && r.readerErrors === 0 ? 'none' : (
                    <>
                      {codes.map(([c, n]) => <span class="mono small">{c} ×{n} </span>)}
                      {r.readerErrors > 0 && <span>{r.readerErrors} reader error{r.readerErrors === 1 ? '' : 's'}</span>}
                    </>
                  )}
                </dd>
                {r.linkRetries !== null && (
                  <>
                    <dt>Link retries</dt>
                    <dd>{r.linkRetries}</dd>
                  </>
                )}
                <dt>Last error</dt>
                <dd class={lastError ? 'error' : ''}>{lastError ? `${dateTime(lastError.at)}: ${lastError.code ? `${lastError.code} ` : ''}${lastError.message}` : 'none'}</dd>
              </dl>
              <Bars
                values={series}
                label={`${r.name}: ${series.reduce((a, b) => a + b, 0)} events in the last ${h.series.minutes} minutes, at most ${Math.max(0, ...series)} in one minute`}
                title="Events per minute, last hour"
              />
              <p class="small muted">Events per minute, last hour</p>
              {lat.length > 0 ? (
                <>
                  <Line values={lat} unit=" ms" label={`${r.name}: exchange latency median ${round(quantile(sorted, 0.5))} ms, 95th percentile ${round(quantile(sorted, 0.95))} ms over ${lat.length} exchanges`} title="Exchange latency (ms), recent exchanges" />
                  <p class="small muted">Exchange latency: median {round(quantile(sorted, 0.5))} ms · p95 {round(quantile(sorted, 0.95))} ms ({lat.length} recent)</p>
                </>
              ) : (
                <p class="small muted">No APDU exchanged yet: no latency to show.</p>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
