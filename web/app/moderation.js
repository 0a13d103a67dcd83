// The moderation page (`/moderation`, account #16): operators named in the server's
// `[accountability] operators` review the report queue and act. Kept apart from the chat
// client (its own page, its own small WebSocket caller) so either can change alone. Server
// data reaches the DOM only as text.

/** @typedef {{id: number, from_id: number, date: number, text: string}} Reported */
/** @typedef {{id: number, reporter_id: number, chat_id: number, message: Reported, reason: string, comment: string, context: Reported[], date: number, resolution?: string}} FiledReport */
/** @typedef {{id: number, name: string, username?: string}} User */
/** @typedef {{report: FiledReport, reporter: User, sender: User, reporter_reports: FiledReport[], sender_reported: FiledReport[], sender_sanctions: {kind: string, until?: number, reason: string}[]}} ReportCase */
/** @typedef {{id: number, date: number, operator_id: number, action: string, user_id?: number, chat_id?: number, message_id?: number, report_id?: number, until?: number, reason: string, notified: boolean}} AuditEntry */

export {};

const TOKEN_KEY = 'heliograph.moderation.token';

/** One WebSocket, requests answered by id. */
class Caller {
  /** @param {string} url */
  constructor(url) {
    /** @type {Map<number, {ok: (v: any) => void, fail: (e: Error) => void}>} */
    this.waiting = new Map();
    this.next = 1;
    this.socket = new WebSocket(url);
    this.open = new Promise((ok, fail) => {
      this.socket.addEventListener('open', () => ok(undefined));
      this.socket.addEventListener('error', () => fail(new Error('cannot reach the server')));
    });
    this.socket.addEventListener('message', (event) => {
      const frame = JSON.parse(String(event.data));
      const pending = this.waiting.get(frame.id);
      if (!pending) return;
      this.waiting.delete(frame.id);
      if (frame.type === 'result') pending.ok(frame.result);
      else pending.fail(new Error(`${frame.error?.code}: ${frame.error?.message}`));
    });
  }

