/**
 * Configuration: a form generated from the config schema (sections, descriptions, defaults, enums; secrets
 * masked; keys an environment variable sets shown locked with its name), and the raw YAML for experts. Both
 * save through the gateway's one validation path; a restart is offered when a change needs one.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { announce, announceError } from '../announce.js';

/** The JSON Schema subset the config schema uses (TypeBox output). */
export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  examples?: unknown[];
}

interface FormView {
  file: string | null;
  editable: boolean;
  values: Record<string, unknown> | null;
  effective: Record<string, unknown>;
  env: Record<string, string>;
  mask: string;
  schema: Schema;
}

interface ConfigView { file: string | null; editable: boolean; yaml: string }
/** The config store's answer (PUT /api/config: restartNeeded; the form and set-up routes add pending, the same list). */
export interface SaveResult { changed: string[]; restarted: string[]; pending?: string[]; restartNeeded?: string[]; applied?: string[]; shadowed?: Array<{ key: string; env: string }>; failed?: Array<{ part: string; error: string }> }
const waiting = (r: SaveResult): string[] => r.pending ?? r.restartNeeded ?? [];

const SECRET = /pass(word|phrase)|secret|token|credential|^(pin|puk)$|(pin|puk)$/i;

export const enumOf = (s: Schema): unknown[] | undefined => (s.anyOf && s.anyOf.every((m) => m.const !== undefined) ? s.anyOf.map((m) => m.const) : s.const !== undefined ? [s.const] : undefined);

const getIn = (o: unknown, path: string[]): unknown => path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

const idOf = (path: string[]): string => `cfg-${path.join('-')}`;

export function SaveReport({ r, onRestart, restartLabel = 'Restart the gateway now', id = '' }: { r: SaveResult; onRestart?: () => void; restartLabel?: string; id?: string }) {
  return (
    <div class="banner ok" id={`${id}config-saved`}>
      <p>
        Saved. {r.changed.length === 0 ? 'Nothing changed.' : `Changed: ${r.changed.join(', ')}.`}
        {(r.applied?.length ?? 0) > 0 && ` Applied: ${r.applied!.join(', ')}.`}
        {r.restarted.length > 0 && ` Restarted: ${r.restarted.join(', ')}.`}
        {r.failed?.map((f) => ` ${f.part} failed to restart: ${f.error}.`)}
        {r.shadowed?.map((x) => ` ${x.key} is set by the environment variable ${x.env}: the file's value is not in effect.`)}
      </p>
      {waiting(r).length > 0 && (
        <p class="warn" id={`${id}restart-needed`}>
          Takes effect after a gateway restart: {waiting(r).join(', ')}.{' '}
          {onRestart && <RestartButton onRestart={onRestart} label={restartLabel} id={`${id}restart`} />}
        </p>
      )}
    </div>
  );
}

/** Restart with a confirmation dialog (the UI reconnects by itself, main.tsx). */
export function RestartButton({ onRestart, label = 'Restart the gateway', id = 'restart' }: { onRestart: () => void; label?: string; id?: string }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState('');
  const go = async () => {
    setError('');
    try {
      await api('POST', '/api/restart');
      setAsking(false);
      announce('gateway restarting');
      onRestart();
    } catch (e) {
      setError((e as Error).message);
      announceError((e as Error).message);
    }
  };
  return (
    <>
      <button class="danger" id={id} onClick={() => setAsking(true)}>
        {label}
      </button>
      {asking && (
        <div class="panel" role="alertdialog" aria-labelledby={`${id}-q`} id={`${id}-confirm`}>
          <p id={`${id}-q`}>
            <strong>Restart the gateway?</strong> Card sessions in progress end, readers re-initialise, and everyone logged in to this page logs in again. It takes a few seconds.
          </p>
          <div class="actions">
            <button class="danger" id={`${id}-yes`} onClick={go} autoFocus>
              Yes, restart
            </button>
            <button class="secondary" id={`${id}-no`} onClick={() => setAsking(false)}>
              Cancel
            </button>
          </div>
          {error && <p class="error">{error}</p>}
        </div>
      )}
    </>
  );
}

