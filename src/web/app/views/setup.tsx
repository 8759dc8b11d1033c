/**
 * Add a reader, guided: pick where it is connected (detected serial ports, I2C buses, USB CCID devices,
 * an emulated CCID reader, or a path typed in), choose the driver, probe it live (firmware, reader names,
 * then a test tap), save through the config path, restart if needed, and see its first tap. Configured
 * readers can be renamed or removed here too.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type GatewayEvent, type Reader } from '../api.js';
import { announce, announceError } from '../announce.js';
import { dateTime } from '../format.js';
import { RestartButton, SaveReport, type SaveResult } from './config.js';

interface CcidInterface { number: number; name?: string; level: string; slots: number; protocols: string[]; voltages: string[]; maxMessageLength: number; features: string; interrupt: boolean }
interface CcidDevice { id: string; emulated?: { index: number; profile: string }; bus: number; address: number; vendorId: string; productId: string; manufacturer?: string; product?: string; serialNumber?: string; firmware: string; interfaces: CcidInterface[]; skipped: string[] }
interface CcidProfile { key: string; manufacturer: string; product: string; contactless: boolean; interfaces: CcidInterface[] }

interface SetupView {
  editable: boolean;
  restartAvailable: boolean;
  devices: {
    serialPorts: Array<{ path: string; manufacturer?: string; vendorId?: string; productId?: string }> | { error: string };
    i2cBuses: Array<{ path: string; bus: number }> | { error: string };
    usbCcid: CcidDevice[] | { error: string };
    notes?: string[];
  };
  drivers: Array<{ name: string }>;
  configured: Array<{ driver: string; index: number; name: string | null; renamable: boolean; reader: Record<string, unknown> }>;
  ccid: { usbEnabled: boolean; emulated: CcidDevice[]; profiles: CcidProfile[] };
}

type Place =
  | { kind: 'serial'; path: string }
  | { kind: 'i2c'; bus: number }
  | { kind: 'usb'; id: string; label: string }
  | { kind: 'ccid-emulated'; profile: CcidProfile; serialNumber: string };

interface Choice {
  id: string;
  driver: string;
  label: string;
  build: (place: Place, name: string) => Record<string, unknown>;
  kinds: Place['kind'][];
  /** The reader's name comes from the device (USB strings, as pcscd builds it): no name to type. */
  deviceNamed?: boolean;
}

/** How each known driver takes a reader on each kind of connection (drivers absent from this build are not offered). */
const CHOICES: Choice[] = [
  { id: 'pn532-hsu', driver: 'pn532', label: 'PN532 NFC module, serial (HSU)', kinds: ['serial'], build: (p, name) => ({ name, transport: { type: 'hsu', path: (p as { path: string }).path } }) },
  { id: 'pn532-i2c', driver: 'pn532', label: 'PN532 NFC module, I2C', kinds: ['i2c'], build: (p, name) => ({ name, transport: { type: 'i2c', bus: (p as { bus: number }).bus, address: 0x24 } }) },
  { id: 'ccid-usb', driver: 'ccid', label: 'USB CCID smart card reader', kinds: ['usb'], deviceNamed: true, build: (p) => ({ usbId: (p as { id: string }).id }) },
  {
    id: 'ccid-emulated',
    driver: 'ccid',
    label: 'Emulated USB CCID reader (emulators/ccid)',
    kinds: ['ccid-emulated'],
    deviceNamed: true,
    build: (p) => {
      const e = p as Extract<Place, { kind: 'ccid-emulated' }>;
      return { profile: e.profile.key, ...(e.serialNumber ? { serialNumber: e.serialNumber } : {}) };
    },
  },
];

interface ProbeResult {
  ok: boolean;
  ms: number;
  error?: string;
  firmware?: string | null;
  friendlyName?: string;
  names?: string[];
  device?: CcidDevice;
  tap?: { uid: string | null; type: string | null; at: string } | null;
  tapMessage?: string;
}