  /**
   * @param {string} method
   * @param {Record<string, unknown>} [params]
   * @returns {Promise<any>}
   */
  async call(method, params = {}) {
    await this.open;
    const id = this.next++;
    return new Promise((ok, fail) => {
      this.waiting.set(id, { ok, fail });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }
}

/**
 * An element with text children only.
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

/** @param {number} unix */
function when(unix) {
  return new Date(unix * 1000).toISOString().replace('T', ' ').slice(0, 16);
}

const root = /** @type {HTMLElement} */ (document.getElementById('moderation'));
const status = el('p', { role: 'status', 'data-testid': 'status' });
const caller = new Caller(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);

/** @param {string} text */
function say(text) {
  status.textContent = text;
}

function signInForm() {
  const phone = /** @type {HTMLInputElement} */ (el('input', { name: 'phone', placeholder: '+15551234567', autocomplete: 'tel' }));
  const code = /** @type {HTMLInputElement} */ (el('input', { name: 'code', placeholder: 'code', inputmode: 'numeric' }));
  const name = /** @type {HTMLInputElement} */ (el('input', { name: 'name', placeholder: 'your name (first sign-in)' }));
  const sendCode = el('button', { type: 'button' }, ['Send code']);
  const signIn = el('button', { type: 'submit' }, ['Sign in']);
  const form = el('form', { 'aria-label': 'sign in' }, [el('h1', {}, ['Moderation: sign in']), phone, sendCode, code, name, signIn]);
  sendCode.addEventListener('click', () => {
    caller.call('auth.send_code', { phone: phone.value }).then(() => say('code sent'), (e) => say(String(e.message)));
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    caller.call('auth.sign_in', { phone: phone.value, code: code.value, name: name.value || undefined, device: 'moderation page' }).then(
      (auth) => {
        localStorage.setItem(TOKEN_KEY, auth.token);
        void queue();
      },
      (e) => say(String(e.message)),
    );
  });
  root.replaceChildren(form, status);
}

/** @param {FiledReport} r */
function reportLine(r) {
  return `#${r.id} ${r.reason}: “${r.message.text}” (chat ${r.chat_id}, from ${r.message.from_id}, ${when(r.date)})${r.resolution ? ` → ${r.resolution}` : ''}`;
}

async function queue() {
  /** @type {FiledReport[]} */
  let reports;
  /** @type {AuditEntry[]} */
  let audit;
  try {
    reports = await caller.call('moderation.reports', {});
    audit = await caller.call('moderation.audit_log', {});
  } catch (e) {
    say(String(/** @type {Error} */ (e).message));
    return;
  }
  const list = el('ul', { 'aria-label': 'open reports' });
  for (const r of reports) {
    const open = el('button', { type: 'button', 'data-report': String(r.id) }, [reportLine(r)]);
    open.addEventListener('click', () => void showCase(r.id));
    list.append(el('li', {}, [open]));
  }
  if (!reports.length) list.append(el('li', {}, ['No open reports.']));
  const log = el('table', { 'aria-label': 'audit log' }, [
    el('tr', {}, ['id', 'when', 'operator', 'action', 'account', 'chat', 'reason', 'told'].map((t) => el('th', {}, [t]))),
  ]);
  for (const e of audit) {
    const cells = [String(e.id), when(e.date), String(e.operator_id), e.action, String(e.user_id ?? ''), String(e.chat_id ?? ''), e.reason, e.notified ? 'yes' : 'no'];
    log.append(el('tr', {}, cells.map((t) => el('td', {}, [t]))));
  }
  const refresh = el('button', { type: 'button' }, ['Refresh']);
  refresh.addEventListener('click', () => void queue());
  root.replaceChildren(el('h1', {}, ['Reports']), refresh, list, el('div', { id: 'case' }), el('h2', {}, ['Audit log']), log, status);
}

/** @param {number} id */
async function showCase(id) {
  /** @type {ReportCase} */
  let c;
  try {
    c = await caller.call('moderation.report', { report_id: id });
  } catch (e) {
    say(String(/** @type {Error} */ (e).message));
    return;
  }
  const r = c.report;
  const reason = /** @type {HTMLInputElement} */ (el('input', { name: 'reason', placeholder: 'reason (shown to the user)' }));
  const actions = el('div', { role: 'group', 'aria-label': 'actions' });
  /** @type {[string, string, Record<string, unknown>][]} */
  const choices = [
    ['dismiss', 'Dismiss', { report_id: r.id }],
    ['delete_message', 'Delete message', { report_id: r.id }],
    ['restrict', 'Restrict sender', { user_id: r.message.from_id, report_id: r.id }],
    ['suspend', 'Suspend sender 7 days', { user_id: r.message.from_id, report_id: r.id, until: Math.floor(Date.now() / 1000) + 7 * 86400 }],
    ['ban', 'Ban sender', { user_id: r.message.from_id, report_id: r.id }],
    ['take_down', 'Take down chat', { chat_id: r.chat_id, report_id: r.id }],
  ];
  for (const [action, label, target] of choices) {
    const b = el('button', { type: 'button', 'data-action': action }, [label]);
    b.addEventListener('click', () => {
      caller.call('moderation.act', { action, reason: reason.value, ...target }).then(
        (entry) => {
          void queue().then(() => say(`audit entry ${entry.id}: ${entry.action}${entry.notified ? ', user told' : ''}`));
        },
        (e) => say(String(e.message)),
      );
    });
    actions.append(b);
  }
  const context = el('ul', { 'aria-label': 'context' }, r.context.map((m) => el('li', {}, [`${m.id} from ${m.from_id}: ${m.text}`])));
  const sanctions = c.sender_sanctions.map((s) => `${s.kind}${s.until ? ` until ${when(s.until)}` : ''}: ${s.reason}`).join('; ') || 'none';
  const box = /** @type {HTMLElement} */ (document.getElementById('case'));
  box.replaceChildren(
    el('h2', {}, [`Report #${r.id} (${r.reason})`]),
    el('p', {}, [`Reported by ${c.reporter.name} [${c.reporter.id}]: ${r.comment || '(no comment)'}`]),
    el('blockquote', { 'data-testid': 'reported' }, [`${c.sender.name} [${c.sender.id}]: ${r.message.text}`]),
    context,
    el('p', {}, [`The reporter made ${c.reporter_reports.length} reports; the sender's messages were reported ${c.sender_reported.length} times. Sanctions in force: ${sanctions}.`]),
    reason,
    actions,
  );
}

const saved = localStorage.getItem(TOKEN_KEY);
if (saved) {
  caller.call('auth.authorize', { token: saved }).then(() => void queue(), () => signInForm());
} else {
  signInForm();
}
