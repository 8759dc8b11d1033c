import { Type, type Static } from '@sinclair/typebox';
import { SimCardSpec } from '../sim/config.js';
import { PROFILE_KEYS } from '../../emulators/ccid/profile-keys.js';

export const CcidEmulatedReader = Type.Object(
  {
    profile: Type.Union(
      PROFILE_KEYS.map((k) => Type.Literal(k)),
      { description: `Reader profile of emulators/ccid (${PROFILE_KEYS.join(', ')}).` },
    ),
    level: Type.Optional(
      Type.Union([Type.Literal('tpdu'), Type.Literal('short-apdu'), Type.Literal('extended-apdu')], { description: "Override the profile's exchange level (dwFeatures)." }),
    ),
    interrupt: Type.Optional(Type.Boolean({ description: 'Override whether the emulated reader has an interrupt endpoint (false: the driver polls GetSlotStatus).' })),
    serialNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'iSerialNumber of the emulated device (shown in the reader name).' })),
    cards: Type.Array(
      Type.Object(
        {
          interface: Type.Integer({ minimum: 0, maximum: 7, default: 0, description: 'CCID interface (0 = first; the ACR1252U SAM slot is 1).' }),
          slot: Type.Integer({ minimum: 0, maximum: 15, default: 0, description: 'Slot of that interface.' }),
          card: SimCardSpec,
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'Cards present from start-up.' },
    ),
  },
  { additionalProperties: false },
);

/** drivers.ccid: USB CCID readers (owned by drivers/ccid; README "USB CCID readers"). */
export const CcidConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Look for USB CCID readers (libusb through the usb package) and follow hotplug.' }),
    escape: Type.Boolean({
      default: false,
      description: 'Allow SCardControl escape (PC_to_RDR_Escape, IOCTL SCARD_CTL_CODE(3500)): raw vendor commands from PC/SC clients. Off by default: some readers accept firmware and configuration writes through it.',
    }),
    voltage: Type.Union([Type.Literal('auto'), Type.Literal('5V'), Type.Literal('3V'), Type.Literal('1.8V')], {
      default: 'auto',
      description: "Card voltage at power-up: 'auto' lets the reader choose when it can (dwFeatures), otherwise tries 5 V, 3 V, 1.8 V in turn; a fixed value starts there and moves to lower classes.",
    }),
    commandTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 600000,
      default: 5000,
      description: 'How long one CCID command may take before Abort (multiplied by the time extensions the reader asks for).',
    }),
    maxTimeExtensions: Type.Integer({ minimum: 1, maximum: 100000, default: 200, description: 'Time-extension frames accepted for one command before it is aborted (a reader that extends forever).' }),
    pollIntervalMs: Type.Integer({ minimum: 20, maximum: 60000, default: 400, description: 'GetSlotStatus polling interval for readers without an interrupt endpoint.' }),
    hotplugPollMs: Type.Integer({ minimum: 50, maximum: 60000, default: 1000, description: 'USB bus scan interval where libusb has no hotplug events.' }),
    emulate: Type.Array(CcidEmulatedReader, {
      default: [],
      description: 'Emulated CCID readers (emulators/ccid) hosted by the daemon instead of real USB: for demos, manual work and tests. When non-empty the driver uses the emulated USB bus only.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export type CcidConfigT = Static<typeof CcidConfig>;
