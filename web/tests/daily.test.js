// The bugs of daily use found in #18, one test each; every one failed on the client before the
// rebuild: drafts per chat, the private chat header and the channel count, the selected row's
// typing and "You:", the message toolbar, the offline sign on a phone, and deleting.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, signIn, watch, message, dialogButton, send, DESKTOP, PHONE } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let alice;
/** @type {import('playwright-core').Page} */
let bob;
/** @type {string[]} */
let aliceProblems;
/** @type {string[]} */
let bobProblems;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const a = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
  const b = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
  a.setDefaultTimeout(10_000);
  b.setDefaultTimeout(10_000);
  alice = await a.newPage();
  bob = await b.newPage();
  aliceProblems = watch(alice);
  bobProblems = watch(bob);
  // Native dialogs (confirm) are the old client's: none may appear.
  for (const page of [alice, bob]) page.on('dialog', (d) => aliceProblems.push(`native ${d.type()} dialog: ${d.message()}`));
  await alice.goto(server.url);
  await signIn(alice, 5001, 'Alice Daily');
  await bob.goto(server.url);
  await signIn(bob, 5002, 'Bob Daily');
  await bob.getByRole('button', { name: /Settings/ }).click();
  await bob.getByLabel('Username', { exact: true }).fill('bob_daily');
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.locator('dialog').waitFor({ state: 'detached' });
  await alice.getByRole('searchbox').fill('@bob_daily');
  await alice.locator('.found-item', { hasText: 'Bob Daily' }).click();
  await alice.locator('#chat-title', { hasText: 'Bob Daily' }).waitFor();
  await send(alice, 'hello from Alice');
  await dialogButton(bob, 'Alice Daily').click();
  await message(bob, 'hello from Alice').waitFor();
  await alice.getByRole('button', { name: 'New group' }).click();
  await alice.getByLabel('Group name').fill('Daily crew');
  await alice.getByLabel('Members').fill('@bob_daily');
  await alice.getByRole('button', { name: 'Create group' }).click();
  await alice.locator('#chat-title', { hasText: 'Daily crew' }).waitFor();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a draft stays in its own chat: another chat opens with an empty composer, and Enter sends nothing there', async () => {
  await dialogButton(alice, 'Bob Daily').click();
  const box = alice.getByRole('textbox', { name: 'Message' });
  await box.fill('half-written for Bob');
  await dialogButton(alice, 'Daily crew').click();
  await alice.locator('#chat-title', { hasText: 'Daily crew' }).waitFor();
  assert.equal(await box.inputValue(), '', 'the group has its own (empty) composer');
  await box.press('Enter');
  await dialogButton(alice, 'Daily crew').locator('.dialog-preview', { hasText: 'Group created' }).waitFor();
  assert.equal(await alice.locator('#history .row .text', { hasText: 'half-written for Bob' }).count(), 0, 'nothing went to the group');
  // The list shows the draft where it belongs, and it is back on return.
  await dialogButton(alice, 'Bob Daily').locator('.dialog-preview', { hasText: 'Draft: half-written for Bob' }).waitFor();
  await dialogButton(alice, 'Bob Daily').click();
  assert.equal(await box.inputValue(), 'half-written for Bob');
  await box.press('Enter');
  await message(bob, 'half-written for Bob').waitFor();
  assert.equal(await box.inputValue(), '');
});

test('a private chat\'s header names the person; a channel\'s subscriber count follows joins', async () => {
  await dialogButton(alice, 'Bob Daily').click();
  await alice.locator('#chat-sub', { hasText: '@bob_daily' }).waitFor();
  assert.doesNotMatch(await alice.locator('#chat-sub').innerText(), /subscriber|member/);
  assert.doesNotMatch(await bob.locator('#chat-sub').innerText(), /subscriber|member/);

  await alice.getByRole('button', { name: 'New channel' }).click();
  await alice.getByLabel('Channel name').fill('Daily News');
  await alice.getByLabel('Public @name (optional)').fill('daily_news');
  await alice.getByRole('button', { name: 'Create channel' }).click();
  await alice.locator('#chat-sub', { hasText: '1 subscriber' }).waitFor();
  await bob.getByRole('searchbox').fill('@daily_news');
  await bob.locator('.found-item', { hasText: 'Join' }).click();
  await bob.locator('#chat-sub', { hasText: '2 subscribers' }).waitFor();
  // Channels do not announce subscribers to each other: the count is fresh when it is opened.
  await dialogButton(alice, 'Bob Daily').click();
  await dialogButton(alice, 'Daily News').click();
  await alice.locator('#chat-sub', { hasText: '@daily_news · 2 subscribers' }).waitFor();
});

/**
 * WCAG contrast ratio of an element's text against the nearest opaque background.
 * @param {import('playwright-core').Locator} el
 */
