// Shared by the browser tests: a real `heliograph` server on a free port with a temporary
// data folder, and Debian's chromium driven by playwright-core.

import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The server binary: $HELIOGRAPH_BIN, or cargo's debug build. */
function binary() {
  if (process.env.HELIOGRAPH_BIN) return process.env.HELIOGRAPH_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(repo, 'target');
  for (const profile of ['debug', 'release']) {
    const p = join(target, profile, 'heliograph');
    if (existsSync(p)) return p;
  }
  throw new Error('no heliograph binary: run `cargo build --bin heliograph` first (or set HELIOGRAPH_BIN)');
}

/**
 * Starts `heliograph serve --dev` on 127.0.0.1:0 and reads the address it bound from the file
 * `--address-file` names (as `crates/testkit` does); its log is shown if it fails to start.
 * With `tls`, it serves HTTPS with that certificate (`--tls-cert`, `--tls-key`).
 * With `config`, it reads that TOML text as its configuration file (`--config`).
 * @param {{tls?: {cert: string, key: string}, config?: string}} [options]
 * @returns {Promise<{url: string, stop: () => Promise<void>}>}
 */
export async function startServer(options = {}) {
  const data = mkdtempSync(join(tmpdir(), 'heliograph-web-'));
  const addressFile = join(data, 'heliograph.address');
  const args = ['serve', '--dev', '--listen', '127.0.0.1:0', '--data', data, '--address-file', addressFile];
  if (options.tls) args.push('--tls-cert', options.tls.cert, '--tls-key', options.tls.key);
  if (options.config !== undefined) {
    const file = join(data, 'heliograph.toml');
    writeFileSync(file, options.config);
    args.push('--config', file);
  }
  const scheme = options.tls ? 'https' : 'http';
  const child = spawn(binary(), args, {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const onData = (/** @type {Buffer} */ chunk) => { log += chunk.toString(); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const url = await new Promise((ok, fail) => {
    const done = (/** @type {() => void} */ settle) => { clearTimeout(timer); clearInterval(poll); settle(); };
    const timer = setTimeout(() => done(() => fail(new Error(`the server did not start:\n${log}`))), 20_000);
    // The server writes the file (renamed into place, never half) once it accepts connections.
    const poll = setInterval(() => {
      if (existsSync(addressFile)) done(() => ok(`${scheme}://${readFileSync(addressFile, 'utf8').trim()}`));
    }, 5);
    child.once('exit', (code) => done(() => fail(new Error(`the server exited with ${code}:\n${log}`))));
  });
  const live = process.env.HELIOGRAPH_WEB_LIVE && !options.tls ? await liveWeb(url) : null;
  return {
    url: live?.url ?? url,
    stop: async () => {
      live?.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/**
 * With HELIOGRAPH_WEB_LIVE set (while working on the client): a loopback proxy in front of the
 * server that serves index.html and web/app from the working tree instead of the copies
 * embedded in the binary, so a change to the client needs no rebuild. Everything else (the
 * API, files, the WebSocket) goes to the server. CI runs without it.
 * @param {string} backend
 * @returns {Promise<{url: string, close: () => void}>}
 */
async function liveWeb(backend) {
  const target = new URL(backend);
  const types = /** @type {Record<string, string>} */ ({ js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' });
  const proxy = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const asset = url.match(/^\/app\/[^/]+\/([A-Za-z0-9_./-]+)$/);
    if (asset && !asset[1].includes('..')) {
      const file = join(repo, 'web', 'app', asset[1]);
      if (!existsSync(file)) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': types[file.split('.').pop() ?? ''] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      return res.end(readFileSync(file));
    }
    const up = http.request({ host: target.hostname, port: target.port, path: url, method: req.method, headers: req.headers }, (r) => {
      if (req.method === 'GET' && (url === '/' || url.startsWith('/+'))) {
        r.resume();
        const headers = { ...r.headers };
        delete headers['content-length'];
        res.writeHead(r.statusCode ?? 200, headers);
        return res.end(readFileSync(join(repo, 'web', 'index.html'), 'utf8').replaceAll('{{ASSETS}}', '/app/live'));
      }
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  proxy.on('upgrade', (req, socket, head) => {
    const up = net.connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      up.write(head);
      socket.pipe(up).pipe(socket);
    });
    const end = () => { up.destroy(); socket.destroy(); };
    up.on('error', end);
    socket.on('error', end);
    socket.on('close', end);
  });
  await new Promise((ok) => proxy.listen(0, '127.0.0.1', () => ok(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (proxy.address());
  return { url: `http://127.0.0.1:${address.port}`, close: () => proxy.close() };
}

/** @param {string[]} [extraArgs] more chromium flags */
export function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...extraArgs],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** A configuration without the per-session request rate, for tests that seed thousands of messages. */
export const FAST_LIMITS = '[limits]\nrequests_per_second = 100000\nrequests_burst = 100000\nrequests_per_address_per_second = 100000\n';

/**
 * The nth test number and its code (`+99966XYYYY` signs in with `XXXXX`).
 * @param {number} n
 */
export function testPhone(n) {
  const x = 1 + (n % 9);
  return { phone: `+99966${x}${String(n).padStart(4, '0')}`, code: String(x).repeat(5) };
}

/**
 * Signs in through the form, creating the account with `name` on first use.
 * @param {import('playwright-core').Page} page
 * @param {number} n
 * @param {string} name
 */
export async function signIn(page, n, name) {
  const { phone, code } = testPhone(n);
  await page.getByLabel('Phone number').fill(phone);
  await page.getByRole('button', { name: 'Send code' }).click();
  await page.getByLabel('Code').fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const nameField = page.getByLabel('Your name');
  const search = page.getByRole('searchbox');
  await Promise.race([nameField.waitFor(), search.waitFor()]);
  if (await nameField.isVisible()) {
    await nameField.fill(name);
    await page.getByRole('button', { name: 'Create account' }).click();
  }
  await search.waitFor();
}

/**
 * Collects browser-side problems: alert dialogs, page errors, CSP violations.
 * @param {import('playwright-core').Page} page
 */
export function watch(page) {
  /** @type {string[]} */
  const problems = [];
  page.on('dialog', async (d) => {
    if (d.type() === 'confirm') return d.accept();
    problems.push(`${d.type()}: ${d.message()}`);
    await d.dismiss();
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket|ERR_INTERNET_DISCONNECTED|net::/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return problems;
}

/**
 * The message bubble in the open chat whose text is exactly `text`.
 * @param {import('playwright-core').Page} page
 * @param {string} text
 */
export function message(page, text) {
  return page.locator('#history .row .text').filter({ hasText: text }).first();
}

/**
 * @param {import('playwright-core').Page} page
 * @param {string} title
 */
export function dialogButton(page, title) {
  return page.locator('#dialogs button.dialog').filter({ has: page.locator('.dialog-title', { hasText: title }) }).first();
}

/**
 * Types a message in the open chat and sends it with Enter.
 * @param {import('playwright-core').Page} page
 * @param {string} text
 */
export async function send(page, text) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

/**
 * Saves a screenshot under docs/screenshots/.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 */
export async function screenshot(page, name) {
  await page.mouse.move(0, 0);
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: join(repo, 'docs', 'screenshots', `${name}.png`) });
}

/**
 * Sends `count` messages `${prefix} 1` … `${prefix} count` to a chat through the page's own
 * connection, 64 in flight (the server runs 32 of a connection's requests at once, so ids need
 * not follow the numbers: tests that check order read the ids).
 * @param {import('playwright-core').Page} page
 * @param {number} chatId
 * @param {number} count
 * @param {string} prefix
 */
export async function seed(page, chatId, count, prefix) {
  await page.evaluate(async ({ chatId, count, prefix }) => {
    const app = /** @type {any} */ (window).heliograph;
    const sends = [];
    const base = Math.floor(Math.random() * 2 ** 40);
    for (let i = 1; i <= count; i++) {
      sends.push(app.conn.callRetrying('messages.send', { chat_id: chatId, random_id: base + i, text: `${prefix} ${i}` }));
      if (sends.length >= 64) await sends.shift();
    }
    await Promise.all(sends);
  }, { chatId, count, prefix });
}

/**
 * The ids of the message rows inside the history's viewport, top to bottom.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<number[]>}
 */
export function visibleIds(page) {
  return page.evaluate(() => {
    const scroller = /** @type {HTMLElement} */ (document.getElementById('history'));
    const box = scroller.getBoundingClientRect();
    return [...scroller.querySelectorAll('.row[data-id]')]
      .filter((el) => {
        const r = el.getBoundingClientRect();
        return r.bottom > box.top && r.top < box.bottom;
      })
      .map((el) => Number(/** @type {HTMLElement} */ (el).dataset.id));
  });
}

/**
 * Runs axe-core (injected through the debugger protocol, which the page's CSP does not
 * govern) and returns its serious and critical findings.
 * @param {import('playwright-core').Page} page
 */
export async function axe(page) {
  const source = readFileSync(join(repo, 'web', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.evaluate(source);
  const found = await page.evaluate(async () => {
    const result = await /** @type {any} */ (window).axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((/** @type {any} */ v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((/** @type {any} */ n) => `${n.target.join(' ')}: ${n.failureSummary}`) }));
  });
  return found.filter((/** @type {{impact: string}} */ v) => v.impact === 'serious' || v.impact === 'critical');
}
