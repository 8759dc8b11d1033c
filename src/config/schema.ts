/**
 * The configuration schema: single source for validation, defaults,
 * environment overrides (SCARDGATE_<KEY_PATH>) and the web UI's settings form.
 * Each area owns its section in its own module; this file only composes them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { SimConfig } from '../../drivers/sim/config.js';
import { VpcdConfig } from '../../drivers/vpcd/config.js';
import { Pn532Config } from '../../drivers/pn532/config.js';
import { OsdpCpConfig } from '../../drivers/osdp/config.js';
import { OsdpConfig } from '../api/osdp/config.js';
import { CcidConfig } from '../../drivers/ccid/config.js';
import { PcscConfig } from '../api/pcsc/config.js';
import { MqttConfig } from '../api/mqtt/config.js';
import { EventsConfig } from '../events/config.js';
import { HttpConfig } from '../api/http/config.js';
import { CoreConfig, LogConfig, StateConfig, ControlConfig } from './sections.js';

export const ConfigSchema = Type.Object(
  {
    gatewayId: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_.-]{1,64}$',
        examples: ['gateway-01'],
        description: 'Gateway id used in MQTT topics and events. Default: the host name (made topic-safe).',
      }),
    ),
    log: LogConfig,
    state: StateConfig,
    control: ControlConfig,
    core: CoreConfig,
    pcsc: PcscConfig,
    mqtt: MqttConfig,
    events: EventsConfig,
    http: HttpConfig,
    osdp: OsdpConfig,
    drivers: Type.Object(
      {
        sim: SimConfig,
        vpcd: VpcdConfig,
        pn532: Pn532Config,
        osdp: OsdpCpConfig,
        ccid: CcidConfig,
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
