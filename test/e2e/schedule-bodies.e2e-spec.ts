import { auth, E2eNode, startE2eNode } from './support/e2e-node';
import { EXISTING, expectRejected, ROUTES, sendBody, VALID } from './support/rejection';

jest.setTimeout(30_000);

const NAME_RULES = [/name/, /a-z/, /letter or digit/];

describe('schedule names and request bodies: malformed input is a 4xx in Nest shape, and nothing is stored', () => {
  let node: E2eNode;

  beforeAll(async () => {
    node = await startE2eNode();
    const res = await node.http().put(`/api/schedules/${EXISTING.name}`).set('Authorization', auth).send(EXISTING);
    expect(res.status).toBe(201);
  });
  afterAll(async () => node?.stop());

  describe('names in the path of PUT', () => {
    it.each([
      ['uppercase', 'Nightly'],
      ['65 characters', `a${'b'.repeat(64)}`],
      ['a leading dash', '-nightly'],
      ['a leading dot', '.nightly'],
      ['a space', 'night%20ly'],
      ['a colon', 'night:ly'],
    ])('rejects a name with %s', async (_what, name) => {
      await expectRejected(node, () => node.http().put(`/api/schedules/${name}`).set('Authorization', auth).send(VALID), 400, NAME_RULES);
    });

    it('accepts a 64-character name of every allowed character class', async () => {
      const name = `0a._-${'z'.repeat(59)}`;
      const res = await node.http().put(`/api/schedules/${name}`).set('Authorization', auth).send(VALID);
      expect(res.status).toBe(201);
      expect(res.body.name).toBe(name);
    });

    it('rejects a body name that differs from the path name', async () => {
      await expectRejected(node, () => node.http().put('/api/schedules/alpha').set('Authorization', auth).send({ ...VALID, name: 'beta' }),
        400, [/name/, /alpha/, /beta/]);
    });

    it('rejects a replace of an existing schedule whose body names another schedule', async () => {
      await expectRejected(node, () => node.http().put(`/api/schedules/${EXISTING.name}`).set('Authorization', auth)
        .send({ ...VALID, name: 'other' }), 400, [/name/, /other/, new RegExp(EXISTING.name)]);
    });
  });

  describe('names in the body of POST', () => {
    it.each([
      ['uppercase', 'Nightly', NAME_RULES],
      ['65 characters', `a${'b'.repeat(64)}`, NAME_RULES],
      ['a leading dash', '-nightly', NAME_RULES],
      ['empty', '', NAME_RULES],
      ['a number', 5, [/name/, /string/]],
    ])('rejects a name that is %s', async (_what, name, mentions) => {
      await expectRejected(node, () => node.http().post('/api/schedules').set('Authorization', auth).send({ ...VALID, name }), 400, mentions);
    });

    it('rejects a body without a name', async () => {
      await expectRejected(node, () => node.http().post('/api/schedules').set('Authorization', auth).send(VALID), 400, [/name/, /required/]);
    });
  });

  for (const route of ROUTES) {
    describe(`bodies of ${route}`, () => {
      it('rejects malformed JSON with 400 naming the body', async () => {
        await expectRejected(node, () => sendBody(node, route, '{"cron": "* * * * *", '), 400, [/body|JSON/]);
      });

      it.each([['an array', '[]'], ['an array of a schedule', JSON.stringify([{ ...VALID, name: 'fresh-one' }])],
        ['a string', '"fresh-one"'], ['null', 'null'], ['a number', '42'], ['true', 'true']])(
        'rejects %s as the body with 400', async (_what, raw) => {
          await expectRejected(node, () => sendBody(node, route, raw), 400, [/body|JSON/]);
        });

      it('rejects an empty body with 400', async () => {
        await expectRejected(node, () => sendBody(node, route, ''), 400, [/body|JSON|required/]);
      });

      it('rejects a body over 1 MiB with 413', async () => {
        const huge = JSON.stringify({ ...VALID, name: 'fresh-one', data: { blob: 'x'.repeat(1024 * 1024 + 10) } });
        await expectRejected(node, () => sendBody(node, route, huge), 413, [/1 ?MiB|too large|limit/i]);
      });

      it('rejects a body that is not JSON (text/plain) with a 4xx and stores nothing', async () => {
        const before = await node.redis.hgetall(node.keys.schedules);
        const res = await sendBody(node, route, JSON.stringify({ ...VALID, name: 'fresh-one' }), 'text/plain');
        expect([400, 415]).toContain(res.status);
        expect(res.body).toMatchObject({ statusCode: res.status });
        expect(await node.redis.hgetall(node.keys.schedules)).toEqual(before);
      });
    });
  }

  it('answers 400 (or 404), never 5xx, for odd names on every per-schedule endpoint, and 404 for an unknown one', async () => {
    const odd = ['UPPER', '%E2%98%83', 'a'.repeat(300), 'x%00y', '..', 'unknown-one'];
    const calls = [
      (n: string) => node.http().get(`/api/schedules/${n}`),
      (n: string) => node.http().delete(`/api/schedules/${n}`),
      (n: string) => node.http().post(`/api/schedules/${n}/pause`),
      (n: string) => node.http().post(`/api/schedules/${n}/resume`),
      (n: string) => node.http().post(`/api/schedules/${n}/trigger`),
      (n: string) => node.http().get(`/api/schedules/${n}/runs`),
    ];
    for (const name of odd) {
      for (const call of calls) {
        await expectRejected(node, () => call(name).set('Authorization', auth), name === 'unknown-one' ? 404 : [400, 404], []);
      }
    }
  });
});
