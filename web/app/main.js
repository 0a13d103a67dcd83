// The Heliograph web client: sign-in, the dialog list, a chat, and the live state behind
// them. Everything the server sends is shown with text nodes (`h`, `textContent`), never as
// HTML. The session token lives in localStorage, readable by this origin only.

import { Connection, RpcError, randomId } from './api.js';
import { Sync } from './sync.js';
import { VirtualList } from './history.js';
import { h, replace, byId, announce, icon } from './dom.js';

/** @typedef {import('./types.js').User} User */
/** @typedef {import('./types.js').Chat} Chat */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').Dialog} Dialog */
/** @typedef {import('./types.js').Dialogs} Dialogs */
/** @typedef {import('./types.js').Update} Update */
/** @typedef {import('./types.js').Difference} Difference */
/** @typedef {import('./types.js').Authorization} Authorization */
/** @typedef {import('./types.js').Peer} Peer */
/** @typedef {import('./types.js').Sent} Sent */
/** @typedef {import('./types.js').Media} Media */
/** @typedef {import('./types.js').MediaKind} MediaKind */
/** @typedef {import('./types.js').UploadedFile} UploadedFile */
/** @typedef {import('./types.js').MessageEntity} MessageEntity */
/** @typedef {import('./types.js').InlineButton} InlineButton */
/** @typedef {import('./types.js').CallbackAnswer} CallbackAnswer */

/** Parts of an upload, as docs/protocol.md §10.1 asks. */
const PART_SIZE = 524_288;
/** The largest file the client hashes in memory (crypto.subtle has no incremental digest). */
const MAX_UPLOAD = 200 * 1024 * 1024;

const TOKEN_KEY = 'helio.token';
const PAGE = 50;
const TYPING_SHOWN_MS = 6000;
const TYPING_SENT_EVERY_MS = 4000;
const USERNAME = /^@?[A-Za-z][A-Za-z0-9_]{4,31}$/;

const root = byId('root');

/** @param {unknown} e */
function errorText(e) {
  if (e instanceof RpcError) {
    if (e.code === 'DISCONNECTED') return 'No connection to the server. Trying again…';
    return e.message;
  }
  return String(e);
}

/**
 * @param {string} text
 * @param {Node} [extra] shown after the text (a link)
 */
function toast(text, extra) {
  let box = document.getElementById('toast');
  if (!box) {
    box = h('div', { id: 'toast', class: 'toast', role: 'alert' });
    document.body.append(box);
  }
  const item = h('div', { class: 'toast-item' }, text, extra ? ' ' : null, extra ?? null);
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

// ---------------------------------------------------------------------------------------------
// Formatting

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const yearFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
const shortFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

/** A link the page may open: http(s) only (a bot's `tg://` or anything else stays text). */
const WEB_URL = /^https?:\/\//i;

/**
 * The text with its formatting entities, as nodes: bold, italic, underline, strikethrough,
 * spoiler, code, pre, links. Offsets count UTF-16 units, as JavaScript strings do. Entities
 * may nest; each stretch of text between entity boundaries is wrapped in the elements of the
 * entities covering it. Text only ever goes in as text nodes.
 * @param {string} text
 * @param {MessageEntity[] | undefined} entities
 * @returns {(Node | string)[]}
 */
function richText(text, entities) {
  if (!entities || entities.length === 0) return [text];
  const cuts = new Set([0, text.length]);
  for (const e of entities) {
    cuts.add(Math.max(0, Math.min(text.length, e.offset)));
    cuts.add(Math.max(0, Math.min(text.length, e.offset + e.length)));
  }
  const points = [...cuts].sort((a, b) => a - b);
  /** @type {(Node | string)[]} */
  const out = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [from, to] = [points[i], points[i + 1]];
    const piece = text.slice(from, to);
    /** @type {Node | string} */
    let node = piece;
    // Inner (later, shorter) entities first, so the outer ones wrap them.
    const covering = entities.filter((e) => e.offset <= from && e.offset + e.length >= to).reverse();
    for (const e of covering) node = wrapEntity(e, node, piece);
    out.push(node);
  }
  return out;
}

/**
 * @param {MessageEntity} e
 * @param {Node | string} inner
 * @param {string} piece the plain text of `inner`
 * @returns {Node | string}
 */
function wrapEntity(e, inner, piece) {
  switch (e.type) {
    case 'bold': return h('strong', {}, inner);
    case 'italic': return h('em', {}, inner);
    case 'underline': return h('u', {}, inner);
    case 'strikethrough': return h('s', {}, inner);
    case 'spoiler': return h('span', { class: 'spoiler', title: 'Spoiler' }, inner);
    case 'code': return h('code', {}, inner);
    case 'pre': return h('code', { class: 'pre', 'data-language': e.language ?? null }, inner);
    case 'blockquote': case 'expandable_blockquote': return h('span', { class: 'quote' }, inner);
    case 'text_link':
      return e.url && WEB_URL.test(e.url) ? h('a', { href: e.url, target: '_blank', rel: 'noopener noreferrer', title: e.url }, inner) : inner;
    case 'url': {
      const href = WEB_URL.test(piece) ? piece : `https://${piece}`;
      return h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, inner);
    }
    default: return inner;
  }
}