/** One line per CCID interface: what a technician checks against the reader's data sheet. */
function interfaceFacts(i: CcidInterface): string {
  return `${i.name ?? `interface ${i.number}`}: ${i.level}, ${i.slots} slot${i.slots > 1 ? 's' : ''}, ${i.protocols.join(' ') || 'no protocol'}, ${i.voltages.join(' / ')}, messages up to ${i.maxMessageLength} bytes, dwFeatures ${i.features}${i.interrupt ? ', card events by interrupt' : ', polled'}`;
}

/** The name the gateway will give a device-named reader, without " RR SS". */
const baseName = (n: string): string => n.replace(/ [0-9A-F]{2} [0-9A-F]{2}$/, '');

const list = <T,>(x: T[] | { error: string }): T[] => (Array.isArray(x) ? x : []);

export function Setup({ readers, events, onRestart }: { readers: Reader[]; events: GatewayEvent[]; onRestart: () => void }) {
  const [view, setView] = useState<SetupView | undefined>(undefined);
  const [error, setError] = useState('');
  const load = () => api<SetupView>('GET', '/api/setup').then(setView, (e) => setError((e as Error).message));
  useEffect(() => void load(), []);
  if (!view) return error ? <p class="error">{error}</p> : <p class="muted">Looking at the board's ports…</p>;
  return (
    <div id="setup">
      <h2>Add a reader</h2>
      {!view.editable && <p class="banner warn">Running on the embedded default configuration: start the gateway with --config &lt;file&gt; to add readers here.</p>}
      <AddReader view={view} readers={readers} events={events} onRestart={onRestart} onSaved={load} />
      <Configured view={view} onChanged={load} onRestart={onRestart} />
    </div>
  );
}

