/** Config editor: the YAML file (secrets masked), validated on the gateway by the same loader as start-up. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';

interface ConfigKey { path: string; type: string; default?: unknown; description: string }
interface ConfigView { file: string | null; editable: boolean; yaml: string; effective: unknown; keys: ConfigKey[] }
interface SaveResult { changed: string[]; applied: string[]; restarted: string[]; restartNeeded: string[]; shadowed: Array<{ key: string; env: string }>; failed?: Array<{ part: string; error: string }> }

export function ConfigEditor() {
  const [view, setView] = useState<ConfigView | undefined>(undefined);
  const [text, setText] = useState('');
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState<SaveResult | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [showEffective, setShowEffective] = useState(false);
  const [filter, setFilter] = useState('');

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
      const r = await api<SaveResult>('PUT', '/api/config', { yaml: text });
      setSaved(r);
      await load();
    } catch (e) {
      if (e instanceof ApiError && Array.isArray(e.body.problems)) setProblems(e.body.problems as string[]);
      else setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  if (!view) return error ? <p class="error" role="alert">{error}</p> : <p class="muted">Loading…</p>;
  return (
    <div id="config">
      <p class="muted small">
        {view.file ? <>File <span class="mono">{view.file}</span>. Secrets show as ******** and are kept unless you type a new value.</> : 'Running on the embedded default configuration: start the gateway with --config <file> to edit it here.'}
      </p>
      <textarea id="config-text" class="mono" rows={22} spellcheck={false} value={text} readOnly={!view.editable} onInput={(e) => setText(e.currentTarget.value)} />
      <div class="row">
        <button id="config-save" disabled={!view.editable || busy || text === view.yaml} onClick={save}>{busy ? 'Checking…' : 'Validate and save'}</button>
        <button class="link" disabled={text === view.yaml} onClick={() => { setText(view.yaml); setProblems([]); }}>Revert</button>
        <button class="link" onClick={() => setShowEffective(!showEffective)}>{showEffective ? 'Hide' : 'Show'} effective configuration</button>
      </div>
      {problems.length > 0 && (
        <div class="error" role="alert" id="config-problems">
          <strong>Not saved: the configuration is invalid</strong>
          <ul>{problems.map((p) => <li class="mono">{p}</li>)}</ul>
        </div>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      {saved && (
        <p class="ok" id="config-saved">
          Saved. {saved.changed.length === 0 ? 'Nothing changed.' : `Changed: ${saved.changed.join(', ')}.`}
          {saved.applied.length > 0 && ` Applied: ${saved.applied.join(', ')}.`}
          {saved.restarted.length > 0 && ` Restarted: ${saved.restarted.join(', ')}.`}
          {saved.restartNeeded.length > 0 && ` Takes effect after a gateway restart: ${saved.restartNeeded.join(', ')}.`}
          {saved.shadowed.map((s) => ` ${s.key} is set by the environment variable ${s.env}: the file's value is not in effect.`)}
          {saved.failed?.map((f) => ` ${f.part} failed to restart: ${f.error}.`)}
        </p>
      )}
      {showEffective && <pre class="mono small">{JSON.stringify(view.effective, null, 2)}</pre>}
      <details>
        <summary>Key reference ({view.keys.length} keys)</summary>
        <input placeholder="filter, e.g. mqtt or port" value={filter} onInput={(e) => setFilter(e.currentTarget.value.toLowerCase())} aria-label="filter keys" />
        <table class="small">
          <tbody>
            {view.keys
              .filter((k) => !filter || k.path.toLowerCase().includes(filter) || k.description.toLowerCase().includes(filter))
              .map((k) => (
                <tr>
                  <td class="mono">{k.path}</td>
                  <td>{k.type}{k.default !== undefined && k.default !== '' ? ` = ${JSON.stringify(k.default)}` : ''}</td>
                  <td>{k.description}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}
