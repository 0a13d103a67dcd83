// The views: Preact components (written with htm, no build step) that render the model. They
// read `app.model` and call `app`'s actions; they keep no state of their own beyond what a
// form needs while it is filled in. Text from the server is always a child string (a text
// node): nothing here sets HTML.

import { h, Component, createRef } from './vendor/preact.module.js';
import htm from './vendor/htm.module.js';
import { VirtualList } from './history.js';
import { DEFAULT_REACTIONS, messageText, dayKey, reactionKey, highlightPieces } from './model.js';

export const html = htm.bind(h);

/** @typedef {import('./main.js').App} App */
/** @typedef {import('./model.js').ChatState} ChatState */
/** @typedef {import('./model.js').HistoryItem} HistoryItem */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').Media} Media */
/** @typedef {import('./types.js').MessageEntity} MessageEntity */
/** @typedef {import('./types.js').User} User */
/** @typedef {import('./types.js').Chat} Chat */

// ---------------------------------------------------------------------------------------------
// Formatting

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const yearFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
const shortFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

/** A link the page may open: http(s) only (a bot's `tg://` or anything else stays text). */
export const WEB_URL = /^https?:\/\//i;

/** @param {number} unix */
export function dayLabel(unix) {
  const d = new Date(unix * 1000);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(unix) === dayKey(today.getTime() / 1000)) return 'Today';
  if (dayKey(unix) === dayKey(yesterday.getTime() / 1000)) return 'Yesterday';
  return d.getFullYear() === today.getFullYear() ? dayFmt.format(d) : yearFmt.format(d);
}

/** @param {number} unix */
function shortTime(unix) {
  const d = new Date(unix * 1000);
  return dayKey(unix) === dayKey(Date.now() / 1000) ? timeFmt.format(d) : shortFmt.format(d);
}

/** @param {number} n bytes */
export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

/** @param {string} name */
function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}

/**
 * @param {string} name
 * @param {number} id
 */
function Avatar(name, id) {
  return html`<span class=${`avatar c${Math.abs(id) % 8}`} aria-hidden="true">${initials(name)}</span>`;
}

const BotTag = () => html`<span class="bot-tag" title="This account is a bot">bot</span>`;

/** Stroke paths (24×24) of the few icons the client uses. */
const ICONS = {
  compose: ['M4 20h4L19 9l-4-4L4 16z', 'M13.5 6.5l4 4'],
  group: ['M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M3 19c0-3.3 2.7-5 6-5s6 1.7 6 5', 'M16.5 11a2.5 2.5 0 1 0 0-5', 'M17 14c2.4.3 4 1.8 4 5'],
  channel: ['M3 10v4h3l8 4.5v-13L6 10z', 'M17.5 9a4 4 0 0 1 0 6'],
  join: ['M12 5v14', 'M5 12h14'],
  addMember: ['M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M3 19c0-3.3 2.7-5 6-5s6 1.7 6 5', 'M19 8v6', 'M16 11h6'],
  link: ['M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1'],
  leave: ['M14 4h5v16h-5', 'M10 8l-4 4 4 4', 'M6 12h10'],
  back: ['M15 5l-7 7 7 7'],
  send: ['M4 12L20 4l-6 16-3-7z', 'M11 13l9-9'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  attach: ['M20 11.5l-8 8a5 5 0 0 1-7-7l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7L9.7 17.2a1.7 1.7 0 0 1-2.4-2.4L15 7'],
  file: ['M6 3h8l4 4v14H6z', 'M14 3v4h4'],
  clock: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M12 7v5l3 2'],
  search: ['M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14z', 'M20 20l-4-4'],
};

/** @typedef {keyof typeof ICONS} IconName */

/**
 * An inline SVG icon, hidden from assistive technology (its button carries the label).
 * @param {IconName} name
 */
export function Icon(name) {
  return html`<svg viewBox="0 0 24 24" class="svg-icon" aria-hidden="true">${ICONS[name].map((d) => html`<path d=${d} />`)}</svg>`;
}

/**
 * The text with its formatting entities: bold, italic, underline, strikethrough, spoiler,
 * code, pre, links. Offsets count UTF-16 units, as JavaScript strings do. Entities may nest;
 * each stretch between entity boundaries is wrapped in the elements of the entities covering
 * it. `words` (a search's matches) are marked. With `app`, `@username` opens that person or
 * public chat, `#hashtag` searches for it, and a bot's `/command` is sent to the chat.
 * @param {string} text
 * @param {MessageEntity[] | undefined} entities
 * @param {string[]} [words]
 * @param {App} [app]
 */
export function richText(text, entities, words = [], app) {
  const cuts = new Set([0, text.length]);
  for (const e of entities ?? []) {
    cuts.add(Math.max(0, Math.min(text.length, e.offset)));
    cuts.add(Math.max(0, Math.min(text.length, e.offset + e.length)));
  }
  /** @type {[number, number][]} */
  const marks = [];
  const lower = text.toLowerCase();
  for (const w of words) {
    const needle = w.toLowerCase();
    if (!needle) continue;
    for (let i = lower.indexOf(needle); i >= 0; i = lower.indexOf(needle, i + needle.length)) {
      marks.push([i, needle.length]);
      cuts.add(i);
      cuts.add(i + needle.length);
    }
  }
  const points = [...cuts].sort((a, b) => a - b);
  /** @type {any[]} */
  const out = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [from, to] = [points[i], points[i + 1]];
    const piece = text.slice(from, to);
    /** @type {any} */
    let node = piece;
    if (marks.some(([o, l]) => o <= from && o + l >= to)) node = html`<mark>${node}</mark>`;
    // Inner (later, shorter) entities first, so the outer ones wrap them.
    const covering = (entities ?? []).filter((e) => e.offset <= from && e.offset + e.length >= to).reverse();
    for (const e of covering) node = wrapEntity(e, node, text.slice(e.offset, e.offset + e.length), app);
    out.push(node);
  }
  return out;
}

/**
 * @param {MessageEntity} e
 * @param {any} inner
 * @param {string} whole the entity's whole text
 * @param {App} [app]
 */
