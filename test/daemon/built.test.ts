// The shipped forms of the daemon: the tsc output (dist/src/bin) and the
// esbuild bundle (dist/bundle), both built by `make build`. Each starts on the
// simulated readers with every frontend of the embedded default, answers
// scardctl (bundled too), and stops cleanly.
import t from 'tap';
import { join } from 'node:path';
import { REPO_ROOT, startDaemon } from '../helpers/daemon.js';
import { runNode, type Finished } from '../helpers/process.js';

const run = (bin: string, args: string[]): Promise<Finished> => runNode([join(REPO_ROOT, bin), ...args]);

for (const [name, opts, ctl] of [
  ['tsc output', { compiled: true }, 'dist/src/bin/scardctl.js'],
  ['esbuild bundle', { bundled: true }, 'dist/bundle/scardctl.js'],
] as const) {
  t.test(name, async (t) => {
    const d = await startDaemon({ ...opts, services: ['pcsc', 'mqtt', 'http'] });
    t.equal(d.ready.readers, 4);
    t.same(Object.keys(d.ready.listen).filter((k) => ['control', 'pcsc', 'mqtt', 'http'].includes(k)).sort(), ['control', 'http', 'mqtt', 'pcsc']);
    const r = await run(ctl, ['--socket', d.controlSocket, 'send', 'Contact Reader B', '00A4000C023F00']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /< 90 00 {2}\(9000 success\)/);
    const v = await run(ctl.replace('scardctl', 'scardgated'), ['--version']);
    t.match(v.stdout, /^scardgated \d+\.\d+\.\d+/);
    t.same(await d.stop(), { code: 0, signal: null });
  });
}
