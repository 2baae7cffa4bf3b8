// The cluster-test harness: real node processes, a private redis-server, a webhook receiver.
export * from './api-client';
export * from './baton-cluster';
export * from './leadership';
export * from './node-process';
export * from './scenario';
export * from './socket-owner';
export * from './ticks';
export * from './wait';
export * from './webhook-receiver';
export * from './tcp-proxy';
export * from './invariants';
export * from './chaos-steps';
