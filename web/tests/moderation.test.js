// The moderation page (`/moderation`, account #16): an operator signs in, reviews a report
// with its context and acts; the action lands in the audit log on the page, and the server
// obeys it (the sender can no longer send); the public transparency page counts it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, testPhone, DESKTOP } from './harness.js';

/**
 * Runs in the page: two people over the protocol; Bob posts in Ann's group, Ann reports it.
 * @param {{ann: {phone: string, code: string}, bob: {phone: string, code: string}, url: string}} args
 */
async function scene({ ann, bob, url }) {
  /** @returns {Promise<(method: string, params: object) => Promise<any>>} */
  const caller = async () => {
    const ws = await new Promise((ok, fail) => {
      const s = new WebSocket(url);
      s.onopen = () => ok(s);
      s.onerror = () => fail(new Error('no websocket'));
    });
    let next = 1;
    const waiting = new Map();
    ws.onmessage = (/** @type {MessageEvent} */ e) => {
      const f = JSON.parse(e.data);
      const w = waiting.get(f.id);
      if (w) {
        waiting.delete(f.id);
        w(f);
      }
    };
    return (method, params) => new Promise((ok) => {
      const id = next++;
      waiting.set(id, ok);
      ws.send(JSON.stringify({ id, method, params }));
    });
  };
  /** @param {{phone: string, code: string}} who @param {string} name */
  const signIn = async (who, name) => {
    const call = await caller();
    await call('auth.send_code', { phone: who.phone });
    const auth = await call('auth.sign_in', { phone: who.phone, code: who.code, name });
    return { call, id: auth.result.user.id };
  };
  const a = await signIn(ann, 'Ann');
  const b = await signIn(bob, 'Bob');
  const group = (await a.call('chats.create_group', { title: 'Market', user_ids: [b.id] })).result.id;
  await b.call('messages.send', { chat_id: group, random_id: 1, text: 'hello all' });
  const sent = (await b.call('messages.send', { chat_id: group, random_id: 2, text: 'cheap pills here' })).result;
  const report = await a.call('messages.report', { chat_id: group, message_id: sent.message.id, reason: 'illegal_goods', comment: 'a shop', context: [sent.message.id - 1] });
  globalThis.bobCall = b.call;
  return { group, bobId: b.id, reported: report.type };
}

test('an operator reviews a report on the moderation page, acts, and the server obeys', async () => {
  const server = await startServer({ config: '[accountability]\noperators = [1]\nappeal = "write to abuse@example.org"\n' });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: DESKTOP });
    /** @type {string[]} */
    const problems = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    await page.goto(`${server.url}/moderation`);
    const op = testPhone(1);
    await page.getByPlaceholder('+15551234567').fill(op.phone);
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByText('code sent').waitFor();
    await page.getByPlaceholder('code').fill(op.code);
    await page.getByPlaceholder('your name (first sign-in)').fill('Operator');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Reports' }).waitFor();
    await page.getByText('No open reports.').waitFor();

    const ws = server.url.replace(/^http/, 'ws') + '/ws';
    const made = await page.evaluate(scene, { ann: testPhone(2), bob: testPhone(3), url: ws });
    assert.equal(made.reported, 'result');

    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('button', { name: /cheap pills here/ }).click();
    const reported = page.getByTestId('reported');
    await reported.waitFor();
    assert.match(await reported.innerText(), /Bob \[\d+\]: cheap pills here/);
    assert.match(await page.getByRole('list', { name: 'context' }).innerText(), /hello all/);
    await page.getByPlaceholder('reason (shown to the user)').fill('selling drugs');
    await page.locator('[data-action="restrict"]').click();
    await page.getByText(/audit entry \d+: restrict, user told/).waitFor();
    const log = await page.getByRole('table', { name: 'audit log' }).innerText();
    assert.match(log, /restrict/);
    assert.match(log, /selling drugs/);
    await page.getByText('No open reports.').waitFor();

    // The server obeys: Bob's next send is refused.
    const refused = await page.evaluate(async (group) => {
      // @ts-ignore set by scene()
      const answer = await globalThis.bobCall('messages.send', { chat_id: group, random_id: 3, text: 'more pills' });
      return answer.error?.code;
    }, made.group);
    assert.equal(refused, 'ACCOUNT_RESTRICTED');

    // The public transparency report counts the action from the log, for anyone.
    const publicPage = await browser.newPage({ viewport: DESKTOP });
    publicPage.on('pageerror', (e) => problems.push(String(e)));
    await publicPage.goto(`${server.url}/transparency`);
    await publicPage.getByRole('heading', { name: 'Transparency report' }).waitFor();
    const counted = publicPage.getByRole('table', { name: 'actions per month' }).locator('[data-kind="moderation.restrict"]');
    await counted.waitFor();
    assert.equal(await counted.innerText(), '1');
    assert.equal(await publicPage.getByTestId('size').innerText(), '1');
    assert.equal(await publicPage.getByTestId('origin').innerText(), 'localhost/transparency');
    assert.match(await publicPage.getByTestId('audit').innerText(), /^heliograph audit verify http:\/\/127\.0\.0\.1:\d+ --key 'localhost\/transparency\+[0-9a-f]{8}\+/);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await server.stop();
  }
});
