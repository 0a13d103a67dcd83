// Long histories scroll without gaps: every message is seen exactly once, in order, scrolling
// back to the first and forward again, and the loader never stays (#18).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, signIn, dialogButton, seed, visibleIds, FAST_LIMITS, DESKTOP } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  server = await startServer({ config: FAST_LIMITS });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * Scrolls the open history by `step` pixels at a time until `done`, checking at every step
 * that the rows in view are consecutive ids and that they touch or overlap the previous
 * step's (no run skipped). Returns every id seen, in the order first seen.
 * @param {import('playwright-core').Page} page
 * @param {number} step negative: back in time
 * @param {(ids: number[]) => boolean} done
 */
async function scrollThrough(page, step, done) {
  /** @type {number[]} */
  const seen = [];
  const seenSet = new Set();
  /** @type {number[]} */
  let previous = await visibleIds(page);
  for (const id of previous) (seenSet.add(id), seen.push(id));
  for (let i = 0; i < 5000 && !done(previous); i++) {
    await page.locator('#history').evaluate((el, dy) => el.scrollBy(0, dy), step);
    // One frame for the list's layout, and a page of history when it asked for one.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    let ids = await visibleIds(page);
    for (let wait = 0; wait < 100 && ids.length > 0 && ids.join() === previous.join() && !done(ids); wait++) {
      await page.waitForTimeout(50);
      await page.locator('#history').evaluate((el, dy) => el.scrollBy(0, dy), step);
      ids = await visibleIds(page);
    }
    assert.ok(ids.length > 0, 'some message is in view');
    for (let k = 1; k < ids.length; k++) assert.equal(ids[k], ids[k - 1] + 1, `rows in view are consecutive: ${ids.join(',')}`);
    const [lo, hi] = [ids[0], ids.at(-1) ?? 0];
    const [plo, phi] = [previous[0], previous.at(-1) ?? 0];
    assert.ok(lo <= phi + 1 && hi >= plo - 1, `no run skipped: ${plo}–${phi} then ${lo}–${hi}`);
    for (const id of ids) if (!seenSet.has(id)) (seenSet.add(id), seen.push(id));
    previous = ids;
  }
  return seen;
}

/**
 * @param {number} total
 * @param {number} phoneNumber
 */
async function scrollCase(total, phoneNumber) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(20_000);
  const alice = await context.newPage();
  await alice.goto(server.url);
  await signIn(alice, phoneNumber, 'Scroll Tester');
  await alice.getByRole('button', { name: 'New group' }).click();
  await alice.getByLabel('Group name').fill(`History of ${total}`);
  await alice.getByRole('button', { name: 'Create group' }).click();
  await alice.locator('#chat-title', { hasText: `History of ${total}` }).waitFor();
  const chatId = await alice.evaluate(() => /** @type {any} */ (window).heliograph.openId);
  const started = Date.now();
  await seed(alice, chatId, total, 'line');
  const seeded = Date.now() - started;

  // A fresh page opens the chat at its end.
  const page = await context.newPage();
  await page.goto(server.url);
  await dialogButton(page, `History of ${total}`).click();
  await page.locator('#history .row[data-id]').first().waitFor();
  await page.waitForFunction((n) => {
    const rows = [...document.querySelectorAll('#history .row[data-id]')].map((el) => Number(/** @type {HTMLElement} */ (el).dataset.id));
    return rows.includes(n);
  }, total);

  const back = await scrollThrough(page, -500, (ids) => ids[0] === 1);
  assert.equal(back.length, total, `${total} messages seen on the way back`);
  assert.deepEqual([...back].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1));
  assert.equal(await page.locator('#history .loader').count(), 0, 'no loader once the first message is in view');
  const forward = await scrollThrough(page, 500, (ids) => ids.at(-1) === total);
  assert.deepEqual(forward, Array.from({ length: total }, (_, i) => i + 1), 'forward again: every message once, in order');
  const rendered = await page.evaluate(() => /** @type {any} */ (window).heliograph.list.rendered);
  assert.ok(rendered < 150, `${rendered} rows in the DOM`);
  await context.close();
  return seeded;
}

test('2,000 messages: back-scroll skips no run and never stays on "Loading…"', async () => {
  await scrollCase(2000, 4101);
});

test('5,000 messages: back to the first and forward again, each seen once, in order', async () => {
  const ms = await scrollCase(5000, 4102);
  console.log(`seeded 5,000 messages in ${ms} ms`);
});
