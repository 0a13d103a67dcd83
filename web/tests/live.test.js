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

test('pinning from the menu shows a pinned bar on both sides, live; the bar jumps to the message', async () => {
  await dialogButton(alice, 'Bob Live').click();
  await send(alice, 'The address is 221B Baker Street');
  await dialogButton(bob, 'Alice Live').click();
  for (let i = 0; i < 3; i++) await send(alice, `small talk ${i}`);
  await message(bob, 'small talk 2').waitFor();
  // The menu opens with a right click, and moves with the arrow keys.
  const row = alice.locator('#history .row').filter({ hasText: 'The address is 221B Baker Street' });
  await row.locator('.bubble').click({ button: 'right' });
  const menu = alice.getByRole('menu', { name: 'Message actions' });
  await menu.waitFor();
  assert.deepEqual(await menu.getByRole('menuitem').allInnerTexts(), ['Reply', 'Copy text', 'Forward', 'Pin', 'Select', 'Delete']);
  await alice.keyboard.press('ArrowDown');
  await alice.keyboard.press('ArrowDown');
  await alice.keyboard.press('ArrowDown');
  assert.equal(await alice.evaluate(() => document.activeElement?.textContent), 'Pin');
  await alice.keyboard.press('Enter');
  await menu.waitFor({ state: 'detached' });
  const bar = bob.getByRole('region', { name: 'Pinned message' });
  await bar.locator('.pinned-text', { hasText: 'The address is 221B Baker Street' }).waitFor();
  await alice.getByRole('region', { name: 'Pinned message' }).locator('.pinned-text', { hasText: '221B' }).waitFor();
  await bar.getByRole('button', { name: /Pinned message/ }).click();
  await bob.locator('#history .row.jumped', { hasText: 'The address is 221B Baker Street' }).waitFor();
  // A fresh page shows the pin too (fetched when the chat opens), and unpinning clears it live.
  await bob.reload();
  await dialogButton(bob, 'Alice Live').click();
  await bob.getByRole('region', { name: 'Pinned message' }).locator('.pinned-text', { hasText: '221B' }).waitFor();
  await bob.getByRole('region', { name: 'Pinned message' }).getByRole('button', { name: 'Unpin' }).click();
  await alice.getByRole('region', { name: 'Pinned message' }).waitFor({ state: 'detached' });
  assert.deepEqual(problems, [[], []]);
});

