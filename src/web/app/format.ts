/** How the UI writes times and sizes: dates with the zone, so a screenshot sent to support is unambiguous. */

const zone = (() => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
  } catch {
    return 'local time';
  }
})();

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** 2026-12-02 21:43:05 UTC+01:00: date, seconds and the offset of the technician's clock. */
export function dateTime(iso: string | number | Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} UTC${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

/** The browser's zone name, for headings ("times in Europe/Paris"). */
export const zoneName = (): string => zone;

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

export const mb = (n: number): string => (n >= 10 * 1073741824 ? `${(n / 1073741824).toFixed(0)} GB` : n >= 1073741824 ? `${(n / 1073741824).toFixed(1)} GB` : `${(n / 1048576).toFixed(1)} MB`);

/** Hex bytes with a space between them (ATRs read aloud byte by byte); the API gives hex without spaces. */
export const spacedHex = (hex: string): string => hex.replace(/\s+/g, '').replace(/(..)(?=.)/g, '$1 ').toUpperCase();