/** @param {number} unix */
function dayKey(unix) {
  const d = new Date(unix * 1000);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** @param {number} unix */
function dayLabel(unix) {
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

/** @param {Message} m */
function messageText(m) {
  const media = mediaOf(m);
  if (media) return media.caption || (media.kind === 'photo' ? 'Photo' : media.name);
  return m.content.type === 'text' ? (m.content.text ?? '') : 'Unsupported message';
}

/**
 * The media a message carries, if any.
 * @param {Message} m
 * @returns {Media | null}
 */
function mediaOf(m) {
  return m.content.type === 'media' ? /** @type {Media} */ (/** @type {unknown} */ (m.content)) : null;
}

/** @param {number} n bytes */
function formatSize(n) {
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
function avatar(name, id) {
  return h('span', { class: `avatar c${Math.abs(id) % 8}`, 'aria-hidden': 'true' }, initials(name));
}

/** The tag next to a bot's name. */
function botTag() {
  return h('span', { class: 'bot-tag', title: 'This account is a bot' }, 'bot');
}

// ---------------------------------------------------------------------------------------------
// Sign-in

function showSignIn() {
  /** @type {'phone' | 'code' | 'name'} */
  let step = 'phone';
  let phone = '';
  let code = '';
  /** @type {Connection | null} */
  let conn = null;
  const error = h('p', { class: 'form-error', role: 'alert', id: 'signin-error' });
  const phoneInput = h('input', { id: 'phone', name: 'phone', type: 'tel', autocomplete: 'tel', required: true, placeholder: '+9996612345', 'aria-describedby': 'signin-error' });
  const codeInput = h('input', { id: 'code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{5}', maxlength: 5, 'aria-describedby': 'signin-error' });
  const nameInput = h('input', { id: 'name', name: 'name', autocomplete: 'name', maxlength: 64, 'aria-describedby': 'signin-error' });
  const codeRow = h('div', { class: 'field', hidden: true }, h('label', { for: 'code' }, 'Code'), codeInput);
  const nameRow = h('div', { class: 'field', hidden: true }, h('label', { for: 'name' }, 'Your name'), h('p', { class: 'hint' }, 'This number is new here. Choose the name people will see.'), nameInput);
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Send code');
  const back = h('button', { type: 'button', class: 'link', hidden: true, onclick: () => setStep('phone') }, 'Use another number');

  /** @param {'phone' | 'code' | 'name'} next */
  function setStep(next) {
    step = next;
    phoneInput.readOnly = step !== 'phone';
    codeRow.hidden = step === 'phone';
    codeInput.required = step !== 'phone';
    codeInput.readOnly = step === 'name';
    nameRow.hidden = step !== 'name';
    nameInput.required = step === 'name';
    back.hidden = step === 'phone';
    submit.textContent = step === 'phone' ? 'Send code' : step === 'code' ? 'Sign in' : 'Create account';
    (step === 'phone' ? phoneInput : step === 'code' ? codeInput : nameInput).focus();
  }

  /** A connection used only to sign in; the app opens its own afterwards. */
  async function connection() {
    if (conn && conn.ready) return conn;
    conn?.stop();
    const c = new Connection({ status: () => {}, onOpen: async () => {}, update: () => {}, typing: () => {}, resync: () => {}, revoked: () => {} });
    conn = c;
    c.start();
    await Promise.race([c.whenReady(), new Promise((_, reject) => setTimeout(() => reject(new RpcError('DISCONNECTED', 'cannot reach the server')), 10_000))]);
    return c;
  }

  /** @param {Event} ev */
  async function onSubmit(ev) {
    ev.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      const c = await connection();
      if (step === 'phone') {
        phone = phoneInput.value.trim();
        await c.call('auth.send_code', { phone });
        setStep('code');
        return;
      }
      code = codeInput.value.trim();
      const device = `Web (${navigator.platform || 'browser'})`;
      /** @type {Record<string, string>} */
      const params = { phone, code, device };
      if (step === 'name') params.name = nameInput.value.trim();
      try {
        /** @type {Authorization} */
        const auth = await c.call('auth.sign_in', params);
        localStorage.setItem(TOKEN_KEY, auth.token);
        c.stop();
        startApp(auth.token);
      } catch (e) {
        if (e instanceof RpcError && e.code === 'NAME_REQUIRED') setStep('name');
        else if (e instanceof RpcError && e.code === 'PHONE_CODE_EXPIRED') {
          setStep('phone');
          throw e;
        } else throw e;
      }
    } catch (e) {
      error.textContent = errorText(e);
    } finally {
      submit.disabled = false;
    }
  }

  const form = h('form', { class: 'signin-form', onsubmit: onSubmit },
    h('img', { src: document.querySelector('link[rel=icon]')?.getAttribute('href') ?? '', alt: '', class: 'logo', width: 64, height: 64 }),
    h('h1', {}, 'Sign in to Heliograph'),
    h('p', { class: 'hint' }, 'Enter your phone number. We will send you a code.'),
    h('div', { class: 'field' }, h('label', { for: 'phone' }, 'Phone number'), phoneInput),
    codeRow, nameRow, error, submit, back);
  replace(root, h('main', { class: 'signin' }, form));
  document.title = 'Sign in · Heliograph';
  phoneInput.focus();
}

// ---------------------------------------------------------------------------------------------
// Live state

/**
 * What the client knows about one chat.
 * @typedef {object} ChatState
 * @property {Chat} chat
 * @property {Message | undefined} last newest message known
 * @property {number} top highest message id seen (read marks and "is this new" use it)
 * @property {number} unread
 * @property {number} readIn
 * @property {number} readOut
 * @property {number} activity for ordering the dialog list, milliseconds
 * @property {Map<number, Message>} messages loaded history (contiguous from `top` down)
 * @property {Message[] | null} sorted cache of `messages` by id
 * @property {boolean} loaded newest page loaded
 * @property {boolean} atStart no older messages
 * @property {boolean} loadingOlder
 * @property {{randomId: number, text: string, replyTo?: number, date: number}[]} pending sends not yet answered
 * @property {Map<number, number>} typing user id -> until (ms)
 */

/** @param {Chat} chat @returns {ChatState} */
function newChatState(chat) {
  return { chat, last: undefined, top: chat.top_message_id, unread: 0, readIn: 0, readOut: 0, activity: 0, messages: new Map(), sorted: null, loaded: false, atStart: false, loadingOlder: false, pending: [], typing: new Map() };
}

/** @param {ChatState} cs */
function sortedMessages(cs) {
  if (!cs.sorted) cs.sorted = [...cs.messages.values()].sort((a, b) => a.id - b.id);
  return cs.sorted;
}

/**
 * @typedef {{key: string, version: string, kind: 'day', label: string}
 *   | {key: string, version: string, kind: 'msg', msg: Message, pending: boolean}} HistoryItem
 */

class App {
  /** @param {string} token */
  constructor(token) {
    this.token = token;
    /** @type {User | null} */
    this.me = null;
    /** @type {Map<number, ChatState>} */
    this.chats = new Map();
    /** @type {Map<number, User>} */
    this.users = new Map();
    /** @type {Set<number>} */
    this.wantUsers = new Set();
    /** @type {Map<number, Promise<ChatState | null>>} */
    this.fetchingChats = new Map();
    /** @type {number | null} */
    this.openId = null;
    /** @type {Sync | null} */
    this.sync = null;
    this.dialogsLoaded = false;
    this.query = '';
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.searchTimer = undefined;
    /** @type {Peer | null} */
    this.found = null;
    /** @type {{kind: 'reply' | 'edit', msg: Message} | null} */
    this.composeMode = null;
    this.lastTypingSent = 0;
    this.renderQueued = { dialogs: false, chat: false, header: false };
    this.online = false;
    this.conn = new Connection({
      status: (ready) => this.setOnline(ready),
      onOpen: () => this.onOpen(),
      update: (u) => this.sync?.receive(u),
      typing: (chatId, userId) => this.onTyping(chatId, userId),
      resync: () => {
        this.sync?.resync().catch(() => this.conn.ws?.close(4000, 'retry'));
      },
      revoked: () => this.signOut(false),
    });
    // ----- layout -----
    this.search = h('input', { type: 'search', id: 'search', placeholder: 'Search', autocomplete: 'off', 'aria-label': 'Search chats, or find @username', oninput: () => this.onSearch() });
    this.dialogList = h('ul', { class: 'dialogs', id: 'dialogs', 'aria-label': 'Chats' });
    this.foundBox = h('div', { class: 'found', id: 'found' });
    this.sidebarHeader = h('div', { class: 'sidebar-header' });
    const sidebar = h('nav', { class: 'sidebar', 'aria-label': 'Chat list' },
      this.sidebarHeader,
      h('div', { class: 'search-box' }, this.search),
      h('div', { id: 'conn-status', class: 'conn-status', role: 'status', hidden: true }),
      this.foundBox,
      this.dialogList);
    this.chatTitle = h('h2', { class: 'chat-title', id: 'chat-title' });
    this.chatSub = h('p', { class: 'chat-sub', id: 'chat-sub' });
    this.chatActions = h('div', { class: 'chat-actions' });
    this.historyEl = h('div', { class: 'history', id: 'history', tabindex: 0, role: 'region', 'aria-label': 'Messages' });
    this.composeBar = h('div', { class: 'compose-bar', hidden: true });
    this.input = h('textarea', { id: 'composer', rows: 1, placeholder: 'Message', 'aria-label': 'Message', maxlength: 4096,
      onkeydown: /** @type {EventListener} */ ((ev) => this.onComposerKey(/** @type {KeyboardEvent} */ (ev))),
      oninput: () => this.onComposerInput() });
    this.sendButton = h('button', { type: 'submit', class: 'send', 'aria-label': 'Send' }, icon('send'));
    this.fileInput = h('input', { type: 'file', id: 'attach-input', class: 'visually-hidden', tabindex: -1, 'aria-hidden': 'true',
      onchange: () => {
        const f = this.fileInput.files?.[0];
        this.fileInput.value = '';
        if (f) this.sendFile(f);
      } });
    this.attachButton = h('button', { type: 'button', class: 'icon attach', id: 'attach', title: 'Attach a file', 'aria-label': 'Attach a file', onclick: () => this.fileInput.click() }, icon('attach'));
    this.composer = h('form', { class: 'composer', onsubmit: /** @type {EventListener} */ ((ev) => { ev.preventDefault(); this.submitComposer(); }) }, this.attachButton, this.fileInput, this.input, this.sendButton);
    this.input.addEventListener('paste', (ev) => {
      const f = ev.clipboardData?.files?.[0];
      if (f) {
        ev.preventDefault();
        this.sendFile(f);
      }
    });
    /** The upload in progress: its bar in the compose area, and how to cancel it. */
    this.uploadBar = h('div', { class: 'upload-bar', id: 'upload-bar', hidden: true });
    /** @type {AbortController | null} */
    this.uploadAbort = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.uploadBarTimer = undefined;
    /** Blob URLs of downloaded files, by file id (fetched once per session). @type {Map<number, Promise<string>>} */
    this.blobs = new Map();
    this.readOnlyBar = h('div', { class: 'readonly-bar', hidden: true });
    this.chatPane = h('section', { class: 'chat', 'aria-labelledby': 'chat-title' },
      h('header', { class: 'chat-header' },
        h('button', { class: 'icon back', type: 'button', 'aria-label': 'Back to chats', onclick: () => this.closeChat() }, icon('back')),
        h('div', { class: 'chat-heading' }, this.chatTitle, this.chatSub),
        this.chatActions),
      this.historyEl,
      h('div', { class: 'compose-area' }, this.composeBar, this.uploadBar, this.composer, this.readOnlyBar));
    this.chatPane.addEventListener('dragover', (ev) => {
      if (ev.dataTransfer?.types.includes('Files') && !this.composer.hidden) ev.preventDefault();
    });
    this.chatPane.addEventListener('drop', (ev) => {
      const f = ev.dataTransfer?.files?.[0];
      if (!f || this.composer.hidden) return;
      ev.preventDefault();
      this.sendFile(f);
    });
    this.empty = h('section', { class: 'empty-pane' }, h('p', {}, 'Select a chat to start messaging'));
    replace(root, h('div', { class: 'layout' }, sidebar, this.chatPane, this.empty));
    this.chatPane.hidden = true;
    document.title = 'Heliograph';
    /** @type {VirtualList<HistoryItem>} */
    this.list = new VirtualList(this.historyEl, {
      render: (item) => this.renderItem(item),
      estimate: (item) => (item.kind === 'day' ? 40 : 64),
      nearTop: () => this.loadOlder(),
      atBottom: () => this.maybeRead(),
    });
    this.dialogList.addEventListener('keydown', (ev) => this.onDialogKey(ev));
    this.renderSidebarHeader();
    this.renderDialogs();
    this.conn.start();
    setInterval(() => this.expireTyping(), 1000);
    document.addEventListener('visibilitychange', () => this.maybeRead());
    window.addEventListener('focus', () => this.maybeRead());
  }

  // ----- connection -----

  async onOpen() {
    try {
      /** @type {User} */
      const me = await this.conn.call('auth.authorize', { token: this.token });
      this.me = me;
      this.users.set(me.id, me);
    } catch (e) {
      if (e instanceof RpcError && e.code === 'SESSION_REVOKED') this.signOut(false);
      throw e;
    }
    const me = this.me;
    if (!this.sync) {
      this.sync = new Sync({
        storageKey: `helio.sync.${me.id}`,
        userState: async () => (/** @type {{pts: number}} */ (await this.conn.call('updates.get_state'))).pts,
        userDifference: (pts) => this.conn.call('updates.get_difference', { pts }),
        chatDifference: (chatId, pts) => this.conn.call('updates.get_chat_difference', { chat_id: chatId, pts }),
        apply: (u) => this.apply(u),
        tooLong: () => this.reloadAll(),
      });
    }
    if (this.sync.fresh) await this.sync.catchUp();
    if (!this.dialogsLoaded) {
      await this.loadDialogs();
      this.dialogsLoaded = true;
      this.handleInvitePath();
    }
    await this.sync.catchUp();
    this.renderSidebarHeader();
  }

  /** @param {boolean} ready */
  setOnline(ready) {
    this.online = ready;
    const bar = document.getElementById('conn-status');
    if (bar) {
      bar.hidden = ready;
      bar.textContent = ready ? '' : 'Connecting…';
    }
    document.body.classList.toggle('offline', !ready);
    if (ready) this.maybeRead();
  }

  async loadDialogs() {
    /** @type {import('./types.js').DialogCursor | undefined} */
    let offset;
    let rank = 0;
    for (let page = 0; page < 10; page++) {
      /** @type {Dialogs} */
      const res = await this.conn.call('chats.dialogs', { limit: 200, offset });
      for (const d of res.dialogs) this.upsertDialog(d, rank++);
      if (!res.next || res.dialogs.length === 0) break;
      offset = res.next;
    }
    this.queueRender({ dialogs: true, header: true, chat: true });
  }

  /** The client fell too far behind: reload everything it shows. */
  reloadAll() {
    for (const cs of this.chats.values()) {
      cs.messages.clear();
      cs.sorted = null;
      cs.loaded = false;
      cs.atStart = false;
    }
    this.loadDialogs().then(() => {
      if (this.openId !== null) this.openChat(this.openId);
    }, () => {});
  }

  /**
   * @param {Dialog} d
   * @param {number} rank its place in the server's order (most recent activity first)
   */
  upsertDialog(d, rank) {
    const cs = this.upsertChat(d.chat);
    cs.last = d.last_message;
    cs.top = Math.max(cs.top, d.chat.top_message_id, d.last_message?.id ?? 0);
    cs.unread = d.unread_count;
    cs.readIn = d.read_inbox_max_id;
    cs.readOut = d.read_outbox_max_id;
    // Dates are in seconds; within one second keep the server's order.
    cs.activity = (d.last_message?.date ?? 0) * 1000 + 999 - Math.min(rank, 999);
    if (d.last_message) this.noteUser(d.last_message.from);
  }

  /**
   * Adds or refreshes a chat. A chat from a chat's own log has no `role`/`peer`: keep ours.
   * @param {Chat} chat
   */
  upsertChat(chat) {
    let cs = this.chats.get(chat.id);
    if (!cs) {
      cs = newChatState(chat);
      cs.activity = Date.now();
      this.chats.set(chat.id, cs);
    } else {
      cs.chat = { ...chat, role: chat.role ?? cs.chat.role, peer: chat.peer ?? cs.chat.peer };
      cs.top = Math.max(cs.top, chat.top_message_id);
    }
    if (chat.peer) this.users.set(chat.peer.id, chat.peer);
    if (chat.chat_pts !== undefined && chat.role) this.sync?.follow(chat.id, chat.chat_pts);
    return cs;
  }

  /**
   * The chat, fetched with `chats.get` if it is new to us.
   * @param {number} chatId
   * @returns {Promise<ChatState | null>}
   */
  fetchChat(chatId) {
    const known = this.chats.get(chatId);
    if (known) return Promise.resolve(known);
    let p = this.fetchingChats.get(chatId);
    if (!p) {
      p = this.conn.call('chats.get', { chat_id: chatId }).then(
        (chat) => {
          this.fetchingChats.delete(chatId);
          const cs = this.upsertChat(/** @type {Chat} */ (chat));
          this.queueRender({ dialogs: true });
          return cs;
        },
        () => {
          this.fetchingChats.delete(chatId);
          return null;
        },
      );
      this.fetchingChats.set(chatId, p);
    }
    return p;
  }

  /**
   * Remembers to fetch a user's name (group authors).
   * @param {number} id
   */
  noteUser(id) {
    if (this.users.has(id) || this.wantUsers.has(id)) return;
    this.wantUsers.add(id);
    if (this.wantUsers.size === 1) {
      setTimeout(async () => {
        const ids = [...this.wantUsers].slice(0, 100);
        try {
          /** @type {User[]} */
          const users = await this.conn.call('users.get', { ids });
          for (const u of users) this.users.set(u.id, u);
          for (const id of ids) this.wantUsers.delete(id);
          this.queueRender({ chat: true, dialogs: true });
        } catch {
          this.wantUsers.clear();
        }
      }, 50);
    }
  }

  /** @param {number} id */
  userName(id) {
    if (this.me && id === this.me.id) return 'You';
    return this.users.get(id)?.name ?? `User ${id}`;
  }

  // ----- updates -----

  /** @param {Update} u */
  apply(u) {
    switch (u.type) {
      case 'new_message':
        this.addMessage(u.message);
        break;
      case 'edit_message': {
        const cs = this.chats.get(u.message.chat_id);
        if (!cs) break;
        if (cs.messages.has(u.message.id)) {
          cs.messages.set(u.message.id, u.message);
          cs.sorted = null;
        }
        if (cs.last?.id === u.message.id) cs.last = u.message;
        this.queueRender({ dialogs: true, chat: u.message.chat_id === this.openId });
        break;
      }
      case 'delete_messages': {
        const cs = this.chats.get(u.chat_id);
        if (!cs) break;
        for (const id of u.ids) cs.messages.delete(id);
        cs.sorted = null;
        if (cs.last && u.ids.includes(cs.last.id)) {
          const rest = sortedMessages(cs);
          cs.last = rest[rest.length - 1];
        }
        this.queueRender({ dialogs: true, chat: u.chat_id === this.openId });
        break;
      }
      case 'read_inbox': {
        const cs = this.chats.get(u.chat_id);
        if (!cs || u.max_id <= cs.readIn) break;
        cs.readIn = u.max_id;
        if (u.max_id >= cs.top) cs.unread = 0;
        else if (cs.loaded) cs.unread = sortedMessages(cs).filter((m) => m.id > u.max_id && m.from !== this.me?.id).length;
        this.queueRender({ dialogs: true });
        break;
      }
      case 'read_outbox': {
        const cs = this.chats.get(u.chat_id);
        if (!cs || u.max_id <= cs.readOut) break;
        cs.readOut = u.max_id;
        this.queueRender({ dialogs: true, chat: u.chat_id === this.openId });
        break;
      }
      case 'pinned_message': {
        const cs = this.chats.get(u.chat_id);
        if (cs) cs.chat = { ...cs.chat, pinned_message_id: u.id };
        break;
      }
      case 'participant': {
        if (u.user_id === this.me?.id && !u.role) {
          this.dropChat(u.chat_id);
          break;
        }
        const cs = this.chats.get(u.chat_id);
        if (!cs) break;
        this.noteUser(u.user_id);
        this.conn.call('chats.get', { chat_id: u.chat_id }).then((chat) => {
          this.upsertChat(/** @type {Chat} */ (chat));
          this.queueRender({ header: true });
        }, () => {});
        break;
      }
      case 'chat': {
        this.upsertChat(u.chat);
        this.queueRender({ dialogs: true, header: true });
        break;
      }
    }
  }

  /** @param {number} chatId */
  dropChat(chatId) {
    this.chats.delete(chatId);
    this.sync?.unfollow(chatId);
    if (this.openId === chatId) this.closeChat();
    this.queueRender({ dialogs: true });
  }

  /**
   * A message from an update or a send's answer; both may arrive, in either order.
   * @param {Message} msg
   */
  addMessage(msg) {
    const cs = this.chats.get(msg.chat_id);
    if (!cs) {
      this.fetchChat(msg.chat_id).then((c) => {
        if (!c) return;
        // The fetched chat already counts this message in `top_message_id`: it is still new.
        if (!c.last) c.top = Math.min(c.top, msg.id - 1);
        this.addMessage(msg);
      });
      return;
    }
    if (cs.loaded && (msg.id > (sortedMessages(cs).at(-1)?.id ?? 0) || cs.messages.has(msg.id) || cs.atStart || msg.id > (sortedMessages(cs)[0]?.id ?? 0))) {
      cs.messages.set(msg.id, msg);
      cs.sorted = null;
    }
    if (msg.from === this.me?.id && cs.pending.length > 0) {
      // Our own send, announced by its update before its answer: stop showing it as pending.
      const i = msg.content.type === 'text' ? cs.pending.findIndex((p) => p.text === messageText(msg)) : -1;
      if (i >= 0) cs.pending.splice(i, 1);
    }
    const isNew = msg.id > cs.top || !cs.last || msg.id > cs.last.id;
    if (isNew) {
      const wasAbove = msg.id > cs.top;
      cs.top = Math.max(cs.top, msg.id);
      cs.last = msg;
      // Seconds are too coarse to order a busy list: the order of arrival decides within one.
      cs.activity = Math.max(cs.activity + 1, msg.date * 1000, Date.now());
      cs.typing.delete(msg.from);
      if (wasAbove && msg.from !== this.me?.id && msg.id > cs.readIn) {
        cs.unread += 1;
        // The history is virtualized (rows come and go while scrolling), so it is not a live
        // region itself: new messages are announced here instead.
        if (msg.chat_id !== this.openId) announce(`New message in ${cs.chat.title}`);
        else announce(`${this.userName(msg.from)}: ${messageText(msg).slice(0, 200)}`);
      }
      if (msg.from === this.me?.id) {
        cs.readIn = Math.max(cs.readIn, msg.id);
        cs.unread = 0;
      }
    }
    this.noteUser(msg.from);
    this.queueRender({ dialogs: true, chat: msg.chat_id === this.openId, header: msg.chat_id === this.openId });
    if (msg.chat_id === this.openId) this.maybeRead();
  }

  /**
   * @param {number} chatId
   * @param {number} userId
   */
  onTyping(chatId, userId) {
    const cs = this.chats.get(chatId);
    if (!cs) return;
    cs.typing.set(userId, Date.now() + TYPING_SHOWN_MS);
    this.noteUser(userId);
    this.queueRender({ dialogs: true, header: chatId === this.openId });
  }

  expireTyping() {
    const now = Date.now();
    for (const [chatId, cs] of this.chats) {
      let changed = false;
      for (const [user, until] of cs.typing) {
        if (until < now) {
          cs.typing.delete(user);
          changed = true;
        }
      }
      if (changed) this.queueRender({ dialogs: true, header: chatId === this.openId });
    }
  }

  /** @param {ChatState} cs */
  typingText(cs) {
    const who = [...cs.typing.keys()].map((id) => this.userName(id));
    if (who.length === 0) return '';
    if (cs.chat.kind === 'private') return 'typing…';
    return who.length === 1 ? `${who[0]} is typing…` : `${who.length} people are typing…`;
  }

  // ----- layout -----



  renderSidebarHeader() {
    const name = this.me?.name ?? '…';
    replace(this.sidebarHeader,
      h('button', { type: 'button', class: 'me', 'aria-label': `Settings (${name})`, onclick: () => this.settingsDialog() }, avatar(name, this.me?.id ?? 0), h('span', { class: 'me-name' }, name)),
      h('div', { class: 'header-actions' },
        h('button', { type: 'button', class: 'icon', title: 'New chat', 'aria-label': 'New chat', onclick: () => this.newChatDialog() }, icon('compose')),
        h('button', { type: 'button', class: 'icon', title: 'New group', 'aria-label': 'New group', onclick: () => this.newGroupDialog() }, icon('group')),
        h('button', { type: 'button', class: 'icon', title: 'New channel', 'aria-label': 'New channel', onclick: () => this.newChannelDialog() }, icon('channel')),
        h('button', { type: 'button', class: 'icon', title: 'Join a group or channel', 'aria-label': 'Join a group or channel', onclick: () => this.joinDialog() }, icon('join'))));
  }

  /** @param {{dialogs?: boolean, chat?: boolean, header?: boolean}} what */
  queueRender(what) {
    const q = this.renderQueued;
    const idle = !q.dialogs && !q.chat && !q.header;
    q.dialogs ||= !!what.dialogs;
    q.chat ||= !!what.chat;
    q.header ||= !!what.header;
    if (!idle) return;
    requestAnimationFrame(() => {
      const { dialogs, chat, header } = this.renderQueued;
      this.renderQueued = { dialogs: false, chat: false, header: false };
      if (dialogs) this.renderDialogs();
      if (header) this.renderHeader();
      if (chat) this.renderHistory();
    });
  }

  // ----- dialog list -----

  onSearch() {
    this.query = this.search.value.trim();
    this.renderDialogs();
    this.found = null;
    this.renderFound();
    clearTimeout(this.searchTimer);
    const q = this.query;
    if (USERNAME.test(q)) {
      this.searchTimer = setTimeout(async () => {
        try {
          /** @type {Peer} */
          const peer = await this.conn.call('contacts.resolve', { username: q });
          if (this.query !== q) return;
          this.found = peer;
        } catch {
          this.found = null;
        }
        this.renderFound();
      }, 250);
    }
  }

  renderFound() {
    const p = this.found;
    if (!p) {
      replace(this.foundBox);
      return;
    }
    const label = p.type === 'user' ? p.user.name : p.chat.title;
    const username = p.type === 'user' ? p.user.username : p.chat.username;
    const id = p.type === 'user' ? p.user.id : p.chat.id;
    const joined = p.type === 'chat' && this.chats.has(p.chat.id);
    const action = p.type === 'user' ? 'Message' : joined ? 'Open' : 'Join';
    replace(this.foundBox,
      h('p', { class: 'found-title' }, 'Global search'),
      h('button', { type: 'button', class: 'dialog found-item', onclick: () => this.openFound(p) },
        avatar(label, id),
        h('span', { class: 'dialog-main' },
          h('span', { class: 'dialog-title' }, label),
          h('span', { class: 'dialog-preview' }, `@${username ?? ''}`, p.type === 'chat' ? ` · ${p.chat.member_count} subscribers` : '')),
        h('span', { class: 'found-action' }, action)));
  }

  /** @param {Peer} p */
  async openFound(p) {
    try {
      /** @type {Chat} */
      let chat;
      if (p.type === 'user') chat = await this.conn.call('chats.open_private', { user_id: p.user.id });
      else if (this.chats.has(p.chat.id)) chat = p.chat;
      else chat = await this.conn.call('chats.join', { username: p.chat.username });
      this.upsertChat(chat);
      this.search.value = '';
      this.onSearch();
      this.openChat(chat.id);
    } catch (e) {
      toast(errorText(e));
    }
  }

  visibleDialogs() {
    const q = this.query.toLowerCase().replace(/^@/, '');
    return [...this.chats.values()]
      .filter((cs) => !q || cs.chat.title.toLowerCase().includes(q) || (cs.chat.username ?? cs.chat.peer?.username ?? '').toLowerCase().includes(q))
      .sort((a, b) => b.activity - a.activity || b.chat.id - a.chat.id);
  }

  renderDialogs() {
    const items = this.visibleDialogs().map((cs) => {
      const c = cs.chat;
      const typing = this.typingText(cs);
      const last = cs.last;
      /** @type {(string | Node)[]} */
      let preview = [];
      if (typing) preview = [h('span', { class: 'typing' }, typing)];
      else if (last) {
        const who = c.kind === 'group' ? `${this.userName(last.from)}: ` : last.from === this.me?.id && c.kind === 'private' ? 'You: ' : '';
        preview = [who ? h('span', { class: 'who' }, who) : '', messageText(last).slice(0, 120)];
      } else preview = [c.kind === 'channel' ? 'Channel created' : c.kind === 'group' ? 'Group created' : 'No messages yet'];
      const kindLabel = c.kind === 'private' ? (c.peer?.bot ? 'Bot. ' : '') : c.kind === 'group' ? 'Group. ' : 'Channel. ';
      return h('li', {},
        h('button', { type: 'button', class: 'dialog', 'data-chat': c.id, 'aria-current': c.id === this.openId ? 'true' : null,
          'aria-label': `${kindLabel}${c.title}${cs.unread ? `, ${cs.unread} unread` : ''}`,
          onclick: () => this.openChat(c.id) },
          avatar(c.title, c.id),
          h('span', { class: 'dialog-main' },
            h('span', { class: 'dialog-top' },
              h('span', { class: 'dialog-title' }, c.kind === 'channel' ? icon('channel') : c.kind === 'group' ? icon('group') : null, c.title, c.peer?.bot ? botTag() : null),
              h('span', { class: 'dialog-time' }, last ? shortTime(last.date) : '')),
            h('span', { class: 'dialog-bottom' },
              h('span', { class: 'dialog-preview' }, ...preview),
              cs.unread > 0 ? h('span', { class: 'badge', 'aria-hidden': 'true' }, cs.unread > 999 ? '999+' : String(cs.unread)) : null))));
    });
    this.setTitle();
    if (items.length === 0) items.push(h('li', { class: 'dialogs-empty' }, this.query ? 'No chats found' : 'No chats yet. Start one with the pencil button, or find someone by @username.'));
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.chat : undefined;
    replace(this.dialogList, items);
    if (focused) /** @type {HTMLElement | null} */ (this.dialogList.querySelector(`[data-chat="${Number(focused)}"]`))?.focus();
  }

  /** The tab shows the open chat and how many messages are unread. */
  setTitle() {
    let unread = 0;
    for (const cs of this.chats.values()) unread += cs.unread;
    const open = this.openId === null ? undefined : this.chats.get(this.openId);
    document.title = `${unread ? `(${unread}) ` : ''}${open ? `${open.chat.title} · ` : ''}Heliograph`;
  }

  /** Up and down arrows move between chats. @param {KeyboardEvent} ev */
  onDialogKey(ev) {
    if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
    const buttons = /** @type {HTMLElement[]} */ ([...this.dialogList.querySelectorAll('button.dialog')]);
    const i = buttons.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    const next = buttons[Math.max(0, Math.min(buttons.length - 1, i + (ev.key === 'ArrowDown' ? 1 : -1)))];
    next?.focus();
    ev.preventDefault();
  }

  // ----- a chat -----

  /** @param {number} chatId */
  async openChat(chatId) {
    const cs = this.chats.get(chatId);
    if (!cs) return;
    if (this.openId !== chatId) this.setComposeMode(null);
    this.openId = chatId;
    this.chatPane.hidden = false;
    this.empty.hidden = true;
    document.body.classList.add('chat-open');
    this.autoGrow();
    this.list.heights.clear();
    this.list.nodes.clear();
    this.list.stuck = true;
    this.renderHeader();
    this.renderHistory();
    this.renderDialogs();
    if (cs.chat.kind !== 'channel' || cs.chat.role !== 'member') this.input.focus();
    if (!cs.loaded) {
      try {
        /** @type {Message[]} */
        const page = await this.conn.callRetrying('messages.history', { chat_id: chatId, limit: PAGE });
        for (const m of page) {
          cs.messages.set(m.id, m);
          this.noteUser(m.from);
        }
        cs.sorted = null;
        cs.loaded = true;
        cs.atStart = page.length < PAGE;
        if (this.openId === chatId) this.renderHistory();
      } catch (e) {
        toast(errorText(e));
      }
    }
    this.maybeRead();
  }

  closeChat() {
    this.openId = null;
    this.chatPane.hidden = true;
    this.empty.hidden = false;
    document.body.classList.remove('chat-open');
    this.renderDialogs();
    /** @type {HTMLElement | null} */ (this.dialogList.querySelector('button.dialog'))?.focus();
  }

  async loadOlder() {
    const cs = this.openId === null ? undefined : this.chats.get(this.openId);
    if (!cs || !cs.loaded || cs.atStart || cs.loadingOlder) return;
    const first = sortedMessages(cs)[0];
    if (!first) return;
    cs.loadingOlder = true;
    try {
      /** @type {Message[]} */
      const page = await this.conn.call('messages.history', { chat_id: cs.chat.id, from_id: first.id, direction: 'older', limit: 100 });
      for (const m of page) {
        cs.messages.set(m.id, m);
        this.noteUser(m.from);
      }
      cs.sorted = null;
      cs.atStart = page.length < 100;
      if (this.openId === cs.chat.id) this.renderHistory();
    } catch {
      // Retried on the next scroll.
    } finally {
      cs.loadingOlder = false;
    }
  }

  /** Marks the open chat read when the person can see its end. */
  maybeRead() {
    const cs = this.openId === null ? undefined : this.chats.get(this.openId);
    if (!cs || !this.online || document.visibilityState !== 'visible' || !this.list.stuck) return;
    if (cs.readIn >= cs.top && cs.unread === 0) return;
    const max = cs.top;
    cs.readIn = Math.max(cs.readIn, max);
    cs.unread = 0;
    this.queueRender({ dialogs: true });
    this.conn.call('messages.read', { chat_id: cs.chat.id, max_id: max }).catch(() => {});
  }

  renderHeader() {
    const cs = this.openId === null ? undefined : this.chats.get(this.openId);
    if (!cs) return;
    const c = cs.chat;
    this.chatTitle.textContent = c.title;
    const typing = this.typingText(cs);
    let sub = '';
    if (c.kind === 'private') sub = c.peer?.username ? `@${c.peer.username}` : c.peer?.id === this.me?.id ? 'notes to self' : 'private chat';
    if (c.kind === 'private' && c.peer?.bot) sub = `${sub} · bot`;
    else if (c.kind === 'group') sub = `${c.member_count} member${c.member_count === 1 ? '' : 's'}`;
    else sub = `${c.username ? `@${c.username} · ` : ''}${c.member_count} subscriber${c.member_count === 1 ? '' : 's'}`;
    this.chatSub.textContent = typing || sub;
    this.chatSub.classList.toggle('typing', !!typing);
    const admin = c.role === 'admin' || c.role === 'creator';
    replace(this.chatActions,
      c.kind !== 'private' && admin ? h('button', { type: 'button', class: 'icon', title: 'Add members', 'aria-label': 'Add members', onclick: () => this.addMembersDialog(c.id) }, icon('addMember')) : null,
      c.kind !== 'private' && admin ? h('button', { type: 'button', class: 'icon', title: 'Invite link', 'aria-label': 'Invite link', onclick: () => this.inviteDialog(c.id) }, icon('link')) : null,
      c.kind !== 'private' ? h('button', { type: 'button', class: 'icon', title: 'Leave', 'aria-label': c.kind === 'channel' ? 'Leave channel' : 'Leave group', onclick: () => this.leave(c.id) }, icon('leave')) : null);
    const canWrite = c.kind !== 'channel' || admin;
    this.composer.hidden = !canWrite;
    this.readOnlyBar.hidden = canWrite;
    this.readOnlyBar.textContent = canWrite ? '' : 'Only admins can post in this channel.';
  }

  renderHistory() {
    const cs = this.openId === null ? undefined : this.chats.get(this.openId);
    if (!cs) return;
    /** @type {HistoryItem[]} */
    const items = [];
    let day = '';
    const readOut = cs.readOut;
    const addDay = (/** @type {number} */ date) => {
      const k = dayKey(date);
      if (k !== day) {
        day = k;
        items.push({ key: `d${k}`, version: '', kind: 'day', label: dayLabel(date) });
      }
    };
    if (cs.loaded && !cs.atStart) items.push({ key: 'loading', version: '', kind: 'day', label: 'Loading…' });
    for (const m of sortedMessages(cs)) {
      addDay(m.date);
      const own = m.from === this.me?.id;
      const replied = m.reply_to !== undefined ? cs.messages.get(m.reply_to) : undefined;
      const version = `${m.edit_date ?? 0}:${own && m.id <= readOut ? 1 : 0}:${replied ? messageText(replied).length + (replied.edit_date ?? 0) : 0}:${this.users.has(m.from) ? 1 : 0}:${m.reply_markup ? JSON.stringify(m.reply_markup).length : 0}:${m.entities?.length ?? 0}`;
      items.push({ key: `m${cs.chat.id}:${m.id}`, version, kind: 'msg', msg: m, pending: false });
    }
    for (const p of cs.pending) {
      addDay(p.date);
      /** @type {Message} */
      const msg = { id: -1, chat_id: cs.chat.id, from: this.me?.id ?? 0, date: p.date, content: { type: 'text', text: p.text }, reply_to: p.replyTo };
      items.push({ key: `p${p.randomId}`, version: '', kind: 'msg', msg, pending: true });
    }
    if (items.length === 0) items.push({ key: 'empty', version: '', kind: 'day', label: cs.loaded ? 'No messages here yet' : 'Loading…' });
    this.list.setItems(items);
  }

  /** @param {HistoryItem} item */
  renderItem(item) {
    if (item.kind === 'day') return h('div', { class: 'day' }, h('span', {}, item.label));
    const m = item.msg;
    const cs = this.chats.get(m.chat_id);
    const own = m.from === this.me?.id;
    const c = cs?.chat;
    const showAuthor = !own && c?.kind === 'group';
    const replied = m.reply_to !== undefined ? cs?.messages.get(m.reply_to) : undefined;
    const read = own && cs !== undefined && m.id <= cs.readOut;
    const canDeleteForAll = own || c?.role === 'admin' || c?.role === 'creator';
    const time = new Date(m.date * 1000);
    const media = mediaOf(m);
    const tick = !own || c?.kind === 'channel' ? null
      : item.pending ? h('span', { class: 'tick', 'aria-label': 'sending', title: 'Sending' }, icon('clock'))
      : h('span', { class: `tick${read ? ' read' : ''}`, 'aria-label': read ? 'read' : 'sent', title: read ? 'Read' : 'Sent' }, read ? '✓✓' : '✓');
    const actions = item.pending || (c?.kind === 'channel' && !canDeleteForAll) ? null : h('span', { class: 'msg-actions' },
      c?.kind !== 'channel' || canDeleteForAll ? h('button', { type: 'button', class: 'act', onclick: () => this.setComposeMode({ kind: 'reply', msg: m }) }, 'Reply') : null,
      own && m.content.type === 'text' && !m.forward ? h('button', { type: 'button', class: 'act', onclick: () => this.setComposeMode({ kind: 'edit', msg: m }) }, 'Edit') : null,
      h('button', { type: 'button', class: 'act', onclick: () => this.deleteMessage(m, canDeleteForAll && c?.kind !== 'private' ? true : own) }, 'Delete'));
    return h('div', { class: `row ${own ? 'own' : 'other'}${item.pending ? ' pending' : ''}`, 'data-id': item.pending ? null : m.id },
      h('div', { class: 'bubble' },
        showAuthor ? h('div', { class: 'author' }, this.userName(m.from), this.users.get(m.from)?.bot ? botTag() : null) : null,
        m.forward ? h('div', { class: 'forwarded' }, `Forwarded from ${this.userName(m.forward.from_user)}`) : null,
        m.reply_to !== undefined ? h('div', { class: 'reply-quote' },
          h('span', { class: 'reply-author' }, replied ? this.userName(replied.from) : 'Reply'),
          h('span', { class: 'reply-text' }, replied ? messageText(replied).slice(0, 200) : `to message #${m.reply_to}`)) : null,
        media ? this.renderMedia(media) : null,
        media ? (media.caption ? h('div', { class: 'text caption' }, richText(media.caption, m.entities)) : null)
          : h('div', { class: 'text' }, m.content.type === 'text' ? richText(messageText(m), m.entities) : messageText(m)),
        m.reply_markup && !item.pending ? this.renderKeyboard(m) : null,
        h('div', { class: 'meta' },
          m.edit_date ? h('span', { class: 'edited' }, 'edited') : null,
          h('time', { datetime: time.toISOString(), title: time.toLocaleString() }, timeFmt.format(time)),
          tick),
        actions));
  }

  // ----- bots' buttons -----

  /**
   * The inline keyboard under a bot's message: a row of buttons per row; callback buttons
   * press (`messages.press_button`), URL buttons are links.
   * @param {Message} m
   */
  renderKeyboard(m) {
    const rows = m.reply_markup?.inline_keyboard ?? [];
    return h('div', { class: 'keyboard', role: 'group', 'aria-label': 'Bot buttons' },
      rows.filter((row) => row.length > 0).map((row) => h('div', { class: 'kb-row' }, row.map((b) => {
        if (b.url !== undefined) {
          return WEB_URL.test(b.url)
            ? h('a', { class: 'kb-button kb-link', href: b.url, target: '_blank', rel: 'noopener noreferrer', title: b.url }, b.text, h('span', { class: 'kb-arrow', 'aria-hidden': 'true' }, ' ↗'))
            : h('button', { type: 'button', class: 'kb-button', disabled: true, title: b.url }, b.text);
        }
        const button = h('button', { type: 'button', class: 'kb-button' }, b.text);
        button.addEventListener('click', () => this.pressButton(m, b, button));
        return button;
      }))));
  }

  /**
   * Presses a callback button and shows the bot's answer: a passing notice, or a dialog to
   * dismiss when the bot asks for an alert. No answer (the bot was silent) shows nothing.
   * @param {Message} m
   * @param {InlineButton} b
   * @param {HTMLButtonElement} button
   */
  async pressButton(m, b, button) {
    if (b.callback_data === undefined || button.classList.contains('pressing')) return;
    button.classList.add('pressing');
    button.setAttribute('aria-busy', 'true');
    try {
      /** @type {CallbackAnswer} */
      const answer = /** @type {CallbackAnswer} */ (await this.conn.call('messages.press_button', { chat_id: m.chat_id, message_id: m.id, data: b.callback_data }));
      const link = answer.url && WEB_URL.test(answer.url) ? h('a', { href: answer.url, target: '_blank', rel: 'noopener noreferrer' }, 'Open link') : undefined;
      if (answer.text && answer.alert) this.alertDialog(this.userName(m.from), answer.text, link);
      else if (answer.text) toast(answer.text, link);
      else if (link) toast(`${this.userName(m.from)} sent a link:`, link);
    } catch (e) {
      toast(errorText(e));
    } finally {
      button.classList.remove('pressing');
      button.removeAttribute('aria-busy');
    }
  }

  /**
   * A dialog with `text` that the person dismisses.
   * @param {string} title
   * @param {string} text
   * @param {Node} [extra]
   */
  alertDialog(title, text, extra) {
    const ok = h('button', { type: 'button', class: 'primary', onclick: () => dialog.close() }, 'OK');
    const dialog = h('dialog', { class: 'modal bot-alert', role: 'alertdialog', 'aria-labelledby': 'alert-title', 'aria-describedby': 'alert-text' },
      h('h2', { id: 'alert-title' }, title),
      h('p', { id: 'alert-text', class: 'alert-text' }, text),
      extra ? h('p', {}, extra) : null,
      h('div', { class: 'modal-buttons' }, ok));
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
    return dialog;
  }

  // ----- media -----

  /**
   * A request to the file endpoints (docs/protocol.md §10) with the session token; the
   * server's `{code, message}` errors become `RpcError`s.
   * @param {string} path
   * @param {RequestInit} [init]
   * @returns {Promise<Response>}
   */
  async fileFetch(path, init = {}) {
    const headers = new Headers(init.headers);
    headers.set('Authorization', `Bearer ${this.token}`);
    const res = await fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
    if (!res.ok) {
      let code = `HTTP_${res.status}`;
      let message = `The server answered ${res.status}`;
      try {
        const body = await res.json();
        if (typeof body.code === 'string') code = body.code;
        if (typeof body.message === 'string') message = body.message;
      } catch {
        // Not JSON: keep the status.
      }
      throw new RpcError(code, message);
    }
    return res;
  }

  /**
   * A blob: URL for a file's content, fetched once and kept for the session.
   * @param {number} fileId
   * @returns {Promise<string>}
   */
  blobUrl(fileId) {
    let p = this.blobs.get(fileId);
    if (!p) {
      p = this.fileFetch(`/files/${fileId}`).then((r) => r.blob()).then((b) => URL.createObjectURL(b));
      p.catch(() => this.blobs.delete(fileId));
      this.blobs.set(fileId, p);
    }
    return p;
  }

  /** @param {Media} media */
  async download(media) {
    try {
      const url = await this.blobUrl(media.file_id);
      const a = h('a', { href: url, download: media.name || 'file', class: 'visually-hidden' });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) {
      toast(`Could not download ${media.name}: ${errorText(e)}`);
    }
  }

  /**
   * An image preview (the thumbnail, or the file itself) or a download button.
   * @param {Media} media
   */
  renderMedia(media) {
    const label = `${media.name} · ${formatSize(media.size)}`;
    if (media.kind === 'photo') {
      // Reserve the box before the image arrives, so the history does not jump.
      const w = media.width ?? 320;
      const ht = media.height ?? 240;
      const scale = Math.min(1, 320 / w, 320 / ht);
      const img = h('img', { class: 'media-photo', alt: media.caption || media.name, width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(ht * scale)) });
      this.blobUrl(media.thumb_file_id ?? media.file_id).then((url) => { img.src = url; }, () => img.classList.add('broken'));
      return h('button', { type: 'button', class: 'media-photo-button', title: `Download ${label}`, 'aria-label': `Photo ${label}, download`, onclick: () => this.download(media) }, img);
    }
    return h('button', { type: 'button', class: 'media-doc', title: `Download ${media.name}`, 'aria-label': `Download ${label}`, onclick: () => this.download(media) },
      h('span', { class: 'media-doc-icon' }, icon('file')),
      h('span', { class: 'media-doc-text' },
        h('span', { class: 'media-doc-name' }, media.name || 'file'),
        h('span', { class: 'media-doc-size' }, formatSize(media.size))));
  }

  /**
   * Shows the upload bar.
   * @param {string} name
   * @param {number} sent bytes
   * @param {number} total bytes
   * @param {string} status
   * @param {boolean} cancellable
   */
  showUpload(name, sent, total, status, cancellable) {
    clearTimeout(this.uploadBarTimer);
    this.uploadBar.hidden = false;
    const bar = h('progress', { id: 'upload-progress', max: Math.max(total, 1), value: sent, 'aria-label': `Uploading ${name}` });
    replace(this.uploadBar,
      h('div', { class: 'upload-text' },
        h('span', { class: 'upload-name' }, name),
        h('span', { class: 'upload-status', id: 'upload-status' }, status)),
      bar,
      cancellable ? h('button', { type: 'button', class: 'icon', 'aria-label': 'Cancel upload', onclick: () => this.uploadAbort?.abort() }, icon('close')) : null);
  }

  /** @param {number} [after] ms */
  hideUpload(after = 0) {
    clearTimeout(this.uploadBarTimer);
    this.uploadBarTimer = setTimeout(() => {
      this.uploadBar.hidden = true;
      replace(this.uploadBar);
    }, after);
  }

  /**
   * Uploads a file in parts, then sends it to the open chat with the composer's text as its
   * caption.
   * @param {File} file
   */
  async sendFile(file) {
    const chatId = this.openId;
    if (chatId === null || !this.chats.has(chatId)) return;
    if (this.uploadAbort) {
      toast('Wait for the current upload to finish.');
      return;
    }
    if (file.size === 0) {
      toast(`${file.name} is empty.`);
      return;
    }
    if (file.size > MAX_UPLOAD) {
      toast(`${file.name} is too large: the web client sends files up to ${formatSize(MAX_UPLOAD)}.`);
      return;
    }
    if (!crypto.subtle) {
      toast('Sending files needs a secure (HTTPS) connection.');
      return;
    }
    const abort = new AbortController();
    this.uploadAbort = abort;
    const name = file.name || 'file';
    const mime = file.type || 'application/octet-stream';
    const total = file.size;
    const mode = this.composeMode?.kind === 'reply' ? this.composeMode : null;
    const caption = this.composeMode?.kind === 'edit' ? '' : this.input.value.trim();
    try {
      this.showUpload(name, 0, total, 'Preparing…', true);
      const data = await file.arrayBuffer();
      const digest = await crypto.subtle.digest('SHA-256', data);
      const sha256 = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
      const uploadId = `w${randomId()}`;
      let sent = 0;
      this.showUpload(name, 0, total, `0 / ${formatSize(total)}`, true);
      for (let n = 0; n * PART_SIZE < total; n++) {
        const part = data.slice(n * PART_SIZE, Math.min(total, (n + 1) * PART_SIZE));
        for (let attempt = 0; ; attempt++) {
          try {
            await this.fileFetch(`/files/uploads/${uploadId}/parts/${n}`, { method: 'PUT', body: part, signal: abort.signal });
            break;
          } catch (e) {
            // A dropped connection: retry the part (repeats are safe); server errors are final.
            if (abort.signal.aborted || e instanceof RpcError || attempt >= 4) throw e;
            await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
          }
        }
        sent += part.byteLength;
        this.showUpload(name, sent, total, `${formatSize(sent)} / ${formatSize(total)}`, true);
      }
      this.showUpload(name, total, total, 'Finishing…', false);
      /** @type {UploadedFile} */
      const uploaded = await (await this.fileFetch(`/files/uploads/${uploadId}/complete`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ size: total, sha256, name, mime }),
      })).json();
      // Only an image the server could decode (it has a size) may be a photo.
      /** @type {MediaKind} */
      const kind = mime.startsWith('image/') && uploaded.width ? 'photo' : 'document';
      if (caption && this.openId === chatId && this.input.value.trim() === caption) {
        this.input.value = '';
        this.autoGrow();
      }
      if (mode && this.composeMode === mode) this.setComposeMode(null);
      /** @type {Sent} */
      const result = await this.conn.callRetrying('messages.send_media', { chat_id: chatId, random_id: randomId(), file_id: uploaded.id, kind, caption: caption || undefined, reply_to: mode?.msg.id });
      this.list.stuck = true;
      this.addMessage(result.message);
      this.showUpload(name, total, total, 'Sent', false);
      this.hideUpload(3000);
    } catch (e) {
      if (abort.signal.aborted) {
        this.showUpload(name, 0, total, 'Cancelled', false);
      } else {
        this.showUpload(name, 0, total, 'Failed', false);
        toast(`Could not send ${name}: ${errorText(e)}`);
      }
      this.hideUpload(3000);
    } finally {
      this.uploadAbort = null;
    }
  }

  // ----- composer -----

  /** @param {{kind: 'reply' | 'edit', msg: Message} | null} mode */
  setComposeMode(mode) {
    const wasEdit = this.composeMode?.kind === 'edit';
    this.composeMode = mode;
    if (!mode) {
      this.composeBar.hidden = true;
      replace(this.composeBar);
      if (wasEdit) this.input.value = '';
      this.autoGrow();
      return;
    }
    this.composeBar.hidden = false;
    replace(this.composeBar,
      h('div', { class: 'compose-bar-text' },
        h('strong', {}, mode.kind === 'reply' ? `Reply to ${this.userName(mode.msg.from)}` : 'Edit message'),
        h('span', {}, messageText(mode.msg).slice(0, 200))),
      h('button', { type: 'button', class: 'icon', 'aria-label': mode.kind === 'reply' ? 'Cancel reply' : 'Cancel edit', onclick: () => { this.setComposeMode(null); this.input.focus(); } }, icon('close')));
    if (mode.kind === 'edit') this.input.value = messageText(mode.msg);
    this.autoGrow();
    this.input.focus();
  }

  /** @param {KeyboardEvent} ev */
  onComposerKey(ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      this.submitComposer();
    } else if (ev.key === 'Escape' && this.composeMode) {
      ev.preventDefault();
      this.setComposeMode(null);
    } else if (ev.key === 'ArrowUp' && this.input.value === '' && this.openId !== null) {
      // Up in an empty composer edits your last message, as in other messengers.
      const cs = this.chats.get(this.openId);
      const mine = cs ? sortedMessages(cs).filter((m) => m.from === this.me?.id && m.content.type === 'text' && !m.forward).at(-1) : undefined;
      if (mine) {
        ev.preventDefault();
        this.setComposeMode({ kind: 'edit', msg: mine });
      }
    }
  }

  onComposerInput() {
    this.autoGrow();
    const now = Date.now();
    if (this.openId !== null && this.input.value.trim() && this.composeMode?.kind !== 'edit' && now - this.lastTypingSent > TYPING_SENT_EVERY_MS && this.online) {
      this.lastTypingSent = now;
      this.conn.call('messages.typing', { chat_id: this.openId }).catch(() => {});
    }
  }

  autoGrow() {
    this.input.style.height = 'auto';
    // Hidden (no chat open yet): keep the stylesheet's height.
    if (this.input.scrollHeight > 0) this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }

  async submitComposer() {
    const text = this.input.value;
    const chatId = this.openId;
    if (chatId === null || !text.trim()) return;
    const cs = this.chats.get(chatId);
    if (!cs) return;
    const mode = this.composeMode;
    this.input.value = '';
    this.lastTypingSent = 0;
    this.setComposeMode(null);
    this.autoGrow();
    if (mode?.kind === 'edit') {
      try {
        /** @type {Message} */
        const m = await this.conn.call('messages.edit', { chat_id: chatId, id: mode.msg.id, text });
        this.apply({ type: 'edit_message', message: m, pts: 0, pts_count: 0, date: 0 });
      } catch (e) {
        toast(errorText(e));
      }
      return;
    }
    const pending = { randomId: randomId(), text, replyTo: mode?.msg.id, date: Math.floor(Date.now() / 1000) };
    cs.pending.push(pending);
    this.list.stuck = true;
    this.renderHistory();
    try {
      /** @type {Sent} */
      const sent = await this.conn.callRetrying('messages.send', { chat_id: chatId, random_id: pending.randomId, text, reply_to: pending.replyTo });
      cs.pending = cs.pending.filter((p) => p !== pending);
      this.addMessage(sent.message);
    } catch (e) {
      cs.pending = cs.pending.filter((p) => p !== pending);
      this.queueRender({ chat: true });
      toast(errorText(e));
    }
  }

  /**
   * @param {Message} m
   * @param {boolean} forEveryone
   */
  async deleteMessage(m, forEveryone) {
    if (!confirm(forEveryone ? 'Delete this message for everyone?' : 'Delete this message for you?')) return;
    try {
      await this.conn.call('messages.delete', { chat_id: m.chat_id, ids: [m.id], for_everyone: forEveryone });
      this.apply({ type: 'delete_messages', chat_id: m.chat_id, ids: [m.id], pts: 0, pts_count: 0, date: 0 });
    } catch (e) {
      toast(errorText(e));
    }
  }

  /** @param {number} chatId */
  async leave(chatId) {
    const cs = this.chats.get(chatId);
    if (!cs || !confirm(`Leave ${cs.chat.title}?`)) return;
    try {
      await this.conn.call('chats.leave', { chat_id: chatId });
      this.dropChat(chatId);
    } catch (e) {
      toast(errorText(e));
    }
  }

  // ----- dialogs (modal forms) -----

  /**
   * A modal form. `submit` gets the field values; its error is shown in the form.
   * @param {string} title
   * @param {{name: string, label: string, hint?: string, value?: string, required?: boolean, readonly?: boolean}[]} fields
   * @param {string} action
   * @param {(values: Record<string, string>) => Promise<void | string>} submit returns a text to show instead of closing
   */
  formDialog(title, fields, action, submit) {
    const error = h('p', { class: 'form-error', role: 'alert' });
    const note = h('p', { class: 'form-note', role: 'status' });
    const inputs = fields.map((f) => h('input', { id: `f-${f.name}`, name: f.name, value: f.value ?? '', required: f.required, readonly: f.readonly, autocomplete: 'off' }));
    const ok = h('button', { type: 'submit', class: 'primary' }, action);
    const dialog = h('dialog', { class: 'modal', 'aria-labelledby': 'modal-title' });
    const form = h('form', { method: 'dialog' },
      h('h2', { id: 'modal-title' }, title),
      fields.map((f, i) => h('div', { class: 'field' }, h('label', { for: `f-${f.name}` }, f.label), inputs[i], f.hint ? h('p', { class: 'hint' }, f.hint) : null)),
      error, note,
      h('div', { class: 'modal-buttons' }, h('button', { type: 'button', onclick: () => dialog.close() }, 'Close'), action ? ok : null));
    if (!action) ok.hidden = true;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      ok.disabled = true;
      /** @type {Record<string, string>} */
      const values = {};
      fields.forEach((f, i) => (values[f.name] = inputs[i].value.trim()));
      try {
        const text = await submit(values);
        if (typeof text === 'string') note.textContent = text;
        else dialog.close();
      } catch (e) {
        error.textContent = errorText(e);
      } finally {
        ok.disabled = false;
      }
    });
    dialog.append(form);
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    (inputs.find((i) => !i.readOnly) ?? inputs[0])?.select();
    return dialog;
  }

  /**
   * User ids from a list like "@bob_b, +9996612345".
   * @param {string} list
   */
  async resolveUsers(list) {
    /** @type {number[]} */
    const ids = [];
    for (const item of list.split(/[\s,;]+/).filter(Boolean)) {
      if (item.startsWith('+') || /^\d/.test(item)) {
        /** @type {User} */
        const u = await this.conn.call('contacts.add', { phone: item });
        this.users.set(u.id, u);
        ids.push(u.id);
      } else {
        /** @type {Peer} */
        const p = await this.conn.call('contacts.resolve', { username: item });
        if (p.type !== 'user') throw new Error(`${item} is a channel, not a person`);
        this.users.set(p.user.id, p.user);
        ids.push(p.user.id);
      }
    }
    return ids;
  }

  newChatDialog() {
    this.formDialog('New chat', [{ name: 'who', label: 'Username or phone number', hint: 'For example @alice_w or +14155550100', required: true }], 'Start chat', async (v) => {
      const [id] = await this.resolveUsers(v.who);
      if (id === undefined) throw new Error('Enter a username or a phone number');
      /** @type {Chat} */
      const chat = await this.conn.call('chats.open_private', { user_id: id });
      this.upsertChat(chat);
      this.openChat(chat.id);
    });
  }

  newGroupDialog() {
    this.formDialog('New group', [
      { name: 'title', label: 'Group name', required: true },
      { name: 'members', label: 'Members', hint: 'Usernames or phone numbers, separated by commas' },
    ], 'Create group', async (v) => {
      const ids = await this.resolveUsers(v.members);
      /** @type {Chat} */
      const chat = await this.conn.call('chats.create_group', { title: v.title, user_ids: ids });
      this.upsertChat(chat);
      this.queueRender({ dialogs: true });
      this.openChat(chat.id);
    });
  }

  newChannelDialog() {
    this.formDialog('New channel', [
      { name: 'title', label: 'Channel name', required: true },
      { name: 'username', label: 'Public @name (optional)', hint: 'Anyone can find and join a channel with a public name' },
    ], 'Create channel', async (v) => {
      /** @type {Chat} */
      const chat = await this.conn.call('chats.create_channel', { title: v.title, username: v.username || undefined });
      this.upsertChat(chat);
      this.queueRender({ dialogs: true });
      this.openChat(chat.id);
    });
  }

  joinDialog() {
    this.formDialog('Join a group or channel', [{ name: 'target', label: 'Invite link or @channel', required: true }], 'Join', async (v) => {
      const t = v.target;
      const params = t.startsWith('@') || (USERNAME.test(t) && !t.includes('/') && !t.startsWith('+')) ? { username: t } : { invite: t };
      /** @type {Chat} */
      const chat = await this.conn.call('chats.join', params);
      this.upsertChat(chat);
      this.queueRender({ dialogs: true });
      this.openChat(chat.id);
    });
  }

  /** @param {number} chatId */
  addMembersDialog(chatId) {
    this.formDialog('Add members', [{ name: 'members', label: 'Usernames or phone numbers', required: true }], 'Add', async (v) => {
      const ids = await this.resolveUsers(v.members);
      /** @type {Chat} */
      const chat = await this.conn.call('chats.add_members', { chat_id: chatId, user_ids: ids });
      this.upsertChat(chat);
      this.queueRender({ header: true });
    });
  }

  /** @param {number} chatId */
  async inviteDialog(chatId) {
    try {
      /** @type {{link: string}} */
      const invite = await this.conn.call('chats.export_invite', { chat_id: chatId });
      // The server names its listen address; people reach it at this page's origin.
      const token = invite.link.split('/').pop() ?? '';
      const link = `${location.origin}/${token}`;
      this.formDialog('Invite link', [{ name: 'link', label: 'Anyone with this link can join', value: link, readonly: true }], 'Copy', async () => {
        await navigator.clipboard?.writeText(link).catch(() => {});
        return 'Copied';
      });
    } catch (e) {
      toast(errorText(e));
    }
  }

  settingsDialog() {
    const me = this.me;
    if (!me) return;
    const d = this.formDialog('Settings', [
      { name: 'name', label: 'Name', value: me.name, required: true },
      { name: 'username', label: 'Username', value: me.username ?? '', hint: 'Others can find you by @username. 5–32 letters, digits or _.' },
    ], 'Save', async (v) => {
      /** @type {User} */
      let user = me;
      if (v.name !== me.name) user = await this.conn.call('account.update_profile', { name: v.name });
      if (v.username.replace(/^@/, '') !== (me.username ?? '')) user = await this.conn.call('account.set_username', { username: v.username || null });
      this.me = user;
      this.users.set(user.id, user);
      this.renderSidebarHeader();
    });
    const buttons = d.querySelector('.modal-buttons');
    buttons?.prepend(h('button', { type: 'button', class: 'danger', onclick: () => { d.close(); this.signOut(true); } }, 'Sign out'));
  }

  /** An invite link opened in the browser: `/+TOKEN`. */
  handleInvitePath() {
    if (!location.pathname.startsWith('/+')) return;
    const invite = location.pathname.slice(1);
    history.replaceState(null, '', '/');
    this.conn.call('chats.join', { invite }).then((chat) => {
      const c = /** @type {Chat} */ (chat);
      this.upsertChat(c);
      this.openChat(c.id);
    }, (e) => toast(errorText(e)));
  }

  /** @param {boolean} tellServer */
  signOut(tellServer) {
    const done = () => {
      this.conn.stop();
      localStorage.removeItem(TOKEN_KEY);
      if (this.me) localStorage.removeItem(`helio.sync.${this.me.id}`);
      document.body.classList.remove('chat-open', 'offline');
      showSignIn();
    };
    if (tellServer && this.online) this.conn.call('auth.log_out').finally(done);
    else done();
  }
}

/** @param {string} token */
function startApp(token) {
  const app = new App(token);
  // For tests and the curious: the list's size shows that history is virtualized.
  /** @type {any} */ (window).heliograph = app;
}

const saved = localStorage.getItem(TOKEN_KEY);
if (saved) startApp(saved);
else showSignIn();
