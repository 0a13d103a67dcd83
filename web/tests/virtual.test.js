// History is virtualized: a chat of 10,000 messages keeps only a screenful in the DOM and
// scrolls in well under a frame.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, DESKTOP } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('10,000 messages: few rendered, bottom-anchored, cheap to scroll', async () => {
  const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  await page.goto(server.url);
  await page.getByLabel('Phone number').waitFor();
  const src = await page.evaluate(() => /** @type {HTMLLinkElement} */ (document.querySelector('link[href$="history.js"]')).href);
  const result = await page.evaluate(async (src) => {
    const { VirtualList } = await import(src);
    const { h } = await import(src.replace(/history\.js$/, 'vendor/preact.module.js'));
    const scroller = document.createElement('div');
    scroller.className = 'history';
    scroller.style.height = '600px';
    scroller.style.overflowY = 'auto';
    document.body.replaceChildren(scroller);
    const items = Array.from({ length: 10_000 }, (_, i) => ({ key: `m${i}`, version: '', text: `message ${i} `.repeat(1 + (i % 7)) }));
    const list = new VirtualList(scroller, {
      render: (/** @type {{text: string}} */ it) => h('div', { class: 'row' }, h('div', { class: 'bubble' }, it.text)),
      estimate: () => 60,
    });
    let t = performance.now();
    list.setItems(items);
    const first = performance.now() - t;
    const atBottom = Math.abs(scroller.scrollTop + scroller.clientHeight - scroller.scrollHeight) < 2;
    const lastShown = scroller.querySelector('.vlist-body')?.lastElementChild?.textContent ?? '';
    /** @type {number[]} */
    const times = [];
    for (let i = 0; i < 60; i++) {
      scroller.scrollTop = (scroller.scrollHeight * i) / 60;
      t = performance.now();
      list.layout();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { first, atBottom, lastShown, rendered: list.rendered, p95: times[Math.floor(times.length * 0.95)] };
  }, src);
  assert.ok(result.atBottom, 'opens at the newest message');
  assert.match(result.lastShown, /message 9999/);
  assert.ok(result.rendered < 120, `${result.rendered} items in the DOM`);
  assert.ok(result.first < 500, `first layout took ${result.first} ms`);
  assert.ok(result.p95 < 16, `a scroll step took ${result.p95} ms (p95)`);
});

test('the view leaves the bottom only when scrolled up, not when content grows before a scroll event', async () => {
  const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  await page.goto(server.url);
  await page.getByLabel('Phone number').waitFor();
  const src = await page.evaluate(() => /** @type {HTMLLinkElement} */ (document.querySelector('link[href$="history.js"]')).href);
  const result = await page.evaluate(async (src) => {
    const { VirtualList } = await import(src);
    const { h } = await import(src.replace(/history\.js$/, 'vendor/preact.module.js'));
    const scroller = document.createElement('div');
    scroller.style.height = '400px';
    scroller.style.overflowY = 'auto';
    document.body.replaceChildren(scroller);
    const list = new VirtualList(scroller, { render: (/** @type {{key: string}} */ it) => h('div', { style: { height: '50px' } }, it.key), estimate: () => 50 });
    const items = Array.from({ length: 40 }, (_, i) => ({ key: `m${i}` }));
    list.setItems(items);
    // Content grows below (an image loading, a message arriving) and then a scroll event
    // comes in for the list's own earlier scroll: still at the bottom as far as the person is concerned.
    /** @type {HTMLElement} */ (list.bottom).style.height = '300px';
    scroller.dispatchEvent(new Event('scroll'));
    const afterGrowth = list.stuck;
    list.setItems([...items, { key: 'new' }]);
    const newShown = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 2;
    // The person scrolls up: unstuck; back down to the end: stuck again.
    scroller.scrollTop -= 200;
    scroller.dispatchEvent(new Event('scroll'));
    const afterUp = list.stuck;
    scroller.scrollTop = scroller.scrollHeight;
    scroller.dispatchEvent(new Event('scroll'));
    return { afterGrowth, newShown, afterUp, afterDown: list.stuck };
  }, src);
  assert.deepEqual(result, { afterGrowth: true, newShown: true, afterUp: false, afterDown: true });
});

test('a page arriving above keeps the message in view in place, even with a loader and a day row at the top', async () => {
  const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  await page.goto(server.url);
  await page.getByLabel('Phone number').waitFor();
  const src = await page.evaluate(() => /** @type {HTMLLinkElement} */ (document.querySelector('link[href$="history.js"]')).href);
  const result = await page.evaluate(async (src) => {
    const { VirtualList } = await import(src);
    const { h } = await import(src.replace(/history\.js$/, 'vendor/preact.module.js'));
    const scroller = document.createElement('div');
    scroller.style.height = '400px';
    scroller.style.overflowY = 'auto';
    document.body.replaceChildren(scroller);
    /** @param {number} from @param {number} to */
    const run = (from, to) => [{ key: 'older', msg: false }, { key: 'day', msg: false }, ...Array.from({ length: to - from + 1 }, (_, i) => ({ key: `m${from + i}`, msg: true }))];
    const list = new VirtualList(scroller, {
      render: (/** @type {{key: string}} */ it) => h('div', { 'data-key': it.key, style: { height: it.key.startsWith('m') ? `${40 + (Number(it.key.slice(1)) % 5) * 10}px` : '30px' } }, it.key),
      estimate: () => 64,
      anchors: (/** @type {{msg: boolean}} */ it) => it.msg,
    });
    list.setItems(run(101, 150));
    scroller.dispatchEvent(new Event('scroll'));
    // The person scrolls to the very top: the loader and the day row are the first in view.
    scroller.scrollTop = 0;
    scroller.dispatchEvent(new Event('scroll'));
    list.layout();
    const box = scroller.getBoundingClientRect();
    const firstMessage = () => {
      const el = /** @type {HTMLElement} */ ([...scroller.querySelectorAll('[data-key^="m"]')].find((e) => e.getBoundingClientRect().bottom > box.top));
      return { key: el.dataset.key, top: Math.round(el.getBoundingClientRect().top - box.top) };
    };
    const before = firstMessage();
    list.setItems(run(1, 150));
    const el = /** @type {HTMLElement | null} */ (scroller.querySelector(`[data-key="${before.key}"]`));
    const after = { key: el?.dataset.key, top: el ? Math.round(el.getBoundingClientRect().top - box.top) : null };
    return { before, after, stuck: list.stuck };
  }, src);
  assert.equal(result.stuck, false);
  assert.deepEqual(result.after, result.before, 'the same message at the same place');
});
