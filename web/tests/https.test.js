// The web client over HTTPS served by the server itself (`--tls-cert`, `--tls-key`), as a LAN
// deployment without a reverse proxy runs it: a secure context (which end-to-end encryption
// will need), HSTS, the WebSocket over wss, and two people chatting through it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launchBrowser, signIn, watch, message, dialogButton, send, DESKTOP } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
const certs = mkdtempSync(join(tmpdir(), 'heliograph-tls-'));

before(async () => {
  // A self-signed certificate for 127.0.0.1; chromium is told to accept it.
  const [cert, key] = [join(certs, 'cert.pem'), join(certs, 'key.pem')];
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  server = await startServer({ tls: { cert, key } });
  browser = await launchBrowser(['--ignore-certificate-errors']);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(certs, { recursive: true, force: true });
});

test('over HTTPS: a secure context, HSTS, wss, and two people chat', async () => {
  assert.match(server.url, /^https:\/\//);
  const a = await browser.newContext({ viewport: DESKTOP });
  const b = await browser.newContext({ viewport: DESKTOP });
  a.setDefaultTimeout(10_000);
  b.setDefaultTimeout(10_000);
  const [alice, bob] = [await a.newPage(), await b.newPage()];
  const problems = [...watch(alice), ...watch(bob)];
  /** @type {string[]} */
  const sockets = [];
  alice.on('websocket', (ws) => sockets.push(ws.url()));

  const res = await alice.goto(server.url);
  assert.ok(res);
  assert.equal(res.headers()['strict-transport-security'], 'max-age=31536000');
  assert.equal(await alice.evaluate(() => window.isSecureContext && typeof crypto.subtle?.digest === 'function'), true);
  await signIn(alice, 3001, 'Alice Secure');
  assert.ok(sockets.length > 0 && sockets.every((u) => u.startsWith('wss://')), `WebSockets: ${sockets.join(', ')}`);

  await bob.goto(server.url);
  await signIn(bob, 3002, 'Bob Secure');
  await bob.getByRole('button', { name: /Settings/ }).click();
  await bob.getByLabel('Username', { exact: true }).fill('bob_secure');
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.locator('dialog').waitFor({ state: 'detached' });

  await alice.getByRole('searchbox').fill('@bob_secure');
  await alice.locator('.found-item').click();
  await alice.locator('#chat-title', { hasText: 'Bob Secure' }).waitFor();
  await send(alice, 'hello over TLS');
  await dialogButton(bob, 'Alice Secure').click();
  await message(bob, 'hello over TLS').waitFor();
  assert.deepEqual(problems, []);
  await a.close();
  await b.close();
});
