/**
 * `scardctl passwd`: set the web UI's technician password. Works on the state
 * directory directly (scrypt hash, mode 0600), so it also rescues a gateway
 * whose password nobody knows. The daemon reads the file at each login.
 */
import { checkPasswordStrength, generatePassword, setPassword } from '../../api/http/auth/password.js';
import { UsageError, type Command } from './command.js';
import { stateDirFromArgs } from './passwd-state.js';

/** Reads one line without echo on a terminal, or the first line of piped stdin. */
export async function readSecretLine(prompt: string, stdin: NodeJS.ReadStream = process.stdin, stderr: NodeJS.WritableStream = process.stderr, command = 'passwd'): Promise<string> {
  const tty = stdin.isTTY === true;
  if (tty) stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (tty) {
        stdin.setRawMode(false);
        stderr.write('\n');
      }
      stdin.pause();
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\n' || ch === '\r') return finish();
        if (ch === '\u0003') return finish(new UsageError(`${command}: cancelled`));
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    const onEnd = (): void => finish();
    if (tty) stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}

export const passwd: Command = {
  name: 'passwd',
  usage: '[--generate] [--state-dir DIR | --config FILE]',
  summary: 'set the web UI password (asked twice, or one line on stdin; --generate prints a random one)',
  async run(io) {
    const { stateDir, rest } = stateDirFromArgs('passwd', io.args);
    const generate = rest.includes('--generate');
    const extra = rest.filter((a) => a !== '--generate');
    if (extra.length > 0) throw new UsageError(`passwd: unexpected argument ${JSON.stringify(extra[0])} (usage: scardctl passwd ${this.usage})`);
    let password: string;
    if (generate) {
      password = generatePassword();
    } else {
      password = await readSecretLine('New web UI password: ');
      const problem = checkPasswordStrength(password);
      if (problem) throw new UsageError(`passwd: ${problem}`);
      if (process.stdin.isTTY) {
        const again = await readSecretLine('Again: ');
        if (again !== password) throw new UsageError('passwd: the two passwords differ; nothing changed');
      }
    }
    await setPassword(stateDir, password);
    if (io.json) io.out(JSON.stringify(generate ? { stateDir, password } : { stateDir }));
    else io.out(generate ? `new web UI password: ${password}` : `web UI password changed (${stateDir})`);
    return 0;
  },
};

export { token } from './passwd-token.js';
