/**
 * config/appliance.yaml, the file `make install` puts in /etc/scardgate:
 * valid for --check-config, appliance paths, no simulated readers, and the
 * daemon really comes up on it (paths moved into a temp dir by SCARDGATE_*
 * variables, as a technician's systemd drop-in would).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { REPO_ROOT, runDaemonCommand, startDaemon } from '../helpers/daemon.js';

const APPLIANCE = join(REPO_ROOT, 'config/appliance.yaml');

t.test('scardgated --check-config config/appliance.yaml says ok', async (t) => {
  const r = await runDaemonCommand(['--check-config', APPLIANCE]);
  t.equal(r.stderr, '', 'no warning');
  t.equal(r.stdout, 'ok\n');
  t.equal(r.code, 0);
});

t.test('appliance settings: state and sockets where the unit expects them, no simulated readers', async (t) => {
  const { config } = loadConfig(APPLIANCE, { env: {}, hostname: 'gw' });
  t.equal(config.state.dir, '/var/lib/scardgate', 'StateDirectory=scardgate');
  t.equal(config.control.socket, '/run/scardgate/scardgate.ctl', 'RuntimeDirectory=scardgate');
  t.equal(config.pcsc.socket, '/run/scardgate/pcscd.comm');
  t.same(config.drivers.sim.readers, [], 'no simulated readers');
  t.same(config.drivers.pn532.readers, [], 'PN532 modules only as a commented example');
  t.equal(config.mqtt.url, 'embedded', 'the built-in broker until a fleet broker is set');
  t.equal(config.http.host, '0.0.0.0', 'the technician reaches the web UI from the gateway network (authenticated)');
  t.equal(config.gatewayId, 'gw', 'gateway id from the host name');
});

t.test('the daemon starts on the appliance file and stops cleanly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-appliance-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const d = await startDaemon({
    args: ['--config', APPLIANCE],
    env: {
      SCARDGATE_STATE_DIR: join(dir, 'state'),
      SCARDGATE_CONTROL_SOCKET: join(dir, 'ctl.sock'),
      SCARDGATE_PCSC_SOCKET: join(dir, 'pcscd.comm'),
      SCARDGATE_HTTP_PORT: '0',
      SCARDGATE_MQTT_EMBEDDED_PORT: '0',
    },
  });
  t.equal(d.ready.readers, 0, 'no readers until hardware is configured');
  t.equal(d.ready.listen.control, join(dir, 'ctl.sock'));
  t.equal(d.ready.listen.pcsc, join(dir, 'pcscd.comm'));
  const exit = await d.stop();
  t.same(exit, { code: 0, signal: null });
});
