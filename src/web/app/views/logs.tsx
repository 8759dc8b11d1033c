import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { dateTime } from '../format.js';

interface Line { time?: string; level?: string | number; msg?: string; module?: string; [k: string]: unknown }

function parse(raw: string): Line {
  try {
    return JSON.parse(raw) as Line;
  } catch {
    return { msg: raw };
  }
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

const KEEP = 1000;

/** Recent lines once, then new ones as the daemon writes them (live channel). */
export function Logs({ follow }: { follow: (onLine: (line: string) => void) => () => void }) {
  const [lines, setLines] = useState<string[]>([]);
  const [min, setMin] = useState('info');
  const [error, setError] = useState('');
  useEffect(() => {
    const live: string[] = [];
    let loaded = false;
    const stop = follow((line) => {
      if (!loaded) live.push(line);
      else setLines((cur) => [...cur, line].slice(-KEEP));
    });
    api<{ lines: string[] }>('GET', '/api/logs?limit=500').then(
      (r) => {
        // Lines that arrived while the tail was loading are appended unless the tail already has them.
        const seen = new Set(r.lines);
        setLines([...r.lines, ...live.filter((l) => !seen.has(l))].slice(-KEEP));
        loaded = true;
        setError('');
      },
      (e) => setError((e as Error).message),
    );
    return stop;
  }, []);
  const floor = LEVELS.indexOf(min);
  const shown = lines.map(parse).filter((l) => LEVELS.indexOf(String(l.level)) >= floor || typeof l.level !== 'string').reverse();
  return (
    <>
      <h2>Logs</h2>
      <div class="row">
        <label class="inline">
          Level at least{' '}
          <select value={min} onChange={(e) => setMin(e.currentTarget.value)}>
            {LEVELS.map((l) => <option value={l}>{l}</option>)}
          </select>
        </label>
        <span class="muted small">{shown.length} of {lines.length} recent lines, newest first, live</span>
      </div>
      {error && <p class="error">{error}</p>}
      {shown.length === 0 ? (
        <p class="muted">No log lines at this level.</p>
      ) : (
        <ol class="logs mono small" id="logs">
          {shown.map((l) => {
            const { time, level, msg, module, ...rest } = l;
            const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
            return (
              <li class={`lvl-${String(level)}`}>
                {time ? dateTime(time) : ''} {String(level ?? '')} {module ? `[${module}] ` : ''}{msg}{extra}
              </li>
            );
          })}
        </ol>
      )}
    </>
  );
}
