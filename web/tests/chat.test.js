// Two people chat in real browsers against a real server: private chat, group, channel,
// live updates, reload, going offline and catching up, and hostile text shown as text.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { deflateSync, gzipSync } from 'node:zlib';
import { startServer, launchBrowser, signIn, watch, message, dialogButton, send, screenshot, DESKTOP, PHONE } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let alice;
/** @type {import('playwright-core').Page} */
let bob;
/** @type {import('playwright-core').BrowserContext} */
let bobContext;
/** @type {string[]} */
let aliceProblems;
/** @type {string[]} */
let bobProblems;

const XSS = '<img src=x onerror=alert(1)>';

/**
 * A valid RGB PNG of `w`×`h` pixels, a colour gradient.
 * @param {number} w
 * @param {number} h
 */
function makePng(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (/** @type {Buffer} */ b) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (/** @type {string} */ type, /** @type {Buffer} */ data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0; // filter: none
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = (x * 255) / w;
      raw[o + 1] = (y * 255) / h;
      raw[o + 2] = 160;
    }
  }
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const a = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
  bobContext = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
  alice = await a.newPage();
  bob = await bobContext.newPage();
  a.setDefaultTimeout(10_000);
  bobContext.setDefaultTimeout(10_000);
  aliceProblems = watch(alice);
  bobProblems = watch(bob);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the page is served with a CSP that forbids inline scripts, and loads under 200 KiB', async () => {
  const res = await alice.goto(server.url);
  assert.ok(res);
  const headers = res.headers();
  assert.match(headers['content-security-policy'], /script-src 'self'(;|$)/);
  assert.match(headers['content-security-policy'], /connect-src 'self'/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  await alice.getByLabel('Phone number').waitFor();
  const bytes = await alice.evaluate(() => {
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    return entries.reduce((sum, e) => sum + /** @type {PerformanceResourceTiming} */ (e).transferSize, 0);
  });
  assert.ok(bytes > 10_000 && bytes < 200 * 1024, `first load transferred ${bytes} bytes`);
  // The figure in README: the page and every file it fetched, as served and gzipped.
  const urls = await alice.evaluate(() => [location.href, ...performance.getEntriesByType('resource').map((e) => e.name)]);
  let raw = 0;
  let gzipped = 0;
  for (const url of urls) {
    const body = Buffer.from(await (await fetch(url)).arrayBuffer());
    raw += body.length;
    gzipped += gzipSync(body, { level: 9 }).length;
  }
  console.log(`first load: ${urls.length} files, ${raw} bytes, ${gzipped} bytes gzipped`);
  assert.ok(raw < 200 * 1024, `the first load is ${raw} bytes`);
  await screenshot(alice, 'signin-desktop-light');
});

test('two people sign in and chat privately, live', async () => {
  await signIn(alice, 1001, 'Alice Liddell');
  await bob.goto(server.url);
  await signIn(bob, 2002, 'Bob Builder');

  // Bob takes a username so Alice can find him.
  await bob.getByRole('button', { name: /Settings/ }).click();
  await bob.getByLabel('Username', { exact: true }).fill('bob_builder');
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.locator('dialog').waitFor({ state: 'detached' });

  // Alice finds him by searching as she types.
  await alice.getByRole('searchbox').fill('@bob_builder');
  await alice.locator('.found-item').click();
  await alice.locator('#chat-title', { hasText: 'Bob Builder' }).waitFor();
  await send(alice, 'Hello Bob! Lunch at 1?');
  await message(alice, 'Hello Bob! Lunch at 1?').waitFor();

  // Bob sees the new chat with an unread badge, live.
  const fromAlice = dialogButton(bob, 'Alice Liddell');
  await fromAlice.locator('.badge', { hasText: '1' }).waitFor();
  await fromAlice.locator('.dialog-preview', { hasText: 'Hello Bob! Lunch at 1?' }).waitFor();
  await fromAlice.click();
  await message(bob, 'Hello Bob! Lunch at 1?').waitFor();
  await fromAlice.locator('.badge').waitFor({ state: 'detached' });

  // Alice sees that Bob read it, and that he is typing.
  await alice.locator('#history .row.own .tick.read').first().waitFor();
  await bob.getByRole('textbox', { name: 'Message' }).pressSequentially('Sure');
  await alice.locator('#chat-sub', { hasText: 'typing' }).waitFor();
  await bob.getByRole('textbox', { name: 'Message' }).press('Enter');
  await message(alice, 'Sure').waitFor();

  // Shift+Enter makes a new line; Enter sends.
  const box = alice.getByRole('textbox', { name: 'Message' });
  await box.pressSequentially('line one');
  await box.press('Shift+Enter');
  await box.pressSequentially('line two');
  await box.press('Enter');
  const multi = message(bob, 'line one');
  await multi.waitFor();
  assert.equal(await multi.textContent(), 'line one\nline two');
});

