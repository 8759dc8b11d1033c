export { createControlService } from './service.js';
export * from './protocol.js';
