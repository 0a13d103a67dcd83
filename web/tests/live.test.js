// Daily features between two browsers, live (#18): reactions (the default set and any emoji,
// counts and who reacted) and drafts synced across one person's devices.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, signIn, watch, message, dialogButton, send, DESKTOP } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let alice;
/** @type {import('playwright-core').Page} */
let bob;
/** @type {string[][]} */
let problems;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const a = await browser.newContext({ viewport: DESKTOP });
  const b = await browser.newContext({ viewport: DESKTOP });
  a.setDefaultTimeout(10_000);
  b.setDefaultTimeout(10_000);
  alice = await a.newPage();
  bob = await b.newPage();
  problems = [watch(alice), watch(bob)];
  await alice.goto(server.url);
  await signIn(alice, 7001, 'Alice Live');
  await bob.goto(server.url);
  await signIn(bob, 7002, 'Bob Live');
  await bob.getByRole('button', { name: /Settings/ }).click();
  await bob.getByLabel('Username', { exact: true }).fill('bob_live');
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.locator('dialog').waitFor({ state: 'detached' });
  await alice.getByRole('searchbox').fill('@bob_live');
  await alice.locator('.found-item', { hasText: 'Bob Live' }).click();
  await alice.locator('#chat-title', { hasText: 'Bob Live' }).waitFor();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('reactions: from the default set and any emoji, counts and who reacted, live both ways', async () => {
  await send(alice, 'Lunch is on me today');
  await dialogButton(bob, 'Alice Live').click();
  const bobRow = bob.locator('#history .row').filter({ hasText: 'Lunch is on me today' });
  const aliceRow = alice.locator('#history .row').filter({ hasText: 'Lunch is on me today' });
  await bobRow.waitFor();

  // Bob reacts 👍 from the picker.
  await bobRow.hover();
  await bobRow.getByRole('button', { name: 'React' }).click();
  await bobRow.getByRole('button', { name: 'React 👍' }).click();
  const aliceLike = aliceRow.locator('.reaction', { hasText: '👍' });
  await aliceLike.locator('.reaction-count', { hasText: '1' }).waitFor();
  assert.match(await aliceLike.getAttribute('title') ?? '', /👍 1: Bob Live/, 'who reacted');
  assert.equal(await aliceLike.getAttribute('aria-pressed'), 'false', 'not Alice\'s');
  assert.equal(await bobRow.locator('.reaction', { hasText: '👍' }).getAttribute('aria-pressed'), 'true', 'Bob\'s own');

  // Alice adds hers by pressing the count; then any emoji, typed.
  await aliceLike.click();
  await bobRow.locator('.reaction', { hasText: '👍' }).locator('.reaction-count', { hasText: '2' }).waitFor();
  assert.match(await bobRow.locator('.reaction', { hasText: '👍' }).getAttribute('title') ?? '', /Alice Live/);
  await aliceRow.hover();
  await aliceRow.getByRole('button', { name: 'React' }).click();
  await aliceRow.getByLabel('Any emoji').fill('🦀');
  await aliceRow.getByRole('button', { name: 'Add' }).click();
  await bobRow.locator('.reaction', { hasText: '🦀' }).locator('.reaction-count', { hasText: '1' }).waitFor();

  // Bob takes his 👍 back.
  await bobRow.locator('.reaction', { hasText: '👍' }).click();
  await aliceRow.locator('.reaction', { hasText: '👍' }).locator('.reaction-count', { hasText: /^1$/ }).waitFor();
  assert.equal(await aliceRow.locator('.reaction', { hasText: '👍' }).getAttribute('aria-pressed'), 'true');

  // Something that is not one emoji: the server's error is shown, nothing changes.
  await aliceRow.hover();
  await aliceRow.getByRole('button', { name: 'React' }).click();
  await aliceRow.getByLabel('Any emoji').fill('ok');
  await aliceRow.getByRole('button', { name: 'Add' }).click();
  await alice.locator('.toast-item', { hasText: /emoji/i }).waitFor();
  assert.equal(await bobRow.locator('.reaction').count(), 2);
  // After a reload the reactions come with the history.
  await bob.reload();
  await dialogButton(bob, 'Alice Live').click();
  await bob.locator('#history .row').filter({ hasText: 'Lunch is on me today' }).locator('.reaction', { hasText: '🦀' }).waitFor();
  assert.deepEqual(problems, [[], []]);
});

test('drafts follow one person across devices, live, and a send clears them everywhere', async () => {
  const token = await alice.evaluate(() => localStorage.getItem('helio.token'));
  const second = await browser.newContext({ viewport: DESKTOP });
  second.setDefaultTimeout(10_000);
  await second.addInitScript((t) => localStorage.setItem('helio.token', t ?? ''), token);
  const laptop = await second.newPage();
  await laptop.goto(server.url);
  const row = dialogButton(laptop, 'Bob Live');
  await row.waitFor();

  // Typed on the first device…
  await dialogButton(alice, 'Bob Live').click();
  await alice.getByRole('textbox', { name: 'Message' }).fill('see you at the station');
  // …shows on the other one's dialog list, and in its composer when opened.
  await row.locator('.dialog-preview', { hasText: 'Draft: see you at the station' }).waitFor();
  await row.click();
  const box = laptop.getByRole('textbox', { name: 'Message' });
  await laptop.waitForFunction(() => /** @type {HTMLTextAreaElement} */ (document.getElementById('composer'))?.value === 'see you at the station');
  // Finished and sent on the second device: the first one's composer clears.
  await box.fill('see you at the station at 9');
  await box.press('Enter');
  await message(bob, 'see you at the station at 9').waitFor();
  await alice.waitForFunction(() => /** @type {HTMLTextAreaElement} */ (document.getElementById('composer'))?.value === '');
  // A reload still has no draft.
  await alice.reload();
  await dialogButton(alice, 'Bob Live').locator('.dialog-preview', { hasText: 'see you at the station at 9' }).waitFor();
  assert.equal(await dialogButton(alice, 'Bob Live').locator('.draft-label').count(), 0);
  await second.close();
  assert.deepEqual(problems, [[], []]);
});
