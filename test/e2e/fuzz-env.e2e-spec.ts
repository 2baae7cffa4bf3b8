import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

// The built node (npm run build first) started with one bad variable must
// refuse to start: exit code 2, and a message on stderr naming the variable.
// It exits before touching Redis, so REDIS_URL points at a closed port.
jest.setTimeout(60_000);

const ENTRY = resolve(__dirname, '../../dist/apps/baton/main.js');
const BASE: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  REDIS_URL: 'redis://127.0.0.1:1',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_FORMAT: 'json',
  BATON_PREFIX: 'fuzz-env',
};

/** startNode runs the built entry with BASE plus `env`; kills it after `deadlineMs` (a node that started did not refuse). */
function startNode(env: Record<string, string>, deadlineMs = 15_000): Promise<{ code: number | null; stderr: string }> {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} does not exist: run \`npm run build\` first`);
  return new Promise((done) => {
    const child = spawn(process.execPath, [ENTRY], { env: { ...BASE, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stderr });
    });
  });
}

describe('malformed environment: the built node refuses to start and names the variable', () => {
  it.each([
    ['REDIS_URL', 'not a url'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['PORT', '70000'],
    ['PORT', 'eighty'],
    ['BATON_LEASE_MS', '-5'],
    ['BATON_LEASE_MS', '1e3'],
    ['BATON_LEASE_MS', '10'],
    ['BATON_PREFIX', '{baton}'],
    ['BATON_PREFIX', 'has space'],
    ['LOG_LEVEL', 'verbose'],
    ['LOG_FORMAT', 'xml'],
    ['BATON_API_TOKEN', 'short'],
    ['BATON_WORKER_CONCURRENCY', '0'],
    ['BATON_LEADER_YIELD_LAG_MS', 'soon'],
    ['BATON_NODE_ID', '-leading-dash'],
  ])('%s=%j: exits with code 2 and names the variable', async (name, value) => {
    const { code, stderr } = await startNode({ [name]: value });
    expect({ code, namesVariable: stderr.includes(name) }).toEqual({ code: 2, namesVariable: true });
    expect(stderr).toMatch(/invalid configuration/);
  });

  it.each([
    [{ BATON_LEASE_MS: '1000', BATON_RENEW_DEADLINE_MS: '2000' }, 'BATON_RENEW_DEADLINE_MS'],
    [{ BATON_LEASE_MS: '1000', BATON_RETRY_PERIOD_MS: '900' }, 'BATON_RETRY_PERIOD_MS'],
  ])('%j (timings that contradict each other): exits with code 2 and names %s', async (env, name) => {
    const { code, stderr } = await startNode(env);
    expect({ code, namesVariable: stderr.includes(name) }).toEqual({ code: 2, namesVariable: true });
  });
});