function AddReader({ view, readers, events, onRestart, onSaved }: { view: SetupView; readers: Reader[]; events: GatewayEvent[]; onRestart: () => void; onSaved: () => void }) {
  const serial = list(view.devices.serialPorts);
  const i2c = list(view.devices.i2cBuses);
  const usb = list(view.devices.usbCcid);
  const profiles = view.ccid.profiles;
  const [placeKey, setPlaceKey] = useState('');
  const [customPath, setCustomPath] = useState('');
  const [profileKey, setProfileKey] = useState(profiles.find((p) => p.contactless)?.key ?? profiles[0]?.key ?? '');
  const [emuSerial, setEmuSerial] = useState('');
  const available = CHOICES.filter((c) => view.drivers.some((d) => d.name === c.driver));
  const offersEmulated = available.some((c) => c.kinds.includes('ccid-emulated')) && profiles.length > 0;
  const profile = profiles.find((p) => p.key === profileKey);
  const place: Place | undefined = placeKey === 'custom'
    ? (customPath.trim() ? { kind: 'serial', path: customPath.trim() } : undefined)
    : placeKey.startsWith('serial:') ? { kind: 'serial', path: placeKey.slice(7) }
    : placeKey.startsWith('i2c:') ? { kind: 'i2c', bus: Number(placeKey.slice(4)) }
    : placeKey.startsWith('usb:') ? (() => { const u = usb.find((x) => x.id === placeKey.slice(4)); return u ? { kind: 'usb' as const, id: u.id, label: u.product ?? '' } : undefined; })()
    : placeKey === 'ccid-emulated' && profile ? { kind: 'ccid-emulated', profile, serialNumber: emuSerial.trim() }
    : undefined;
  const fitting = place ? available.filter((c) => c.kinds.includes(place.kind)) : [];
  const [choiceId, setChoiceId] = useState('');
  const choice = fitting.find((c) => c.id === choiceId) ?? fitting[0];
  const [name, setName] = useState('PN532 NFC');
  const [probe, setProbe] = useState<ProbeResult | undefined>(undefined);
  const [busy, setBusy] = useState<'' | 'probe' | 'tap' | 'save'>('');
  const [err, setErr] = useState('');
  const [saved, setSaved] = useState<(SaveResult & { addedName: string; at: number }) | undefined>(undefined);
  const emulated = place?.kind === 'ccid-emulated';
  const [testType, setTestType] = useState('mifare-classic-1k');
  const [testUid, setTestUid] = useState('04A1B2C3');
  const reader = place && choice ? choice.build(place, name.trim() || 'Reader') : undefined;
  const pick = (key: string) => { setPlaceKey(key); setProbe(undefined); };

  const runProbe = async (tapWaitMs: number) => {
    if (!reader || !choice) return;
    setBusy(tapWaitMs ? 'tap' : 'probe');
    setErr('');
    if (tapWaitMs && !emulated) announce('Hold a card on the reader now');
    const testCard = tapWaitMs && emulated ? { type: testType, ...(testUid.trim() && testType !== 'iso7816' ? { uid: testUid.trim() } : {}) } : undefined;
    try {
      const r = await api<ProbeResult>('POST', '/api/setup/probe', { driver: choice.driver, reader, tapWaitMs, ...(testCard ? { testCard } : {}) });
      setProbe(r);
      const text = !r.ok ? `No answer: ${r.error}` : tapWaitMs ? (r.tap ? `Card seen: ${r.tap.type ?? 'card'} UID ${r.tap.uid ?? '?'}` : r.tapMessage ?? 'no card seen') : `Reader answered: firmware ${r.firmware ?? 'unknown'}`;
      (r.ok ? announce : announceError)(text);
    } catch (e) {
      setErr((e as Error).message);
      announceError((e as Error).message);
    } finally {
      setBusy('');
    }
  };
  // A device-named reader is found again by the name the probe showed, else by its USB strings.
  const addedName = (): string => {
    if (!choice?.deviceNamed) return String(reader?.name);
    if (probe?.names?.[0]) return baseName(probe.names[0]);
    if (place?.kind === 'ccid-emulated') return `${place.profile.manufacturer} ${place.profile.product}`;
    return place?.kind === 'usb' ? place.label : '';
  };
  const save = async () => {
    if (!reader || !choice) return;
    setBusy('save');
    setErr('');
    try {
      const r = await api<SaveResult>('POST', '/api/setup/readers', { driver: choice.driver, reader });
      const added = addedName();
      setSaved({ ...r, addedName: added, at: Date.now() });
      announce(`reader ${added} saved${(r.pending ?? []).length ? '; restart the gateway to start it' : ''}`);
      onSaved();
    } catch (e) {
      const problems = e instanceof ApiError && Array.isArray(e.body.problems) ? `: ${(e.body.problems as string[]).join('; ')}` : '';
      setErr(`${(e as Error).message}${problems && !(e as Error).message.includes(problems.slice(2)) ? problems : ''}`);
      announceError((e as Error).message);
    } finally {
      setBusy('');
    }
  };

  // Once saved: the new reader as the gateway lists it, and its latest card event.
  const live = saved && saved.addedName ? readers.find((r) => r.name.startsWith(saved.addedName)) : undefined;
  const tap = live ? events.find((e) => e.reader === live.name && e.type === 'card.inserted') : undefined;

  return (
    <section class="panel" aria-labelledby="add-h">
      <h3 id="add-h">1. Where is it connected?</h3>
      {view.devices.notes?.map((n) => <p class="muted small">{n}</p>)}
      <fieldset>
        <legend>Detected on this board</legend>
        <ul class="choices" id="places">
          {serial.map((p) => (
            <li><label><input type="radio" name="place" value={`serial:${p.path}`} checked={placeKey === `serial:${p.path}`} onChange={() => pick(`serial:${p.path}`)} /> <span><span class="mono">{p.path}</span> <span class="muted small">serial port{p.manufacturer ? ` · ${p.manufacturer}` : ''}{p.vendorId ? ` · USB ${p.vendorId}:${p.productId}` : ''}</span></span></label></li>
          ))}
          {i2c.map((b) => (
            <li><label><input type="radio" name="place" value={`i2c:${b.bus}`} checked={placeKey === `i2c:${b.bus}`} onChange={() => pick(`i2c:${b.bus}`)} /> <span><span class="mono">{b.path}</span> <span class="muted small">I2C bus {b.bus}</span></span></label></li>
          ))}
          {usb.map((u) => (
            <li>
              <label>
                <input type="radio" name="place" value={`usb:${u.id}`} checked={placeKey === `usb:${u.id}`} onChange={() => pick(`usb:${u.id}`)} disabled={u.interfaces.length === 0} />{' '}
                <span>
                  {[u.manufacturer, u.product].filter(Boolean).join(' ') || 'USB smart card reader'} <span class="muted small mono">USB {u.vendorId}:{u.productId} bus {u.bus} address {u.address}</span>
                  {u.interfaces.map((i) => <span class="muted small block">{interfaceFacts(i)}</span>)}
                  {u.skipped.map((x) => <span class="warn small block">Not usable: {x}</span>)}
                </span>
              </label>
            </li>
          ))}
          {view.ccid.emulated.map((u) => (
            <li class="muted small" data-emulated={u.serialNumber ?? u.id}>
              Emulated on this gateway (drivers.ccid.emulate[{u.emulated?.index}]): {u.manufacturer} {u.product}{u.serialNumber ? ` (${u.serialNumber})` : ''}, in the Readers view.
            </li>
          ))}
          <li>
            <label><input type="radio" name="place" value="custom" id="place-custom" checked={placeKey === 'custom'} onChange={() => pick('custom')} /> <span>Another serial device (for example /dev/serial0)</span></label>
          </li>
          {offersEmulated && (
            <li>
              <label><input type="radio" name="place" value="ccid-emulated" id="place-ccid-emulated" checked={placeKey === 'ccid-emulated'} onChange={() => pick('ccid-emulated')} /> <span>An emulated USB CCID reader, hosted by the gateway (for demos, training and tests)</span></label>
            </li>
          )}
        </ul>
        {placeKey === 'custom' && (
          <label>
            Serial device path
            <input id="custom-path" class="mono" value={customPath} onInput={(e) => { setCustomPath(e.currentTarget.value); setProbe(undefined); }} placeholder="/dev/serial0" autoComplete="off" spellcheck={false} />
          </label>
        )}
        {placeKey === 'ccid-emulated' && (
          <>
            <label>
              Emulated reader model
              <select id="ccid-profile" value={profileKey} onChange={(e) => { setProfileKey(e.currentTarget.value); setProbe(undefined); }}>
                {profiles.map((p) => <option value={p.key}>{p.manufacturer} {p.product}{p.contactless ? ' (contactless)' : ''}</option>)}
              </select>
            </label>
            <label>
              Serial number (optional, shown in the reader name)
              <input id="ccid-serial" class="mono" value={emuSerial} maxLength={64} onInput={(e) => { setEmuSerial(e.currentTarget.value); setProbe(undefined); }} autoComplete="off" spellcheck={false} />
            </label>
          </>
        )}
        {'error' in view.devices.serialPorts && <p class="warn small">Serial ports: {view.devices.serialPorts.error}</p>}
        {'error' in view.devices.usbCcid && <p class="muted small" id="usb-error">USB CCID devices: {view.devices.usbCcid.error}</p>}
        {view.ccid.usbEnabled && <p class="muted small">drivers.ccid.enabled is on: every USB CCID reader plugged in is taken by the gateway and shows in the Readers view by itself.</p>}
      </fieldset>

      <h3>2. Which reader is it?</h3>
      {!place ? (
        <p class="muted">Choose a connection first.</p>
      ) : fitting.length === 0 ? (
        <p class="warn">No driver of this build takes a reader on this kind of connection.</p>
      ) : (
        <>
          <fieldset>
            <legend>Driver</legend>
            {fitting.map((c) => (
              <label class="inline"><input type="radio" name="driver" value={c.id} checked={choice?.id === c.id} onChange={() => { setChoiceId(c.id); setProbe(undefined); }} /> {c.label}</label>
            ))}
          </fieldset>
          {choice?.deviceNamed ? (
            <>
              <p class="muted small">
                {place.kind === 'usb'
                  ? 'USB CCID readers need no entry of their own: saving turns on drivers.ccid.enabled, and the gateway takes this reader and any plugged in later. '
                  : 'Saving adds the reader to drivers.ccid.emulate. '}
                Its name comes from the device (manufacturer, product, interface, serial number, as pcscd builds it): the probe shows it.
              </p>
              {place.kind === 'usb' && view.configured.some((c) => c.driver === 'ccid') && (
                <p class="warn small" id="ccid-bus-note">The configuration lists emulated CCID readers: while it does, the CCID driver uses the emulated bus only and takes no real USB reader. Remove them below first.</p>
              )}
              {place.kind === 'ccid-emulated' && view.ccid.usbEnabled && (
                <p class="warn small" id="ccid-bus-note">drivers.ccid.enabled is on: with an emulated reader in the configuration the CCID driver uses the emulated bus only, and real USB readers stop being taken.</p>
              )}
            </>
          ) : (
            <label>
              Reader name (shown in PC/SC reader names and events)
              <input id="reader-name" value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
          )}
        </>
      )}

      <h3>3. Test it</h3>
      {emulated && (
        <div class="toolbar">
          <label>
            Test card model
            <select id="test-card-type" value={testType} onChange={(e) => setTestType(e.currentTarget.value)}>
              {['mifare-classic-1k', 'mifare-ultralight', 'iso14443-4', 'iso7816'].map((m) => <option value={m}>{m}</option>)}
            </select>
          </label>
          {testType !== 'iso7816' && (
            <label>
              Test card UID (hex)
              <input id="test-card-uid" class="mono" value={testUid} maxLength={20} onInput={(e) => setTestUid(e.currentTarget.value)} autoComplete="off" spellcheck={false} />
            </label>
          )}
        </div>
      )}
      <div class="actions">
        <button id="probe" disabled={!reader || busy !== ''} onClick={() => runProbe(0)}>{busy === 'probe' ? 'Probing…' : 'Probe the reader'}</button>
        <button id="probe-tap" class="secondary" disabled={!reader || busy !== '' || !probe?.ok} onClick={() => runProbe(emulated ? 10000 : 15000)}>
          {busy === 'tap' ? (emulated ? 'Inserting the test card…' : 'Hold a card on the reader now…') : emulated ? 'Insert a test card on the emulator' : 'Test a tap (15 s)'}
        </button>
      </div>
      <div id="probe-result" aria-live="polite">
        {probe && !probe.ok && <p class="error">No answer: {probe.error}</p>}
        {probe?.ok && (
          <>
            <p class="ok">
              Reader answered in {probe.ms} ms: {probe.friendlyName}, firmware <strong id="probe-firmware">{probe.firmware ?? 'unknown'}</strong>.
              {probe.tap && <> Card seen: {probe.tap.type ?? 'card'} UID <strong class="mono" id="probe-uid">{probe.tap.uid}</strong>.</>}
              {probe.tap === null && <> {probe.tapMessage}.</>}
            </p>
            {probe.names && (
              <>
                <p class="small">PC/SC reader names (as pcscd names them):</p>
                <ul id="probe-names" class="mono small">{probe.names.map((n) => <li>{n}</li>)}</ul>
              </>
            )}
            {probe.device && (
              <ul id="probe-device" class="muted small">
                <li>USB {probe.device.vendorId}:{probe.device.productId}, bcdDevice {probe.device.firmware}</li>
                {probe.device.interfaces.map((i) => <li>{interfaceFacts(i)}</li>)}
              </ul>
            )}
          </>
        )}
      </div>

      <h3>4. Save</h3>
      <button id="reader-save" disabled={!reader || busy !== '' || !view.editable} onClick={save}>{busy === 'save' ? 'Saving…' : probe?.ok ? 'Save this reader' : 'Save without a successful probe'}</button>
      {err && <p class="error" id="setup-error">{err}</p>}
      {saved && (
        <>
          <SaveReport r={saved} onRestart={view.restartAvailable ? onRestart : undefined} restartLabel="Restart now to start the reader" />
          {(saved.pending ?? []).length > 0 && !view.restartAvailable && <p class="warn">Restart the gateway (systemctl restart scardgate) to start the reader.</p>}
          <p id="added-status" role="status">
            {live ? (
              tap ? <>Reader <strong>{live.name}</strong> is running; last tap {dateTime(tap.time)}: UID <span class="mono">{String(tap.data.uid ?? '?')}</span>.</> : <>Reader <strong>{live.name}</strong> is running: tap a card to see its event here.</>
            ) : 'Waiting for the reader to appear…'}
          </p>
        </>
      )}
    </section>
  );
}

