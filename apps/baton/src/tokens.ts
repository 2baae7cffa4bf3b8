/** Injection tokens of the app's providers. */
export const BATON_CONFIG = Symbol('BATON_CONFIG');
export const REDIS_CONNECTIONS = Symbol('REDIS_CONNECTIONS');
export const EVENT_LOGGER = Symbol('EVENT_LOGGER');
export const SCHEDULE_STORE = Symbol('SCHEDULE_STORE');
export const NODE_REGISTRY = Symbol('NODE_REGISTRY');
export const RUN_HISTORY = Symbol('RUN_HISTORY');
export const MANUAL_TRIGGER = Symbol('MANUAL_TRIGGER');
