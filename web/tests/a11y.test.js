// Accessibility (#18, WCAG 2.2 AA): axe-core finds nothing serious or critical on the main
// screens, light and dark, desktop and phone; and the screenshots of those screens for the
// README are made here (docs/screenshots/).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, signIn, message, dialogButton, send, axe, screenshot, DESKTOP, PHONE } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {string | null} */
let token;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const a = await browser.newContext({ viewport: DESKTOP });
  const b = await browser.newContext({ viewport: DESKTOP });
  a.setDefaultTimeout(10_000);
  b.setDefaultTimeout(10_000);
  const alice = await a.newPage();
  const bob = await b.newPage();
  await alice.goto(server.url);
  await signIn(alice, 8001, 'Alice Liddell');
  await bob.goto(server.url);
  await signIn(bob, 8002, 'Bob Builder');
  await bob.getByRole('button', { name: /Settings/ }).click();
  await bob.getByLabel('Username', { exact: true }).fill('bob_builder');
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.locator('dialog').waitFor({ state: 'detached' });
  // A conversation worth looking at: replies, reactions, a group and a channel.
  await alice.getByRole('button', { name: 'New group' }).click();
  await alice.getByLabel('Group name').fill('Lunch crew');
  await alice.getByLabel('Members').fill('@bob_builder');
  await alice.getByRole('button', { name: 'Create group' }).click();
  await alice.locator('#chat-title', { hasText: 'Lunch crew' }).waitFor();
  await send(alice, 'Pizza or ramen on Friday?');
  await alice.getByRole('button', { name: 'New channel' }).click();
  await alice.getByLabel('Channel name').fill('Heliograph News');
  await alice.getByRole('button', { name: 'Create channel' }).click();
  await alice.locator('#chat-title', { hasText: 'Heliograph News' }).waitFor();
  await send(alice, 'Search is here: find any message from the box at the top.');
  await alice.getByRole('searchbox').fill('@bob_builder');
  await alice.locator('.found-item', { hasText: 'Bob Builder' }).click();
  await alice.locator('#chat-title', { hasText: 'Bob Builder' }).waitFor();
  await send(alice, 'Hello Bob! Lunch at 1?');
  await dialogButton(bob, 'Alice Liddell').click();
  const hello = bob.locator('#history .row.other').filter({ hasText: 'Hello Bob! Lunch at 1?' });
  await hello.hover();
  await hello.getByRole('button', { name: 'Reply' }).click();
  await send(bob, 'Sure, 1 works. The usual place?');
  await message(alice, 'Sure, 1 works. The usual place?').waitFor();
  await hello.hover();
  await hello.getByRole('button', { name: 'React' }).click();
  await hello.getByRole('button', { name: 'React 👍' }).click();
  await send(alice, 'Yes! I will bring the lamp 💡');
  const lamp = bob.locator('#history .row').filter({ hasText: 'I will bring' });
  await lamp.hover();
  await lamp.getByRole('button', { name: 'React' }).click();
  await lamp.getByRole('button', { name: 'React 🔥' }).click();
  await alice.locator('#history .reaction', { hasText: '🔥' }).waitFor();
  await bob.getByRole('textbox', { name: 'Message' }).pressSequentially('See you');
  token = await alice.evaluate(() => localStorage.getItem('helio.token'));
  await a.close();
  await b.close();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * @param {import('playwright-core').Page} page
 * @param {string} screen
 */
async function noFindings(page, screen) {
  const found = await axe(page);
  assert.ok(found.length === 0, `${screen}: ${JSON.stringify(found, null, 1)}`);
}

for (const scheme of /** @type {const} */ (['light', 'dark'])) {
  for (const [size, viewport] of /** @type {const} */ ([['desktop', DESKTOP], ['phone', PHONE]])) {
    test(`axe finds nothing serious on the main screens (${size}, ${scheme}); screenshots`, async () => {
      const options = { viewport, colorScheme: scheme, isMobile: size === 'phone', hasTouch: size === 'phone' };
      const out = await browser.newContext(options);
      const signInPage = await out.newPage();
      await signInPage.goto(server.url);
      await signInPage.getByLabel('Phone number').waitFor();
      await noFindings(signInPage, 'sign-in');
      await out.close();

      const context = await browser.newContext(options);
      context.setDefaultTimeout(10_000);
      await context.addInitScript((t) => localStorage.setItem('helio.token', t ?? ''), token);
      const page = await context.newPage();
      await page.goto(server.url);
      await dialogButton(page, 'Bob Builder').waitFor();
      await noFindings(page, 'dialog list');
      assert.equal(await page.getByRole('heading', { level: 1 }).count(), 1, 'one h1');
      assert.ok(await page.getByRole('navigation', { name: 'Chat list' }).count());

      await dialogButton(page, 'Bob Builder').click();
      await page.locator('#history .reaction', { hasText: '🔥' }).waitFor();
      await page.locator('#history .row .tick.read').last().waitFor();
      assert.equal(await page.getByRole('main').count(), 1, 'the chat is the main landmark');
      await noFindings(page, 'chat');
      await screenshot(page, `conversation-${size}-${scheme}`);

      // Message actions from the keyboard, and their dialog.
      await page.locator('#history').focus();
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => document.activeElement?.textContent ?? '');
      assert.match(focused, /Reply|React|Edit|Delete/);
      const mine = page.locator('#history .row.own').filter({ hasText: 'I will bring' });
      await mine.hover();
      await mine.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('dialog', { name: 'Delete message?' }).waitFor();
      await noFindings(page, 'delete dialog');
      await page.getByRole('button', { name: 'Cancel' }).click();

      // The message menu, and selecting several.
      await mine.locator('.bubble').click({ button: 'right' });
      await page.getByRole('menu', { name: 'Message actions' }).waitFor();
      await noFindings(page, 'message menu');
      await page.getByRole('menuitem', { name: 'Select' }).click();
      await page.getByRole('toolbar', { name: 'Selected messages' }).waitFor();
      await noFindings(page, 'selection');
      await page.getByRole('button', { name: 'Cancel' }).click();


      // Search: from the sidebar on a desktop, after going back on a phone.
      if (size === 'phone') await page.getByRole('button', { name: 'Back to chats' }).click();
      await page.getByRole('searchbox').fill('lunch');
      await page.locator('.search-result').first().waitFor();
      await noFindings(page, 'search results');
      await screenshot(page, `search-${size}-${scheme}`);
      // Settings and devices.
      await page.getByRole('button', { name: /Settings/ }).click();
      await page.getByRole('dialog', { name: 'Settings' }).waitFor();
      await noFindings(page, 'settings');
      await page.getByRole('button', { name: 'Devices' }).click();
      await page.getByRole('list', { name: 'Sessions' }).waitFor();
      await noFindings(page, 'devices');
      await page.getByRole('dialog', { name: 'Devices' }).getByRole('button', { name: 'Close' }).click();
      await context.close();
    });
  }
}