test('forwarding from the menu to chosen chats: the copies arrive live, marked as forwarded', async () => {
  await alice.getByRole('button', { name: 'New group' }).click();
  await alice.getByLabel('Group name').fill('Forward club');
  await alice.getByLabel('Members').fill('@bob_live');
  await alice.getByRole('button', { name: 'Create group' }).click();
  await alice.locator('#chat-title', { hasText: 'Forward club' }).waitFor();
  await dialogButton(bob, 'Alice Live').click();
  await send(bob, 'Worth sharing: the lamp works again');
  const row = alice.locator('#history .row').filter({ hasText: 'Worth sharing: the lamp works again' });
  await dialogButton(alice, 'Bob Live').click();
  await row.hover();
  await row.getByRole('button', { name: 'More' }).click();
  await alice.getByRole('menuitem', { name: 'Forward' }).click();
  const dialog = alice.getByRole('dialog', { name: 'Forward to…' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Forward' }).click();
  await dialog.getByText('Choose at least one chat.').waitFor();
  await dialog.getByLabel('Forward club').check();
  await dialog.getByRole('button', { name: 'Forward' }).click();
  await dialog.waitFor({ state: 'detached' });
  await alice.locator('.toast-item', { hasText: 'Forwarded to Forward club' }).waitFor();
  await dialogButton(bob, 'Forward club').click();
  const copy = bob.locator('#history .row').filter({ hasText: 'Worth sharing: the lamp works again' });
  // Bob sees Alice's copy of his own message.
  await copy.locator('.author', { hasText: 'Alice Live' }).waitFor();
  await copy.locator('.forwarded', { hasText: 'Forwarded from You' }).waitFor();
  await dialogButton(alice, 'Forward club').click();
  await alice.locator('#history .row').filter({ hasText: 'Worth sharing' }).locator('.forwarded', { hasText: 'Forwarded from Bob Live' }).waitFor();
  assert.deepEqual(problems, [[], []]);
});

test('reporting someone else\'s message from the menu: the operators get it, once', async () => {
  await dialogButton(bob, 'Alice Live').click();
  await dialogButton(alice, 'Bob Live').click();
  await send(alice, 'cheap watches, click here');
  const row = bob.locator('#history .row.other').filter({ hasText: 'cheap watches, click here' });
  await row.locator('.bubble').click({ button: 'right' });
  const menu = bob.getByRole('menu', { name: 'Message actions' });
  assert.deepEqual(await menu.getByRole('menuitem').allInnerTexts(), ['Reply', 'Copy text', 'Forward', 'Pin', 'Report', 'Select', 'Delete']);
  await menu.getByRole('menuitem', { name: 'Report' }).click();
  const dialog = bob.getByRole('dialog', { name: 'Report message?' });
  await dialog.getByRole('button', { name: 'Spam' }).click();
  await dialog.waitFor({ state: 'detached' });
  const toast = await bob.locator('.toast-item', { hasText: 'Reported to the operators' }).innerText();
  const id = Number(toast.match(/report (\d+)/)?.[1]);
  // Reporting the same message again answers the first report: the one the menu made.
  const again = await bob.evaluate(async (text) => {
    const app = /** @type {any} */ (window).heliograph;
    const cs = app.model.openChat;
    const m = [...cs.messages.values()].find((x) => x.content.text === text);
    return (await app.conn.call('messages.report', { chat_id: m.chat_id, message_id: m.id, reason: 'spam' })).id;
  }, 'cheap watches, click here');
  assert.equal(again, id);
  // One's own messages cannot be reported.
  const own = alice.locator('#history .row.own').filter({ hasText: 'cheap watches, click here' });
  await own.locator('.bubble').click({ button: 'right' });
  assert.equal(await alice.getByRole('menuitem', { name: 'Report' }).count(), 0);
  await alice.keyboard.press('Escape');
  assert.deepEqual(problems, [[], []]);
});

test('devices: the sessions list names where you are signed in, and terminating one signs it out at once', async () => {
  const other = await browser.newContext({ viewport: DESKTOP });
  other.setDefaultTimeout(10_000);
  const tablet = await other.newPage();
  await tablet.goto(server.url);
  await signIn(tablet, 7001, 'Alice Live');
  await dialogButton(tablet, 'Bob Live').waitFor();

  await alice.getByRole('button', { name: /Settings/ }).click();
  await alice.getByRole('button', { name: 'Devices' }).click();
  const dialog = alice.getByRole('dialog', { name: 'Devices' });
  const sessions = dialog.getByRole('list', { name: 'Sessions' }).getByRole('listitem');
  await sessions.nth(1).waitFor();
  assert.equal(await sessions.count(), 2);
  await dialog.getByText('This device').waitFor();
  await dialog.getByRole('button', { name: 'Terminate all other sessions' }).click();
  // The tablet is signed out, live; this device stays.
  await tablet.getByLabel('Phone number').waitFor();
  await sessions.nth(1).waitFor({ state: 'detached' });
  assert.equal(await sessions.count(), 1);
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialogButton(alice, 'Bob Live').click();
  await send(alice, 'still signed in here');
  await message(bob, 'still signed in here').waitFor();
  await other.close();
  assert.deepEqual(problems, [[], []]);
});

test('@mentions in a group: typing @ offers the members, the mention lands, and the dialog list marks it', async () => {
  // Carol joins the group Alice made, so there is someone to choose among.
  const carolContext = await browser.newContext({ viewport: DESKTOP });
  carolContext.setDefaultTimeout(10_000);
  const carol = await carolContext.newPage();
  await carol.goto(server.url);
  await signIn(carol, 7003, 'Carol Live');
  await carol.getByRole('button', { name: /Settings/ }).click();
  await carol.getByLabel('Username', { exact: true }).fill('carol_live');
  await carol.getByRole('button', { name: 'Save' }).click();
  await carol.locator('dialog').waitFor({ state: 'detached' });
  await dialogButton(alice, 'Forward club').click();
  await alice.getByRole('button', { name: 'Add members' }).click();
  await alice.getByLabel('Usernames or phone numbers').fill('@carol_live');
  await alice.getByRole('button', { name: 'Add', exact: true }).click();
  await alice.locator('#chat-sub', { hasText: '3 members' }).waitFor();
  await dialogButton(bob, 'Alice Live').click();

  const box = alice.getByRole('textbox', { name: 'Message' });
  await box.fill('');
  await box.pressSequentially('lunch, @');
  const list = alice.getByRole('listbox', { name: 'Mention a member' });
  await list.getByRole('option').nth(1).waitFor();
  assert.deepEqual((await list.getByRole('option').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim()).sort(), ['BL Bob Live @bob_live', 'CL Carol Live @carol_live']);
  await box.pressSequentially('ca');
  await list.getByRole('option').first().waitFor();
  assert.equal(await list.getByRole('option').count(), 1);
  await box.press('Enter');
  await list.waitFor({ state: 'detached' });
  assert.equal(await box.inputValue(), 'lunch, @carol_live ');
  await box.pressSequentially('at one?');
  await box.press('Enter');
  const row = dialogButton(carol, 'Forward club');
  await row.locator('.badge.mention').waitFor();
  assert.equal(await dialogButton(bob, 'Forward club').locator('.badge.mention').count(), 0, 'only the one named');
  await row.click();
  await message(carol, 'lunch, @carol_live at one?').waitFor();
  await row.locator('.badge.mention').waitFor({ state: 'detached' });
  await carolContext.close();
  assert.deepEqual(problems, [[], []]);
});

test('several messages at once: select from the menu, then forward them together and delete them for both', async () => {
  await dialogButton(alice, 'Bob Live').click();
  await dialogButton(bob, 'Alice Live').click();
  for (const t of ['first of three', 'second of three', 'third of three']) await send(alice, t);
  await message(bob, 'third of three').waitFor();
  const row = (/** @type {string} */ t) => alice.locator('#history .row').filter({ hasText: t });
  await row('first of three').locator('.bubble').click({ button: 'right' });
  await alice.getByRole('menuitem', { name: 'Select' }).click();
  const bar = alice.getByRole('toolbar', { name: 'Selected messages' });
  await bar.getByText('1 selected').waitFor();
  await row('third of three').getByRole('checkbox').check();
  await bar.getByText('2 selected').waitFor();
  assert.equal(await alice.getByRole('textbox', { name: 'Message' }).count(), 0, 'the selection bar stands in for the composer');

  await bar.getByRole('button', { name: 'Forward' }).click();
  const pick = alice.getByRole('dialog', { name: 'Forward to…' });
  await pick.getByText('2 messages').waitFor();
  await pick.getByLabel('Forward club').check();
  await pick.getByRole('button', { name: 'Forward' }).click();
  await bar.waitFor({ state: 'detached' });
  await dialogButton(bob, 'Forward club').click();
  await message(bob, 'first of three').waitFor();
  await message(bob, 'third of three').waitFor();
  assert.equal(await bob.locator('#history .text', { hasText: 'second of three' }).count(), 0);

  await dialogButton(bob, 'Alice Live').click();
  await row('first of three').locator('.bubble').click({ button: 'right' });
  await alice.getByRole('menuitem', { name: 'Select' }).click();
  await bar.getByText('1 selected').waitFor();
  await row('second of three').getByRole('checkbox').check();
  await bar.getByRole('button', { name: 'Delete' }).click();
  const dialog = alice.getByRole('dialog', { name: 'Delete 2 messages?' });
  await dialog.getByRole('button', { name: 'Delete for me and Bob Live' }).click();
  await bob.locator('#history .row').filter({ hasText: 'second of three' }).waitFor({ state: 'detached' });
  await bob.locator('#history .row').filter({ hasText: 'first of three' }).waitFor({ state: 'detached' });
  await message(bob, 'third of three').waitFor();
  await alice.getByRole('textbox', { name: 'Message' }).waitFor();
  assert.deepEqual(problems, [[], []]);
});
