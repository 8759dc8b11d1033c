/**
 * `scardctl pinpad`: keys on an emulated reader's PIN pad, for the prompt of a
 * program's secure PIN entry (VERIFY/MODIFY_PIN_DIRECT). The digits are read
 * from stdin with `-` (without echo on a terminal): an argument is visible to
 * every user of the machine in `ps` while scardctl runs.
 */
import { UsageError, expectArgs, type Command } from './command.js';
import { readSecretLine } from './passwd.js';
import { PIN_PATTERN } from '../../gateway/vocabulary.js';

const DIGITS = new RegExp(PIN_PATTERN);

export const pinpad: Command = {
  name: 'pinpad',
  usage: '<reader> -|<digits>|--cancel',
  summary: "type on an emulated PIN pad: the PIN from stdin with '-' (an argument shows in ps), or Cancel",
  async run(io) {
    expectArgs(this, io.args, 2);
    const [reader, what] = io.args;
    let params: Record<string, unknown>;
    if (what === '--cancel') params = { reader, cancel: true };
    else {
      const pin = what === '-' ? (await readSecretLine('PIN: ', io.stdin, undefined, 'pinpad')).trim() : what;
      // The message never quotes what was typed: it is a PIN.
      if (!DIGITS.test(pin)) throw new UsageError(`pinpad: the PIN must be 1 to 16 digits 0-9 (usage: scardctl pinpad ${this.usage})`);
      params = { reader, pin };
    }
    const res = await (await io.client()).request<{ reader: string; entered: string }>('simulate/pinpad', params);
    io.out(io.json ? JSON.stringify(res) : res.entered === 'cancel' ? `Cancel pressed on ${res.reader}` : `PIN typed on ${res.reader}`);
    return 0;
  },
};
