import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';

type Diag = Record<string, unknown> & {
  version: string;
  uptimeSeconds: number;
  memory: Record<string, number>;
  services: Record<string, unknown>;
  board: Record<string, unknown>;
};

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

function uptime(s: number): string {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return `${d ? `${d}d ` : ''}${h}h ${m}m ${s % 60}s`;
}

/** MQTT is what field technicians ask about first: pull its state to the top when the service reports it. */
function mqttLine(services: Record<string, unknown>): string | undefined {
  const m = services.mqtt as Record<string, unknown> | undefined;
  if (!m) return undefined;
  const connected = m.connected ?? m.state;
  const depth = (m.outbox as { depth?: number } | undefined)?.depth;
  return `${String(m.url ?? '')} ${connected === true ? 'connected' : connected === false ? 'DOWN' : String(connected ?? '?')}${depth !== undefined ? ` · outbox ${depth} event${depth === 1 ? '' : 's'} waiting` : ''}`;
}

export function Diagnostics() {
  const [d, setD] = useState<Diag | undefined>(undefined);
  const [error, setError] = useState('');
  const load = () => api<Diag>('GET', '/api/diagnostics').then((x) => { setD(x); setError(''); }, (e) => setError((e as Error).message));
  useEffect(() => {
    void load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (!d) return <p class="muted">Loading…</p>;
  const mqtt = mqttLine(d.services);
  return (
    <div id="diagnostics">
      <h2>Diagnostics</h2>
      <dl class="kv">
        <dt>Version</dt><dd>{d.version}</dd>
        <dt>Uptime</dt><dd>{uptime(d.uptimeSeconds)}</dd>
        <dt>Memory</dt><dd>{mb(d.memory.rssBytes)} RSS, heap {mb(d.memory.heapUsedBytes)}</dd>
        {mqtt && (<><dt>MQTT</dt><dd class={mqtt.includes('DOWN') ? 'error' : ''} id="mqtt-state">{mqtt}</dd></>)}
      </dl>
      <h3>Board</h3>
      <Board board={d.board as unknown as BoardJson} />
      <details>
        <summary>Services and drivers (raw)</summary>
        <pre class="mono small">{JSON.stringify({ core: d.core, ...d.services }, null, 2)}</pre>
      </details>
    </div>
  );
}

type Listed<T> = T[] | { error: string };
interface BoardJson {
  serialPorts: Listed<{ path: string; manufacturer?: string; vendorId?: string; productId?: string }>;
  i2cBuses: Listed<{ path: string; bus: number }>;
  usbCcid: Listed<{ vendorId: string; productId: string; product?: string; bus: number; address: number }>;
  notes?: string[];
}

function Listing<T>({ title, items, render, id }: { title: string; items: Listed<T>; render: (t: T) => string; id: string }) {
  return (
    <>
      <dt>{title}</dt>
      <dd id={id}>
        {Array.isArray(items) ? (items.length ? items.map(render).join(', ') : 'none found') : <span class="warn">unavailable: {items.error}</span>}
      </dd>
    </>
  );
}

/** What a technician may wire a reader to; a probe that could not run says so in words (e.g. no udevadm). */
function Board({ board }: { board: BoardJson }) {
  return (
    <>
      <dl>
        <Listing id="board-serial" title="Serial ports" items={board.serialPorts} render={(p) => `${p.path}${p.manufacturer ? ` (${p.manufacturer})` : ''}`} />
        <Listing id="board-i2c" title="I2C buses" items={board.i2cBuses} render={(b) => b.path} />
        <Listing id="board-usb" title="USB smart card readers" items={board.usbCcid} render={(u) => `${u.product ?? 'reader'} ${u.vendorId}:${u.productId}`} />
      </dl>
      {board.notes?.map((n) => <p class="muted small board-note">{n}</p>)}
      <p class="small"><a href="#/setup">Add a reader</a> from these.</p>
    </>
  );
}
