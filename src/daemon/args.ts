/** scardgated's command line. Bad arguments are usage errors (exit 2) naming the problem. */
import { parseArgs } from 'node:util';

export type DaemonArgs =
  | { mode: 'run'; config?: string }
  | { mode: 'check'; config: string }
  | { mode: 'version' }
  | { mode: 'help' };

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const DAEMON_USAGE = `Usage: scardgated [--config FILE]
       scardgated --check-config FILE
       scardgated --version | --help

Runs the scardgate smart card gateway. Without --config it runs on the
embedded default (config/default.yaml: simulated readers).

Options:
  -c, --config FILE        configuration file (YAML)
      --check-config FILE  validate FILE (and SCARDGATE_* variables), print "ok"
                           or every problem as key.path: problem; exit 0 / 1
  -V, --version            print the version
  -h, --help               print this help

Every config key can be overridden by an environment variable
SCARDGATE_<KEY_PATH> (mqtt.baseTopic -> SCARDGATE_MQTT_BASE_TOPIC).`;

export function parseDaemonArgs(argv: string[]): DaemonArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        'check-config': { type: 'string' },
        version: { type: 'boolean', short: 'V' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    // node's messages name the option ("Unknown option '--confg'"); keep them, drop the hint about '--'.
    throw new UsageError((err as Error).message.split('. To specify')[0].replace(/\.$/, ''));
  }
  const v = parsed.values;
  const modes = [v.help, v.version, v['check-config'] !== undefined].filter(Boolean).length;
  if (modes > 1) throw new UsageError('--help, --version and --check-config cannot be combined');
  if (v.help) return { mode: 'help' };
  if (v.version) return { mode: 'version' };
  const check = v['check-config'];
  if (check !== undefined) {
    if (v.config !== undefined) throw new UsageError('--check-config takes the file itself; do not combine it with --config');
    if (check === '') throw new UsageError('--check-config needs a file name');
    return { mode: 'check', config: check };
  }
  if (v.config === '') throw new UsageError('--config needs a file name');
  return { mode: 'run', config: v.config };
}
