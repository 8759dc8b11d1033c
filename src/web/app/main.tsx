/** The technician's single page: login, then readers, events, APDU console, diagnostics, config and logs. */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, onSessionExpired, setCsrf, type GatewayEvent, type Reader } from './api.js';
import { connectLive, type LiveChannel, type LiveMessage, type LiveStatus } from './live.js';
import { Login } from './views/login.js';
import { Readers } from './views/readers.js';
import { Events } from './views/events.js';
import { Console } from './views/console.js';
import { Diagnostics } from './views/diagnostics.js';
import { ConfigEditor } from './views/config.js';
import { Logs } from './views/logs.js';

const TABS = [
  ['readers', 'Readers'],
  ['events', 'Events'],
  ['console', 'APDU'],
  ['diagnostics', 'Diagnostics'],
  ['config', 'Config'],
  ['logs', 'Logs'],
] as const;
type Tab = (typeof TABS)[number][0];

const MAX_EVENTS = 500;

function tabFromHash(): Tab {
  const h = location.hash.replace(/^#\/?/, '').split('?')[0];
  return (TABS.find(([t]) => t === h)?.[0] ?? 'readers') as Tab;
}

function App() {
  const [auth, setAuth] = useState<'checking' | 'out' | 'in'>('checking');
  const [expired, setExpired] = useState(false);
  const [tab, setTab] = useState<Tab>(tabFromHash());
  const [readers, setReaders] = useState<Reader[] | undefined>(undefined);
  const [events, setEvents] = useState<GatewayEvent[]>([]);
  const [journal, setJournal] = useState(true);
  const [live, setLive] = useState<LiveStatus>('connecting');
  const [consoleReader, setConsoleReader] = useState<string>('');
  const channel = useRef<LiveChannel | undefined>(undefined);
  const logListener = useRef<((line: string) => void) | undefined>(undefined);
  const [readerErrors, setReaderErrors] = useState<Record<string, { message: string; at: string }>>({});

  useEffect(() => {
    onSessionExpired(() => {
      setAuth((a) => {
        if (a === 'in') setExpired(true);
        return 'out';
      });
    });
    api<{ csrfToken?: string }>('GET', '/api/auth/session').then(
      (s) => {
        setCsrf(s.csrfToken ?? '');
        setAuth('in');
      },
      () => setAuth('out'),
    );
    const onHash = () => setTab(tabFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    if (auth !== 'in') return;
    api<{ events: GatewayEvent[] }>('GET', '/api/events/recent?limit=100').then(
      (r) => setEvents((cur) => merge(cur, r.events)),
      () => setJournal(false),
    );
    const ch = connectLive(
      (m: LiveMessage) => {
        switch (m.t) {
          case 'hello':
            setReaders(m.readers);
            setJournal(m.journal);
            break;
          case 'reader':
            setReaders((rs) => {
              const list = rs ?? [];
              const i = list.findIndex((r) => r.name === m.reader.name);
              return i < 0 ? [...list, m.reader] : list.map((r, j) => (j === i ? m.reader : r));
            });
            break;
          case 'reader-removed':
            setReaders((rs) => (rs ?? []).filter((r) => r.name !== m.name));
            break;
          case 'event':
            setEvents((cur) => merge(cur, [m.event]));
            break;
          case 'log':
            logListener.current?.(m.line);
            break;
          case 'reader-error':
            setReaderErrors((e) => ({ ...e, [m.name]: { message: m.message, at: new Date().toISOString() } }));
            break;
        }
      },
      setLive,
      () => {
        setExpired(true);
        setAuth('out');
      },
    );
    channel.current = ch;
    return () => {
      channel.current = undefined;
      ch.close();
    };
  }, [auth]);

  const status = useStatus(auth === 'in');
  if (auth === 'checking') return <p class="muted pad">Loading…</p>;
  if (auth === 'out')
    return (
      <Login
        expired={expired}
        onIn={(csrf) => {
          setCsrf(csrf);
          setExpired(false);
          setAuth('in');
        }}
      />
    );

  const logout = async () => {
    await api('POST', '/api/auth/logout').catch(() => undefined);
    // The APDU history stays with the login that made it, not with the browser.
    localStorage.removeItem('scardgate.apdu.history');
    setExpired(false);
    setAuth('out');
    setReaders(undefined);
  };

  return (
    <>
      <header>
        <strong>scardgate</strong>
        <nav>
          {TABS.map(([t, label]) => (
            <a href={`#/${t}`} class={t === tab ? 'on' : ''} id={`tab-${t}`}>
              {label}
            </a>
          ))}
        </nav>
        <span class={`live ${live}`} title={`live channel ${live}`} id="live-status">
          {live === 'open' ? 'live' : live === 'connecting' ? 'connecting…' : 'offline'}
        </span>
        <button class="link" id="logout" onClick={logout}>
          Log out
        </button>
      </header>
      <main>
        {status?.mqtt && !status.mqtt.connected && (
          <p class="banner error" role="status" id="broker-down">
            MQTT broker {status.mqtt.running ? 'unreachable' : 'service not running'} ({status.mqtt.url})
            {status.mqtt.outboxDepth ? `: ${status.mqtt.outboxDepth} events waiting in the outbox` : ''}. Card events are kept and sent when it is back.
          </p>
        )}
        {live === 'closed' && <p class="banner warn" role="status">Gateway connection lost: reconnecting…</p>}
        {tab === 'readers' && (
          <Readers
            readers={readers}
            errors={readerErrors}
            onConsole={(r) => {
              setConsoleReader(r);
              location.hash = '#/console';
            }}
          />
        )}
        {tab === 'events' && <Events events={events} journal={journal} onOlder={(evs) => setEvents((cur) => merge(cur, evs, cur.length + evs.length))} />}
        {tab === 'console' && <Console readers={readers ?? []} initialReader={consoleReader} />}
        {tab === 'diagnostics' && <Diagnostics />}
        {tab === 'config' && <ConfigEditor />}
        {tab === 'logs' && (
          <Logs
            follow={(cb) => {
              logListener.current = cb;
              channel.current?.logs(true);
              return () => {
                logListener.current = undefined;
                channel.current?.logs(false);
              };
            }}
          />
        )}
      </main>
    </>
  );
}

interface Status {
  readers: number;
  journal: boolean;
  mqtt: { connected: boolean; url: string; outboxDepth: number | null; running: boolean } | null;
}

/** Health for the banners, every 5 s while logged in. */
function useStatus(on: boolean): Status | undefined {
  const [s, setS] = useState<Status | undefined>(undefined);
  useEffect(() => {
    if (!on) return;
    const load = () => api<Status>('GET', '/api/status').then(setS, () => undefined);
    void load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [on]);
  return s;
}

/** Newest first, no duplicates, bounded (older pages the technician asked for raise the bound). */
function merge(cur: GatewayEvent[], add: GatewayEvent[], max = MAX_EVENTS): GatewayEvent[] {
  const seen = new Set(cur.map((e) => e.seq));
  const out = [...cur, ...add.filter((e) => !seen.has(e.seq))].sort((a, b) => b.seq - a.seq);
  return out.slice(0, Math.max(max, MAX_EVENTS));
}

render(<App />, document.getElementById('app')!);
