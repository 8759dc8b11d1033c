/**
 * The one-line summary systemd shows in `systemctl status` (STATUS=): readers,
 * cards present, MQTT connection, clients. Built from the core and the
 * services' own diagnostics, so it never disagrees with them.
 */
import { CARD_STATE } from '../pcsc/constants.js';
import type { Gateway } from './gateway.js';

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export function statusLine(gateway: Pick<Gateway, 'core' | 'services'>): string {
  const readers = gateway.core.readers();
  const cards = readers.filter((r) => (r.state & CARD_STATE.PRESENT) !== 0).length;
  const unavailable = readers.filter((r) => !r.available).length;
  const parts = [`${plural(readers.length, 'reader')}${unavailable ? ` (${unavailable} unavailable)` : ''}, ${plural(cards, 'card')}`];

  const diag = new Map<string, Record<string, unknown>>();
  for (const s of gateway.services) {
    try {
      diag.set(s.name, s.diagnostics?.() ?? {});
    } catch {
      diag.set(s.name, {});
    }
  }
  const mqtt = diag.get('mqtt');
  parts.push(mqtt ? `MQTT ${mqtt.connected ? 'connected' : 'disconnected'}` : 'MQTT off');

  const clients: string[] = [];
  const pcsc = diag.get('pcsc');
  if (pcsc) clients.push(plural(num(pcsc.connections), 'PC/SC client'));
  const control = diag.get('control');
  if (control) clients.push(plural(num(control.clients), 'control client'));
  const http = diag.get('http');
  if (http) clients.push(plural(num(http.technicianSessions), 'web session'));
  if (clients.length) parts.push(clients.join(', '));
  return parts.join('; ');
}