function wrapEntity(e, inner, whole, app) {
  switch (e.type) {
    case 'mention':
      return app ? html`<button type="button" class="inline-link" title=${`Open ${whole}`} onClick=${() => app.openUsername(whole)}>${inner}</button>` : inner;
    case 'hashtag':
      return app ? html`<button type="button" class="inline-link" title=${`Search for ${whole}`} onClick=${() => app.onSearchInput(whole)}>${inner}</button>` : inner;
    case 'bot_command':
      return app ? html`<button type="button" class="inline-link" title=${`Send ${whole}`} onClick=${() => app.sendText(whole)}>${inner}</button>` : inner;
    case 'email':
      return html`<a href=${`mailto:${whole}`}>${inner}</a>`;
    case 'bold': return html`<strong>${inner}</strong>`;
    case 'italic': return html`<em>${inner}</em>`;
    case 'underline': return html`<u>${inner}</u>`;
    case 'strikethrough': return html`<s>${inner}</s>`;
    case 'spoiler': return html`<span class="spoiler" title="Spoiler">${inner}</span>`;
    case 'code': return html`<code>${inner}</code>`;
    case 'pre': return html`<code class="pre" data-language=${e.language}>${inner}</code>`;
    case 'blockquote': case 'expandable_blockquote': return html`<span class="quote">${inner}</span>`;
    case 'text_link':
      return e.url && WEB_URL.test(e.url) ? html`<a href=${e.url} target="_blank" rel="noopener noreferrer" title=${e.url}>${inner}</a>` : inner;
    case 'url': {
      const href = WEB_URL.test(whole) ? whole : `https://${whole}`;
      return html`<a href=${href} target="_blank" rel="noopener noreferrer">${inner}</a>`;
    }
    default: return inner;
  }
}

/**
 * The media a message carries, if any.
 * @param {Message} m
 * @returns {Media | null}
 */
export function mediaOf(m) {
  return m.content.type === 'media' ? /** @type {Media} */ (/** @type {unknown} */ (m.content)) : null;
}

// ---------------------------------------------------------------------------------------------
// Sign-in

/**
 * @typedef {object} SignInProps
 * @property {(step: 'phone' | 'code' | 'name', values: {phone: string, code: string, name: string}) => Promise<'code' | 'name' | 'done' | 'phone'>} submit
 */

/** @typedef {{step: 'phone' | 'code' | 'name', phone: string, code: string, name: string, error: string, busy: boolean}} SignInState */

/** @extends {Component<SignInProps, SignInState>} */
export class SignIn extends Component {
  /** @param {SignInProps} props */
  constructor(props) {
    super(props);
    /** @type {SignInState} */
    this.state = { step: 'phone', phone: '', code: '', name: '', error: '', busy: false };
    this.focus = createRef();
  }

  componentDidMount() {
    document.title = 'Sign in · Heliograph';
    this.focus.current?.focus();
  }

  /** @param {any} _props @param {any} prev */
  componentDidUpdate(_props, prev) {
    if (prev.step !== this.state.step) this.focus.current?.focus();
  }

