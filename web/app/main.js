// The Heliograph web client's controller: the connection and the sync rule feed the model
// (model.js), the views (views.js) render it, and the actions people take end here as calls
// to the server. The session token lives in localStorage, readable by this origin only.

import { render } from './vendor/preact.module.js';
import { Connection, RpcError, randomId } from './api.js';
import { Sync } from './sync.js';
import { Model, messageText, sortedMessages } from './model.js';
import { html, Main, SignIn, dayLabel, formatSize, WEB_URL } from './views.js';

/** @typedef {import('./types.js').User} User */
/** @typedef {import('./types.js').Chat} Chat */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').Dialogs} Dialogs */
/** @typedef {import('./types.js').Authorization} Authorization */
/** @typedef {import('./types.js').Peer} Peer */
/** @typedef {import('./types.js').Sent} Sent */
/** @typedef {import('./types.js').Media} Media */
/** @typedef {import('./types.js').MediaKind} MediaKind */
/** @typedef {import('./types.js').UploadedFile} UploadedFile */
/** @typedef {import('./types.js').InlineButton} InlineButton */
/** @typedef {import('./types.js').CallbackAnswer} CallbackAnswer */
/** @typedef {import('./types.js').SearchResult} SearchResult */
/** @typedef {import('./model.js').Effect} Effect */
/** @typedef {import('./views.js').ModalState} ModalState */

/** Parts of an upload, as docs/protocol.md §10.1 asks. */
const PART_SIZE = 524_288;
/** The largest file the client hashes in memory (crypto.subtle has no incremental digest). */
const MAX_UPLOAD = 200 * 1024 * 1024;

const TOKEN_KEY = 'helio.token';
const PAGE = 50;
const OLDER_PAGE = 100;
const TYPING_SENT_EVERY_MS = 4000;
/** A draft is saved this long after the last keystroke (and at once when leaving the chat). */
const DRAFT_SAVE_MS = 800;
const SEARCH_DELAY_MS = 250;
const USERNAME = /^@?[A-Za-z][A-Za-z0-9_]{4,31}$/;

const root = /** @type {HTMLElement} */ (document.getElementById('root'));

