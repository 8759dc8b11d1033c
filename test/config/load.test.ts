import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, resolveConfig, topicSafeHostname } from '../../src/config/load.js';
import { walkKeys, envName } from '../../src/config/keys.js';

const noEnv = { env: {} };

function problems(content: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    resolveConfig(content, 'test', { env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function tmpFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-config-'));
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

t.test('the embedded default is valid and declares 4 simulated readers', async (t) => {
  const { config, gatewayId } = loadConfig(undefined, { env: {}, hostname: 'pi-01' });
  t.equal(gatewayId, 'pi-01');
  t.equal(config.gatewayId, 'pi-01');
  t.equal(config.drivers.sim.readers.length, 4);
  const cards = config.drivers.sim.readers.map((r) => (r.card as { type?: string } | undefined)?.type);
  t.same(cards, ['iso7816-t0', 'iso7816', 'mifare-classic-1k', undefined]);
  t.equal(config.mqtt.url, 'embedded');
  t.equal(config.http.enabled, true);
  t.match(config.pcsc.socket, /^\.\/var\/run\//);
});

t.test('an empty file gets every default', async (t) => {
  const { config } = loadConfig(tmpFile('empty.yaml', ''), noEnv);
  t.equal(config.log.level, 'info');
  t.equal(config.http.port, 8080);
  t.equal(config.drivers.vpcd.port, 35963);
  t.same(config.drivers.sim.readers, []);
});

t.test('gatewayId defaults to the topic-safe host name', async (t) => {
  t.equal(topicSafeHostname('my host/1+#'), 'my-host-1--');
  t.equal(topicSafeHostname(''), 'scardgate');
  t.equal(topicSafeHostname('x'.repeat(80)).length, 64);
  t.equal(resolveConfig({}, 't', { env: {}, hostname: 'a b' }).gatewayId, 'a-b');
  t.equal(resolveConfig({ gatewayId: 'door-7' }, 't', { env: {}, hostname: 'a b' }).gatewayId, 'door-7');
});

t.test('an unknown key is refused, naming it and the allowed keys', async (t) => {
  t.same(problems({ log: { lvl: 'x' } }), ['log.lvl: unknown key (expected one of: level)']);
  t.match(problems({ mqtt: { baseTopik: 'x' } }), [/^mqtt\.baseTopik: unknown key \(expected one of: enabled, url, baseTopic/]);
  const top = problems({ mqqt: {} });
  t.equal(top.length, 1);
  t.match(top[0], /^mqqt: unknown key \(expected one of: gatewayId, log, .*mqtt/);
});

t.test('a wrong type names the key path, what was given and what was expected', async (t) => {
  t.same(problems({ http: { port: '80' } }), ['http.port: wrong type: string "80" (expected integer 0..65535)']);
  t.same(problems({ pcsc: { enabled: 'yes' } }), ['pcsc.enabled: wrong type: string "yes" (expected boolean)']);
  t.same(problems({ mqtt: 5 }), ['mqtt: wrong type: number 5 (expected object)']);
  t.same(problems({ http: [1, 2] }), ['http: wrong type: list (expected a mapping of keys)']);
  t.same(problems([1]), ['(top level): wrong type: list (expected a mapping of keys)']);
});

t.test('impossible values: range, enum, pattern, length, missing', async (t) => {
  t.same(problems({ http: { port: 70000 } }), ['http.port: 70000 is out of range (expected integer 0..65535)']);
  t.same(problems({ core: { transmitTimeoutMs: 5 } }), ['core.transmitTimeoutMs: 5 is out of range (expected integer 100..600000)']);
  t.same(problems({ log: { level: 'loud' } }), ['log.level: "loud" is not allowed (expected one of: fatal, error, warn, info, debug, trace, silent)']);
  t.match(problems({ gatewayId: 'a/b' }), [/^gatewayId: "a\/b" does not match the pattern/]);
  t.same(problems({ state: { dir: '' } }), ['state.dir: "" is too short (expected string (at least 1 char))']);
  t.same(problems({ drivers: { sim: { readers: [{ card: { type: 'iso7816' } }] } } }), [
    'drivers.sim.readers[0].name: missing (expected string (1..100 chars))',
  ]);
  t.same(problems({ drivers: { sim: { readers: [{ name: 'A', colour: 'red' }] } } }), [
    'drivers.sim.readers[0].colour: unknown key (expected one of: name, card)',
  ]);
});

t.test('the same socket for pcsc and control is refused', async (t) => {
  t.same(problems({ pcsc: { socket: '/tmp/x.sock' }, control: { socket: '/tmp/x.sock' } }), [
    'control.socket: same path as pcsc.socket (/tmp/x.sock) (expected a different socket path)',
  ]);
});

t.test('several problems are listed at once', async (t) => {
  const p = problems({ http: { port: -1, host: 7 }, log: { level: 'x' }, foo: 1 });
  t.equal(p.length, 4, p.join('\n'));
  t.ok(p.some((l) => l.startsWith('http.port:')));
  t.ok(p.some((l) => l.startsWith('http.host:')));
  t.ok(p.some((l) => l.startsWith('log.level:')));
  t.ok(p.some((l) => l.startsWith('foo: unknown key')));
  const err = (() => {
    try {
      resolveConfig({ http: { port: -1 }, foo: 1 }, '/etc/x.yaml', noEnv);
    } catch (e) {
      return e as Error;
    }
  })();
  t.match(err?.message, /^invalid configuration \(\/etc\/x\.yaml\):\n {2}- /);
});

t.test('YAML syntax errors and unreadable files', async (t) => {
  const bad = tmpFile('bad.yaml', 'log:\n  level: info\n http: [\n');
  t.throws(() => loadConfig(bad, noEnv), ConfigError);
  try {
    loadConfig(bad, noEnv);
  } catch (err) {
    t.match((err as ConfigError).problems[0], /^line \d+, column \d+: .*\(expected valid YAML\)$/);
  }
  const dup = tmpFile('dup.yaml', 'log:\n  level: info\nlog:\n  level: debug\n');
  t.throws(() => loadConfig(dup, noEnv), { name: 'ConfigError', message: /line 3/ });
  t.throws(() => loadConfig('/nonexistent/scardgate.yaml', noEnv), {
    name: 'ConfigError',
    message: /\/nonexistent\/scardgate\.yaml: file not found/,
  });
  const scalar = tmpFile('scalar.yaml', 'just text\n');
  t.same((() => { try { loadConfig(scalar, noEnv); } catch (e) { return (e as ConfigError).problems; } })(), [
    '(top level): wrong type: string (expected a mapping of keys)',
  ]);
});

t.test('environment overrides, parsed to the key type', async (t) => {
  const { config, envOverrides } = resolveConfig({ http: { port: 1 } }, 't', {
    env: {
      SCARDGATE_HTTP_PORT: '8081',
      SCARDGATE_PCSC_ENABLED: 'false',
      SCARDGATE_MQTT_BASE_TOPIC: 'site/a',
      SCARDGATE_LOG_LEVEL: 'debug',
      SCARDGATE_DRIVERS_VPCD_PORT: '40000',
      SCARDGATE_DRIVERS_SIM_READERS: '[{"name":"R1","card":{"type":"iso7816"}}]',
      SCARDGATE_GATEWAY_ID: 'gw-9',
      HOME: '/root',
    },
  });
  t.equal(config.http.port, 8081, 'env wins over the file');
  t.equal(config.pcsc.enabled, false);
  t.equal(config.mqtt.baseTopic, 'site/a');
  t.equal(config.log.level, 'debug');
  t.equal(config.drivers.vpcd.port, 40000);
  t.same(config.drivers.sim.readers, [{ name: 'R1', card: { type: 'iso7816' } }]);
  t.equal(config.gatewayId, 'gw-9');
  t.equal(envOverrides['http.port'], 'SCARDGATE_HTTP_PORT');
  for (const [v, want] of [['1', true], ['yes', true], ['ON', true], ['0', false], ['no', false], ['off', false]] as const) {
    t.equal(resolveConfig({}, 't', { env: { SCARDGATE_HTTP_ENABLED: v } }).config.http.enabled, want, v);
  }
});

t.test('a bad environment value is an error naming the variable', async (t) => {
  t.same(problems({}, { SCARDGATE_HTTP_PORT: 'eighty' }), [
    'SCARDGATE_HTTP_PORT="eighty": not an integer (expected integer 0..65535, for http.port)',
  ]);
  t.same(problems({}, { SCARDGATE_HTTP_PORT: '8.5' }), [
    'SCARDGATE_HTTP_PORT="8.5": not an integer (expected integer 0..65535, for http.port)',
  ]);
  t.match(problems({}, { SCARDGATE_PCSC_ENABLED: 'maybe' }), [/^SCARDGATE_PCSC_ENABLED="maybe": not a boolean/]);
  t.match(problems({}, { SCARDGATE_LOG_LEVEL: 'loud' }), [/^SCARDGATE_LOG_LEVEL="loud": not an allowed value \(expected one of: fatal/]);
  t.match(problems({}, { SCARDGATE_DRIVERS_SIM_READERS: '[{"name":' }), [/^SCARDGATE_DRIVERS_SIM_READERS="\[\{\\"name\\":": not valid JSON/]);
  // Parsed fine but impossible: the key path and the variable are both named.
  t.same(problems({}, { SCARDGATE_HTTP_PORT: '99999' }), [
    'http.port: 99999 is out of range (expected integer 0..65535) (set by SCARDGATE_HTTP_PORT)',
  ]);
  t.same(problems({}, { SCARDGATE_DRIVERS_SIM_READERS: '[{"nom":"x"}]' }), [
    'drivers.sim.readers[0].name: missing (expected string (1..100 chars)) (set by SCARDGATE_DRIVERS_SIM_READERS)',
    'drivers.sim.readers[0].nom: unknown key (expected one of: name, card) (set by SCARDGATE_DRIVERS_SIM_READERS)',
  ]);
  t.same(problems({ mqtt: 'x' }, { SCARDGATE_MQTT_URL: 'mqtt://h' }), [
    'SCARDGATE_MQTT_URL: cannot override mqtt.url because mqtt in the file is not a mapping',
    'mqtt: wrong type: string "x" (expected object)',
  ]);
});

t.test('an unknown SCARDGATE_ variable is reported, not silently used', async (t) => {
  const { warnings } = resolveConfig({}, 't', { env: { SCARDGATE_HTTP_PROT: '1' } });
  t.same(warnings, ['SCARDGATE_HTTP_PROT is not a configuration variable (ignored)']);
});

t.test('every key has a distinct environment variable and a description', async (t) => {
  const keys = walkKeys();
  t.ok(keys.length > 15);
  const seen = new Map<string, string>();
  for (const k of keys) {
    t.notOk(seen.has(k.env), `${k.env} is used by ${seen.get(k.env)} and ${k.path}`);
    seen.set(k.env, k.path);
    t.not(k.description, '', `${k.path} has a description`);
  }
  t.equal(envName('mqtt.baseTopic'), 'SCARDGATE_MQTT_BASE_TOPIC');
  t.equal(envName('drivers.vpcd.port'), 'SCARDGATE_DRIVERS_VPCD_PORT');
  t.equal(envName('core.transmitTimeoutMs'), 'SCARDGATE_CORE_TRANSMIT_TIMEOUT_MS');
});

t.test('YAML aliases: an unknown anchor and an alias bomb are problems, not crashes', async (t) => {
  t.throws(() => loadConfig(tmpFile('alias.yaml', 'log:\n  level: *nope\n'), noEnv), { name: 'ConfigError', message: /YAML: .*(expected valid YAML)/ });
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 8; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  t.throws(() => loadConfig(tmpFile('bomb.yaml', bomb.join('\n') + '\n'), noEnv), { name: 'ConfigError' });
});
