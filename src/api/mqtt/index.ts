/** The MQTT frontend's entry point for the daemon's service registry. */
import type { ServiceFactory } from '../../daemon/service.js';
import { MqttService } from './service.js';

export { MqttService } from './service.js';
export * from './topics.js';

export const createMqttService: ServiceFactory = (ctx) => new MqttService(ctx);