function contrast(el) {
  return el.evaluate((node) => {
    const rgb = (/** @type {string} */ c) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = (/** @type {number[]} */ [r, g, b]) => {
      const f = (/** @type {number} */ v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    let bg = /** @type {Element | null} */ (node);
    let back = [255, 255, 255];
    for (; bg; bg = bg.parentElement) {
      const c = rgb(getComputedStyle(bg).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) {
        back = c.slice(0, 3);
        break;
      }
    }
    const fore = rgb(getComputedStyle(/** @type {Element} */ (node)).color).slice(0, 3);
    const [a, b] = [lum(fore), lum(back)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
  });
}

test('in the selected dialog row, "You:" and the typing indicator are readable (4.5:1)', async () => {
  await dialogButton(alice, 'Bob Daily').click();
  await send(alice, 'are you there?');
  const row = dialogButton(alice, 'Bob Daily');
  const you = row.locator('.who', { hasText: 'You:' });
  await you.waitFor();
  assert.equal(await row.getAttribute('aria-current'), 'true');
  const youRatio = await contrast(you);
  assert.ok(youRatio >= 4.5, `"You:" at ${youRatio.toFixed(2)}:1`);
  await dialogButton(bob, 'Alice Daily').click();
  await bob.getByRole('textbox', { name: 'Message' }).pressSequentially('typing…');
  const typing = row.locator('.typing');
  await typing.waitFor();
  const typingRatio = await contrast(typing);
  assert.ok(typingRatio >= 4.5, `the typing indicator at ${typingRatio.toFixed(2)}:1`);
  await bob.getByRole('textbox', { name: 'Message' }).fill('');
});

test('the message toolbar sits beside the text, goes when the pointer leaves, and is reachable by keyboard', async () => {
  await dialogButton(alice, 'Bob Daily').click();
  const row = alice.locator('#history .row').filter({ hasText: 'are you there?' });
  const bar = row.locator('.msg-actions');
  const shown = () => bar.evaluate((el) => {
    const style = getComputedStyle(el);
    return style.display !== 'none' && style.visibility !== 'hidden' && style.opacity === '1' && style.pointerEvents !== 'none';
  });
  await alice.mouse.move(0, 0);
  assert.equal(await shown(), false, 'hidden until wanted');
  await row.locator('.text').hover();
  assert.equal(await shown(), true, 'shown while the pointer is over the message');
  const [t, b] = [await row.locator('.text').boundingBox(), await bar.boundingBox()];
  assert.ok(t && b);
  const overlaps = b.x < t.x + t.width && t.x < b.x + b.width && b.y < t.y + t.height && t.y < b.y + b.height;
  assert.equal(overlaps, false, `the toolbar ${JSON.stringify(b)} covers no text ${JSON.stringify(t)}`);
  // Press one of its buttons with the pointer, then leave: it goes.
  await bar.getByRole('button', { name: 'React' }).click();
  await row.locator('.reaction-picker').waitFor();
  await alice.keyboard.press('Escape');
  await alice.mouse.move(0, 0);
  assert.equal(await shown(), false, 'gone once the pointer left');
  // From the keyboard: Tab from the history reaches a message's actions, which show.
  await alice.locator('#history').focus();
  await alice.keyboard.press('Tab');
  const focused = await alice.evaluate(() => {
    const el = document.activeElement;
    const bar = el?.closest('.msg-actions');
    return { act: !!el?.classList.contains('act'), shown: !!bar && getComputedStyle(bar).display !== 'none' && getComputedStyle(bar).opacity === '1' };
  });
  assert.deepEqual(focused, { act: true, shown: true });
});

test('on a phone, the open chat shows that it is offline', async () => {
  const token = await bob.evaluate(() => localStorage.getItem('helio.token'));
  const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
  await phone.addInitScript((t) => localStorage.setItem('helio.token', t ?? ''), token);
  const page = await phone.newPage();
  await page.goto(server.url);
  await dialogButton(page, 'Alice Daily').click();
  await message(page, 'are you there?').waitFor();
  assert.equal(await page.locator('#dialogs').isVisible(), false, 'one pane at a time');
  await phone.setOffline(true);
  const sign = page.locator('.chat-offline', { hasText: 'Connecting' });
  await sign.waitFor();
  assert.ok(await sign.isVisible());
  const box = await sign.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, 'inside the screen');
  await phone.setOffline(false);
  await sign.waitFor({ state: 'detached', timeout: 20_000 });
  await phone.close();
});

test('deleting asks in its own dialog: for me, or for both in a private chat', async () => {
  await dialogButton(alice, 'Bob Daily').click();
  await send(alice, 'delete me for myself');
  await send(alice, 'delete me for both');
  await message(bob, 'delete me for both').waitFor();

  const mine = alice.locator('#history .row.own').filter({ hasText: 'delete me for myself' });
  await mine.hover();
  await mine.getByRole('button', { name: 'Delete' }).click();
  const dialog = alice.getByRole('dialog', { name: 'Delete message?' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Delete for me and Bob Daily' }).waitFor();
  await dialog.getByRole('button', { name: 'Delete for me', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await alice.locator('#history .row').filter({ hasText: 'delete me for myself' }).waitFor({ state: 'detached' });

  const both = alice.locator('#history .row.own').filter({ hasText: 'delete me for both' });
  await both.hover();
  await both.getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete for me and Bob Daily' }).click();
  await bob.locator('#history .row').filter({ hasText: 'delete me for both' }).waitFor({ state: 'detached' });
  // Deleted only for Alice: Bob still has it.
  await message(bob, 'delete me for myself').waitFor();

  // Someone else's message in a private chat: only for me.
  const theirs = bob.locator('#history .row.other').filter({ hasText: 'delete me for myself' });
  await theirs.hover();
  await theirs.getByRole('button', { name: 'Delete' }).click();
  const bobDialog = bob.getByRole('dialog', { name: 'Delete message?' });
  await bobDialog.waitFor();
  assert.deepEqual(await bobDialog.getByRole('button').allInnerTexts(), ['Cancel', 'Delete for me']);
  await bobDialog.getByRole('button', { name: 'Cancel' }).click();
  await bobDialog.waitFor({ state: 'detached' });
  await message(bob, 'delete me for myself').waitFor();
  assert.deepEqual(aliceProblems, []);
  assert.deepEqual(bobProblems, []);
});
