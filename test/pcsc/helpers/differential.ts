/**
 * Runs one PC/SC call sequence against a daemon with vicc cards and records
 * every result line, so the same sequence can be compared between pcscd + vpcd
 * and scardgate + its vpcd driver.
 *
 * Steps: 'A <cmd>' runs a pcsc-calls command on client A (or B) and records its
 * result; 'A& <cmd>' only sends it; 'A<' records the result of the command
 * sent earlier; 'INSERT n' / 'REMOVE n' start / kill a vicc on slot n.
 */
import { CallsClient } from './clients.js';
import { startVicc, type Vicc } from '../../helpers/vicc.js';

export interface Daemonish {
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function runSequence(daemon: Daemonish, port: number, steps: string[]): Promise<string[]> {
  const clients = { A: new CallsClient(daemon.env), B: new CallsClient(daemon.env) };
  const cards = new Map<number, Vicc>();
  const out: string[] = [];
  try {
    for (const step of steps) {
      const [head, ...rest] = step.split(' ');
      if (head === 'INSERT') {
        const n = Number(rest[0] ?? 0);
        cards.set(n, startVicc({ port: port + n }));
        out.push(step);
      } else if (head === 'REMOVE') {
        const n = Number(rest[0] ?? 0);
        await cards.get(n)?.stop();
        cards.delete(n);
        out.push(step);
      } else {
        const c = clients[head[0] as 'A' | 'B'];
        if (!c) throw new Error(`bad step ${step}`);
        if (head.endsWith('&')) {
          c.send(rest.join(' '));
          // A line per step keeps results aligned with their steps.
          out.push(`${step} => sent`);
        }
        else if (head.endsWith('<')) out.push(`${step} => ${await c.next(30000, step)}`);
        else out.push(`${step} => ${await c.call(rest.join(' '), 30000)}`);
      }
    }
  } finally {
    await clients.A.kill();
    await clients.B.kill();
    for (const v of cards.values()) await v.stop();
  }
  return out;
}
