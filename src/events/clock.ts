/**
 * Is the wall clock trustworthy yet? A board without a real-time clock (a
 * Raspberry Pi) starts at its last saved time or at 1970, and jumps (years,
 * either way) when NTP synchronises. Events recorded before that carry
 * `timeUnsynced: true`: their `time` may be wrong, their `seq` is not
 * (docs/clock.md).
 *
 * Signals, first that answers:
 *  1. A wall clock before this release was made cannot be right: not synchronised.
 *  2. systemd-timesyncd creates /run/systemd/timesync/synchronized once it
 *     has synchronised the clock (systemd-timesyncd.service(8)): synchronised
 *     (and the file is not looked at again).
 *  3. systemd-timesyncd runs (/run/systemd/timesync exists) but has not
 *     synchronised yet: not synchronised.
 *  4. Otherwise (chrony, ntpd, an RTC, a container): trusted.
 */
import { existsSync } from 'node:fs';

/** Midnight UTC on the first day of the year this release was made; raise it with each release. */
export const CLOCK_FLOOR_MS = Date.UTC(2026, 0, 1);

export interface ClockProbe {
  /** Whether the wall clock can be trusted now. */
  synced(): boolean;
}

export interface ClockProbeOptions {
  /** Directory of systemd-timesyncd's state (tests point it elsewhere). */
  timesyncDir?: string;
  floorMs?: number;
  /** Re-check the file at most this often. */
  recheckMs?: number;
}

export function clockProbe(o: ClockProbeOptions = {}): ClockProbe {
  const dir = o.timesyncDir ?? '/run/systemd/timesync';
  const floor = o.floorMs ?? CLOCK_FLOOR_MS;
  const recheck = o.recheckMs ?? 1000;
  let known = false;
  let checkedAt = -Infinity;
  let last = false;
  return {
    synced(): boolean {
      if (Date.now() < floor) return false;
      if (known) return true;
      // Monotonic: a clock jump must not stop (or hurry) the re-check.
      const now = performance.now();
      if (now - checkedAt < recheck) return last;
      checkedAt = now;
      if (existsSync(`${dir}/synchronized`)) {
        known = true;
        return (last = true);
      }
      return (last = !existsSync(dir));
    },
  };
}