/** @param {unknown} e */
function errorText(e) {
  if (e instanceof RpcError) {
    if (e.code === 'DISCONNECTED') return 'No connection to the server. Trying again…';
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * Announces a short text to screen readers (the history is virtualized, so it is not a live
 * region itself).
 * @param {string} text
 */
function announce(text) {
  const live = document.getElementById('live');
  if (live) live.textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Sign-in

function showSignIn() {
  /** @type {Connection | null} */
  let conn = null;
  let phone = '';
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
  /**
   * @param {'phone' | 'code' | 'name'} step
   * @param {{phone: string, code: string, name: string}} v
   * @returns {Promise<'phone' | 'code' | 'name' | 'done'>}
   */
  async function submit(step, v) {
    try {
      const c = await connection();
      if (step === 'phone') {
        phone = v.phone;
        await c.call('auth.send_code', { phone });
        return 'code';
      }
      /** @type {Record<string, string>} */
      const params = { phone, code: v.code, device: `Web (${navigator.platform || 'browser'})` };
      if (step === 'name') params.name = v.name;
      try {
        /** @type {Authorization} */
        const auth = await c.call('auth.sign_in', params);
        localStorage.setItem(TOKEN_KEY, auth.token);
        c.stop();
        render(null, root);
        startApp(auth.token);
        return 'done';
      } catch (e) {
        if (e instanceof RpcError && e.code === 'NAME_REQUIRED') return 'name';
        throw e;
      }
    } catch (e) {
      throw new Error(errorText(e));
    }
  }
  render(html`<${SignIn} submit=${submit} />`, root);
}

// ---------------------------------------------------------------------------------------------
// The signed-in client

export class App {
  /** @param {string} token */
  constructor(token) {
    this.token = token;
    this.model = new Model();
    /** @type {Sync | null} */
    this.sync = null;
    /** @type {import('./history.js').VirtualList<import('./model.js').HistoryItem> | null} */
    this.list = null;
    /** @type {ModalState | null} */
    this.modal = null;
    this.modalIds = 0;
    /** @type {{id: number, text: string, link?: string}[]} */
    this.toasts = [];
    this.toastIds = 0;
    /** @type {Peer | null} the chat or person an @username resolved to */
    this.found = null;
    this.chatSearchOpen = false;
    this.focusChatSearch = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.searchTimer = undefined;
    /** @type {Set<string>} callback buttons waiting for the bot's answer */
    this.pressing = new Set();
    /** @type {{name: string, sent: number, total: number, status: string, cancellable: boolean} | null} */
    this.upload = null;
    /** @type {AbortController | null} */
    this.uploadAbort = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.uploadTimer = undefined;
    /** Blob URLs of downloaded files, by file id (fetched once per session). @type {Map<number, Promise<string>>} */
    this.blobs = new Map();
    /** Chats being fetched, with the messages that arrived in them meanwhile. @type {Map<number, Message[]>} */
    this.fetchingChats = new Map();
    /** @type {Set<number>} */
    this.wantUsers = new Set();
    /** Chats whose history page is being fetched, by end. @type {Set<string>} */
    this.loading = new Set();
    /** Drafts typed here and not saved yet. @type {Map<number, ReturnType<typeof setTimeout>>} */
    this.draftTimers = new Map();
    this.lastTypingSent = 0;
    /** @type {HTMLTextAreaElement | null} */
    this.composerEl = null;
    this.renderQueued = false;
    /** A message to bring into view once it is rendered (a jump). @type {number | null} */
    this.pendingScroll = null;
    /** The history follows its end (else "jump to latest" is offered). */
    this.following = true;
    this.signedOut = false;
    /** An `@name` being typed in a group's composer: where it starts, and the chosen suggestion. @type {{start: number, end: number, query: string, index: number} | null} */
    this.mention = null;
    this.conn = new Connection({
      status: (ready) => this.setOnline(ready),
      onOpen: () => this.onOpen(),
      update: (u) => this.sync?.receive(u),
      typing: (chatId, userId) => this.run(this.model.typing(chatId, userId, Date.now())),
      resync: () => {
        this.sync?.resync().catch(() => this.conn.ws?.close(4000, 'retry'));
      },
      revoked: () => this.signOut(false),
    });
    this.model.subscribe(() => this.queueRender());
    this.renderNow();
    this.conn.start();
    setInterval(() => this.model.expireTyping(Date.now()), 1000);
    document.addEventListener('visibilitychange', () => this.maybeRead());
    window.addEventListener('focus', () => this.maybeRead());
  }

  // ----- for tests and the curious: the model's state under the old names -----

  get chats() {
    return this.model.chats;
  }

  get openId() {
    return this.model.openId;
  }

  get me() {
    return this.model.me;
  }

  // ----- rendering -----

  queueRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => this.renderNow());
  }

  renderNow() {
    this.renderQueued = false;
    // Signed out: the sign-in form owns the page now.
    if (this.signedOut) return;
    render(html`<${Main} app=${this} />`, root);
    this.renderHistory();
    const cs = this.model.openChat;
    document.title = `${this.model.totalUnread() ? `(${this.model.totalUnread()}) ` : ''}${cs ? `${cs.chat.title} · ` : ''}Heliograph`;
    document.body.classList.toggle('chat-open', !!cs);
    document.body.classList.toggle('offline', !this.model.online);
  }

  renderHistory() {
    const cs = this.model.openChat;
    if (!cs || !this.list) return;
    this.list.setItems(this.model.historyItems(cs, dayLabel));
    const jump = this.model.jump;
    if (jump && jump.chatId === cs.chat.id && this.pendingScroll === jump.id) {
      if (this.list.scrollToKey(`m${cs.chat.id}:${jump.id}`)) this.pendingScroll = null;
    }
  }

  /**
   * Carries out what the model asked for.
   * @param {Effect[]} effects
   */
  run(effects) {
    for (const e of effects) {
      switch (e.type) {
        case 'fetch_chat':
          this.fetchChat(e.chatId, e.message);
          break;
        case 'refresh_chat':
          this.refreshChat(e.chatId);
          break;
        case 'follow':
          this.sync?.follow(e.chatId, e.pts);
          break;
        case 'unfollow':
          this.sync?.unfollow(e.chatId);
          break;
        case 'fetch_users':
          for (const id of e.ids) this.noteUser(id);
          break;
        case 'announce':
          announce(e.text);
          break;
        case 'fetch_pinned':
          // Fetched for the open chat only; another chat's is fetched when it opens.
          if (e.chatId === this.model.openId) this.fetchPinned(e.chatId, e.id);
          break;
      }
    }
  }

  /**
   * @param {string} text
   * @param {string} [link]
   */
  toast(text, link) {
    const id = ++this.toastIds;
    this.toasts = [...this.toasts, { id, text, link }];
    this.queueRender();
    setTimeout(() => {
      this.toasts = this.toasts.filter((t) => t.id !== id);
      this.queueRender();
    }, 5000);
  }

  // ----- connection -----

  async onOpen() {
    try {
      /** @type {User} */
      const me = await this.conn.call('auth.authorize', { token: this.token });
      this.model.setMe(me);
    } catch (e) {
      if (e instanceof RpcError && e.code === 'SESSION_REVOKED') this.signOut(false);
      throw e;
    }
    const me = /** @type {User} */ (this.model.me);
    if (!this.sync) {
      this.sync = new Sync({
        storageKey: `helio.sync.${me.id}`,
        userState: async () => (/** @type {{pts: number}} */ (await this.conn.call('updates.get_state'))).pts,
        userDifference: (pts) => this.conn.call('updates.get_difference', { pts }),
        chatDifference: (chatId, pts) => this.conn.call('updates.get_chat_difference', { chat_id: chatId, pts }),
        apply: (u) => this.run(this.model.apply(u)),
        tooLong: () => this.reloadAll(),
      });
    }
    if (this.sync.fresh) await this.sync.catchUp();
    if (!this.model.dialogsLoaded) {
      await this.loadDialogs();
      this.model.dialogsLoaded = true;
      this.handleInvitePath();
    }
    await this.sync.catchUp();
  }

  /** @param {boolean} ready */
  setOnline(ready) {
    this.model.setOnline(ready);
    if (ready) this.maybeRead();
  }

  async loadDialogs() {
    /** @type {import('./types.js').DialogCursor | undefined} */
    let offset;
    let rank = 0;
    for (let page = 0; page < 10; page++) {
      /** @type {Dialogs} */
      const res = await this.conn.call('chats.dialogs', { limit: 200, offset });
      for (const d of res.dialogs) this.run(this.model.upsertDialog(d, rank++));
      if (!res.next || res.dialogs.length === 0) break;
      offset = res.next;
    }
  }

  /** The client fell too far behind: reload everything it shows. */
  reloadAll() {
    this.model.forgetHistories();
    this.loadDialogs().then(() => {
      if (this.model.openId !== null) this.openChat(this.model.openId);
    }, () => {});
  }

  /**
   * Fetches a chat a message arrived in, then adds the message (and any others that arrived
   * meanwhile).
   * @param {number} chatId
   * @param {Message} msg
   */
  fetchChat(chatId, msg) {
    const waiting = this.fetchingChats.get(chatId);
    if (waiting) {
      waiting.push(msg);
      return;
    }
    /** @type {Message[]} */
    const messages = [msg];
    this.fetchingChats.set(chatId, messages);
    this.conn.call('chats.get', { chat_id: chatId }).then(
      (chat) => {
        this.fetchingChats.delete(chatId);
        for (const m of messages) this.run(this.model.chatArrived(/** @type {Chat} */ (chat), m));
      },
      () => this.fetchingChats.delete(chatId),
    );
  }

  /** @param {number} chatId */
  refreshChat(chatId) {
    this.conn.call('chats.get', { chat_id: chatId }).then((chat) => this.run(this.model.upsertChat(/** @type {Chat} */ (chat))), () => {});
  }

  /**
   * Fetches a user's name (group authors) soon, with others asked for meanwhile.
   * @param {number} id
   */
  noteUser(id) {
    if (this.model.users.has(id) || this.wantUsers.has(id)) return;
    this.wantUsers.add(id);
    if (this.wantUsers.size > 1) return;
    setTimeout(async () => {
      const ids = [...this.wantUsers].slice(0, 100);
      try {
        /** @type {User[]} */
        const users = await this.conn.call('users.get', { ids });
        this.model.addUsers(users);
        for (const id of ids) this.wantUsers.delete(id);
      } catch {
        this.wantUsers.clear();
      }
    }, 50);
  }

  // ----- opening chats, loading history -----

  /** @param {number} chatId */
  async openChat(chatId) {
    const cs = this.model.chats.get(chatId);
    if (!cs) return;
    const previous = this.model.openId;
    if (previous !== null && previous !== chatId) this.flushDraft(previous);
    if (previous !== chatId) {
      this.chatSearchOpen = false;
      this.mention = null;
      if (this.model.search?.chatId !== null && this.model.search) this.model.startSearch('', null);
      this.list?.reset();
    }
    this.model.open(chatId);
    this.renderNow();
    if (cs.chat.kind !== 'channel' || cs.chat.role !== 'member') this.composerEl?.focus();
    // Counts and titles the chat's log does not carry (a channel's subscribers) are fresh on open.
    if (cs.chat.kind !== 'private') this.refreshChat(chatId);
    const pinned = cs.chat.pinned_message_id;
    if (pinned !== undefined && !cs.pinned) this.fetchPinned(chatId, pinned);
    if (!cs.loaded) await this.loadLatest(chatId);
    this.maybeRead();
  }

  /**
   * @param {number} chatId
   * @param {number} id
   */
  async fetchPinned(chatId, id) {
    try {
      /** @type {Message[]} */
      const page = await this.conn.call('messages.history', { chat_id: chatId, from_id: id + 1, direction: 'older', limit: 1 });
      if (page[0]?.id === id) this.model.setPinned(chatId, page[0]);
    } catch {
      // Shown without its text until the chat is opened again.
    }
  }

  /** @param {number} chatId */
  async loadLatest(chatId) {
    try {
      /** @type {Message[]} */
      const page = await this.conn.callRetrying('messages.history', { chat_id: chatId, limit: PAGE });
      this.run(this.model.addHistory(chatId, page, 'latest', PAGE));
    } catch (e) {
      this.toast(errorText(e));
    }
  }

  closeChat() {
    const open = this.model.openId;
    if (open !== null) this.flushDraft(open);
    this.model.open(null);
    this.chatSearchOpen = false;
    requestAnimationFrame(() => /** @type {HTMLElement | null} */ (document.querySelector('#dialogs button.dialog'))?.focus());
  }

  /**
   * Loads the page beyond one end of the open chat's loaded run. One request per end at a
   * time; the list asks again after every change while the view stays near that end.
   * @param {'older' | 'newer'} direction
   */
  async loadPage(direction) {
    const cs = this.model.openChat;
    if (!cs || !cs.loaded || (direction === 'older' ? cs.atStart : cs.atEnd)) return;
    const key = `${cs.chat.id}:${direction}`;
    if (this.loading.has(key)) return;
    const run = sortedMessages(cs);
    const edge = direction === 'older' ? run[0] : run.at(-1);
    if (!edge) return;
    this.loading.add(key);
    try {
      /** @type {Message[]} */
      const page = await this.conn.callRetrying('messages.history', { chat_id: cs.chat.id, from_id: edge.id, direction, limit: OLDER_PAGE });
      // The run may have been replaced meanwhile (a jump): only a page that touches it joins.
      const now = sortedMessages(cs);
      if ((direction === 'older' ? now[0]?.id : now.at(-1)?.id) === edge.id) this.run(this.model.addHistory(cs.chat.id, page, direction, OLDER_PAGE));
    } catch (e) {
      this.toast(errorText(e));
    } finally {
      this.loading.delete(key);
      this.list?.schedule();
    }
  }

  loadOlder() {
    this.loadPage('older');
  }

  /** @param {boolean} following */
  setFollowing(following) {
    this.following = following;
    this.queueRender();
  }

  /** "Jump to latest": the end of the history, loaded afresh when the run does not reach it. */
  async toLatest() {
    const cs = this.model.openChat;
    if (!cs) return;
    this.model.clearJump();
    this.pendingScroll = null;
    if (!cs.atEnd) await this.loadLatest(cs.chat.id);
    this.list?.scrollToBottom();
    this.maybeRead();
    this.renderNow();
  }

  loadNewer() {
    this.loadPage('newer');
  }

  /** Marks the open chat read when the person can see its end. */
  maybeRead() {
    const cs = this.model.openChat;
    if (!cs || !cs.atEnd || !this.model.online || document.visibilityState !== 'visible' || !this.list?.stuck) return;
    const max = this.model.markRead(cs.chat.id);
    if (max !== null) this.conn.call('messages.read', { chat_id: cs.chat.id, max_id: max }).catch(() => {});
  }

  // ----- search -----

  /**
   * The sidebar's box: filters the dialog list at once, and searches messages, people and
   * public chats (and resolves an exact @username) once typing pauses.
   * @param {string} text
   */
  onSearchInput(text) {
    this.model.setFilter(text);
    this.found = null;
    clearTimeout(this.searchTimer);
    const q = text.trim();
    this.model.startSearch(q, null);
    if (!q) return;
    this.searchTimer = setTimeout(() => this.runSearch(q, null), SEARCH_DELAY_MS);
    if (USERNAME.test(q)) {
      this.conn.call('contacts.resolve', { username: q }).then((peer) => {
        if (this.model.search?.query !== q) return;
        this.found = /** @type {Peer} */ (peer);
        this.queueRender();
      }, () => {});
    }
  }

  /**
   * @param {string} q
   * @param {number | null} chatId
   * @param {number} [offset]
   */
  async runSearch(q, chatId, offset = 0) {
    const words = q.replace(/^@/, '');
    const found = this.conn.call('messages.search', { q: words, chat_id: chatId ?? undefined, offset, limit: 20 });
    const directory = chatId === null && offset === 0 ? this.conn.call('contacts.search', { q: words, limit: 10 }) : Promise.resolve(null);
    const [m, d] = await Promise.allSettled([found, directory]);
    const error = m.status === 'rejected' ? errorText(m.reason) : '';
    this.model.searchResults(q, m.status === 'fulfilled' ? /** @type {any} */ (m.value) : null, d.status === 'fulfilled' ? /** @type {any} */ (d.value) : null, error, offset > 0);
  }

  searchMore() {
    const s = this.model.search;
    if (s?.next !== undefined) this.runSearch(s.query, s.chatId, s.next);
  }

  toggleChatSearch() {
    this.chatSearchOpen = !this.chatSearchOpen;
    this.focusChatSearch = this.chatSearchOpen;
    if (!this.chatSearchOpen && this.model.search?.chatId !== null) this.model.startSearch('', null);
    this.queueRender();
  }

  /** @param {string} text */
  searchInChat(text) {
    const chatId = this.model.openId;
    if (chatId === null) return;
    clearTimeout(this.searchTimer);
    const q = text.trim();
    this.model.startSearch(text, chatId);
    if (q) this.searchTimer = setTimeout(() => this.runSearch(text, chatId), SEARCH_DELAY_MS);
  }

  /**
   * Opens a found message in its chat's history, highlighted: the history is loaded around
   * it when it is not in the loaded run.
   * @param {SearchResult} r
   */
  async openSearchResult(r) {
    const chatId = r.message.chat_id;
    if (!this.model.chats.has(chatId)) {
      const chat = this.model.search?.chatsById.get(chatId);
      if (!chat) return;
      this.run(this.model.upsertChat(chat));
    }
    if (this.model.search?.chatId === null) {
      this.model.setFilter('');
      this.model.startSearch('', null);
    }
    await this.jumpTo(chatId, r.message.id, r.highlights.map(([o, l]) => r.snippet.slice(o, o + l)));
  }

  /**
   * Opens a chat at one message, highlighted (with `words` marked): the history is loaded
   * around it when it is not in the loaded run.
   * @param {number} chatId
   * @param {number} id
   * @param {string[]} words
   */
  async jumpTo(chatId, id, words) {
    const cs = this.model.chats.get(chatId);
    if (!cs) return;
    this.model.setJump(chatId, id, words);
    this.pendingScroll = id;
    if (!cs.messages.has(id)) {
      try {
        const half = 25;
        /** @type {[Message[], Message[]]} */
        const [older, newer] = await Promise.all([
          this.conn.callRetrying('messages.history', { chat_id: chatId, from_id: id + 1, direction: 'older', limit: half }),
          this.conn.callRetrying('messages.history', { chat_id: chatId, from_id: id, direction: 'newer', limit: half }),
        ]);
        this.run(this.model.addAround(chatId, older, newer, half));
      } catch (e) {
        this.toast(errorText(e));
      }
    }
    if (this.model.openId !== chatId) await this.openChat(chatId);
    this.renderNow();
  }

  // ----- message actions: pin, forward, copy -----

  /** @param {Message} m */
  async togglePin(m) {
    const cs = this.model.chats.get(m.chat_id);
    if (!cs) return;
    const unpin = cs.chat.pinned_message_id === m.id;
    try {
      await this.conn.call('messages.pin', { chat_id: m.chat_id, id: unpin ? undefined : m.id });
      this.run(this.model.apply({ type: 'pinned_message', chat_id: m.chat_id, id: unpin ? undefined : m.id, pts: 0, pts_count: 0, date: 0 }));
    } catch (e) {
      this.toast(errorText(e));
    }
  }

  /** @param {number} chatId */
  async unpin(chatId) {
    const pinned = this.model.chats.get(chatId)?.pinned;
    if (pinned) await this.togglePin(pinned);
  }

  /** @param {Message} m */
  async copyText(m) {
    try {
      await navigator.clipboard.writeText(messageText(m));
      this.toast('Copied');
    } catch {
      this.toast('The browser did not allow copying.');
    }
  }

  /**
   * Reporting someone else's message to the operators (`messages.report`, docs/accountability.md)
   * asks why; the two messages before it go along as context.
   * @param {Message} m
   */
  reportDialog(m) {
    const cs = this.model.chats.get(m.chat_id);
    if (!cs) return;
    const context = sortedMessages(cs).filter((x) => x.id < m.id).slice(-2).map((x) => x.id);
    const report = (/** @type {string} */ reason) => async () => {
      /** @type {{id: number}} */
      const r = await this.conn.call('messages.report', { chat_id: m.chat_id, message_id: m.id, reason, context });
      this.toast(`Reported to the operators (report ${r.id})`);
    };
    this.openModal({
      kind: 'choice', title: 'Report message?', error: '',
      text: `Why should the operators look at “${messageText(m).slice(0, 80)}”? The message and the two before it are sent with your report.`,
      choices: [['Spam', 'spam'], ['Violence', 'violence'], ['Child abuse', 'child_abuse'], ['Illegal goods', 'illegal_goods'], ['Other', 'other']]
        .map(([label, reason]) => ({ label, run: report(reason) })),
    });
  }

  /**
   * Forwarding asks where to: any chats you can write in.
   * @param {Message[]} ms messages of one chat, oldest first
   */
  forwardDialog(ms) {
    const first = ms[0];
    if (!first) return;
    const options = this.model.visibleDialogs()
      .filter((cs) => cs.chat.kind !== 'channel' || cs.chat.role === 'admin' || cs.chat.role === 'creator')
      .map((cs) => ({ id: cs.chat.id, label: cs.chat.title }));
    this.openModal({
      kind: 'pick', title: 'Forward to…', text: ms.length === 1 ? `“${messageText(first).slice(0, 80)}”` : `${ms.length} messages`, options, chosen: [], action: 'Forward', error: '',
      run: async (ids) => {
        for (const to of ids) {
          /** @type {Sent[]} */
          const sent = await this.conn.callRetrying('messages.forward', { from_chat_id: first.chat_id, ids: ms.map((m) => m.id), to_chat_id: to, random_ids: ms.map(() => randomId()) });
          for (const x of sent) this.run(this.model.addMessage(x.message));
        }
        this.model.clearSelection();
        this.toast(ids.length === 1 ? `Forwarded to ${this.model.chats.get(ids[0])?.chat.title ?? 'the chat'}` : `Forwarded to ${ids.length} chats`);
      },
    });
  }

  /** The selected messages of the open chat, oldest first. */
  selectedMessages() {
    const cs = this.model.openChat;
    const sel = this.model.selection;
    if (!cs || !sel || sel.chatId !== cs.chat.id) return [];
    return sortedMessages(cs).filter((m) => sel.ids.includes(m.id));
  }

  /**
   * @param {ModalState & {kind: 'pick'}} modal
   * @param {() => void} close
   */
  async submitPick(modal, close) {
    if (modal.chosen.length === 0) {
      modal.error = 'Choose at least one chat.';
      this.queueRender();
      return;
    }
    await this.runChoice(modal, () => modal.run(modal.chosen), close);
  }

  /**
   * An `@username` in a message: the person's private chat, or the public chat (joined).
   * @param {string} username
   */
  async openUsername(username) {
    try {
      /** @type {Peer} */
      const peer = await this.conn.call('contacts.resolve', { username });
      await this.openPeer(peer);
    } catch (e) {
      this.toast(errorText(e));
    }
  }

  /** @param {Peer} p */
  async openPeer(p) {
    try {
      /** @type {Chat} */
      let chat;
      if (p.type === 'user') chat = await this.conn.call('chats.open_private', { user_id: p.user.id });
      else if (this.model.chats.has(p.chat.id)) chat = p.chat;
      else chat = await this.conn.call('chats.join', { username: p.chat.username });
      this.run(this.model.upsertChat(chat));
      this.onSearchInput('');
      this.openChat(chat.id);
    } catch (e) {
      this.toast(errorText(e));
    }
  }

  // ----- composer and drafts -----

  /** @param {HTMLTextAreaElement | null} el */
  setComposerElement(el) {
    this.composerEl = el;
    if (el) this.autoGrow();
  }

  autoGrow() {
    const el = this.composerEl;
    if (!el) return;
    el.style.height = 'auto';
    if (el.scrollHeight > 0) el.style.height = `${Math.min(el.scrollHeight, 200)}px`;
  }

  /**
   * Notices an `@name` being typed before the caret in a group, and offers its members.
   * @param {string} text
   * @param {number} caret
   */
  findMention(text, caret) {
    const cs = this.model.openChat;
    const match = cs?.chat.kind === 'group' ? /(^|\s)@([A-Za-z0-9_]{0,32})$/.exec(text.slice(0, caret)) : null;
    if (!cs || !match) {
      this.mention = null;
      return;
    }
    const query = match[2];
    this.mention = { start: caret - query.length - 1, end: caret, query, index: 0 };
    if (cs.members === null && !this.loading.has(`${cs.chat.id}:members`)) {
      const key = `${cs.chat.id}:members`;
      this.loading.add(key);
      this.conn.call('chats.members', { chat_id: cs.chat.id, offset: 0, limit: 1000 }).then(
        (members) => this.model.setMembers(cs.chat.id, /** @type {import('./types.js').Member[]} */ (members).map((x) => x.user)),
        () => {},
      ).finally(() => this.loading.delete(key));
    }
  }

  /** The suggestions for the `@name` being typed, if any. */
  mentionSuggestions() {
    const cs = this.model.openChat;
    return cs && this.mention ? this.model.mentionSuggestions(cs, this.mention.query) : [];
  }

  /**
   * Completes the `@name` being typed with a member's username.
   * @param {User} user
   */
  pickMention(user) {
    const cs = this.model.openChat;
    const m = this.mention;
    if (!cs || !m || !user.username) return;
    const text = this.model.composerText(cs);
    const inserted = `@${user.username} `;
    const next = text.slice(0, m.start) + inserted + text.slice(m.end);
    const caret = m.start + inserted.length;
    this.onComposerInput(next, caret);
    requestAnimationFrame(() => {
      this.composerEl?.focus();
      this.composerEl?.setSelectionRange(caret, caret);
    });
  }

  /**
   * @param {string} text
   * @param {number} [caret] where the caret is (the composer's own, unless set from here)
   */
  onComposerInput(text, caret = this.composerEl?.selectionStart ?? text.length) {
    const chatId = this.model.openId;
    if (chatId === null) return;
    this.findMention(text, caret);
    const editing = this.model.chats.get(chatId)?.compose?.kind === 'edit';
    this.model.editDraft(chatId, text, Math.floor(Date.now() / 1000));
    this.autoGrow();
    if (editing) return;
    this.scheduleDraftSave(chatId);
    const now = Date.now();
    if (text.trim() && now - this.lastTypingSent > TYPING_SENT_EVERY_MS && this.model.online) {
      this.lastTypingSent = now;
      this.conn.call('messages.typing', { chat_id: chatId }).catch(() => {});
    }
  }

  /**
   * Saves the chat's draft once typing pauses.
   * @param {number} chatId
   */
  scheduleDraftSave(chatId) {
    clearTimeout(this.draftTimers.get(chatId));
    this.draftTimers.set(chatId, setTimeout(() => this.flushDraft(chatId), DRAFT_SAVE_MS));
  }

  /**
   * The draft is gone with a send: nothing is left to save (the server clears it).
   * @param {number} chatId
   */
  dropDraft(chatId) {
    clearTimeout(this.draftTimers.get(chatId));
    this.draftTimers.delete(chatId);
    this.model.clearDraft(chatId);
  }

  /**
   * Saves a chat's draft now if it changed here (`messages.save_draft`: other devices see it).
   * @param {number} chatId
   */
  flushDraft(chatId) {
    if (!this.draftTimers.has(chatId)) return;
    clearTimeout(this.draftTimers.get(chatId));
    this.draftTimers.delete(chatId);
    const draft = this.model.chats.get(chatId)?.draft;
    this.conn.callRetrying('messages.save_draft', { chat_id: chatId, text: draft?.text ?? '', reply_to: draft?.reply_to }).catch((e) => this.toast(errorText(e)));
  }

  /** @param {KeyboardEvent} ev */
  onComposerKey(ev) {
    const cs = this.model.openChat;
    if (!cs) return;
    const suggestions = this.mentionSuggestions();
    if (this.mention && suggestions.length > 0) {
      const m = this.mention;
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        m.index = (m.index + (ev.key === 'ArrowDown' ? 1 : suggestions.length - 1)) % suggestions.length;
        this.queueRender();
        return;
      }
      if ((ev.key === 'Enter' || ev.key === 'Tab') && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.pickMention(suggestions[Math.min(m.index, suggestions.length - 1)]);
        return;
      }
      if (ev.key === 'Escape') {
        ev.preventDefault();
        this.mention = null;
        this.queueRender();
        return;
      }
    }
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      this.submitComposer();
    } else if (ev.key === 'Escape' && cs.compose) {
      ev.preventDefault();
      this.cancelCompose();
    } else if (ev.key === 'ArrowUp' && this.model.composerText(cs) === '') {
      // Up in an empty composer edits your last message, as in other messengers.
      const mine = sortedMessages(cs).filter((m) => this.model.isMe(m.from) && m.content.type === 'text' && !m.forward).at(-1);
      if (mine) {
        ev.preventDefault();
        this.edit(mine);
      }
    }
  }

  /** @param {Message} m */
  reply(m) {
    this.model.setCompose(m.chat_id, { kind: 'reply', id: m.id });
    // A draft keeps what it replies to.
    if (this.model.chats.get(m.chat_id)?.draft) this.scheduleDraftSave(m.chat_id);
    this.composerEl?.focus();
  }

  /** @param {Message} m */
  edit(m) {
    this.model.setCompose(m.chat_id, { kind: 'edit', id: m.id, text: messageText(m) });
    this.composerEl?.focus();
    requestAnimationFrame(() => this.autoGrow());
  }

  cancelCompose() {
    const chatId = this.model.openId;
    if (chatId === null) return;
    this.model.setCompose(chatId, null);
    this.composerEl?.focus();
  }

  async submitComposer() {
    const cs = this.model.openChat;
    if (!cs) return;
    const chatId = cs.chat.id;
    const text = this.model.composerText(cs);
    if (!text.trim()) return;
    const mode = cs.compose;
    this.lastTypingSent = 0;
    if (mode?.kind === 'edit') {
      this.model.setCompose(chatId, null);
      try {
        /** @type {Message} */
        const m = await this.conn.call('messages.edit', { chat_id: chatId, id: mode.id, text });
        this.run(this.model.apply({ type: 'edit_message', message: m, pts: 0, pts_count: 0, date: 0 }));
      } catch (e) {
        this.toast(errorText(e));
      }
      return;
    }
    this.dropDraft(chatId);
    this.mention = null;
    this.model.setCompose(chatId, null);
    requestAnimationFrame(() => this.autoGrow());
    await this.send(chatId, text, mode?.id);
  }

  /**
   * A bot's `/command` pressed in a message: sent to the open chat as it is.
   * @param {string} text
   */
  sendText(text) {
    const chatId = this.model.openId;
    if (chatId !== null) this.send(chatId, text);
  }

  /**
   * Sends a text, shown as pending until the server answers.
   * @param {number} chatId
   * @param {string} text
   * @param {number} [replyTo]
   */
  async send(chatId, text, replyTo) {
    const pending = { randomId: randomId(), text, replyTo, date: Math.floor(Date.now() / 1000) };
    this.model.addPending(chatId, pending);
    this.list?.scrollToBottom();
    try {
      /** @type {Sent} */
      const sent = await this.conn.callRetrying('messages.send', { chat_id: chatId, random_id: pending.randomId, text, reply_to: pending.replyTo });
      this.model.removePending(chatId, pending);
      this.run(this.model.addMessage(sent.message));
    } catch (e) {
      this.model.removePending(chatId, pending);
      this.toast(errorText(e));
    }
  }

  // ----- reactions -----

  /**
   * Adds or takes away one of your reactions.
   * @param {Message} m
   * @param {string} emoji
   */
  async toggleReaction(m, emoji) {
    const current = this.model.chats.get(m.chat_id)?.messages.get(m.id) ?? m;
    const reactions = this.model.toggledReactions(current, emoji);
    try {
      /** @type {import('./types.js').MessageReactions} */
      const now = await this.conn.call('messages.react', { chat_id: m.chat_id, id: m.id, reactions });
      this.model.setReactions(m.chat_id, m.id, now, true);
    } catch (e) {
      this.toast(errorText(e));
    }
  }

  // ----- modals -----

  /** @param {ModalState} modal */
  openModal(modal) {
    this.modal = /** @type {ModalState} */ ({ ...modal, id: ++this.modalIds });
    this.queueRender();
    return this.modal;
  }

  /** @param {number | undefined} id */
  closeModal(id) {
    if (this.modal?.id !== id) return;
    this.modal = null;
    this.queueRender();
  }

  /**
   * @param {ModalState & {kind: 'form'}} modal
   * @param {() => void} close
   */
  async submitForm(modal, close) {
    modal.error = '';
    modal.busy = true;
    this.queueRender();
    const values = Object.fromEntries(modal.fields.map((f) => [f.name, (modal.values[f.name] ?? '').trim()]));
    try {
      const text = await modal.submit(values);
      if (typeof text === 'string') modal.note = text;
      else close();
    } catch (e) {
      modal.error = errorText(e);
    } finally {
      modal.busy = false;
      this.queueRender();
    }
  }

  /**
   * @param {ModalState & {kind: 'choice' | 'pick'}} modal
   * @param {() => Promise<void>} run
   * @param {() => void} close
   */
  async runChoice(modal, run, close) {
    try {
      await run();
      close();
    } catch (e) {
      modal.error = errorText(e);
      this.queueRender();
    }
  }

  /**
   * @param {string} title
   * @param {import('./views.js').Field[]} fields
   * @param {string} action
   * @param {(values: Record<string, string>) => Promise<void | string>} submit returns a text to show instead of closing
   * @param {Record<string, string>} [values]
   */
  formDialog(title, fields, action, submit, values = {}) {
    return this.openModal({ kind: 'form', title, fields, values: { ...values }, action, submit, error: '', note: '', busy: false });
  }

  /**
   * Deleting asks how: for everyone (where you may, for every message chosen) or only for you.
   * @param {Message[]} ms messages of one chat
   */
  deleteDialog(ms) {
    const first = ms[0];
    const cs = first && this.model.chats.get(first.chat_id);
    if (!first || !cs) return;
    const c = cs.chat;
    const admin = c.role === 'admin' || c.role === 'creator';
    // In a private chat only the author may delete for both; in groups and channels the
    // author or an admin.
    const forAll = ms.every((m) => (c.kind === 'private' ? this.model.isMe(m.from) : this.model.isMe(m.from) || admin));
    const ids = ms.map((m) => m.id);
    const del = (/** @type {boolean} */ forEveryone) => async () => {
      await this.conn.call('messages.delete', { chat_id: c.id, ids, for_everyone: forEveryone });
      this.run(this.model.apply({ type: 'delete_messages', chat_id: c.id, ids, pts: 0, pts_count: 0, date: 0 }));
      this.model.clearSelection();
    };
    const other = c.kind === 'private' ? c.title : 'everyone in the chat';
    /** @type {{label: string, danger?: boolean, run: () => Promise<void>}[]} */
    const choices = [{ label: 'Delete for me', run: del(false) }];
    if (forAll) choices.push({ label: c.kind === 'private' ? `Delete for me and ${c.title}` : 'Delete for everyone', danger: true, run: del(true) });
    const what = ms.length === 1 ? `“${messageText(first).slice(0, 80)}”` : `These ${ms.length} messages`;
    this.openModal({
      kind: 'choice', title: ms.length === 1 ? 'Delete message?' : `Delete ${ms.length} messages?`, error: '', choices,
      text: forAll ? `${what} can be deleted only for you, or also for ${other}.` : `${what} will be deleted for you; ${other} keeps ${ms.length === 1 ? 'it' : 'them'}.`,
    });
  }

  /** @param {number} chatId */
  leaveDialog(chatId) {
    const cs = this.model.chats.get(chatId);
    if (!cs) return;
    this.openModal({
      kind: 'choice', title: `Leave ${cs.chat.title}?`, error: '', text: 'You will no longer see its messages.',
      choices: [{
        label: 'Leave', danger: true, run: async () => {
          await this.conn.call('chats.leave', { chat_id: chatId });
          this.sync?.unfollow(chatId);
          this.model.dropChat(chatId);
        },
      }],
    });
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
        this.model.addUsers([u]);
        ids.push(u.id);
      } else {
        /** @type {Peer} */
        const p = await this.conn.call('contacts.resolve', { username: item });
        if (p.type !== 'user') throw new Error(`${item} is a channel, not a person`);
        this.model.addUsers([p.user]);
        ids.push(p.user.id);
      }
    }
    return ids;
  }

  /** @param {Chat} chat */
  adopt(chat) {
    this.run(this.model.upsertChat(chat));
    this.openChat(chat.id);
  }

  newChatDialog() {
    this.formDialog('New chat', [{ name: 'who', label: 'Username or phone number', hint: 'For example @alice_w or +14155550100', required: true }], 'Start chat', async (v) => {
      const [id] = await this.resolveUsers(v.who);
      if (id === undefined) throw new Error('Enter a username or a phone number');
      this.adopt(await this.conn.call('chats.open_private', { user_id: id }));
    });
  }

  newGroupDialog() {
    this.formDialog('New group', [
      { name: 'title', label: 'Group name', required: true },
      { name: 'members', label: 'Members', hint: 'Usernames or phone numbers, separated by commas' },
    ], 'Create group', async (v) => {
      const ids = await this.resolveUsers(v.members);
      this.adopt(await this.conn.call('chats.create_group', { title: v.title, user_ids: ids }));
    });
  }

  newChannelDialog() {
    this.formDialog('New channel', [
      { name: 'title', label: 'Channel name', required: true },
      { name: 'username', label: 'Public @name (optional)', hint: 'Anyone can find and join a channel with a public name' },
    ], 'Create channel', async (v) => {
      this.adopt(await this.conn.call('chats.create_channel', { title: v.title, username: v.username || undefined }));
    });
  }

  joinDialog() {
    this.formDialog('Join a group or channel', [{ name: 'target', label: 'Invite link or @channel', required: true }], 'Join', async (v) => {
      const t = v.target;
      const params = t.startsWith('@') || (USERNAME.test(t) && !t.includes('/') && !t.startsWith('+')) ? { username: t } : { invite: t };
      this.adopt(await this.conn.call('chats.join', params));
    });
  }

  /** @param {number} chatId */
  addMembersDialog(chatId) {
    this.formDialog('Add members', [{ name: 'members', label: 'Usernames or phone numbers', required: true }], 'Add', async (v) => {
      const ids = await this.resolveUsers(v.members);
      this.run(this.model.upsertChat(await this.conn.call('chats.add_members', { chat_id: chatId, user_ids: ids })));
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
      this.formDialog('Invite link', [{ name: 'link', label: 'Anyone with this link can join', readonly: true }], 'Copy', async () => {
        await navigator.clipboard?.writeText(link).catch(() => {});
        return 'Copied';
      }, { link });
    } catch (e) {
      this.toast(errorText(e));
    }
  }

  settingsDialog() {
    const me = this.model.me;
    if (!me) return;
    const modal = this.formDialog('Settings', [
      { name: 'name', label: 'Name', required: true },
      { name: 'username', label: 'Username', hint: 'Others can find you by @username. 5–32 letters, digits or _.' },
    ], 'Save', async (v) => {
      /** @type {User} */
      let user = me;
      if (v.name !== me.name) user = await this.conn.call('account.update_profile', { name: v.name });
      if (v.username.replace(/^@/, '') !== (me.username ?? '')) user = await this.conn.call('account.set_username', { username: v.username || null });
      this.model.setMe(user);
    }, { name: me.name, username: me.username ?? '' });
    if (modal.kind === 'form') {
      modal.extras = [
        { label: 'Sign out', danger: true, run: () => this.signOut(true) },
        { label: 'Devices', run: () => this.sessionsDialog() },
      ];
    }
  }

  /** Where you are signed in (`account.sessions`), with a way to end the other sessions. */
  async sessionsDialog() {
    const modal = this.openModal({ kind: 'sessions', sessions: null, error: '' });
    try {
      const sessions = await this.conn.call('account.sessions');
      if (modal.kind === 'sessions') modal.sessions = /** @type {import('./types.js').Session[]} */ (sessions);
    } catch (e) {
      if (modal.kind === 'sessions') modal.error = errorText(e);
    }
    this.queueRender();
  }

  /**
   * Ends sessions (`account.revoke_session`); their devices are signed out at once.
   * @param {ModalState & {kind: 'sessions'}} modal
   * @param {number[]} ids
   */
  async terminate(modal, ids) {
    modal.error = '';
    try {
      for (const id of ids) await this.conn.call('account.revoke_session', { session_id: id });
      modal.sessions = /** @type {import('./types.js').Session[]} */ (await this.conn.call('account.sessions'));
    } catch (e) {
      modal.error = errorText(e);
    }
    this.queueRender();
  }

  /** An invite link opened in the browser: `/+TOKEN`. */
  handleInvitePath() {
    if (!location.pathname.startsWith('/+')) return;
    const invite = location.pathname.slice(1);
    history.replaceState(null, '', '/');
    this.conn.call('chats.join', { invite }).then((chat) => this.adopt(/** @type {Chat} */ (chat)), (e) => this.toast(errorText(e)));
  }

  /** @param {boolean} tellServer */
  signOut(tellServer) {
    const done = () => {
      this.signedOut = true;
      this.conn.stop();
      localStorage.removeItem(TOKEN_KEY);
      if (this.model.me) localStorage.removeItem(`helio.sync.${this.model.me.id}`);
      document.body.classList.remove('chat-open', 'offline');
      this.model.listeners.clear();
      render(null, root);
      showSignIn();
    };
    if (tellServer && this.model.online) this.conn.call('auth.log_out').finally(done);
    else done();
  }

  // ----- bots' buttons -----

  /**
   * Presses a callback button and shows the bot's answer: a passing notice, or a dialog to
   * dismiss when the bot asks for an alert. No answer (the bot was silent) shows nothing.
   * @param {Message} m
   * @param {InlineButton} b
   */
  async pressButton(m, b) {
    const key = `${m.chat_id}:${m.id}:${b.callback_data}`;
    if (b.callback_data === undefined || this.pressing.has(key)) return;
    this.pressing.add(key);
    this.renderNow();
    try {
      /** @type {CallbackAnswer} */
      const answer = await this.conn.call('messages.press_button', { chat_id: m.chat_id, message_id: m.id, data: b.callback_data });
      const link = answer.url && WEB_URL.test(answer.url) ? answer.url : undefined;
      const who = this.model.userName(m.from);
      if (answer.text && answer.alert) this.openModal({ kind: 'alert', title: who, text: answer.text, link });
      else if (answer.text) this.toast(answer.text, link);
      else if (link) this.toast(`${who} sent a link:`, link);
    } catch (e) {
      this.toast(errorText(e));
    } finally {
      this.pressing.delete(key);
      this.renderNow();
    }
  }

  // ----- files -----

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
      const a = document.createElement('a');
      a.href = url;
      a.download = media.name || 'file';
      a.className = 'visually-hidden';
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) {
      this.toast(`Could not download ${media.name}: ${errorText(e)}`);
    }
  }

  /**
   * @param {string} name
   * @param {number} sent bytes
   * @param {number} total bytes
   * @param {string} status
   * @param {boolean} cancellable
   */
  showUpload(name, sent, total, status, cancellable) {
    clearTimeout(this.uploadTimer);
    this.upload = { name, sent, total, status, cancellable };
    this.renderNow();
  }

  /** @param {number} after ms */
  hideUpload(after) {
    clearTimeout(this.uploadTimer);
    this.uploadTimer = setTimeout(() => {
      this.upload = null;
      this.queueRender();
    }, after);
  }

  /**
   * Uploads a file in parts, then sends it to the open chat with the composer's text as its
   * caption.
   * @param {File} file
   */
  async sendFile(file) {
    const cs = this.model.openChat;
    if (!cs) return;
    const chatId = cs.chat.id;
    if (this.uploadAbort) return this.toast('Wait for the current upload to finish.');
    if (file.size === 0) return this.toast(`${file.name} is empty.`);
    if (file.size > MAX_UPLOAD) return this.toast(`${file.name} is too large: the web client sends files up to ${formatSize(MAX_UPLOAD)}.`);
    if (!crypto.subtle) return this.toast('Sending files needs a secure (HTTPS) connection.');
    const abort = new AbortController();
    this.uploadAbort = abort;
    const name = file.name || 'file';
    const mime = file.type || 'application/octet-stream';
    const total = file.size;
    const mode = cs.compose?.kind === 'reply' ? cs.compose : null;
    const caption = cs.compose?.kind === 'edit' ? '' : (cs.draft?.text ?? '').trim();
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
      if (caption && (cs.draft?.text ?? '').trim() === caption) this.dropDraft(chatId);
      if (mode && cs.compose === mode) this.model.setCompose(chatId, null);
      /** @type {Sent} */
      const result = await this.conn.callRetrying('messages.send_media', { chat_id: chatId, random_id: randomId(), file_id: uploaded.id, kind, caption: caption || undefined, reply_to: mode?.id });
      if (this.list) this.list.stuck = true;
      this.run(this.model.addMessage(result.message));
      this.showUpload(name, total, total, 'Sent', false);
      this.hideUpload(3000);
    } catch (e) {
      if (abort.signal.aborted) this.showUpload(name, 0, total, 'Cancelled', false);
      else {
        this.showUpload(name, 0, total, 'Failed', false);
        this.toast(`Could not send ${name}: ${errorText(e)}`);
      }
      this.hideUpload(3000);
    } finally {
      this.uploadAbort = null;
    }
  }
}

/** @param {string} token */
function startApp(token) {
  const app = new App(token);
  // For tests and the curious: the model and the list's size show what the client holds.
  /** @type {any} */ (window).heliograph = app;
}

const saved = localStorage.getItem(TOKEN_KEY);
if (saved) startApp(saved);
else showSignIn();
