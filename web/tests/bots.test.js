// A person and a bot in a real browser against a real server: the bot is made with the wire
// method bots.create, posts through the Bot API (POST /bot<token>/sendMessage) a formatted
// message with an inline keyboard, and answers button presses (getUpdates +
// answerCallbackQuery); the page shows the bot tag, the formatting, the buttons, a passing
// notice and an alert dialog.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, signIn, watch, dialogButton, DESKTOP } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let pat;
/** @type {string[]} */
let problems;
/** The bot's answers, until the test ends. */
let polling = true;

const XSS = '<img src=x onerror=alert(1)>';

/**
 * Calls a Bot API method; its `result`.
 * @param {string} token
 * @param {string} method
 * @param {Record<string, unknown>} body
 * @returns {Promise<any>}
 */
async function botApi(token, method, body) {
  const res = await fetch(`${server.url}/bot${token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await res.json();
  assert.equal(answer.ok, true, `${method}: ${JSON.stringify(answer)}`);
  return answer.result;
}

/**
 * The bot: answers `yes` with a notice, `danger` with an alert, and says nothing to anything
 * else (the press still reaches it).
 * @param {string} token
 * @param {string[]} seen the data of every press, in order
 */
async function runBot(token, seen) {
  let offset = 0;
  while (polling) {
    /** @type {any[]} */
    const updates = await botApi(token, 'getUpdates', { offset, timeout: 1 });
    for (const u of updates) {
      offset = u.update_id + 1;
      const q = u.callback_query;
      if (!q) continue;
      seen.push(q.data);
      if (q.data === 'yes') await botApi(token, 'answerCallbackQuery', { callback_query_id: q.id, text: 'You chose yes' });
      else if (q.data === 'danger') await botApi(token, 'answerCallbackQuery', { callback_query_id: q.id, text: 'Are you sure? This cannot be undone.', show_alert: true });
    }
  }
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
  context.setDefaultTimeout(10_000);
  pat = await context.newPage();
  problems = watch(pat);
  await pat.goto(server.url);
  await signIn(pat, 3003, 'Pat Person');
});

after(async () => {
  polling = false;
  await browser?.close();
  await server?.stop();
});

test('a bot made with bots.create posts formatted text and buttons the person presses', async () => {
  // The bot, made through the page's own connection (as any client would).
  /** @type {{bot: {id: number, bot: boolean, username: string}, token: string}} */
  const created = await pat.evaluate(async () => {
    const app = /** @type {any} */ (window).heliograph;
    const made = await app.conn.call('bots.create', { name: 'Weather', username: 'weather_web_bot' });
    const chat = await app.conn.call('chats.open_private', { user_id: made.bot.id });
    await app.conn.callRetrying('messages.send', { chat_id: chat.id, random_id: 7001, text: '/start' });
    return made;
  });
  assert.equal(created.bot.bot, true);
  assert.match(created.token, new RegExp(`^${created.bot.id}:.+`));
  const me = await pat.evaluate(() => /** @type {any} */ (window).heliograph.me.id);

  // The dialog is tagged as a bot's.
  const dialog = dialogButton(pat, 'Weather');
  await dialog.locator('.bot-tag', { hasText: 'bot' }).waitFor();
  await dialog.click();
  await pat.locator('#chat-sub', { hasText: '@weather_web_bot · bot' }).waitFor();

  // The bot posts a formatted menu (its text includes markup-looking text: shown as text).
  const text = `Pick one ${XSS} or read the docs, run code and this.`;
  const at = (/** @type {string} */ s) => text.indexOf(s);
  await botApi(created.token, 'sendMessage', {
    chat_id: me,
    text,
    entities: [
      { type: 'bold', offset: 0, length: 8 },
      { type: 'italic', offset: at(XSS), length: XSS.length },
      { type: 'text_link', offset: at('the docs'), length: 8, url: 'https://example.org/docs' },
      { type: 'code', offset: at('code'), length: 4 },
      { type: 'text_link', offset: at('this'), length: 4, url: 'tg://resolve?domain=weather_web_bot' },
    ],
    reply_markup: {
      inline_keyboard: [
        [{ text: 'Yes', callback_data: 'yes' }, { text: 'Silent', callback_data: 'quiet' }],
        [{ text: 'Danger', callback_data: 'danger' }, { text: 'Docs', url: 'https://example.org/docs' }],
      ],
    },
  });
  const bubble = pat.locator('#history .row.other .bubble').filter({ hasText: 'Pick one' });
  await bubble.waitFor();
  assert.equal(await bubble.locator('.text strong').textContent(), 'Pick one');
  assert.equal(await bubble.locator('.text em').textContent(), XSS, 'markup-looking text stays text');
  assert.equal(await bubble.locator('img').count(), 0);
  assert.equal(await bubble.locator('.text code').textContent(), 'code');
  const link = bubble.locator('.text a');
  assert.equal(await link.count(), 1, 'only the http(s) link is a link');
  assert.equal(await link.getAttribute('href'), 'https://example.org/docs');
  assert.equal(await link.textContent(), 'the docs');
  assert.equal(await bubble.locator('.text').textContent(), text, 'the text reads the same as plain');

  // The keyboard: two rows; a URL button is a link.
  const rows = bubble.locator('.keyboard .kb-row');
  assert.equal(await rows.count(), 2);
  assert.deepEqual(await rows.nth(0).locator('.kb-button').allTextContents(), ['Yes', 'Silent']);
  const docs = bubble.locator('a.kb-button');
  assert.equal(await docs.getAttribute('href'), 'https://example.org/docs');
  assert.equal(await docs.getAttribute('rel'), 'noopener noreferrer');

  // The bot answers presses.
  /** @type {string[]} */
  const seen = [];
  const bot = runBot(created.token, seen);

  // A notice that passes.
  await bubble.getByRole('button', { name: 'Yes' }).click();
  await pat.locator('.toast-item', { hasText: 'You chose yes' }).waitFor();

  // An alert to dismiss.
  await bubble.getByRole('button', { name: 'Danger' }).click();
  const alert = pat.getByRole('alertdialog');
  await alert.waitFor();
  assert.match((await alert.textContent()) ?? '', /Are you sure\? This cannot be undone\./);
  await alert.getByRole('button', { name: 'OK' }).click();
  await alert.waitFor({ state: 'detached' });

  // No answer: the button is busy while the server waits for the bot, then free again.
  const silent = bubble.getByRole('button', { name: 'Silent' });
  await silent.click();
  await pat.locator('.kb-button.pressing', { hasText: 'Silent' }).waitFor();
  await pat.locator('.kb-button.pressing').waitFor({ state: 'detached', timeout: 20_000 });
  assert.deepEqual(seen, ['yes', 'danger', 'quiet'], 'every press reached the bot');

  polling = false;
  await bot;
  assert.deepEqual(problems, []);
});
