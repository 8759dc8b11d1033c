/** The technician's single page: login, then readers, health, events, APDU console, setup, config, account, diagnostics and logs. */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, onSessionExpired, setCsrf, type GatewayEvent, type Reader } from './api.js';
import { connectLive, type LiveChannel, type LiveMessage, type LiveStatus } from './live.js';
import { bindAnnouncers } from './announce.js';
import { clearHistory } from './history.js';
import { Login } from './views/login.js';
import { Readers } from './views/readers.js';
import { Health } from './views/health.js';
import { Events } from './views/events.js';
import { Console } from './views/console.js';
import { Setup } from './views/setup.js';
import { ConfigEditor } from './views/config.js';
import { Account } from './views/account.js';
import { Diagnostics } from './views/diagnostics.js';
import { Logs } from './views/logs.js';

const TABS = [
  ['readers', 'Readers'],
  ['health', 'Health'],
  ['events', 'Events'],
  ['console', 'APDU'],
  ['setup', 'Add reader'],
  ['config', 'Config'],
  ['account', 'Account'],
  ['diagnostics', 'Diagnostics'],
  ['logs', 'Logs'],
] as const;
type Tab = (typeof TABS)[number][0];

const MAX_EVENTS = 2000;

function tabFromHash(): Tab {
  const h = location.hash.replace(/^#\/?/, '').split('?')[0];
  return (TABS.find(([t]) => t === h)?.[0] ?? 'readers') as Tab;
}

export interface ReaderFault {
  message: string;
  at: string;
}

function App() {
  const [auth, setAuth] = useState<'checking' | 'out' | 'in'>('checking');
  const [expired, setExpired] = useState<'' | 'expired' | 'restarted' | 'password'>('');
  const [tab, setTab] = useState<Tab>(tabFromHash());
  const [menuOpen, setMenuOpen] = useState(false);
  const [readers, setReaders] = useState<Reader[] | undefined>(undefined);
  const [events, setEvents] = useState<GatewayEvent[]>([]);
  const [journal, setJournal] = useState(true);
  const [live, setLive] = useState<LiveStatus>('connecting');
  const [restarting, setRestarting] = useState(false);
  const [consoleReader, setConsoleReader] = useState<string>('');
  const channel = useRef<LiveChannel | undefined>(undefined);
  const logListener = useRef<((line: string) => void) | undefined>(undefined);
  const [readerErrors, setReaderErrors] = useState<Record<string, ReaderFault>>({});
  const [polite, setPolite] = useState('');
  const [assertive, setAssertive] = useState('');

  useEffect(() => {
    // Re-setting the same text would not be read again: clear first, then set on the next frame.
    const say = (set: (s: string) => void) => (text: string) => {
      set('');
      requestAnimationFrame(() => set(text));
    };
    bindAnnouncers(say(setPolite), say(setAssertive));
    onSessionExpired(() => {
      setAuth((a) => {
        if (a === 'in') setExpired('expired');
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
    const onHash = () => {
      setTab(tabFromHash());
      setMenuOpen(false);
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    if (auth !== 'in') return;
    api<{ events: GatewayEvent[] }>('GET', '/api/events/recent?limit=500').then(
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
        // Only when nothing else ended the session first (a sign-out from this page says why itself).
        setAuth((a) => {
          if (a === 'in') setExpired('expired');
          return 'out';
        });
      },
    );
    channel.current = ch;
    return () => {
      channel.current = undefined;
      ch.close();
    };
  }, [auth]);

  const status = useStatus(auth === 'in' && !restarting);

  const signedOut = (why: '' | 'expired' | 'restarted' | 'password') => {
    // The APDU history may name what was sent to a card: it does not outlive the session in this browser.
    clearHistory();
    setExpired(why);
    setAuth('out');
    setReaders(undefined);
    setEvents([]);
  };

  /** After the gateway was asked to restart: wait until it answers again, then show what it says. */
  const awaitRestart = async () => {
    setRestarting(true);
    channel.current?.close();
    const until = Date.now() + 120_000;
    // The old process answers for a moment: wait for it to go away first (or the new one to appear).
    let sawDown = false;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      let code: number;
      try {
        code = (await fetch('/api/auth/session', { credentials: 'same-origin', cache: 'no-store' })).status;
      } catch {
        sawDown = true;
        continue;
      }
      if (code === 401 || (sawDown && code === 200)) {
        setRestarting(false);
        if (code === 401) signedOut('restarted');
        else {
          // Same session still valid: reopen the live channel.
          setAuth('checking');
          setTimeout(() => setAuth('in'), 0);
        }
        return;
      }
    }
    setRestarting(false);
  };

  if (auth === 'checking') return <p class="muted pad">Loading…</p>;
  if (auth === 'out')
    return (
      <>
        <Login
          expired={expired}
          onIn={(csrf) => {
            setCsrf(csrf);
            setExpired('');
            setAuth('in');
          }}
        />
        <Announcers polite={polite} assertive={assertive} />
      </>
    );

  const logout = async () => {
    await api('POST', '/api/auth/logout').catch(() => undefined);
    signedOut('');
  };

  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header>
        <a class="brand" href="#/readers">scardgate</a>
        <button class="menu" aria-expanded={menuOpen} aria-controls="nav" id="menu" onClick={() => setMenuOpen(!menuOpen)}>
          Menu<span class="sr-only">: {TABS.find(([t]) => t === tab)?.[1]}</span>
        </button>
        <nav id="nav" aria-label="Views" class={menuOpen ? 'open' : ''}>
          <ul>
            {TABS.map(([t, label]) => (
              <li>
                <a href={`#/${t}`} aria-current={t === tab ? 'page' : undefined} id={`tab-${t}`}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class={`live ${live}`} id="live-status" role="status">
          {restarting ? 'restarting…' : live === 'open' ? 'live' : live === 'connecting' ? 'connecting…' : 'offline'}
        </span>
        <button class="link" id="logout" onClick={logout}>
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {restarting && (
          <p class="banner warn" id="restarting">
            The gateway is restarting. This page reconnects by itself when it is back.
          </p>
        )}
        {status?.mqtt && !status.mqtt.connected && (
          <p class="banner error" id="broker-down">
            MQTT broker {status.mqtt.running ? 'unreachable' : 'service not running'} ({status.mqtt.url})
            {status.mqtt.outboxDepth ? `: ${status.mqtt.outboxDepth} events waiting in the outbox` : ''}. Card events are kept and sent when it is back.
          </p>
        )}
        {live === 'closed' && !restarting && <p class="banner warn">Gateway connection lost: reconnecting…</p>}
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
        {tab === 'health' && <Health readers={readers ?? []} events={events} faults={readerErrors} />}
        {tab === 'events' && <Events events={events} journal={journal} onOlder={(evs) => setEvents((cur) => merge(cur, evs, cur.length + evs.length))} />}
        {tab === 'console' && <Console readers={readers ?? []} initialReader={consoleReader} />}
        {tab === 'setup' && <Setup readers={readers ?? []} events={events} onRestart={awaitRestart} />}
        {tab === 'config' && <ConfigEditor onRestart={awaitRestart} />}
        {tab === 'account' && <Account onSignedOut={() => signedOut('password')} />}
        {tab === 'diagnostics' && <Diagnostics />}
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
      <Announcers polite={polite} assertive={assertive} />
    </>
  );
}

function Announcers({ polite, assertive }: { polite: string; assertive: string }) {
  return (
    <>
      <div class="sr-only" role="status" aria-live="polite" id="announce">
        {polite}
      </div>
      <div class="sr-only" role="alert" aria-live="assertive" id="announce-error">
        {assertive}
      </div>
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
  const fresh = add.filter((e) => !seen.has(e.seq));
  if (fresh.length === 0) return cur;
  // The common case, one new event newer than all: no sort.
  if (fresh.length === 1 && (cur.length === 0 || fresh[0].seq > cur[0].seq)) return [fresh[0], ...cur].slice(0, Math.max(max, MAX_EVENTS));
  const out = [...cur, ...fresh].sort((a, b) => b.seq - a.seq);
  return out.slice(0, Math.max(max, MAX_EVENTS));
}

render(<App />, document.getElementById('app')!);
