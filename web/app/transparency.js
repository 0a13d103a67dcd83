// The transparency report page (`/transparency`, accountability #16): what the server's public
// log says, per month, and how to check it yourself. Everything here is read from the log's
// public resources (`/transparency/report`, `/checkpoint`, `/key`), which anyone can fetch;
// the page computes nothing the auditor's command would not recompute. Text only in the DOM.

export {};

/** @typedef {{entries: number, unreadable_entries: number, months: Record<string, Record<string, number>>}} Report */

/** What each counted kind is called on the page. */
const KINDS = /** @type {Record<string, string>} */ ({
  'moderation.dismiss': 'reports dismissed',
  'moderation.delete_message': 'messages deleted',
  'moderation.restrict': 'accounts restricted',
  'moderation.suspend': 'accounts suspended',
  'moderation.ban': 'accounts banned',
  'moderation.take_down': 'groups and channels taken down',
  'moderation.unseal': 'phone numbers unsealed',
});

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} [children]
 */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return node;
}

/** @param {string} path */
async function text(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.text();
}

async function show() {
  const main = /** @type {HTMLElement} */ (document.getElementById('transparency'));
  main.replaceChildren(el('h1', {}, ['Transparency report']), el('p', { role: 'status' }, ['Reading the public log…']));
  try {
    const [reportText, checkpoint, key] = await Promise.all([text('/transparency/report'), text('/transparency/checkpoint'), text('/transparency/key')]);
    /** @type {Report} */
    const report = JSON.parse(reportText);
    const [origin, size, root] = checkpoint.split('\n');
    const months = Object.keys(report.months).sort().reverse();
    const kinds = [...new Set(months.flatMap((m) => Object.keys(report.months[m])))].sort();
    const table = el('table', { 'aria-label': 'actions per month' }, [
      el('thead', {}, [el('tr', {}, [el('th', { scope: 'col' }, ['month']), ...kinds.map((k) => el('th', { scope: 'col' }, [KINDS[k] ?? k]))])]),
      el('tbody', {}, months.map((m) => el('tr', {}, [
        el('th', { scope: 'row' }, [m]),
        ...kinds.map((k) => el('td', { 'data-kind': k }, [String(report.months[m][k] ?? 0)])),
      ]))),
    ]);
    const host = location.origin;
    main.replaceChildren(
      el('h1', {}, ['Transparency report']),
      el('p', {}, [
        'Every moderation action this server takes, and every time a phone number is unsealed, is an entry in a public, append-only Merkle log. ',
        'These figures are counted from the log\'s entries alone; the operator cannot change them without the change showing.',
      ]),
      months.length ? table : el('p', {}, ['No actions yet.']),
      el('h2', {}, ['The log']),
      el('dl', {}, [
        el('dt', {}, ['origin']), el('dd', { 'data-testid': 'origin' }, [origin]),
        el('dt', {}, ['entries']), el('dd', { 'data-testid': 'size' }, [size]),
        el('dt', {}, ['root hash']), el('dd', {}, [el('code', {}, [root])]),
        el('dt', {}, ['verifier key']), el('dd', {}, [el('code', { 'data-testid': 'key' }, [key.trim()])]),
      ]),
      el('h2', {}, ['Check it yourself']),
      el('p', {}, ['Compare the key with the one the operator published elsewhere, then:']),
      el('pre', {}, [el('code', { 'data-testid': 'audit' }, [`heliograph audit verify ${host} --key '${key.trim()}' --save last.checkpoint`])]),
      el('p', {}, ['Next time add --previous last.checkpoint: the command fails if the log was rewritten since.']),
    );
  } catch (e) {
    main.replaceChildren(el('h1', {}, ['Transparency report']), el('p', { role: 'alert' }, [`The log cannot be read: ${e instanceof Error ? e.message : e}`]));
  }
}

show();
