/**
 * The bounded stop behind SIGTERM. Every frontend is stopped at once: each
 * stops accepting new work at the same moment, finishes or fails what it has
 * in flight (MQTT lets in-flight events be acknowledged, flushes the outbox
 * and says "offline"), and one that hangs cannot eat the others' time. Then
 * the core stops its drivers, which close their readers with the cards
 * unpowered. The core always gets a reserved share of the bound, because
 * leaving a card powered is worse than cutting a frontend short. Whatever
 * overruns its share is named in the log and left behind: the caller exits.
 */
import type { Logger } from 'pino';
import { CARD_STATE } from '../pcsc/constants.js';
import type { Gateway } from './gateway.js';

export interface StopReport {
  /** Parts that had not finished when their share of the bound ran out. */
  hung: string[];
  /** Parts whose stop threw (logged). */
  failed: string[];
  /** Readers whose card was powered when the stop began (their driver unpowers them). */
  poweredCards: string[];
  /** Readers the core listed when the stop began. */
  readers: number;
}

export interface StopOptions {
  log: Logger;
  /** Whole stop, ms. */
  boundMs: number;
  /** Share of the bound kept for the core (drivers, cards), ms. */
  coreReserveMs?: number;
}

type Outcome = 'done' | 'failed' | 'hung';

async function within(part: string, work: () => Promise<void>, ms: number, log: Logger): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  const bound = new Promise<Outcome>((r) => (timer = setTimeout(() => r('hung'), Math.max(0, ms))));
  const run = (async (): Promise<Outcome> => {
    try {
      await work();
      return 'done';
    } catch (err) {
      log.error({ err, part }, `stopping ${part} failed`);
      return 'failed';
    }
  })();
  const how = await Promise.race([run, bound]);
  clearTimeout(timer);
  if (how === 'hung') log.error({ part, boundMs: Math.round(ms) }, `${part} did not stop within ${Math.round(ms)} ms; leaving it behind`);
  else log.debug({ part, ms: Math.round(performance.now() - started) }, `${part} stopped`);
  return how;
}

export async function stopGateway(gateway: Pick<Gateway, 'core' | 'services'>, opts: StopOptions): Promise<StopReport> {
  const { log } = opts;
  const deadline = performance.now() + opts.boundMs;
  const coreReserve = Math.min(opts.coreReserveMs ?? 1000, opts.boundMs / 2);
  const before = gateway.core.readers();
  const report: StopReport = {
    hung: [],
    failed: [],
    poweredCards: before.filter((r) => (r.state & CARD_STATE.POWERED) !== 0).map((r) => r.name),
    readers: before.length,
  };
  const note = (part: string, how: Outcome): void => {
    if (how === 'hung') report.hung.push(part);
    if (how === 'failed') report.failed.push(part);
  };

  const services = [...gateway.services];
  const outcomes = await Promise.all(services.map((s) => within(`service ${s.name}`, () => s.stop(), deadline - coreReserve - performance.now(), log)));
  outcomes.forEach((how, i) => note(`service ${services[i].name}`, how));
  // Only the ones that finished leave the list: a hung one may still be holding a socket, and diagnostics should say so.
  for (let i = services.length - 1; i >= 0; i--) {
    if (outcomes[i] !== 'hung') {
      const at = gateway.services.indexOf(services[i]);
      if (at >= 0) gateway.services.splice(at, 1);
    }
  }

  const coreHow = await within('core (readers and drivers)', () => gateway.core.stop(), deadline - performance.now(), log);
  note('core (readers and drivers)', coreHow);
  if (coreHow === 'done') log.info({ readers: report.readers, unpowered: report.poweredCards }, 'readers closed, cards unpowered');
  return report;
}