export function ConfigEditor({ onRestart }: { onRestart: () => void }) {
  const [mode, setMode] = useState<'form' | 'raw'>('form');
  return (
    <div id="config">
      <h2>Configuration</h2>
      <div class="tabs" role="group" aria-label="Configuration view">
        <button aria-pressed={mode === 'form'} id="config-mode-form" onClick={() => setMode('form')}>Settings</button>
        <button aria-pressed={mode === 'raw'} id="config-mode-raw" onClick={() => setMode('raw')}>Raw YAML</button>
      </div>
      {mode === 'form' ? <FormEditor onRestart={onRestart} /> : <RawEditor onRestart={onRestart} />}
    </div>
  );
}

type Edits = Record<string, { path: string[]; value: unknown; unset?: boolean }>;

function FormEditor({ onRestart }: { onRestart: () => void }) {
  const [view, setView] = useState<FormView | undefined>(undefined);
  const [edits, setEdits] = useState<Edits>({});
  const [error, setError] = useState('');
  const [problems, setProblems] = useState<string[]>([]);
  const [saved, setSaved] = useState<SaveResult | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const load = () => api<FormView>('GET', '/api/config/form').then(setView, (e) => setError((e as Error).message));
  useEffect(() => void load(), []);
  if (!view) return error ? <p class="error">{error}</p> : <p class="muted">Loading…</p>;
  if (view.values === null) return <p class="warn">The configuration file does not parse as YAML: fix it in the Raw YAML view.</p>;
  const values = view.values;
  const count = Object.keys(edits).length;

  const save = async () => {
    setBusy(true);
    setProblems([]);
    setError('');
    setSaved(undefined);
    try {
      const list = Object.values(edits);
      const r = await api<SaveResult>('PUT', '/api/config/form', {
        set: list.filter((e) => !e.unset).map((e) => ({ path: e.path, value: e.value })),
        unset: list.filter((e) => e.unset).map((e) => e.path),
      });
      setSaved(r);
      setEdits({});
      announce(`configuration saved${waiting(r).length ? `; restart needed for ${waiting(r).join(', ')}` : ''}`);
      await load();
    } catch (e) {
      if (e instanceof ApiError && Array.isArray(e.body.problems)) setProblems(e.body.problems as string[]);
      else setError((e as Error).message);
      announceError(`not saved: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  const field = (path: string[], s: Schema, required: boolean) => {
    const key = path.join('.');
    const name = path[path.length - 1];
    const id = idOf(path);
    const env = view.env[key];
    const edit = edits[key];
    const fileValue = getIn(values, path);
    const value = edit ? (edit.unset ? undefined : edit.value) : fileValue;
    const def = s.default;
    const set = (v: unknown, unset = false) => setEdits({ ...edits, [key]: { path, value: v, unset } });
    const secret = SECRET.test(name) && (s.type === 'string' || s.type === 'integer');
    const en = enumOf(s);
    const desc = s.description ? <p class="desc" id={`${id}-d`}>{s.description}</p> : null;
    const hint = [
      def !== undefined && def !== '' && !secret ? `default ${JSON.stringify(def)}` : '',
      env ? `locked: set by the environment variable ${env} (value ${secret ? 'hidden' : JSON.stringify(getIn(view.effective, path))})` : '',
    ].filter(Boolean).join(' · ');
    const describedBy = `${s.description ? `${id}-d ` : ''}${hint ? `${id}-h` : ''}`.trim() || undefined;
    let control;
    if (en && en.length > 0) {
      control = (
        <select id={id} disabled={!!env || !view.editable} aria-describedby={describedBy} value={value === undefined ? '' : JSON.stringify(value)} onChange={(e) => {
          const v = e.currentTarget.value;
          if (v === '') set(undefined, true);
          else set(JSON.parse(v));
        }}>
          <option value="">{def !== undefined ? `(default: ${String(def)})` : '(not set)'}</option>
          {en.map((x) => <option value={JSON.stringify(x)}>{String(x)}</option>)}
        </select>
      );
    } else if (s.type === 'boolean') {
      const on = value === undefined ? def === true : value === true;
      control = <input type="checkbox" id={id} disabled={!!env || !view.editable} aria-describedby={describedBy} checked={on} onChange={(e) => set(e.currentTarget.checked)} />;
    } else if (s.type === 'integer' || s.type === 'number' || s.type === 'string') {
      const numeric = s.type !== 'string';
      control = (
        <input
          id={id}
          type={(secret ? 'password' : numeric ? 'number' : 'text') as 'text'}
          autoComplete={secret ? 'new-password' : 'off'}
          disabled={!!env || !view.editable}
          aria-describedby={describedBy}
          min={s.minimum}
          max={s.maximum}
          placeholder={def !== undefined && def !== '' && !secret ? String(def) : s.examples ? String(s.examples[0]) : ''}
          value={value === undefined || value === null ? '' : String(value)}
          onInput={(e) => {
            const t = e.currentTarget.value;
            if (t === '') set(undefined, true);
            else set(numeric && t.trim() !== '' && !Number.isNaN(Number(t)) ? Number(t) : t);
          }}
        />
      );
    } else {
      // Lists and unions (reader lists, transports): JSON, or the Add reader view for readers.
      const text = value === undefined ? '' : JSON.stringify(value);
      control = (
        <textarea id={id} class="mono" rows={Math.min(6, 1 + Math.ceil(text.length / 60))} disabled={!!env || !view.editable} aria-describedby={describedBy} value={text} onChange={(e) => {
          const t = e.currentTarget.value.trim();
          if (t === '') return set(undefined, true);
          try {
            set(JSON.parse(t));
          } catch {
            setError(`${key}: not valid JSON`);
          }
        }} />
      );
    }
    return (
      <div class={`field${env ? ' locked' : ''}${edit ? ' changed' : ''}`} data-key={key}>
        {s.type === 'boolean' ? (
          <label class="inline" for={id}>
            {control} <span class="mono">{name}</span>
            {required ? '' : ''}
          </label>
        ) : (
          <label for={id} class="mono">{name}{s.type === 'array' ? ' (list, JSON)' : ''}</label>
        )}
        {s.type !== 'boolean' && control}
        {desc}
        {hint && <p class="desc" id={`${id}-h`}>{hint}</p>}
      </div>
    );
  };

  const section = (path: string[], s: Schema, depth: number): preact.JSX.Element => {
    const props = s.properties ?? {};
    const leaves = Object.entries(props).filter(([, p]) => !(p.type === 'object' && p.properties));
    const subs = Object.entries(props).filter(([, p]) => p.type === 'object' && p.properties);
    const title = path.join('.');
    const body = (
      <>
        {s.description && <p class="desc">{s.description}</p>}
        {leaves.map(([k, p]) => field([...path, k], p, (s.required ?? []).includes(k)))}
        {subs.map(([k, p]) => section([...path, k], p, depth + 1))}
      </>
    );
    if (depth === 0)
      return (
        <details class="panel" data-section={title}>
          <summary><strong>{title}</strong></summary>
          {body}
        </details>
      );
    return (
      <fieldset data-section={title}>
        <legend class="mono">{title}</legend>
        {body}
      </fieldset>
    );
  };

  const top = view.schema.properties ?? {};
  return (
    <>
      <p class="muted small">
        {view.file ? <>File <span class="mono">{view.file}</span>. Secrets show masked and are kept unless you type a new value.</> : 'Running on the embedded default configuration: start the gateway with --config <file> to edit it here.'}
      </p>
      {Object.keys(view.env).length > 0 && (
        <p class="banner warn" id="env-locked">
          Set by environment variables (locked here): {Object.entries(view.env).map(([k, v]) => `${k} (${v})`).join(', ')}.
        </p>
      )}
      <form id="config-form" onSubmit={(e) => { e.preventDefault(); void save(); }}>
        <div class="panel">
          {Object.entries(top).filter(([, p]) => !(p.type === 'object' && p.properties)).map(([k, p]) => field([k], p, false))}
        </div>
        {Object.entries(top).filter(([, p]) => p.type === 'object' && p.properties).map(([k, p]) => section([k], p, 0))}
        <div class="row">
          <button type="submit" id="form-save" disabled={!view.editable || busy || count === 0}>
            {busy ? 'Checking…' : `Validate and save${count ? ` (${count} change${count === 1 ? '' : 's'})` : ''}`}
          </button>
          <button type="button" class="link" disabled={count === 0} onClick={() => setEdits({})}>Discard changes</button>
        </div>
      </form>
      {problems.length > 0 && <Problems problems={problems} />}
      {error && <p class="error">{error}</p>}
      {saved && <SaveReport r={saved} onRestart={onRestart} />}
    </>
  );
}

function Problems({ problems }: { problems: string[] }) {
  return (
    <div class="error" id="config-problems">
      <strong>Not saved: the configuration is invalid</strong>
      <ul>{problems.map((p) => <li class="mono">{p}</li>)}</ul>
    </div>
  );
}

function RawEditor({ onRestart }: { onRestart: () => void }) {
  const [view, setView] = useState<ConfigView | undefined>(undefined);
  const [text, setText] = useState('');
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState<SaveResult | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const load = () =>
    api<ConfigView>('GET', '/api/config').then(
      (v) => { setView(v); setText(v.yaml); },
      (e) => setError((e as Error).message),
    );
  useEffect(() => void load(), []);

  const save = async () => {
    setBusy(true);
    setProblems([]);
    setError('');
    setSaved(undefined);
    try {
      // Problems come back as a list from config/validate (the save's error body carries one message).
      const check = await api<{ valid: boolean; problems: string[] }>('POST', '/api/config/validate', { yaml: text });
      if (!check.valid) {
        setProblems(check.problems);
        announceError(`not saved: the configuration is invalid (${check.problems.length} problem${check.problems.length === 1 ? '' : 's'})`);
        return;
      }
      const r = await api<SaveResult>('PUT', '/api/config', { yaml: text });
      setSaved(r);
      announce('configuration saved');
      await load();
    } catch (e) {
      if (e instanceof ApiError && Array.isArray(e.body.problems)) setProblems(e.body.problems as string[]);
      else setError((e as Error).message);
      announceError(`not saved: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  if (!view) return error ? <p class="error">{error}</p> : <p class="muted">Loading…</p>;
  return (
    <>
      <p class="muted small">
        {view.file ? <>File <span class="mono">{view.file}</span>. Secrets show as ******** and are kept unless you type a new value.</> : 'Running on the embedded default configuration: start the gateway with --config <file> to edit it here.'}
      </p>
      <label for="config-text">Configuration file (YAML)</label>
      <textarea id="config-text" class="mono" rows={22} spellcheck={false} wrap="off" value={text} readOnly={!view.editable} onInput={(e) => setText(e.currentTarget.value)} />
      <div class="row">
        <button id="config-save" disabled={!view.editable || busy || text === view.yaml} onClick={save}>{busy ? 'Checking…' : 'Validate and save'}</button>
        <button class="link" disabled={text === view.yaml} onClick={() => { setText(view.yaml); setProblems([]); }}>Revert</button>
      </div>
      {problems.length > 0 && <Problems problems={problems} />}
      {error && <p class="error">{error}</p>}
      {saved && <SaveReport r={saved} onRestart={onRestart} />}
    </>
  );
}
