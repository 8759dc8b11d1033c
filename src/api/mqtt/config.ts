import { Type } from '@sinclair/typebox';

/** mqtt: the MQTT frontend (owned by src/api/mqtt). */
export const MqttConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Publish to an MQTT broker.' }),
    url: Type.String({ default: 'embedded', description: "Broker URL (mqtt://, mqtts://, ws://, wss://) or 'embedded' for the built-in broker." }),
    baseTopic: Type.String({ minLength: 1, default: 'scardgate', description: 'Base topic.' }),
  },
  { additionalProperties: false, default: {} },
);
