import { auth, E2eNode, startE2eNode } from './support/e2e-node';
import { EXISTING, expectRejected, ROUTES, sendBody, VALID } from './support/rejection';

jest.setTimeout(30_000);

/** One rule of the schedule JSON: a body that breaks it, and what the 400's message must name. */
interface RuleCase {
  what: string;
  body: Record<string, unknown>;
  mentions: RegExp[];
}

const without = (field: keyof typeof VALID) => {
  const { [field]: _dropped, ...rest } = VALID;
  return rest;
};

const RULES: RuleCase[] = [
  { what: 'cron with 3 fields', body: { ...VALID, cron: '* * *' }, mentions: [/cron/, /5 fields/, /6/] },
  { what: 'cron with 7 fields', body: { ...VALID, cron: '* * * * * * *' }, mentions: [/cron/, /5 fields/, /6/] },
  { what: 'cron minute out of range', body: { ...VALID, cron: '60 * * * *' }, mentions: [/cron/, /minute/, /0\s*(-|–|to)\s*59/] },
  { what: 'cron hour out of range', body: { ...VALID, cron: '0 24 * * *' }, mentions: [/cron/, /hour/, /0\s*(-|–|to)\s*23/] },
  { what: 'cron empty', body: { ...VALID, cron: '' }, mentions: [/cron/] },
  { what: 'cron missing', body: without('cron'), mentions: [/cron/, /required/] },
  { what: 'cron not a string', body: { ...VALID, cron: 5 }, mentions: [/cron/, /string/] },
  { what: 'unknown time zone', body: { ...VALID, timezone: 'Mars/Olympus_Mons' }, mentions: [/timezone/, /Mars\/Olympus_Mons/, /IANA/] },
  { what: 'time zone not a string', body: { ...VALID, timezone: 1 }, mentions: [/timezone/, /string/] },
  { what: 'unknown handler', body: { ...VALID, handler: 'nope' }, mentions: [/handler/, /nope/, /\bhttp\b/, /\blog\b/] },
  { what: 'handler missing', body: without('handler'), mentions: [/handler/, /required/] },
  { what: 'unknown top-level field', body: { ...VALID, colour: 'red' }, mentions: [/colour/, /allowed/, /cron/, /misfire/] },
  { what: 'attempts as a string', body: { ...VALID, attempts: '3' }, mentions: [/attempts/, /integer/, /string/] },
  { what: 'attempts 0', body: { ...VALID, attempts: 0 }, mentions: [/attempts/, /\b1\b/, /\b20\b/] },
  { what: 'attempts 21', body: { ...VALID, attempts: 21 }, mentions: [/attempts/, /\b1\b/, /\b20\b/] },
  { what: 'attempts fractional', body: { ...VALID, attempts: 2.5 }, mentions: [/attempts/, /integer/] },
  { what: 'paused as a string', body: { ...VALID, paused: 'yes' }, mentions: [/paused/, /boolean/] },
  { what: 'timeoutMs 99', body: { ...VALID, timeoutMs: 99 }, mentions: [/timeoutMs/, /\b100\b/] },
  { what: 'timeoutMs above the maximum', body: { ...VALID, timeoutMs: 3_600_001 }, mentions: [/timeoutMs/, /3600000/] },
  { what: 'backoff.delayMs negative', body: { ...VALID, backoff: { type: 'fixed', delayMs: -1 } }, mentions: [/backoff\.delayMs/, /\b0\b/] },
  { what: 'backoff.type bogus', body: { ...VALID, backoff: { type: 'bogus', delayMs: 10 } }, mentions: [/backoff\.type/, /fixed/, /exponential/] },
  { what: 'backoff not an object', body: { ...VALID, backoff: 'fast' }, mentions: [/backoff/, /object/] },
  { what: 'backoff with an unknown field', body: { ...VALID, backoff: { type: 'fixed', delayMs: 1, jitter: true } }, mentions: [/backoff\.jitter/, /delayMs/] },
  { what: 'misfire bogus', body: { ...VALID, misfire: 'sometimes' }, mentions: [/misfire/, /\ball\b/, /latest/, /none/] },
  { what: 'overlap bogus', body: { ...VALID, overlap: 'never' }, mentions: [/overlap/, /allow/, /skip/] },
  { what: 'data a string', body: { ...VALID, data: 'x' }, mentions: [/data/, /object/] },
  { what: 'data an array', body: { ...VALID, data: [1, 2] }, mentions: [/data/, /object/] },
  { what: 'data null', body: { ...VALID, data: null }, mentions: [/data/, /object/] },
  { what: 'data over 64 KiB', body: { ...VALID, data: { blob: 'x'.repeat(64 * 1024) } }, mentions: [/data/, /65536|64 KiB/] },
  { what: 'http without data', body: { ...VALID, handler: 'http' }, mentions: [/data/, /url/] },
  { what: 'http data without url', body: { ...VALID, handler: 'http', data: { method: 'GET' } }, mentions: [/data\.url/, /required/] },
  { what: 'http url not http(s)', body: { ...VALID, handler: 'http', data: { url: 'ftp://files.example/run' } }, mentions: [/data\.url/, /http:\/\//, /ftp:/] },
  { what: 'http url relative', body: { ...VALID, handler: 'http', data: { url: '/run' } }, mentions: [/data\.url/, /absolute|http:\/\//] },
  { what: 'http method bogus', body: { ...VALID, handler: 'http', data: { url: 'http://x.test/', method: 'FETCH' } }, mentions: [/data\.method/, /GET/, /POST/, /FETCH/] },
  { what: 'http headers not strings', body: { ...VALID, handler: 'http', data: { url: 'http://x.test/', headers: { 'x-n': 1 } } }, mentions: [/data\.headers/, /string/] },
];

describe('schedule validation: every rule is a 400 naming the field, and nothing is stored', () => {
  let node: E2eNode;

  beforeAll(async () => {
    node = await startE2eNode();
    const res = await node.http().put(`/api/schedules/${EXISTING.name}`).set('Authorization', auth).send(EXISTING);
    expect(res.status).toBe(201);
  });
  afterAll(async () => node?.stop());

  for (const route of ROUTES) {
    describe(route, () => {
      it.each(RULES)('rejects $what', async ({ body, mentions }) => {
        await expectRejected(node, () => sendBody(node, route, body), 400, mentions);
      });
    });
  }

  it('reports every broken field of one body, not only the first', async () => {
    const body = { ...VALID, attempts: 0, misfire: 'x', timezone: 'Nowhere/City' };
    const message = await expectRejected(node, () => sendBody(node, 'PUT new', body), 400, [/attempts/, /misfire/, /timezone/]);
    expect(message).toMatch(/Nowhere\/City/);
  });

  it('keeps the stored schedule byte for byte after a rejected replace', async () => {
    const before = await node.http().get(`/api/schedules/${EXISTING.name}`).set('Authorization', auth);
    await expectRejected(node, () => sendBody(node, 'PUT replace', { ...VALID, attempts: 99 }), 400, [/attempts/]);
    const after = await node.http().get(`/api/schedules/${EXISTING.name}`).set('Authorization', auth);
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before.body);
    expect(after.body).toMatchObject({ attempts: 2, data: { note: 'kept' } });
  });

  it('accepts the edges of every bound (attempts 1 and 20, timeoutMs 100, delayMs 0, data just under 64 KiB)', async () => {
    const edges = [
      { attempts: 1, timeoutMs: 100, backoff: { type: 'fixed', delayMs: 0 } },
      { attempts: 20, timeoutMs: 3_600_000, backoff: { type: 'exponential', delayMs: 3_600_000 } },
      { data: { blob: 'x'.repeat(64 * 1024 - 20) } },
    ];
    for (const [i, extra] of edges.entries()) {
      const res = await node.http().put(`/api/schedules/edge-${i}`).set('Authorization', auth).send({ ...VALID, ...extra });
      expect({ i, status: res.status, body: res.status === 201 ? 'ok' : res.body }).toEqual({ i, status: 201, body: 'ok' });
    }
  });
});
