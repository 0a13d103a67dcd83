// Search from the web client (#17): the box over all chats and the one inside a chat, with
// highlighted snippets; opening a result lands on the message in its history, highlighted;
// people and public channels come from the same box.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, signIn, watch, message, dialogButton, send, seed, visibleIds, FAST_LIMITS, DESKTOP } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let alice;
/** @type {import('playwright-core').Page} */
let bob;
/** @type {string[]} */
let problems;

before(async () => {
  server = await startServer({ config: FAST_LIMITS });
  browser = await launchBrowser();
  const a = await browser.newContext({ viewport: DESKTOP });
  const b = await browser.newContext({ viewport: DESKTOP });
  a.setDefaultTimeout(15_000);
  b.setDefaultTimeout(15_000);
  alice = await a.newPage();
  bob = await b.newPage();
  problems = watch(alice);
  await alice.goto(server.url);
  await signIn(alice, 6001, 'Alice Search');
  await bob.goto(server.url);
  await signIn(bob, 6002, 'Bob Periscope');
  await bob.getByRole('button', { name: /Settings/ }).click();
  await bob.getByLabel('Username', { exact: true }).fill('bob_search');
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.locator('dialog').waitFor({ state: 'detached' });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * Waits until the server's index returns `q` (it follows the store's log, within a second).
 * @param {import('playwright-core').Page} page
 * @param {string} q
 */
async function indexed(page, q) {
  await page.waitForFunction(async (q) => {
    const found = await /** @type {any} */ (window).heliograph.conn.call('messages.search', { q });
    return found.results.length > 0;
  }, q, { polling: 200 });
}

test('search over all chats, open a result: the history lands on the message, highlighted', async () => {
  await alice.getByRole('searchbox').fill('@bob_search');
  await alice.locator('.found-item', { hasText: 'Bob Periscope' }).click();
  await alice.locator('#chat-title', { hasText: 'Bob Periscope' }).waitFor();
  const chatId = await alice.evaluate(() => /** @type {any} */ (window).heliograph.openId);
  await send(alice, 'Bring the brass periscope on Friday');
  await message(alice, 'Bring the brass periscope on Friday').waitFor();
  // Far more after it than one page of history: the result is not among the loaded messages.
  await seed(alice, chatId, 400, 'filler');
  await alice.getByRole('searchbox').fill('');
  await indexed(alice, 'periscope');

  // Bob searches from a fresh page, so nothing of that chat is loaded yet.
  await bob.reload();
  await bob.getByRole('searchbox').fill('periscop');
  const result = bob.locator('.search-result').filter({ hasText: 'brass' });
  await result.waitFor();
  assert.equal(await result.locator('mark').first().innerText(), 'periscope', 'the match is highlighted (prefix as you type)');
  assert.match(await result.innerText(), /Alice Search/);
  await result.click();

  await bob.locator('#chat-title', { hasText: 'Alice Search' }).waitFor();
  const landed = bob.locator('#history .row.jumped');
  await landed.waitFor();
  assert.equal(await landed.locator('.text').innerText(), 'Bring the brass periscope on Friday');
  assert.equal(await landed.locator('.text mark').innerText(), 'periscope');
  const id = Number(await landed.getAttribute('data-id'));
  assert.ok((await visibleIds(bob)).includes(id), 'the message is in view');
  // The newest messages are not loaded around it; a new one counts on "jump to latest".
  assert.equal(await bob.locator('#history .text', { hasText: /^filler 400$/ }).count(), 0);
  const latest = bob.getByRole('button', { name: /Jump to the latest message/ });
  const unread = Number(await latest.locator('.badge').innerText().then((t) => t.replace(/\D/g, ''), () => '0'));
  await send(alice, 'one more after the filler');
  await latest.locator('.badge', { hasText: String(unread + 1) }).waitFor();
  await latest.click();
  await message(bob, 'one more after the filler').waitFor();
  assert.ok((await visibleIds(bob)).includes(id + 401), 'the newest message is in view');
  await latest.waitFor({ state: 'detached' });
  await dialogButton(bob, 'Alice Search').locator('.badge').waitFor({ state: 'detached' });
  assert.deepEqual(problems, []);
});

test('search inside one chat finds only that chat\'s messages', async () => {
  await bob.getByRole('button', { name: 'New group' }).click();
  await bob.getByLabel('Group name').fill('Optics club');
  await bob.getByRole('button', { name: 'Create group' }).click();
  await bob.locator('#chat-title', { hasText: 'Optics club' }).waitFor();
  await send(bob, 'a periscope for the club');
  await message(bob, 'a periscope for the club').waitFor();
  await indexed(bob, 'club');
  await bob.getByRole('button', { name: 'Search in this chat' }).click();
  await bob.getByRole('searchbox', { name: 'Search in this chat' }).fill('periscope');
  const results = bob.locator('.chat-search .search-result');
  await results.first().waitFor();
  assert.equal(await results.count(), 1, 'the other chat\'s periscope is not here');
  assert.match(await results.first().innerText(), /a periscope for the club/);
  await results.first().click();
  await bob.locator('#history .row.jumped', { hasText: 'a periscope for the club' }).waitFor();
});

test('people and public channels are found from the same box', async () => {
  await bob.getByRole('button', { name: 'New channel' }).click();
  await bob.getByLabel('Channel name').fill('Periscope Weekly');
  await bob.getByLabel('Public @name (optional)').fill('periscope_weekly');
  await bob.getByRole('button', { name: 'Create channel' }).click();
  await bob.locator('#chat-title', { hasText: 'Periscope Weekly' }).waitFor();

  await alice.getByRole('searchbox').fill('Periscope');
  const person = alice.locator('.found-item', { hasText: 'Bob Periscope' });
  const channel = alice.locator('.found-item', { hasText: 'Periscope Weekly' });
  await person.waitFor();
  await channel.waitFor();
  assert.match(await channel.innerText(), /1 subscriber/);
  await channel.getByText('Join').waitFor();
  await channel.click();
  await alice.locator('#chat-title', { hasText: 'Periscope Weekly' }).waitFor();
  await alice.locator('#chat-sub', { hasText: '2 subscribers' }).waitFor();
  assert.deepEqual(problems, []);
});

test('an @username in a message opens that chat; a #hashtag searches for it', async () => {
  await dialogButton(bob, 'Alice Search').click();
  await send(bob, 'read @periscope_weekly for #optics news');
  const text = alice.locator('#history .row.other .text').filter({ hasText: 'read @periscope_weekly for #optics news' });
  await dialogButton(alice, 'Bob Periscope').click();
  await text.waitFor();
  await text.getByRole('button', { name: '@periscope_weekly' }).click();
  await alice.locator('#chat-title', { hasText: 'Periscope Weekly' }).waitFor();
  await dialogButton(alice, 'Bob Periscope').click();
  await indexed(alice, 'optics');
  await text.getByRole('button', { name: '#optics' }).click();
  assert.equal(await alice.getByRole('searchbox').inputValue(), '#optics');
  await alice.locator('.search-result', { hasText: 'read @periscope_weekly' }).locator('mark').first().waitFor();
  assert.deepEqual(problems, []);
});
