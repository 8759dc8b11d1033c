/**
 * The one bounded wait for tests: a test synchronises on a condition becoming true (or an event firing),
 * never on a sleep, and a wait that gives up says what it was waiting for.
 *
 * `waitFor(condition, what, ms)` re-checks `condition` (sync or async) every `intervalMs` until it returns a
 * truthy value, which it resolves with; after `ms` it rejects with `timed out after <ms> ms waiting for
 * <what>` (plus the last error the condition threw, if any). The pause between checks lives here, in one
 * place: the eslint rule on test/** forbids `await new Promise((r) => setTimeout(r, N))` everywhere else.
 */
/** Anything with on/off: node's EventEmitter, mqtt.js clients, sockets. */
export interface Emitter {
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

export class WaitTimeout extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
    cause?: unknown,
  ) {
    super(`timed out after ${ms} ms waiting for ${what}${cause instanceof Error ? ` (last check threw: ${cause.message})` : ''}`);
    this.name = 'WaitTimeout';
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor<T>(
  condition: () => T | Promise<T>,
  what: string,
  ms = 10000,
  intervalMs = 10,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await condition();
      if (v) return v as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new WaitTimeout(what, ms, lastError);
    await pause(Math.min(intervalMs, left));
  }
}

/**
 * The next `event` from `emitter` whose arguments satisfy `pred` (default: any), resolved with its first
 * argument; rejects naming `what` after `ms`. Register it before the action that causes the event.
 */
export function waitForEvent<T = unknown>(
  emitter: Emitter,
  event: string,
  what: string,
  ms = 10000,
  pred: (...args: any[]) => boolean = () => true,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onEvent = (...args: any[]): void => {
      if (!pred(...args)) return;
      clearTimeout(timer);
      emitter.off(event, onEvent);
      resolve(args[0] as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new WaitTimeout(what, ms));
    }, ms);
    emitter.on(event, onEvent);
  });
}
