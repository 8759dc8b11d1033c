/** The daemon as shipped serves the pcsc socket: config keys, environment override, socket mode. */
import t from 'tap';
import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startDaemon } from '../helpers/daemon.js';
import { requireTool } from './helpers/clients.js';

const run = promisify(execFile);

t.test('scardgated serves opensc-tool on the configured socket', async (t) => {
  requireTool('/usr/bin/opensc-tool', 'opensc');
  const d = await startDaemon({
    services: ['pcsc'],
    config: { drivers: { sim: { readers: [{ name: 'Daemon Sim', card: { type: 'iso7816' } }] } } },
  });
  t.teardown(() => d.stop());
  const socket = d.ready.listen.pcsc;
  t.ok(socket, 'ready line names the pcsc socket');
  t.equal(lstatSync(socket).mode & 0o777, 0o660, 'default mode 0660');
  const { stdout } = await run('opensc-tool', ['-l'], { env: { ...process.env, PCSCLITE_CSOCK_NAME: socket }, timeout: 20000 });
  t.match(stdout, /Yes\s+Daemon Sim 00 00/);
});

t.test('SCARDGATE_PCSC_SOCKET and SCARDGATE_PCSC_MODE override the config', async (t) => {
  requireTool('/usr/bin/opensc-tool', 'opensc');
  const dir = mkdtempSync(join(tmpdir(), 'pcsc-env-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'env.comm');
  const d = await startDaemon({
    services: ['pcsc'],
    config: { drivers: { sim: { readers: [{ name: 'Env Sim' }] } } },
    env: { SCARDGATE_PCSC_SOCKET: path, SCARDGATE_PCSC_MODE: '0600' },
  });
  t.teardown(() => d.stop());
  t.equal(d.ready.listen.pcsc, path);
  t.equal(lstatSync(path).mode & 0o777, 0o600);
  const { stdout } = await run('opensc-tool', ['-l'], { env: { ...process.env, PCSCLITE_CSOCK_NAME: path }, timeout: 20000 });
  t.match(stdout, /No\s+Env Sim 00 00/);
});
