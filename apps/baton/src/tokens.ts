/** Injection tokens of the app's own providers (the libs export theirs). */
export const BATON_CONFIG = Symbol('BATON_CONFIG');
export const REDIS_CONNECTIONS = Symbol('REDIS_CONNECTIONS');
export const CLOCK = Symbol('CLOCK');
export const NODE_REGISTRY = Symbol('NODE_REGISTRY');