  /** @param {Event} ev */
  onSubmit = async (ev) => {
    ev.preventDefault();
    this.setState({ error: '', busy: true });
    try {
      const { step, phone, code, name } = this.state;
      const next = await this.props.submit(step, { phone: phone.trim(), code: code.trim(), name: name.trim() });
      if (next !== 'done') this.setState({ step: next });
    } catch (e) {
      this.setState({ error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.setState({ busy: false });
    }
  };

  render() {
    const { step, phone, code, name, error, busy } = this.state;
    const icon = document.querySelector('link[rel=icon]')?.getAttribute('href') ?? '';
    /** @param {'phone' | 'code' | 'name'} key */
    const bind = (key) => (/** @type {Event} */ ev) => this.setState(/** @type {any} */ ({ [key]: /** @type {HTMLInputElement} */ (ev.target).value }));
    return html`<main class="signin">
      <form class="signin-form" onSubmit=${this.onSubmit}>
        <img src=${icon} alt="" class="logo" width="64" height="64" />
        <h1>Sign in to Heliograph</h1>
        <p class="hint">Enter your phone number. We will send you a code.</p>
        <div class="field"><label for="phone">Phone number</label>
          <input id="phone" name="phone" type="tel" autocomplete="tel" required placeholder="+9996612345" aria-describedby="signin-error"
            value=${phone} onInput=${bind('phone')} readOnly=${step !== 'phone'} ref=${step === 'phone' ? this.focus : null} /></div>
        ${step !== 'phone' && html`<div class="field"><label for="code">Code</label>
          <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{5}" maxlength="5" required aria-describedby="signin-error"
            value=${code} onInput=${bind('code')} readOnly=${step === 'name'} ref=${step === 'code' ? this.focus : null} /></div>`}
        ${step === 'name' && html`<div class="field"><label for="name">Your name</label>
          <p class="hint">This number is new here. Choose the name people will see.</p>
          <input id="name" name="name" autocomplete="name" maxlength="64" required aria-describedby="signin-error"
            value=${name} onInput=${bind('name')} ref=${this.focus} /></div>`}
        <p class="form-error" role="alert" id="signin-error">${error}</p>
        <button type="submit" class="primary" disabled=${busy}>${step === 'phone' ? 'Send code' : step === 'code' ? 'Sign in' : 'Create account'}</button>
        ${step !== 'phone' && html`<button type="button" class="link" onClick=${() => this.setState({ step: 'phone', code: '', name: '' })}>Use another number</button>`}
      </form>
    </main>`;
  }
}

// ---------------------------------------------------------------------------------------------
// The signed-in screen

/** @param {{app: App}} props */
export function Main({ app }) {
  const m = app.model;
  const cs = m.openChat;
  return html`<div class="layout">
    <${Sidebar} app=${app} />
    ${cs ? html`<${ChatPane} app=${app} cs=${cs} key=${cs.chat.id} />` : html`<main class="empty-pane" aria-label="No chat open"><h2 class="visually-hidden">Heliograph</h2><p>Select a chat to start messaging</p></main>`}
    ${app.modal && html`<${Modal} app=${app} modal=${app.modal} key=${app.modal.id} />`}
    <div id="toast" class="toast" role="alert">${app.toasts.map((t) => html`<div class="toast-item" key=${t.id}>${t.text}${t.link && html` <a href=${t.link} target="_blank" rel="noopener noreferrer">Open link</a>`}</div>`)}</div>
  </div>`;
}

/** @param {{app: App}} props */
function Sidebar({ app }) {
  const m = app.model;
  const name = m.me?.name ?? '…';
  const dialogs = m.visibleDialogs();
  const searching = m.search !== null && m.search.chatId === null;
  return html`<nav class="sidebar" aria-label="Chat list">
    <h1 class="visually-hidden">Heliograph</h1>
    <div class="sidebar-header">
      <button type="button" class="me" onClick=${() => app.settingsDialog()}>${Avatar(name, m.me?.id ?? 0)}<span class="me-name"><span class="visually-hidden">Settings: </span>${name}</span></button>
      <div class="header-actions">
        <button type="button" class="icon" title="New chat" aria-label="New chat" onClick=${() => app.newChatDialog()}>${Icon('compose')}</button>
        <button type="button" class="icon" title="New group" aria-label="New group" onClick=${() => app.newGroupDialog()}>${Icon('group')}</button>
        <button type="button" class="icon" title="New channel" aria-label="New channel" onClick=${() => app.newChannelDialog()}>${Icon('channel')}</button>
        <button type="button" class="icon" title="Join a group or channel" aria-label="Join a group or channel" onClick=${() => app.joinDialog()}>${Icon('join')}</button>
      </div>
    </div>
    <div class="search-box" role="search">
      <input type="search" id="search" placeholder="Search" autocomplete="off" aria-label="Search chats, messages and people"
        value=${m.filter} onInput=${(/** @type {Event} */ ev) => app.onSearchInput(/** @type {HTMLInputElement} */ (ev.target).value)}
        onKeyDown=${(/** @type {KeyboardEvent} */ ev) => { if (ev.key === 'Escape') app.onSearchInput(''); }} />
    </div>
    <div id="conn-status" class="conn-status" role="status" hidden=${m.online}>${m.online ? '' : 'Connecting…'}</div>
    ${searching && html`<${GlobalResults} app=${app} />`}
    <h2 class=${searching ? 'found-title' : 'visually-hidden'}>Chats</h2>
    <ul class="dialogs" id="dialogs" aria-label="Chats" onKeyDown=${onDialogKey}>
      ${dialogs.map((cs) => html`<${DialogRow} app=${app} cs=${cs} key=${cs.chat.id} />`)}
      ${dialogs.length === 0 && html`<li class="dialogs-empty">${m.filter ? 'No chats found' : 'No chats yet. Start one with the pencil button, or find someone by @username.'}</li>`}
    </ul>
  </nav>`;
}

/** Up and down arrows move between chats. @param {KeyboardEvent} ev */
function onDialogKey(ev) {
  if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
  const list = /** @type {HTMLElement} */ (ev.currentTarget);
  const buttons = /** @type {HTMLElement[]} */ ([...list.querySelectorAll('button.dialog')]);
  const i = buttons.indexOf(/** @type {HTMLElement} */ (document.activeElement));
  buttons[Math.max(0, Math.min(buttons.length - 1, i + (ev.key === 'ArrowDown' ? 1 : -1)))]?.focus();
  ev.preventDefault();
}

/** @param {{app: App, cs: ChatState}} props */
function DialogRow({ app, cs }) {
  const m = app.model;
  const c = cs.chat;
  const typing = m.typingText(cs);
  const last = cs.last;
  const open = c.id === m.openId;
  let preview;
  if (typing) preview = html`<span class="typing">${typing}</span>`;
  else if (cs.draft && !open) preview = html`<span class="draft-label">Draft: </span>${cs.draft.text.slice(0, 120)}`;
  else if (last) {
    const who = c.kind === 'group' ? `${m.userName(last.from)}: ` : m.isMe(last.from) && c.kind === 'private' ? 'You: ' : '';
    preview = html`${who && html`<span class="who">${who}</span>`}${messageText(last).slice(0, 120)}`;
  } else preview = c.kind === 'channel' ? 'Channel created' : c.kind === 'group' ? 'Group created' : 'No messages yet';
  const kind = c.kind === 'private' ? (c.peer?.bot ? 'Bot: ' : '') : c.kind === 'group' ? 'Group: ' : 'Channel: ';
  return html`<li>
    <button type="button" class="dialog" data-chat=${c.id} aria-current=${open ? 'true' : undefined} onClick=${() => app.openChat(c.id)}>
      ${Avatar(c.title, c.id)}
      <span class="dialog-main">
        <span class="dialog-top">
          <span class="dialog-title">${kind && html`<span class="visually-hidden">${kind}</span>`}${c.kind === 'channel' ? Icon('channel') : c.kind === 'group' ? Icon('group') : null}${c.title}${c.peer?.bot && BotTag()}</span>
          <span class="dialog-time">${last ? shortTime(last.date) : ''}</span>
        </span>
        <span class="dialog-bottom">
          <span class="dialog-preview">${preview}</span>
          ${cs.mentioned && html`<span class="badge mention" title="You were mentioned">@<span class="visually-hidden"> mentioned you</span></span>`}
          ${cs.unread > 0 && html`<span class="badge">${cs.unread > 999 ? '999+' : String(cs.unread)}<span class="visually-hidden"> unread</span></span>`}
        </span>
      </span>
    </button>
  </li>`;
}

/** @param {{app: App}} props */
function GlobalResults({ app }) {
  const s = /** @type {import('./model.js').SearchState} */ (app.model.search);
  const m = app.model;
  /** @type {{key: string, label: string, sub: string, id: number, action: string, open: () => void}[]} */
  const peers = [];
  const seen = new Set();
  const addUser = (/** @type {User} */ u) => {
    if (seen.has(`u${u.id}`) || m.isMe(u.id)) return;
    seen.add(`u${u.id}`);
    peers.push({ key: `u${u.id}`, label: u.name, sub: u.username ? `@${u.username}` : 'person', id: u.id, action: 'Message', open: () => app.openPeer({ type: 'user', user: u }) });
  };
  const addChat = (/** @type {Chat} */ c) => {
    if (seen.has(`c${c.id}`)) return;
    seen.add(`c${c.id}`);
    const joined = m.chats.has(c.id);
    const noun = c.kind === 'channel' ? 'subscriber' : 'member';
    peers.push({ key: `c${c.id}`, label: c.title, sub: `${c.username ? `@${c.username} · ` : ''}${c.member_count} ${noun}${c.member_count === 1 ? '' : 's'}`, id: c.id, action: joined ? 'Open' : 'Join', open: () => app.openPeer({ type: 'chat', chat: c }) });
  };
  if (app.found) {
    if (app.found.type === 'user') addUser(app.found.user);
    else addChat(app.found.chat);
  }
  for (const u of s.people) addUser(u);
  for (const c of s.chats) addChat(c);
  return html`<section class="found" id="found" aria-label="Search results">
    ${peers.length > 0 && html`<h2 class="found-title">People and channels</h2>
      <ul class="found-list">${peers.map((p) => html`<li key=${p.key}>
        <button type="button" class="dialog found-item" onClick=${p.open}>
          ${Avatar(p.label, p.id)}
          <span class="dialog-main"><span class="dialog-title">${p.label}</span><span class="dialog-preview">${p.sub}</span></span>
          <span class="found-action">${p.action}</span>
        </button></li>`)}</ul>`}
    <${MessageResults} app=${app} s=${s} />
  </section>`;
}

/** @param {{app: App, s: import('./model.js').SearchState}} props */
function MessageResults({ app, s }) {
  const m = app.model;
  return html`<h2 class="found-title">Messages</h2>
    ${s.error && html`<p class="search-note" role="alert">${s.error}</p>`}
    ${!s.error && s.messages.length === 0 && html`<p class="search-note" role="status">${s.loading ? 'Searching…' : 'No messages found'}</p>`}
    <ul class="search-results" aria-label="Messages found">
      ${s.messages.map((r) => {
        const chat = m.chats.get(r.message.chat_id)?.chat ?? s.chatsById.get(r.message.chat_id);
        return html`<li key=${`${r.message.chat_id}:${r.message.id}`}>
          <button type="button" class="search-result" onClick=${() => app.openSearchResult(r)}>
            <span class="dialog-top">
              <span class="dialog-title">${s.chatId === null ? (chat?.title ?? 'Chat') : m.userName(r.message.from)}</span>
              <span class="dialog-time">${shortTime(r.message.date)}</span>
            </span>
            <span class="snippet">${s.chatId === null && chat?.kind === 'group' ? html`<span class="who">${m.userName(r.message.from)}: </span>` : null}${highlightPieces(r.snippet, r.highlights).map((p) => (p.mark ? html`<mark>${p.text}</mark>` : p.text))}</span>
          </button>
        </li>`;
      })}
    </ul>
    ${s.next !== undefined && html`<button type="button" class="link more" onClick=${() => app.searchMore()}>More results</button>`}`;
}

// ---------------------------------------------------------------------------------------------
// A chat

/** @param {{app: App, cs: ChatState}} props */
function ChatPane({ app, cs }) {
  const m = app.model;
  const c = cs.chat;
  const typing = m.typingText(cs);
  const admin = c.role === 'admin' || c.role === 'creator';
  const canWrite = c.kind !== 'channel' || admin;
  const inChat = m.search !== null && m.search.chatId === c.id;
  return html`<main class="chat" aria-labelledby="chat-title"
      onDragOver=${(/** @type {DragEvent} */ ev) => { if (ev.dataTransfer?.types.includes('Files') && canWrite) ev.preventDefault(); }}
      onDrop=${(/** @type {DragEvent} */ ev) => { const f = ev.dataTransfer?.files?.[0]; if (f && canWrite) { ev.preventDefault(); app.sendFile(f); } }}>
    <header class="chat-header">
      <button class="icon back" type="button" aria-label="Back to chats" onClick=${() => app.closeChat()}>${Icon('back')}</button>
      <div class="chat-heading">
        <h2 class="chat-title" id="chat-title">${c.title}</h2>
        <p class=${`chat-sub${typing ? ' typing' : ''}`} id="chat-sub">${typing || m.chatSubtitle(cs)}</p>
      </div>
      ${!m.online && html`<span class="chat-offline" role="status">Connecting…</span>`}
      <div class="chat-actions">
        <button type="button" class="icon" title="Search in this chat" aria-label="Search in this chat" aria-expanded=${inChat ? 'true' : 'false'} onClick=${() => app.toggleChatSearch()}>${Icon('search')}</button>
        ${c.kind !== 'private' && admin && html`<button type="button" class="icon" title="Add members" aria-label="Add members" onClick=${() => app.addMembersDialog(c.id)}>${Icon('addMember')}</button>`}
        ${c.kind !== 'private' && admin && html`<button type="button" class="icon" title="Invite link" aria-label="Invite link" onClick=${() => app.inviteDialog(c.id)}>${Icon('link')}</button>`}
        ${c.kind !== 'private' && html`<button type="button" class="icon" title="Leave" aria-label=${c.kind === 'channel' ? 'Leave channel' : 'Leave group'} onClick=${() => app.leaveDialog(c.id)}>${Icon('leave')}</button>`}
      </div>
    </header>
    ${c.pinned_message_id !== undefined && html`<${PinnedBar} app=${app} cs=${cs} />`}
    ${app.chatSearchOpen && html`<${ChatSearch} app=${app} cs=${cs} />`}
    <div class="history-wrap">
      <${History} app=${app} />
      ${(!app.following || !cs.atEnd) && cs.loaded && html`<button type="button" class="to-latest" title="Jump to the latest message" onClick=${() => app.toLatest()}>
        <span aria-hidden="true">↓</span><span class="visually-hidden">Jump to the latest message</span>
        ${cs.unread > 0 && html`<span class="badge">${cs.unread > 999 ? '999+' : String(cs.unread)}<span class="visually-hidden"> unread</span></span>`}</button>`}
    </div>
    <div class="compose-area">
      ${cs.compose && html`<${ComposeBar} app=${app} cs=${cs} />`}
      ${app.upload && html`<${UploadBar} app=${app} />`}
      ${m.selection && m.selection.chatId === c.id ? html`<${SelectionBar} app=${app} count=${m.selection.ids.length} />`
        : canWrite ? html`<${Composer} app=${app} cs=${cs} />` : html`<div class="readonly-bar">Only admins can post in this channel.</div>`}
    </div>
  </main>`;
}

/**
 * Who may pin in a chat: both people in a private chat, admins elsewhere.
 * @param {Chat | undefined} c
 */
function canPin(c) {
  return c?.kind === 'private' || c?.role === 'admin' || c?.role === 'creator';
}

/** @param {{app: App, cs: ChatState}} props */
function PinnedBar({ app, cs }) {
  const id = /** @type {number} */ (cs.chat.pinned_message_id);
  const text = cs.pinned ? messageText(cs.pinned) : '…';
  return html`<div class="pinned-bar" role="region" aria-label="Pinned message">
    <button type="button" class="pinned-open" onClick=${() => app.jumpTo(cs.chat.id, id, [])}>
      <span class="pinned-label">Pinned message</span><span class="pinned-text">${text}</span>
    </button>
    ${canPin(cs.chat) && html`<button type="button" class="icon" aria-label="Unpin" title="Unpin" onClick=${() => app.unpin(cs.chat.id)}>${Icon('close')}</button>`}
  </div>`;
}

/** @param {{app: App, cs: ChatState}} props */
function ChatSearch({ app, cs }) {
  const s = app.model.search;
  return html`<div class="chat-search" role="search">
    <input type="search" id="chat-search" autocomplete="off" placeholder=${`Search in ${cs.chat.title}`} aria-label="Search in this chat"
      value=${s?.chatId === cs.chat.id ? s.query : ''} ref=${(/** @type {HTMLInputElement | null} */ el) => { if (el && app.focusChatSearch) { app.focusChatSearch = false; el.focus(); } }}
      onInput=${(/** @type {Event} */ ev) => app.searchInChat(/** @type {HTMLInputElement} */ (ev.target).value)}
      onKeyDown=${(/** @type {KeyboardEvent} */ ev) => { if (ev.key === 'Escape') app.toggleChatSearch(); }} />
    ${s && s.chatId === cs.chat.id && html`<div class="chat-search-results"><${MessageResults} app=${app} s=${s} /></div>`}
  </div>`;
}

/**
 * The history: a virtual list the component creates once and feeds on every render of the
 * screen (`app.renderHistory`); Preact leaves its children alone.
 * @extends {Component<{app: App}>}
 */
class History extends Component {
  componentDidMount() {
    const app = this.props.app;
    const el = /** @type {HTMLElement} */ (this.base);
    app.list = new VirtualList(el, {
      render: (/** @type {HistoryItem} */ item) => html`<${HistoryRow} app=${app} item=${item} />`,
      estimate: (/** @type {HistoryItem} */ item) => (item.kind === 'msg' ? 64 : 40),
      anchors: (/** @type {HistoryItem} */ item) => item.kind === 'msg',
      nearTop: () => app.loadOlder(),
      nearBottom: () => app.loadNewer(),
      atBottom: () => app.maybeRead(),
      stuckChanged: (stuck) => app.setFollowing(stuck),
    });
    app.renderHistory();
  }

  componentWillUnmount() {
    const app = this.props.app;
    if (app.list?.scroller === this.base) app.list = null;
  }

  shouldComponentUpdate() {
    return false;
  }

  render() {
    return html`<div class="history" id="history" tabindex="0" role="region" aria-label="Messages"></div>`;
  }
}

/** @param {{app: App, item: HistoryItem}} props */
function HistoryRow({ app, item }) {
  if (item.kind === 'day') return html`<div class="day"><span>${item.label}</span></div>`;
  if (item.kind === 'loader') return html`<div class="day loader" data-edge=${item.edge}><span>${item.label}</span></div>`;
  return html`<${MessageRow} app=${app} msg=${item.msg} pending=${item.pending} />`;
}

/** @param {{app: App, msg: Message, pending: boolean}} props */
function MessageRow({ app, msg: m, pending }) {
  const model = app.model;
  const cs = model.chats.get(m.chat_id);
  const own = model.isMe(m.from);
  const c = cs?.chat;
  const showAuthor = !own && c?.kind === 'group';
  const replied = m.reply_to !== undefined ? cs?.messages.get(m.reply_to) : undefined;
  const read = own && cs !== undefined && m.id <= cs.readOut;
  const admin = c?.role === 'admin' || c?.role === 'creator';
  const time = new Date(m.date * 1000);
  const media = mediaOf(m);
  const jump = model.jump && model.jump.chatId === m.chat_id && model.jump.id === m.id ? model.jump : null;
  const words = jump?.words ?? [];
  const canReply = c?.kind !== 'channel' || admin;
  const canEdit = own && m.content.type === 'text' && !m.forward;
  const author = model.userName(m.from);
  const tick = !own || c?.kind === 'channel' ? null
    : pending ? html`<span class="tick" aria-label="sending" title="Sending">${Icon('clock')}</span>`
    : html`<span class=${`tick${read ? ' read' : ''}`} aria-label=${read ? 'read' : 'sent'} title=${read ? 'Read' : 'Sent'}>${read ? '✓✓' : '✓'}</span>`;
  const reacting = model.reacting && model.reacting.chatId === m.chat_id && model.reacting.id === m.id;
  const menu = model.menu && model.menu.chatId === m.chat_id && model.menu.id === m.id;
  const selecting = !pending && model.selection !== null && model.selection.chatId === m.chat_id;
  const selected = selecting && /** @type {{ids: number[]}} */ (model.selection).ids.includes(m.id);
  return html`<div class=${`row ${own ? 'own' : 'other'}${pending ? ' pending' : ''}${jump ? ' jumped' : ''}${selected ? ' selected' : ''}`} data-id=${pending ? undefined : m.id}>
    ${selecting && html`<input type="checkbox" class="select-box" checked=${selected} aria-label=${`Select the message from ${author}, ${timeFmt.format(time)}`}
      onChange=${() => model.toggleSelect(m.chat_id, m.id)} />`}
    <div class="msg">
    <div class="bubble" role="article" aria-label=${`${author}, ${timeFmt.format(time)}`}
      onContextMenu=${pending ? undefined : (/** @type {MouseEvent} */ ev) => { ev.preventDefault(); model.setMenu({ chatId: m.chat_id, id: m.id }); }}>
      ${showAuthor && html`<div class="author">${author}${model.users.get(m.from)?.bot && BotTag()}</div>`}
      ${m.forward && html`<div class="forwarded">Forwarded from ${model.userName(m.forward.from_user)}</div>`}
      ${m.reply_to !== undefined && html`<div class="reply-quote">
        <span class="reply-author">${replied ? model.userName(replied.from) : 'Reply'}</span>
        <span class="reply-text">${replied ? messageText(replied).slice(0, 200) : `to message #${m.reply_to}`}</span></div>`}
      ${media && html`<${MediaView} app=${app} media=${media} />`}
      ${media ? (media.caption && html`<div class="text caption">${richText(media.caption, m.entities, words, app)}</div>`)
        : html`<div class="text">${m.content.type === 'text' ? richText(messageText(m), m.entities, words, app) : messageText(m)}</div>`}
      ${m.reply_markup && !pending && html`<${Keyboard} app=${app} msg=${m} />`}
      ${m.reactions && m.reactions.results.length > 0 && html`<${Reactions} app=${app} msg=${m} />`}
      <div class="meta">
        ${m.edit_date && html`<span class="edited">edited</span>`}
        <time datetime=${time.toISOString()} title=${time.toLocaleString()}>${timeFmt.format(time)}</time>
        ${tick}
      </div>
    </div>
    ${!pending && !selecting && html`<div class="msg-actions" role="toolbar" aria-label=${`Actions for the message from ${author}`}>
      ${canReply && html`<button type="button" class="act" onClick=${() => app.reply(m)}>Reply</button>`}
      <button type="button" class="act" aria-expanded=${reacting ? 'true' : 'false'} onClick=${() => model.setReacting(reacting ? null : { chatId: m.chat_id, id: m.id })}>React</button>
      ${canEdit && html`<button type="button" class="act" onClick=${() => app.edit(m)}>Edit</button>`}
      <button type="button" class="act" onClick=${() => app.deleteDialog([m])}>Delete</button>
      <button type="button" class="act" aria-haspopup="menu" aria-expanded=${menu ? 'true' : 'false'} onClick=${() => model.setMenu(menu ? null : { chatId: m.chat_id, id: m.id })}>More</button>
    </div>`}
    ${reacting && html`<${ReactionPicker} app=${app} msg=${m} />`}
    ${menu && html`<${MessageMenu} app=${app} msg=${m} canReply=${canReply} />`}
  </div></div>`;
}

/** @param {{app: App, msg: Message}} props */
function Reactions({ app, msg: m }) {
  const model = app.model;
  const recent = m.reactions?.recent ?? [];
  return html`<div class="reactions" role="group" aria-label="Reactions">
    ${(m.reactions?.results ?? []).map((r) => {
      const key = reactionKey(r.reaction);
      const who = recent.filter((x) => reactionKey(x.reaction) === key).map((x) => model.userName(x.user_id));
      const whoText = who.length ? `: ${who.join(', ')}` : '';
      return html`<button type="button" key=${key} class=${`reaction${r.chosen ? ' chosen' : ''}`} aria-pressed=${r.chosen ? 'true' : 'false'}
        title=${`${key} ${r.count}${whoText}`} disabled=${r.reaction.type !== 'emoji'} onClick=${() => app.toggleReaction(m, key)}>
        <span class="reaction-emoji">${r.reaction.type === 'emoji' ? key : '★'}</span><span class="reaction-count">${r.count}</span>${whoText && html`<span class="visually-hidden">${whoText}</span>`}
      </button>`;
    })}
  </div>`;
}

/**
 * The message's menu (the More button, or a right click): reply, copy, forward, pin, delete.
 * Arrow keys move between its items, Escape closes it.
 * @extends {Component<{app: App, msg: Message, canReply: boolean}>}
 */
class MessageMenu extends Component {
  componentDidMount() {
    /** @type {HTMLElement | null} */ (this.base instanceof HTMLElement ? this.base.querySelector('[role=menuitem]') : null)?.focus();
  }

  /** @param {KeyboardEvent} ev */
  onKey = (ev) => {
    const items = /** @type {HTMLElement[]} */ ([.../** @type {HTMLElement} */ (this.base).querySelectorAll('[role=menuitem]')]);
    const i = items.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      items[(i + (ev.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
    } else if (ev.key === 'Escape') {
      ev.preventDefault();
      this.props.app.model.setMenu(null);
    }
  };

  render() {
    const { app, msg: m, canReply } = this.props;
    const c = app.model.chats.get(m.chat_id)?.chat;
    const pinned = c?.pinned_message_id === m.id;
    /** @param {() => void} fn */
    const item = (fn) => () => { app.model.setMenu(null); fn(); };
    return html`<div class="msg-menu" role="menu" aria-label="Message actions" onKeyDown=${this.onKey}>
      ${canReply && html`<button type="button" role="menuitem" onClick=${item(() => app.reply(m))}>Reply</button>`}
      <button type="button" role="menuitem" onClick=${item(() => app.copyText(m))}>Copy text</button>
      <button type="button" role="menuitem" onClick=${item(() => app.forwardDialog([m]))}>Forward</button>
      ${canPin(c) && html`<button type="button" role="menuitem" onClick=${item(() => app.togglePin(m))}>${pinned ? 'Unpin' : 'Pin'}</button>`}
      ${!app.model.isMe(m.from) && html`<button type="button" role="menuitem" onClick=${item(() => app.reportDialog(m))}>Report</button>`}
      <button type="button" role="menuitem" onClick=${item(() => app.model.toggleSelect(m.chat_id, m.id))}>Select</button>
      <button type="button" role="menuitem" onClick=${item(() => app.deleteDialog([m]))}>Delete</button>
    </div>`;
  }
}

/** @extends {Component<{app: App, msg: Message}, {other: string}>} */
class ReactionPicker extends Component {
  state = { other: '' };

  componentDidMount() {
    /** @type {HTMLElement | null} */ (this.base instanceof HTMLElement ? this.base.querySelector('button') : null)?.focus();
  }

  render() {
    const { app, msg: m } = this.props;
    const chosen = new Set((m.reactions?.results ?? []).filter((r) => r.chosen).map((r) => reactionKey(r.reaction)));
    const pick = (/** @type {string} */ e) => { app.model.setReacting(null); app.toggleReaction(m, e); };
    return html`<div class="reaction-picker" role="group" aria-label="Choose a reaction"
        onKeyDown=${(/** @type {KeyboardEvent} */ ev) => { if (ev.key === 'Escape') app.model.setReacting(null); }}>
      ${DEFAULT_REACTIONS.map((e) => html`<button type="button" class="pick" aria-pressed=${chosen.has(e) ? 'true' : 'false'} aria-label=${`React ${e}`} onClick=${() => pick(e)}>${e}</button>`)}
      <form class="pick-other" onSubmit=${(/** @type {Event} */ ev) => { ev.preventDefault(); if (this.state.other.trim()) pick(this.state.other.trim()); }}>
        <input class="pick-input" aria-label="Any emoji" placeholder="Any emoji" maxlength="16" value=${this.state.other}
          onInput=${(/** @type {Event} */ ev) => this.setState({ other: /** @type {HTMLInputElement} */ (ev.target).value })} />
        <button type="submit" class="act">Add</button>
      </form>
    </div>`;
  }
}

/** @param {{app: App, msg: Message}} props */
function Keyboard({ app, msg: m }) {
  const rows = m.reply_markup?.inline_keyboard ?? [];
  return html`<div class="keyboard" role="group" aria-label="Bot buttons">
    ${rows.filter((row) => row.length > 0).map((row) => html`<div class="kb-row">${row.map((b) => {
      if (b.url !== undefined) {
        return WEB_URL.test(b.url)
          ? html`<a class="kb-button kb-link" href=${b.url} target="_blank" rel="noopener noreferrer" title=${b.url}>${b.text}<span class="kb-arrow" aria-hidden="true"> ↗</span></a>`
          : html`<button type="button" class="kb-button" disabled title=${b.url}>${b.text}</button>`;
      }
      const pressing = app.pressing.has(`${m.chat_id}:${m.id}:${b.callback_data}`);
      return html`<button type="button" class=${`kb-button${pressing ? ' pressing' : ''}`} aria-busy=${pressing ? 'true' : undefined} onClick=${() => app.pressButton(m, b)}>${b.text}</button>`;
    })}</div>`)}
  </div>`;
}

/** @extends {Component<{app: App, media: Media}, {src: string, broken: boolean}>} */
class MediaView extends Component {
  state = { src: '', broken: false };

  componentDidMount() {
    const { app, media } = this.props;
    if (media.kind === 'photo') {
      app.blobUrl(media.thumb_file_id ?? media.file_id).then((src) => this.setState({ src }), () => this.setState({ broken: true }));
    }
  }

  render() {
    const { app, media } = this.props;
    const label = `${media.name} · ${formatSize(media.size)}`;
    if (media.kind === 'photo') {
      // Reserve the box before the image arrives, so the history does not jump.
      const w = media.width ?? 320;
      const ht = media.height ?? 240;
      const scale = Math.min(1, 320 / w, 320 / ht);
      return html`<button type="button" class="media-photo-button" title=${`Download ${label}`} aria-label=${`Photo ${label}, download`} onClick=${() => app.download(media)}>
        <img class=${`media-photo${this.state.broken ? ' broken' : ''}`} alt=${media.caption || media.name} src=${this.state.src || undefined}
          width=${Math.max(1, Math.round(w * scale))} height=${Math.max(1, Math.round(ht * scale))} /></button>`;
    }
    return html`<button type="button" class="media-doc" title=${`Download ${media.name}`} aria-label=${`Download ${label}`} onClick=${() => app.download(media)}>
      <span class="media-doc-icon">${Icon('file')}</span>
      <span class="media-doc-text"><span class="media-doc-name">${media.name || 'file'}</span><span class="media-doc-size">${formatSize(media.size)}</span></span>
    </button>`;
  }
}

/** @param {{app: App, cs: ChatState}} props */
function ComposeBar({ app, cs }) {
  const mode = /** @type {import('./model.js').Compose} */ (cs.compose);
  const target = cs.messages.get(mode.id);
  return html`<div class="compose-bar">
    <div class="compose-bar-text">
      <strong>${mode.kind === 'reply' ? `Reply to ${target ? app.model.userName(target.from) : 'a message'}` : 'Edit message'}</strong>
      <span>${target ? messageText(target).slice(0, 200) : ''}</span>
    </div>
    <button type="button" class="icon" aria-label=${mode.kind === 'reply' ? 'Cancel reply' : 'Cancel edit'} onClick=${() => app.cancelCompose()}>${Icon('close')}</button>
  </div>`;
}

/** @param {{app: App, count: number}} props */
function SelectionBar({ app, count }) {
  return html`<div class="selection-bar" role="toolbar" aria-label="Selected messages">
    <span class="selection-count" role="status">${count} selected</span>
    <button type="button" onClick=${() => app.forwardDialog(app.selectedMessages())}>Forward</button>
    <button type="button" class="danger" onClick=${() => app.deleteDialog(app.selectedMessages())}>Delete</button>
    <button type="button" onClick=${() => app.model.clearSelection()}>Cancel</button>
  </div>`;
}

/** @param {{app: App}} props */
function UploadBar({ app }) {
  const u = /** @type {NonNullable<App['upload']>} */ (app.upload);
  return html`<div class="upload-bar" id="upload-bar">
    <div class="upload-text"><span class="upload-name">${u.name}</span><span class="upload-status" id="upload-status">${u.status}</span></div>
    <progress id="upload-progress" max=${Math.max(u.total, 1)} value=${u.sent} aria-label=${`Uploading ${u.name}`}></progress>
    ${u.cancellable && html`<button type="button" class="icon" aria-label="Cancel upload" onClick=${() => app.uploadAbort?.abort()}>${Icon('close')}</button>`}
  </div>`;
}

/** @param {{app: App, cs: ChatState}} props */
function Composer({ app, cs }) {
  const text = app.model.composerText(cs);
  const suggestions = app.mentionSuggestions();
  const active = app.mention ? Math.min(app.mention.index, suggestions.length - 1) : -1;
  return html`${suggestions.length > 0 && html`<ul class="mentions" id="mention-list" role="listbox" aria-label="Mention a member">
      ${suggestions.map((u, i) => html`<li role="option" id=${`mention-${u.id}`} key=${u.id} aria-selected=${i === active ? 'true' : 'false'}
        class=${`mention-option${i === active ? ' active' : ''}`} onMouseDown=${(/** @type {Event} */ ev) => { ev.preventDefault(); app.pickMention(u); }}>
        ${Avatar(u.name, u.id)}<span class="mention-name">${u.name}</span><span class="mention-username">@${u.username}</span></li>`)}
    </ul>`}
  <form class="composer" onSubmit=${(/** @type {Event} */ ev) => { ev.preventDefault(); app.submitComposer(); }}>
    <button type="button" class="icon attach" id="attach" title="Attach a file" aria-label="Attach a file" onClick=${() => /** @type {HTMLInputElement | null} */ (document.getElementById('attach-input'))?.click()}>${Icon('attach')}</button>
    <input type="file" id="attach-input" class="visually-hidden" tabindex="-1" aria-hidden="true"
      onChange=${(/** @type {Event} */ ev) => { const input = /** @type {HTMLInputElement} */ (ev.target); const f = input.files?.[0]; input.value = ''; if (f) app.sendFile(f); }} />
    <textarea id="composer" rows="1" placeholder="Message" aria-label="Message" maxlength="4096" value=${text}
      aria-controls=${suggestions.length > 0 ? 'mention-list' : undefined}
      aria-activedescendant=${suggestions.length > 0 && active >= 0 ? `mention-${suggestions[active].id}` : undefined}
      ref=${(/** @type {HTMLTextAreaElement | null} */ el) => app.setComposerElement(el)}
      onKeyDown=${(/** @type {KeyboardEvent} */ ev) => app.onComposerKey(ev)}
      onInput=${(/** @type {Event} */ ev) => app.onComposerInput(/** @type {HTMLTextAreaElement} */ (ev.target).value)}
      onPaste=${(/** @type {ClipboardEvent} */ ev) => { const f = ev.clipboardData?.files?.[0]; if (f) { ev.preventDefault(); app.sendFile(f); } }}></textarea>
    <button type="submit" class="send" aria-label="Send">${Icon('send')}</button>
  </form>`;
}

// ---------------------------------------------------------------------------------------------
// Modals

/**
 * @typedef {{name: string, label: string, hint?: string, required?: boolean, readonly?: boolean}} Field
 * @typedef {{id?: number, kind: 'form', title: string, fields: Field[], values: Record<string, string>,
 *   action: string, submit: (values: Record<string, string>) => Promise<void | string>, extras?: {label: string, danger?: boolean, run: () => void}[],
 *   error: string, note: string, busy: boolean}
 *   | {id?: number, kind: 'alert', title: string, text: string, link?: string}
 *   | {id?: number, kind: 'choice', title: string, text: string, choices: {label: string, danger?: boolean, run: () => Promise<void>}[], error: string}
 *   | {id?: number, kind: 'sessions', sessions: import('./types.js').Session[] | null, error: string}
 *   | {id?: number, kind: 'pick', title: string, text: string, options: {id: number, label: string}[], chosen: number[],
 *     action: string, run: (ids: number[]) => Promise<void>, error: string}} ModalState
 */

/** @extends {Component<{app: App, modal: ModalState}>} */
class Modal extends Component {
  componentDidMount() {
    const dialog = /** @type {HTMLDialogElement} */ (this.base);
    dialog.addEventListener('close', () => this.props.app.closeModal(this.props.modal.id));
    dialog.showModal();
    const first = /** @type {HTMLElement | null} */ (dialog.querySelector('input:not([readonly]), input, .modal-buttons button.primary, .modal-buttons button'));
    if (first instanceof HTMLInputElement) first.select();
    else first?.focus();
  }

  close = () => /** @type {HTMLDialogElement} */ (this.base).close();

  render() {
    const { app, modal } = this.props;
    if (modal.kind === 'alert') {
      return html`<dialog class="modal bot-alert" role="alertdialog" aria-labelledby="alert-title" aria-describedby="alert-text">
        <h2 id="alert-title">${modal.title}</h2>
        <p id="alert-text" class="alert-text">${modal.text}</p>
        ${modal.link && html`<p><a href=${modal.link} target="_blank" rel="noopener noreferrer">Open link</a></p>`}
        <div class="modal-buttons"><button type="button" class="primary" onClick=${this.close}>OK</button></div>
      </dialog>`;
    }
    if (modal.kind === 'choice') {
      return html`<dialog class="modal" aria-labelledby="modal-title" aria-describedby="modal-text">
        <h2 id="modal-title">${modal.title}</h2>
        <p id="modal-text" class="modal-text">${modal.text}</p>
        <p class="form-error" role="alert">${modal.error}</p>
        <div class="modal-buttons choice">
          <button type="button" onClick=${this.close}>Cancel</button>
          ${modal.choices.map((c) => html`<button type="button" class=${c.danger ? 'primary danger-fill' : 'primary'} onClick=${() => app.runChoice(modal, c.run, this.close)}>${c.label}</button>`)}
        </div>
      </dialog>`;
    }
    if (modal.kind === 'sessions') {
      const others = (modal.sessions ?? []).filter((x) => !x.current);
      return html`<dialog class="modal" aria-labelledby="modal-title">
        <h2 id="modal-title">Devices</h2>
        <p class="hint">Everywhere you are signed in. Terminating a session signs that device out at once.</p>
        ${modal.sessions === null ? html`<p role="status">Loading…</p>` : html`<ul class="session-list" aria-label="Sessions">
          ${modal.sessions.map((x) => html`<li class="session" key=${x.id}>
            <span class="session-main"><span class="session-device">${x.device || 'Unknown device'}</span>
              <span class="session-when">${x.current ? 'This device' : `Last active ${new Date(x.last_active * 1000).toLocaleString()}`}</span></span>
            ${!x.current && html`<button type="button" class="danger" aria-label=${`Terminate ${x.device || 'session'} (${x.id})`} onClick=${() => app.terminate(modal, [x.id])}>Terminate</button>`}
          </li>`)}</ul>`}
        <p class="form-error" role="alert">${modal.error}</p>
        <div class="modal-buttons">
          ${others.length > 0 && html`<button type="button" class="danger" onClick=${() => app.terminate(modal, others.map((x) => x.id))}>Terminate all other sessions</button>`}
          <button type="button" class="primary" onClick=${this.close}>Close</button>
        </div>
      </dialog>`;
    }
    if (modal.kind === 'pick') {
      return html`<dialog class="modal" aria-labelledby="modal-title" aria-describedby="modal-text">
        <form method="dialog" onSubmit=${(/** @type {Event} */ ev) => { ev.preventDefault(); app.submitPick(modal, this.close); }}>
          <h2 id="modal-title">${modal.title}</h2>
          <p id="modal-text" class="modal-text">“${modal.text}”</p>
          <fieldset class="pick-list"><legend class="visually-hidden">Chats</legend>
            ${modal.options.map((o) => html`<label class="pick-option" key=${o.id}>
              <input type="checkbox" checked=${modal.chosen.includes(o.id)}
                onChange=${(/** @type {Event} */ ev) => { const on = /** @type {HTMLInputElement} */ (ev.target).checked; modal.chosen = on ? [...modal.chosen, o.id] : modal.chosen.filter((x) => x !== o.id); app.queueRender(); }} />
              ${Avatar(o.label, o.id)}<span>${o.label}</span></label>`)}
          </fieldset>
          <p class="form-error" role="alert">${modal.error}</p>
          <div class="modal-buttons">
            <button type="button" onClick=${this.close}>Cancel</button>
            <button type="submit" class="primary">${modal.action}${modal.chosen.length > 1 ? ` (${modal.chosen.length})` : ''}</button>
          </div>
        </form>
      </dialog>`;
    }
    return html`<dialog class="modal" aria-labelledby="modal-title">
      <form method="dialog" onSubmit=${(/** @type {Event} */ ev) => { ev.preventDefault(); app.submitForm(modal, this.close); }}>
        <h2 id="modal-title">${modal.title}</h2>
        ${modal.fields.map((f) => html`<div class="field">
          <label for=${`f-${f.name}`}>${f.label}</label>
          <input id=${`f-${f.name}`} name=${f.name} value=${modal.values[f.name] ?? ''} required=${f.required} readOnly=${f.readonly} autocomplete="off"
            onInput=${(/** @type {Event} */ ev) => { modal.values[f.name] = /** @type {HTMLInputElement} */ (ev.target).value; }} />
          ${f.hint && html`<p class="hint">${f.hint}</p>`}
        </div>`)}
        <p class="form-error" role="alert">${modal.error}</p>
        <p class="form-note" role="status">${modal.note}</p>
        <div class="modal-buttons">
          ${(modal.extras ?? []).map((x) => html`<button type="button" class=${x.danger ? 'danger' : ''} onClick=${() => { this.close(); x.run(); }}>${x.label}</button>`)}
          <button type="button" onClick=${this.close}>Close</button>
          ${modal.action && html`<button type="submit" class="primary" disabled=${modal.busy}>${modal.action}</button>`}
        </div>
      </form>
    </dialog>`;
  }
}
