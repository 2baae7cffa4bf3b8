import { ConfigError, CONFIG_DEFAULTS, loadConfig } from './baton-config';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env, false);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('fills the documented defaults from an empty environment', () => {
    const config = loadConfig({}, false);
    expect(config).toMatchObject({
      redisUrl: CONFIG_DEFAULTS.REDIS_URL, port: 3000, host: '0.0.0.0', prefix: 'baton', leaseMs: 5000,
      workerConcurrency: 10, leaderYieldLagMs: 0, catchUpWindowMs: 600_000, logLevel: 'info', logFormat: 'json',
      renewDeadlineMs: undefined, retryPeriodMs: undefined, apiToken: undefined,
    });
    expect(config.nodeId).toMatch(/-\d+$/);
    expect(loadConfig({}, true).logFormat).toBe('pretty');
  });

  it.each([
    ['REDIS_URL', 'http://x:1', /redis:\/\/ or rediss:\/\//],
    ['REDIS_URL', 'not a url', /must be a URL/],
    ['PORT', '70000', /from 0 to 65535/],
    ['PORT', 'abc', /whole number/],
    ['BATON_LEASE_MS', '10', /from 300/],
    ['BATON_PREFIX', '{x}', /1-64 of/],
    ['BATON_NODE_ID', 'a b', /1-128 of/],
    ['BATON_API_TOKEN', 'short', /8 to 256/],
    ['BATON_WORKER_CONCURRENCY', '0', /from 1 to 1000/],
    ['BATON_LEADER_YIELD_LAG_MS', '-5', /whole number from 0 to 600000/],
    ['LOG_LEVEL', 'loud', /one of debug, info, warn, error/],
    ['LOG_FORMAT', 'xml', /one of json, pretty/],
  ])('refuses %s=%s with a message naming the variable', (variable, value, detail) => {
    const err = errorOf({ [variable]: value });
    expect(err.variable).toBe(variable);
    expect(err.message).toMatch(new RegExp(`^${variable}: `));
    expect(err.message).toMatch(detail);
  });

  it('refuses contradicting election timings, naming the variable at fault', () => {
    expect(errorOf({ BATON_LEASE_MS: '1000', BATON_RENEW_DEADLINE_MS: '2000' }).variable).toBe('BATON_RENEW_DEADLINE_MS');
    const period = errorOf({ BATON_LEASE_MS: '1000', BATON_RETRY_PERIOD_MS: '900' });
    expect(period.variable).toBe('BATON_RETRY_PERIOD_MS');
    expect(period.message).toMatch(/BATON_RENEW_DEADLINE_MS/);
    expect(errorOf({ BATON_LEASE_MS: '1000', BATON_RENEW_DEADLINE_MS: '200' }).variable).toBe('BATON_RENEW_DEADLINE_MS');
    expect(loadConfig({ BATON_LEASE_MS: '1000', BATON_RENEW_DEADLINE_MS: '700', BATON_RETRY_PERIOD_MS: '200' }, false))
      .toMatchObject({ leaseMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 200 });
  });
});