function Configured({ view, onChanged, onRestart }: { view: SetupView; onChanged: () => void; onRestart: () => void }) {
  const [names, setNames] = useState<Record<string, string>>({});
  const [report, setReport] = useState<SaveResult | undefined>(undefined);
  const [err, setErr] = useState('');
  const act = async (method: 'PATCH' | 'DELETE', r: SetupView['configured'][number], body?: unknown) => {
    setErr('');
    try {
      const res = await api<SaveResult>(method, `/api/setup/readers/${r.driver}/${r.index}`, body);
      setReport(res);
      announce(method === 'DELETE' ? `reader ${r.name ?? r.index} removed from the configuration` : `reader renamed to ${(body as { name: string }).name}`);
      onChanged();
    } catch (e) {
      setErr((e as Error).message);
      announceError((e as Error).message);
    }
  };
  return (
    <section class="panel" aria-labelledby="conf-h" id="configured">
      <h3 id="conf-h">Configured readers</h3>
      {view.configured.length === 0 ? (
        <p class="muted">No reader in the configuration file.</p>
      ) : (
        <ul class="cards">
          {view.configured.map((r) => {
            const k = `${r.driver}.${r.index}`;
            const t = r.reader.transport as Record<string, unknown> | undefined;
            return (
              <li data-configured={r.name ?? k}>
                <div class="head">
                  <strong>{r.name ?? '(unnamed)'}</strong>
                  <span class="muted small">{r.driver}{t ? ` · ${String(t.type)} ${String(t.path ?? `bus ${String(t.bus)}`)}` : ''}{r.driver === 'ccid' ? ` · emulated ${String(r.reader.profile)}` : ''}</span>
                </div>
                <div class="toolbar">
                  {r.renamable && (
                    <>
                      <label>
                        New name for {r.name ?? k}
                        <input value={names[k] ?? r.name ?? ''} maxLength={100} onInput={(e) => setNames({ ...names, [k]: e.currentTarget.value })} />
                      </label>
                      <button class="secondary" disabled={!names[k] || names[k] === r.name} onClick={() => act('PATCH', r, { name: names[k] })} aria-label={`Rename ${r.name ?? k}`}>Rename</button>
                    </>
                  )}
                  <button class="danger" onClick={() => confirm(`Remove ${r.name ?? k} from the configuration?`) && act('DELETE', r)} aria-label={`Remove ${r.name ?? k}`}>Remove</button>
                </div>
              </li>
            );
          })}
        </ul>
      )}
      {err && <p class="error">{err}</p>}
      {report && <SaveReport r={report} onRestart={view.restartAvailable ? onRestart : undefined} id="configured-" />}
      {view.restartAvailable && !report && (
        <p class="small">
          <RestartButton onRestart={onRestart} id="restart-any" />
        </p>
      )}
    </section>
  );
}
