/** Answer shapes of the operations that are not readers or exchanges (readers.ts, apdu.ts). */
import type { GatewayEvent } from '../events/types.js';
import type { Exchange } from './apdu.js';
import type { ErrorBody } from './errors.js';
import type { Scope } from './catalog.js';
import type { ProtocolName, DispositionWord } from './vocabulary.js';
import type { Reader } from './readers.js';

export interface Caller {
  /** Whose sessions these are: a session opened by one owner is "no such session" to another. */
  owner: string;
  /** Scopes the caller holds; undefined = local administration (the control socket), everything allowed. */
  scopes?: readonly Scope[];
  /** For the audit line of changes (config, tokens): who asked. */
  label?: string;
}

export interface ReadersAnswer {
  readers: Reader[];
  /** Card models the simulated readers accept (for the UI's insert menu). */
  cardModels: string[];
}

export interface TransmitAnswer {
  reader: string;
  protocol: ProtocolName | null;
  atr: string;
  responses: Exchange[];
}

export interface SessionOpened {
  session: string;
  reader: string;
  protocol: ProtocolName | null;
  atr: string;
  leaseMs: number;
  expiresAt: string;
}

export interface SessionExchanged {
  session: string;
  responses: Exchange[];
  expiresAt: string;
}

export interface SessionClosed {
  session: string;
  disposition: DispositionWord;
}

export interface ControlAnswer {
  reader: string;
  response: string;
}

export interface EventsAnswer {
  events: GatewayEvent[];
  lastSeq: number;
  /** More events follow the last one returned. */
  more: boolean;
}

export interface GatewayInfo {
  gatewayId: string;
  version: string;
  startedAt: string;
  uptimeS: number;
  readers: number;
  /** The event outbox (null while the events service is not running). */
  outbox: { depth: number; lastSeq: number; ackSeq: number; dropped: number; refused: number; diskBytes: number; policy: string } | null;
  /** Contributions of running frontends (e.g. broker: the MQTT connection). */
  [part: string]: unknown;
  time: string;
}

/** An API token as listed: never its text, only a hash of it is stored. */
export interface Token {
  id: string;
  name: string;
  created: string;
  scopes: Scope[];
}

export interface TokenCreated extends Token {
  /** The token text, shown this once. */
  token: string;
}

/** Where tokens live (the HTTP frontend's token file today); injected so the gateway reads no frontend's files. */
export interface TokenStore {
  list(): Promise<Token[]>;
  create(name: string, scopes: Scope[]): Promise<TokenCreated>;
  /** False when there was no such token. */
  revoke(nameOrId: string): Promise<boolean>;
}

export interface ConfigView {
  /** The YAML file (null: the embedded default runs). */
  file: string | null;
  editable: boolean;
  /** The file's text with every secret masked. */
  yaml: string;
  /** The running configuration, secrets masked. */
  effective: unknown;
  keys: Array<{ path: string; type: string; default?: unknown; description: string }>;
}

export interface ConfigCheck {
  valid: boolean;
  problems: string[];
  /** Parts the change touches: top-level sections, "drivers.<name>". */
  changed: string[];
  /** Keys whose file value is shadowed by an environment variable (the value in effect is the variable's). */
  shadowed: Array<{ key: string; env: string }>;
  /** Parts that take the change only when the daemon restarts. */
  restartNeeded: string[];
}

export interface ConfigApplied extends ConfigCheck {
  saved: boolean;
  restarted: string[];
  failed: Array<{ part: string; error: string }>;
}

/** What the config store offers the operations (src/gateway/config-store.ts). */
export interface ConfigOps {
  view(): Promise<ConfigView>;
  validate(yaml: string): Promise<ConfigCheck>;
  apply(yaml: string, by: string): Promise<ConfigApplied>;
}

export type { ErrorBody, Exchange, Reader };
