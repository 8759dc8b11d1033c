import { Type, type Static } from '@sinclair/typebox';

const Pin = (what: string) =>
  Type.Optional(Type.Integer({ minimum: 0, maximum: 63, description: `${what}: BCM GPIO number (the sysfs offset of kernels >= 6.6 / Pi 5 is added automatically).` }));

export const Pn532HsuTransport = Type.Object(
  {
    type: Type.Literal('hsu'),
    path: Type.String({ minLength: 1, description: 'Serial device, e.g. /dev/ttyAMA0, /dev/serial0, /dev/ttyUSB0.' }),
    baudRate: Type.Literal(115200, {
      default: 115200,
      description: 'HSU power-on speed: the PN532 always starts (and restarts after a reset) at 115200.',
    }),
    maxBaudRate: Type.Union([Type.Literal(115200), Type.Literal(230400), Type.Literal(460800), Type.Literal(921600), Type.Literal(1288000)], {
      default: 921600,
      description:
        'HSU speed switched to after start-up with SetSerialBaudRate (115200 = never switch). The port is checked to accept it and an echo must pass at the new speed; otherwise the driver stays at 115200 until restart. After a module reset it starts again at 115200.',
    }),
  },
  { additionalProperties: false },
);

export const Pn532I2cTransport = Type.Object(
  {
    type: Type.Literal('i2c'),
    bus: Type.Integer({ minimum: 0, maximum: 255, description: 'I2C bus number (1 = /dev/i2c-1 on a Raspberry Pi header).' }),
    address: Type.Integer({ default: 0x24, minimum: 0x03, maximum: 0x77, description: '7-bit address (0x24).' }),
  },
  { additionalProperties: false },
);

export const Pn532ReaderConfig = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, default: 'PN532 NFC', description: 'Friendly name (PC/SC reader name prefix).' }),
    transport: Type.Union([Pn532HsuTransport, Pn532I2cTransport]),
    irqPin: Pin('P70_IRQ line (card detection without polling)'),
    resetPin: Pin('RSTPDN line (hard reset when the module stops answering)'),
    ledPin: Pin('LED'),
    buzzerPin: Pin('Buzzer'),
    pollIntervalMs: Type.Integer({ minimum: 10, maximum: 60000, default: 100, description: 'Card detection interval when no IRQ pin is wired.' }),
    removalCheckMs: Type.Integer({ minimum: 20, maximum: 60000, default: 150, description: 'Presence check interval while a card is in the field.' }),
    autoPoll: Type.Boolean({
      default: false,
      description: 'Detect cards with InAutoPoll (the module polls every 150 ms and answers when it finds a card) instead of InListPassiveTarget with endless retries; a tap takes up to 150 ms longer to see.',
    }),
    rfRetries: Type.Integer({ minimum: 0, maximum: 254, default: 2, description: 'MxRtyPassiveActivation for one detection attempt when polling (RFConfiguration item 5).' }),
    comRetries: Type.Integer({ minimum: 0, maximum: 254, default: 1, description: 'MaxRtyCOM: module-level retries of a card exchange (RFConfiguration item 4).' }),
    i2cPollMs: Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'I2C status-byte poll interval while waiting for a frame without IRQ.' }),
    feedback: Type.Object(
      {
        ledOnCard: Type.Boolean({ default: true, description: 'LED on while a card is in the field.' }),
        beepOnTapMs: Type.Integer({ minimum: 0, maximum: 2000, default: 0, description: 'Buzzer pulse on each tap (0 = silent).' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

/** drivers.pn532: PN532 NFC modules (owned by drivers/pn532). */
export const Pn532Config = Type.Object(
  {
    readers: Type.Array(Pn532ReaderConfig, { default: [], description: 'PN532 modules (see README "PN532 NFC modules").' }),
  },
  { additionalProperties: false, default: {} },
);

export type Pn532ReaderConfigT = Static<typeof Pn532ReaderConfig>;
export type Pn532ConfigT = Static<typeof Pn532Config>;

/** Fill defaults for a reader config given in code (tests, embedding) rather than through the validated YAML. */
export function pn532ReaderDefaults(r: Partial<Pn532ReaderConfigT> & Pick<Pn532ReaderConfigT, 'transport'>): Pn532ReaderConfigT {
  const given = r.transport as { type: string; baudRate?: number; address?: number };
  const g = given as { maxBaudRate?: number };
  const t = given.type === 'hsu' ? { ...given, baudRate: given.baudRate ?? 115200, maxBaudRate: g.maxBaudRate ?? 921600 } : { ...given, address: given.address ?? 0x24 };
  return {
    name: 'PN532 NFC',
    pollIntervalMs: 100,
    removalCheckMs: 150,
    autoPoll: false,
    rfRetries: 2,
    comRetries: 1,
    i2cPollMs: 5,
    ...r,
    transport: t as Pn532ReaderConfigT['transport'],
    feedback: { ledOnCard: true, beepOnTapMs: 0, ...r.feedback },
  };
}