test('markup in a message is shown as text and never runs', async () => {
  await send(alice, XSS);
  const shown = message(bob, XSS);
  await shown.waitFor();
  assert.equal(await shown.textContent(), XSS);
  assert.equal(await bob.locator('#history img').count(), 0);
  assert.equal(await alice.locator('#history img').count(), 0);
  await dialogButton(bob, 'Alice Liddell').locator('.dialog-preview', { hasText: XSS }).waitFor();
  assert.deepEqual(bobProblems, []);
  assert.deepEqual(aliceProblems, []);
});

test('reply, edit and delete', async () => {
  // Bob replies to Alice's first message.
  const original = bob.locator('#history .row.other').filter({ hasText: 'Hello Bob! Lunch at 1?' });
  await original.hover();
  await original.getByRole('button', { name: 'Reply' }).click();
  await send(bob, 'One works for me');
  const reply = alice.locator('#history .row.other').filter({ hasText: 'One works for me' });
  await reply.locator('.reply-quote', { hasText: 'Hello Bob! Lunch at 1?' }).waitFor();

  // Alice edits her last message with the Up arrow.
  await send(alice, 'a message with a typo');
  await message(bob, 'a message with a typo').waitFor();
  const box = alice.getByRole('textbox', { name: 'Message' });
  await box.focus();
  await box.press('ArrowUp');
  await alice.locator('.compose-bar', { hasText: 'Edit message' }).waitFor();
  await box.fill('an edited message');
  await box.press('Enter');
  const edited = bob.locator('#history .row.other').filter({ hasText: 'an edited message' });
  await edited.locator('.edited').waitFor();

  // Alice deletes it for everyone (the dialog asks: for her, or for both).
  const mine = alice.locator('#history .row.own').filter({ hasText: 'an edited message' });
  await mine.hover();
  await mine.getByRole('button', { name: 'Delete' }).click();
  await alice.getByRole('dialog', { name: 'Delete message?' }).getByRole('button', { name: 'Delete for me and Bob Builder' }).click();
  await bob.locator('#history .row').filter({ hasText: 'an edited message' }).waitFor({ state: 'detached' });
});

test('attachments: a photo shows a preview, a document downloads', async () => {
  // Alice attaches a picture with a caption from the composer; the upload bar runs to the end.
  await alice.getByRole('textbox', { name: 'Message' }).fill('a tiny picture');
  await alice.locator('#attach-input').setInputFiles({ name: 'gradient.png', mimeType: 'image/png', buffer: makePng(48, 32) });
  await alice.locator('#upload-status', { hasText: 'Sent' }).waitFor();
  assert.ok(await alice.locator('#upload-progress').evaluate((el) => {
    const p = /** @type {HTMLProgressElement} */ (el);
    return p.max > 1 && p.value === p.max;
  }), 'the progress bar is full');
  assert.equal(await alice.getByRole('textbox', { name: 'Message' }).inputValue(), '');

  // Bob sees the preview (fetched with his token into a blob: URL) and the caption.
  await message(bob, 'a tiny picture').waitFor();
  const preview = bob.locator('#history .row.other img.media-photo').first();
  await preview.waitFor();
  await bob.waitForFunction(() => {
    const img = /** @type {HTMLImageElement | null} */ (document.querySelector('#history .row.other img.media-photo'));
    return !!img && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;
  });
  await alice.waitForFunction(() => {
    const img = /** @type {HTMLImageElement | null} */ (document.querySelector('#history .row.own img.media-photo'));
    return !!img && img.src.startsWith('blob:') && img.naturalWidth > 0;
  });

  // A document: Bob sees its name and size, and downloads the exact bytes.
  const text = 'meeting notes: bring the lamp\n';
  await alice.locator('#attach-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
  const doc = bob.locator('#history .row.other .media-doc').filter({ hasText: 'notes.txt' });
  await doc.waitFor();
  await doc.filter({ hasText: `${text.length} B` }).waitFor();
  const [download] = await Promise.all([bob.waitForEvent('download'), doc.click()]);
  assert.equal(download.suggestedFilename(), 'notes.txt');
  const path = await download.path();
  assert.ok(path);
  assert.equal(readFileSync(path, 'utf8'), text);
  await dialogButton(bob, 'Alice Liddell').locator('.dialog-preview', { hasText: 'notes.txt' }).waitFor();
  assert.deepEqual(bobProblems, []);
  assert.deepEqual(aliceProblems, []);
});

test('a group: create, add by username, chat live', async () => {
  await alice.getByRole('button', { name: 'New group' }).click();
  await alice.getByLabel('Group name').fill('Lunch crew');
  await alice.getByLabel('Members').fill('@bob_builder');
  await alice.getByRole('button', { name: 'Create group' }).click();
  await alice.locator('#chat-title', { hasText: 'Lunch crew' }).waitFor();
  await alice.locator('#chat-sub', { hasText: '2 members' }).waitFor();
  await send(alice, 'Welcome to the crew');

  const group = dialogButton(bob, 'Lunch crew');
  await group.locator('.dialog-preview', { hasText: 'Welcome to the crew' }).waitFor();
  await group.click();
  await bob.locator('#history .row.other').filter({ hasText: 'Welcome to the crew' }).locator('.author', { hasText: 'Alice Liddell' }).waitFor();
  await send(bob, 'Glad to be here');
  await alice.locator('#history .row.other').filter({ hasText: 'Glad to be here' }).locator('.author', { hasText: 'Bob Builder' }).waitFor();

  // An invite link is offered to the admin.
  await alice.getByRole('button', { name: 'Invite link' }).click();
  const link = await alice.getByLabel('Anyone with this link can join').inputValue();
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/\+[A-Za-z0-9]+$/);
  await alice.getByRole('button', { name: 'Close' }).click();

  // Carol opens the link, signs up, and lands in the group.
  const carolContext = await browser.newContext({ viewport: DESKTOP });
  const carol = await carolContext.newPage();
  await carol.goto(link);
  await signIn(carol, 3003, 'Carol');
  await carol.locator('#chat-title', { hasText: 'Lunch crew' }).waitFor();
  await message(carol, 'Glad to be here').waitFor();
  await alice.locator('#chat-sub', { hasText: '3 members' }).waitFor();
  await carolContext.close();
});

