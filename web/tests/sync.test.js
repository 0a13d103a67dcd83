// The pts rule of docs/protocol.md §3 as app/sync.js applies it, without a browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';

/** @type {Map<string, string>} */
const storage = new Map();
globalThis.localStorage = /** @type {any} */ ({
  getItem: (/** @type {string} */ k) => storage.get(k) ?? null,
  setItem: (/** @type {string} */ k, /** @type {string} */ v) => storage.set(k, v),
  removeItem: (/** @type {string} */ k) => storage.delete(k),
});
const { Sync } = await import('../app/sync.js');

/** An update of the user log (or of chat log `log`) at `pts`. */
const u = (/** @type {number} */ pts, /** @type {number} */ log = 0) => ({ pts, pts_count: 1, date: 0, type: 'read_inbox', chat_id: 1, max_id: pts, ...(log ? { log } : {}) });

/**
 * A Sync whose server holds `server[log]` = updates 1..n of each log.
 * @param {Record<number, number>} tops
 */
function harness(tops, key = `k${Math.random()}`) {
  /** @type {string[]} */
  const applied = [];
  /** @type {string[]} */
  const calls = [];
  const diff = (/** @type {number} */ log, /** @type {number} */ from) => {
    calls.push(`${log}:${from}`);
    const top = tops[log] ?? 0;
    if (from >= top) return { type: 'empty', pts: top };
    const updates = [];
    for (let p = from + 1; p <= top; p++) updates.push(u(p, log));
    return { type: 'complete', updates, pts: top };
  };
  const sync = new Sync({
    storageKey: key,
    userState: async () => tops[0] ?? 0,
    userDifference: async (pts) => /** @type {any} */ (diff(0, pts)),
    chatDifference: async (chat, pts) => /** @type {any} */ (diff(chat, pts)),
    apply: (x) => applied.push(`${x.log ?? 0}:${x.pts}`),
    tooLong: () => applied.push('too_long'),
  });
  return { sync, applied, calls, key };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

test('a fresh client starts at get_state and applies the next updates in order', async () => {
  const { sync, applied } = harness({ 0: 5 });
  await sync.catchUp();
  sync.receive(u(6));
  sync.receive(u(7));
  sync.receive(u(7));
  sync.receive(u(3));
  assert.deepEqual(applied, ['0:6', '0:7']);
});

test('updates that arrive during catch-up are held, then the duplicates ignored', async () => {
  const h = harness({ 0: 3 });
  h.sync.local.set(0, 0);
  h.sync.receive(u(3));
  h.sync.receive(u(4));
  await h.sync.catchUp();
  assert.deepEqual(h.applied, ['0:1', '0:2', '0:3', '0:4']);
});

test('a gap fetches the difference, and held updates follow it', async () => {
  const tops = { 0: 2 };
  const h = harness(tops);
  await h.sync.catchUp();
  tops[0] = 5;
  h.sync.receive(u(5));
  h.sync.receive(u(6));
  await settle();
  await settle();
  assert.deepEqual(h.applied, ['0:3', '0:4', '0:5', '0:6']);
  assert.deepEqual(h.calls, ['0:2']);
});

test('chat logs: held until followed, caught up from their own position', async () => {
  const tops = { 0: 0, 31: 7 };
  const h = harness(tops);
  await h.sync.catchUp();
  h.sync.receive(u(8, 31));
  h.sync.follow(31, 7);
  assert.deepEqual(h.applied, ['31:8']);
  tops[31] = 10;
  await h.sync.catchUp();
  assert.deepEqual(h.applied, ['31:8', '31:9', '31:10']);
});

test('positions survive a reload', async () => {
  const h = harness({ 0: 4, 31: 2 });
  await h.sync.catchUp();
  h.sync.follow(31, 2);
  h.sync.receive(u(5));
  const again = harness({ 0: 6, 31: 3 }, h.key);
  assert.equal(again.sync.fresh, false);
  await again.sync.catchUp();
  assert.deepEqual(again.applied, ['0:6', '31:3']);
});

test('too far behind: the application reloads', async () => {
  const h = harness({});
  h.sync.local.set(0, 1);
  h.sync.deps.userDifference = async () => ({ type: 'too_long', pts: 500000 });
  await h.sync.catchUp();
  assert.deepEqual(h.applied, ['too_long']);
  assert.equal(h.sync.local.get(0), 500000);
});
