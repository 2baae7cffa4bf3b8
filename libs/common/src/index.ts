export * from './keys';
export * from './clock';
export * from './logger';
export * from './job';
export * from './lua-loader';
export * from './tokens';
export * from './redis-results';