test('a channel: create with a public name, join by @name, posts arrive live', async () => {
  await alice.getByRole('button', { name: 'New channel' }).click();
  await alice.getByLabel('Channel name').fill('Heliograph News');
  await alice.getByLabel('Public @name (optional)').fill('helio_news');
  await alice.getByRole('button', { name: 'Create channel' }).click();
  await alice.locator('#chat-title', { hasText: 'Heliograph News' }).waitFor();
  await send(alice, 'Release 0.1 is out');
  await message(alice, 'Release 0.1 is out').waitFor();

  await bob.getByRole('searchbox').fill('@helio_news');
  await bob.locator('.found-item', { hasText: 'Join' }).click();
  await bob.locator('#chat-title', { hasText: 'Heliograph News' }).waitFor();
  await message(bob, 'Release 0.1 is out').waitFor();
  assert.equal(await bob.getByRole('textbox', { name: 'Message' }).isVisible(), false, 'subscribers cannot post');

  await send(alice, 'Release 0.2 is out');
  await message(bob, 'Release 0.2 is out').waitFor();
});

test('after a reload the session and the history are still there', async () => {
  await bob.reload();
  await dialogButton(bob, 'Alice Liddell').click();
  await message(bob, 'Hello Bob! Lunch at 1?').waitFor();
  await message(bob, XSS).waitFor();
});

test('offline and back: every missed message arrives, none twice', async () => {
  await bobContext.setOffline(true);
  await bob.locator('#conn-status', { hasText: 'Connecting' }).waitFor();
  await dialogButton(alice, 'Bob Builder').click();
  await send(alice, 'While you were away (1)');
  await send(alice, 'While you were away (2)');
  await dialogButton(alice, 'Lunch crew').click();
  await send(alice, 'Group news while you were away');
  await dialogButton(alice, 'Heliograph News').click();
  await send(alice, 'Release 0.3 is out');
  await message(alice, 'Release 0.3 is out').waitFor();

  await bobContext.setOffline(false);
  await message(bob, 'While you were away (2)').waitFor({ timeout: 20_000 });
  await message(bob, 'While you were away (1)').waitFor();
  assert.equal(await bob.locator('#history .row .text', { hasText: 'While you were away (1)' }).count(), 1);
  await dialogButton(bob, 'Lunch crew').locator('.dialog-preview', { hasText: 'Group news while you were away' }).waitFor();
  await dialogButton(bob, 'Lunch crew').locator('.badge', { hasText: '1' }).waitFor();
  await dialogButton(bob, 'Heliograph News').locator('.dialog-preview', { hasText: 'Release 0.3 is out' }).waitFor();
  assert.deepEqual(bobProblems, []);
});

