// Shared by the browser tests: a real `heliograph` server on a free port with a temporary
// data folder, and Debian's chromium driven by playwright-core.

import { spawn } from 'node:child_process';
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
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** @param {string[]} [extraArgs] more chromium flags */
export function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...extraArgs],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 780 };

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
