import { useId, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { announce, announceError } from '../announce.js';
import { dateTime } from '../format.js';

type Keys = { pin: string } | { cancel: true };

/**
 * Keys for a reader's emulated PIN pad (capability pinpad; simulate/pinpad, README "PIN pad"):
 * the digits then OK, or Cancel, taken by the prompt of a program waiting in secure PIN entry.
 * The PIN is a secret: it is read from the input (never kept in component state), the input is
 * emptied before the request leaves, and no note, announcement or storage ever holds it.
 * The gateway waits its default 10 s for a prompt, time enough to press before the program asks.
 */
export function PinPad({ reader }: { reader: string }) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ text: string; error?: boolean } | undefined>(undefined);

  const press = async (keys: Keys): Promise<void> => {
    setBusy(true);
    setNote({ text: 'Waiting for the PIN prompt on the reader…' });
    try {
      await api('POST', `/api/readers/${encodeURIComponent(reader)}/simulate/pinpad`, keys);
      const text = 'cancel' in keys ? `Cancel pressed on ${reader}` : `PIN entered on ${reader}`;
      setNote({ text: `${text} at ${dateTime(new Date())}` });
      announce(text);
    } catch (e) {
      const text = (e as Error).message;
      setNote({ text, error: true });
      announceError(text);
    } finally {
      setBusy(false);
      // The pressed button was disabled while waiting, which drops the focus: give it back to the pad.
      if (document.activeElement === document.body) input.current?.focus();
    }
  };

  const enter = (e: Event): void => {
    e.preventDefault();
    const el = input.current;
    if (!el || busy) return;
    const pin = el.value;
    el.value = '';
    void press({ pin });
  };

  return (
    <form class="pinpad" onSubmit={enter}>
      <fieldset>
        <legend>PIN pad</legend>
        <p class="small muted" id={`${id}-hint`}>
          Keys go to the PIN prompt the reader shows: a program must be waiting in secure PIN entry. Keys pressed with no prompt within 10&nbsp;s are not kept.
        </p>
        <label for={`${id}-pin`}>PIN</label>
        <div class="actions">
          <input
            ref={input}
            id={`${id}-pin`}
            class="pin"
            type="password"
            inputMode="numeric"
            autoComplete="off"
            pattern="[0-9]{1,16}"
            minLength={1}
            maxLength={16}
            required
            title="1 to 16 digits"
            aria-describedby={`${id}-hint`}
          />
          <button type="submit" class="pin-enter" disabled={busy}>
            Enter PIN
          </button>
          <button type="button" class="secondary pin-cancel" disabled={busy} onClick={() => void press({ cancel: true })}>
            Cancel
          </button>
        </div>
        {note && <p class={`small pinpad-note${note.error ? ' error' : ''}`}>{note.text}</p>}
      </fieldset>
    </form>
  );
}