test('screenshots: desktop and phone, light and dark', async () => {
  const token = await alice.evaluate(() => localStorage.getItem('helio.token'));
  assert.ok(token);
  await dialogButton(alice, 'Bob Builder').click();
  await message(alice, 'While you were away (2)').waitFor();
  await screenshot(alice, 'chat-desktop-light');

  for (const scheme of /** @type {const} */ (['light', 'dark'])) {
    for (const [size, viewport] of /** @type {const} */ ([['desktop', DESKTOP], ['phone', PHONE]])) {
      const fresh = await browser.newContext({ viewport, colorScheme: scheme, isMobile: size === 'phone', hasTouch: size === 'phone' });
      const page = await fresh.newPage();
      await page.goto(server.url);
      await page.getByLabel('Phone number').waitFor();
      if (!(scheme === 'light' && size === 'desktop')) await screenshot(page, `signin-${size}-${scheme}`);
      await fresh.close();

      const signed = await browser.newContext({ viewport, colorScheme: scheme, isMobile: size === 'phone', hasTouch: size === 'phone' });
      await signed.addInitScript((t) => localStorage.setItem('helio.token', t), token);
      const p = await signed.newPage();
      await p.goto(server.url);
      await dialogButton(p, 'Bob Builder').waitFor();
      if (size === 'phone') await screenshot(p, `dialogs-phone-${scheme}`);
      await dialogButton(p, 'Bob Builder').click();
      await message(p, 'While you were away (2)').waitFor();
      await p.locator('#history .row .tick.read').last().waitFor();
      if (!(scheme === 'light' && size === 'desktop')) await screenshot(p, `chat-${size}-${scheme}`);
      await signed.close();
    }
  }
});

test('a lost live update is noticed by its pts and fetched; a resync frame catches up', async () => {
  const token = await bob.evaluate(() => localStorage.getItem('helio.token'));
  const context = await browser.newContext({ viewport: DESKTOP });
  await context.addInitScript((t) => localStorage.setItem('helio.token', t), token);
  // Between this page and the server: drops chosen update frames, and can inject frames.
  let dropAll = false;
  /** @type {(text: string) => void} */
  let dropped = () => {};
  /** @type {import('playwright-core').WebSocketRoute | null} */
  let pageSide = null;
  await context.routeWebSocket(/\/ws$/, (ws) => {
    pageSide = ws;
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      const text = String(m);
      if (text.startsWith('{"type":"update"') && (dropAll || text.includes('lost on the way'))) {
        dropped(text);
        return;
      }
      ws.send(m);
    });
  });
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(server.url);
  await dialogButton(page, 'Alice Liddell').click();
  await message(page, 'While you were away (2)').waitFor();
  await dialogButton(alice, 'Bob Builder').click();

  // One update never arrives; the next one shows the gap, and the difference fills it.
  const lost = new Promise((r) => (dropped = r));
  await send(alice, 'lost on the way');
  await lost;
  await send(alice, 'after the gap');
  await message(page, 'after the gap').waitFor();
  await message(page, 'lost on the way').waitFor();

  // Everything is dropped, then the server says "resync": the page catches up.
  dropAll = true;
  const gone = new Promise((r) => (dropped = r));
  await send(alice, 'missed before a resync');
  await gone;
  dropAll = false;
  assert.ok(pageSide);
  /** @type {import('playwright-core').WebSocketRoute} */ (pageSide).send(JSON.stringify({ type: 'resync', reason: 'test' }));
  await message(page, 'missed before a resync').waitFor();
  assert.equal(await page.locator('#history .text', { hasText: 'lost on the way' }).count(), 1);
  assert.deepEqual(problems, []);
  await context.close();
});

test('history scrolls back page by page, with only nearby messages in the DOM', async () => {
  await alice.getByRole('button', { name: 'New group' }).click();
  await alice.getByLabel('Group name').fill('Long history');
  await alice.getByLabel('Members').fill('@bob_builder');
  await alice.getByRole('button', { name: 'Create group' }).click();
  await alice.locator('#chat-title', { hasText: 'Long history' }).waitFor();
  // 300 messages through the page's own connection (faster than typing them).
  await alice.evaluate(async () => {
    const app = /** @type {any} */ (window).heliograph;
    for (let i = 1; i <= 300; i++) {
      await app.conn.callRetrying('messages.send', { chat_id: app.openId, random_id: 1_000_000 + i, text: `numbered message ${i}` });
    }
  });
  const chat = dialogButton(bob, 'Long history');
  await chat.locator('.dialog-preview', { hasText: 'numbered message 300' }).waitFor();
  await chat.click();
  await message(bob, 'numbered message 300').waitFor();
  const history = bob.locator('#history');
  for (let i = 0; i < 60 && (await bob.locator('#history .text', { hasText: /^numbered message 1$/ }).count()) === 0; i++) {
    await history.evaluate((el) => el.scrollBy(0, -2000));
    await bob.waitForTimeout(100);
  }
  await bob.locator('#history .text', { hasText: /^numbered message 1$/ }).waitFor();
  const rows = await bob.locator('#history .row').count();
  assert.ok(rows < 100, `${rows} message rows in the DOM for 300 loaded`);
  assert.equal(await bob.evaluate(() => /** @type {any} */ (window).heliograph.chats.get(/** @type {any} */ (window).heliograph.openId).messages.size), 300);
});
