// The client's state, and nothing else: chats, their loaded histories, drafts, reactions,
// typing, search results. It changes only through the methods below (fed by the event stream
// and by the answers to the client's own calls), never touches the DOM or the network, and
// is unit-tested without a browser (tests/model.test.js). Views render from it; every change
// bumps `version` and tells the subscribers.
//
// What the model cannot do itself (fetch a chat it has not seen, follow a chat's log) it
// returns as `Effect`s for the controller (main.js) to carry out.

/** @typedef {import('./types.js').User} User */
/** @typedef {import('./types.js').Chat} Chat */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').Dialog} Dialog */
/** @typedef {import('./types.js').Update} Update */
/** @typedef {import('./types.js').DraftMessage} DraftMessage */
/** @typedef {import('./types.js').MessageReactions} MessageReactions */
/** @typedef {import('./types.js').ReactionType} ReactionType */
/** @typedef {import('./types.js').SearchResults} SearchResults */
/** @typedef {import('./types.js').Directory} Directory */

/**
 * @typedef {{type: 'fetch_chat', chatId: number, message: Message}
 *   | {type: 'refresh_chat', chatId: number}
 *   | {type: 'follow', chatId: number, pts: number}
 *   | {type: 'unfollow', chatId: number}
 *   | {type: 'fetch_users', ids: number[]}
 *   | {type: 'fetch_pinned', chatId: number, id: number}
 *   | {type: 'announce', text: string}} Effect
 */

/**
 * One send not answered yet.
 * @typedef {{randomId: number, text: string, replyTo?: number, date: number}} Pending
 */

/**
 * What the client knows about one chat. The loaded history is one contiguous run of
 * message ids: `atStart` when nothing older exists, `atEnd` when it reaches the newest
 * message (only then do live messages join it).
 * @typedef {object} ChatState
 * @property {Chat} chat
 * @property {Message | undefined} last newest message known
 * @property {number} top highest message id seen
 * @property {number} unread
 * @property {number} readIn
 * @property {number} readOut
 * @property {number} activity orders the dialog list, milliseconds
 * @property {Map<number, Message>} messages the loaded run
 * @property {Message[] | null} sorted cache of `messages` by id
 * @property {boolean} loaded some history is loaded
 * @property {boolean} atStart
 * @property {boolean} atEnd
 * @property {Pending[]} pending
 * @property {Map<number, number>} typing user id -> until (ms)
 * @property {DraftMessage | null} draft the text being written here (synced across devices)
 * @property {Compose | null} compose a reply being written, or an edit (with its text)
 * @property {Message | null} pinned the pinned message, once known
 * @property {User[] | null} members a group's members, once fetched (to complete mentions)
 * @property {boolean} mentioned an unread message mentions you
 */

/** @typedef {{kind: 'reply', id: number} | {kind: 'edit', id: number, text: string}} Compose */

/**
 * @typedef {{key: string, kind: 'day', label: string}
 *   | {key: string, kind: 'loader', label: string, edge: 'older' | 'newer'}
 *   | {key: string, kind: 'msg', msg: Message, pending: boolean}} HistoryItem
 */

/**
 * @typedef {object} SearchState
 * @property {string} query
 * @property {number | null} chatId only this chat (the search inside a chat)
 * @property {boolean} loading
 * @property {import('./types.js').SearchResult[]} messages
 * @property {User[]} people
 * @property {Chat[]} chats public groups and channels
 * @property {number | undefined} next offset of the next page
 * @property {string} error
 * @property {Map<number, Chat>} chatsById the chats of the message results
 */

/** The reactions offered first; any other emoji can be typed. */
export const DEFAULT_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🔥'];
/** The server's limit on one person's reactions on one message. */
export const MAX_REACTIONS = 3;
const TYPING_SHOWN_MS = 6000;

/** @param {Chat} chat @returns {ChatState} */
function newChatState(chat) {
  return {
    chat, last: undefined, top: chat.top_message_id, unread: 0, readIn: 0, readOut: 0, activity: 0,
    messages: new Map(), sorted: null, loaded: false, atStart: false, atEnd: true, pending: [],
    typing: new Map(), draft: null, compose: null, pinned: null, members: null, mentioned: false,
  };
}

/** @param {ChatState} cs */
export function sortedMessages(cs) {
  if (!cs.sorted) cs.sorted = [...cs.messages.values()].sort((a, b) => a.id - b.id);
  return cs.sorted;
}

/**
 * The text a message shows in a preview.
 * @param {Message} m
 */
export function messageText(m) {
  if (m.content.type === 'media') {
    const media = /** @type {import('./types.js').Media} */ (/** @type {unknown} */ (m.content));
    return media.caption || (media.kind === 'photo' ? 'Photo' : media.name);
  }
  return m.content.type === 'text' ? (m.content.text ?? '') : 'Unsupported message';
}

/** @param {number} unix */
export function dayKey(unix) {
  const d = new Date(unix * 1000);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/**
 * The reaction's key (an emoji, or `custom:ID`).
 * @param {ReactionType} r
 */
export function reactionKey(r) {
  return r.type === 'emoji' ? r.emoji : `custom:${r.custom_emoji_id}`;
}

/**
 * The pieces of `text` with the `[offset, length]` ranges (UTF-16 units) marked.
 * @param {string} text
 * @param {[number, number][]} highlights
 * @returns {{text: string, mark: boolean}[]}
 */
export function highlightPieces(text, highlights) {
  /** @type {{text: string, mark: boolean}[]} */
  const out = [];
  let at = 0;
  for (const [offset, length] of [...highlights].sort((a, b) => a[0] - b[0])) {
    const from = Math.max(at, Math.min(text.length, offset));
    const to = Math.max(from, Math.min(text.length, offset + length));
    if (from > at) out.push({ text: text.slice(at, from), mark: false });
    if (to > from) out.push({ text: text.slice(from, to), mark: true });
    at = to;
  }
  if (at < text.length) out.push({ text: text.slice(at), mark: false });
  return out;
}

export class Model {
  constructor() {
    /** @type {User | null} */
    this.me = null;
    /** @type {Map<number, User>} */
    this.users = new Map();
    /** @type {Map<number, ChatState>} */
    this.chats = new Map();
    /** @type {number | null} */
    this.openId = null;
    this.online = false;
    this.dialogsLoaded = false;
    /** The dialog list filter and the global search box share this text. */
    this.filter = '';
    /** @type {SearchState | null} */
    this.search = null;
    /** The message to show highlighted (a search result opened). @type {{chatId: number, id: number, words: string[]} | null} */
    this.jump = null;
    /** The message whose reaction picker is open. @type {{chatId: number, id: number} | null} */
    this.reacting = null;
    /** The message whose menu (reply, copy, forward, pin, delete) is open. @type {{chatId: number, id: number} | null} */
    this.menu = null;
    /** Messages chosen for forwarding or deleting together. @type {{chatId: number, ids: number[]} | null} */
    this.selection = null;
    /** Increases on every change. */
    this.version = 0;
    /** @type {Set<() => void>} */
    this.listeners = new Set();
  }

  /** @param {() => void} fn */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed() {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  /** @param {User} me */
  setMe(me) {
    this.me = me;
    this.users.set(me.id, me);
    this.changed();
  }

  /** @param {User[]} users */
  addUsers(users) {
    for (const u of users) this.users.set(u.id, u);
    if (users.length) this.changed();
  }

  /** @param {number} id */
  userName(id) {
    if (this.me && id === this.me.id) return 'You';
    return this.users.get(id)?.name ?? `User ${id}`;
  }

  /** @param {number} id */
  isMe(id) {
    return this.me !== null && this.me.id === id;
  }

  /** @param {boolean} online */
  setOnline(online) {
    if (this.online === online) return;
    this.online = online;
    this.changed();
  }

  // ----- chats -----

  /**
   * Adds or refreshes a chat. A chat from a chat's own log has no `role` or `peer`: keep ours.
   * @param {Chat} chat
   * @returns {Effect[]}
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
    /** @type {Effect[]} */
    const effects = chat.chat_pts !== undefined && chat.role ? [{ type: 'follow', chatId: chat.id, pts: chat.chat_pts }] : [];
    effects.push(...this.pin(cs, chat.pinned_message_id));
    this.changed();
    return effects;
  }

  /**
   * The chat's pinned message is now `id` (or none).
   * @param {ChatState} cs
   * @param {number | undefined} id
   * @returns {Effect[]}
   */
  pin(cs, id) {
    cs.chat = { ...cs.chat, pinned_message_id: id };
    if (id === undefined) {
      cs.pinned = null;
      return [];
    }
    if (cs.pinned?.id === id) return [];
    cs.pinned = cs.messages.get(id) ?? null;
    return cs.pinned ? [] : [{ type: 'fetch_pinned', chatId: cs.chat.id, id }];
  }

  /**
   * The pinned message, fetched.
   * @param {number} chatId
   * @param {Message} msg
   */
  setPinned(chatId, msg) {
    const cs = this.chats.get(chatId);
    if (!cs || cs.chat.pinned_message_id !== msg.id) return;
    cs.pinned = msg;
    this.changed();
  }

  /**
   * A chat fetched because a message arrived in it before the chat was known: the fetched
   * chat already counts the message in `top_message_id`, so it is still new.
   * @param {Chat} chat
   * @param {Message} msg
   * @returns {Effect[]}
   */
  chatArrived(chat, msg) {
    const known = this.chats.has(chat.id);
    const effects = this.upsertChat(chat);
    const cs = /** @type {ChatState} */ (this.chats.get(chat.id));
    if (!known && !cs.last) cs.top = Math.min(cs.top, msg.id - 1);
    return [...effects, ...this.addMessage(msg)];
  }

  /**
   * A dialog from `chats.dialogs`.
   * @param {Dialog} d
   * @param {number} rank its place in the server's order (most recent activity first)
   * @returns {Effect[]}
   */
  upsertDialog(d, rank) {
    const effects = this.upsertChat(d.chat);
    const cs = /** @type {ChatState} */ (this.chats.get(d.chat.id));
    cs.last = d.last_message;
    cs.top = Math.max(cs.top, d.chat.top_message_id, d.last_message?.id ?? 0);
    cs.unread = d.unread_count;
    cs.readIn = d.read_inbox_max_id;
    cs.readOut = d.read_outbox_max_id;
    cs.draft = d.draft ?? null;
    // Dates are in seconds; within one second keep the server's order.
    cs.activity = Math.max(d.last_message?.date ?? 0, d.draft?.date ?? 0) * 1000 + 999 - Math.min(rank, 999);
    if (d.last_message && !this.users.has(d.last_message.from)) effects.push({ type: 'fetch_users', ids: [d.last_message.from] });
    this.changed();
    return effects;
  }

  /** @param {number} chatId */
  dropChat(chatId) {
    this.chats.delete(chatId);
    if (this.openId === chatId) this.openId = null;
    this.changed();
  }

  /** The client fell too far behind: forget every loaded history. */
  forgetHistories() {
    for (const cs of this.chats.values()) this.resetHistory(cs);
    this.changed();
  }

  /** @param {ChatState} cs */
  resetHistory(cs) {
    cs.messages.clear();
    cs.sorted = null;
    cs.loaded = false;
    cs.atStart = false;
    cs.atEnd = true;
  }

  /** @param {number | null} chatId */
  open(chatId) {
    if (chatId !== null && !this.chats.has(chatId)) return;
    this.openId = chatId;
    this.reacting = null;
    this.menu = null;
    if (this.selection?.chatId !== chatId) this.selection = null;
    if (this.jump && this.jump.chatId !== chatId) this.jump = null;
    this.changed();
  }

  get openChat() {
    return this.openId === null ? undefined : this.chats.get(this.openId);
  }

  /**
   * The dialog list, most recent first, filtered by the search box's text.
   * @returns {ChatState[]}
   */
  visibleDialogs() {
    const q = this.filter.trim().toLowerCase().replace(/^@/, '');
    return [...this.chats.values()]
      .filter((cs) => !q || cs.chat.title.toLowerCase().includes(q) || (cs.chat.username ?? cs.chat.peer?.username ?? '').toLowerCase().includes(q))
      .sort((a, b) => b.activity - a.activity || b.chat.id - a.chat.id);
  }

  totalUnread() {
    let n = 0;
    for (const cs of this.chats.values()) n += cs.unread;
    return n;
  }

  /**
   * The line under a chat's title: who it is with, or how many are in it.
   * @param {ChatState} cs
   */
  chatSubtitle(cs) {
    const c = cs.chat;
    if (c.kind === 'private') {
      const who = c.peer?.username ? `@${c.peer.username}` : c.peer?.id === this.me?.id ? 'notes to self' : 'private chat';
      return c.peer?.bot ? `${who} · bot` : who;
    }
    if (c.kind === 'group') return `${c.member_count} member${c.member_count === 1 ? '' : 's'}`;
    return `${c.username ? `@${c.username} · ` : ''}${c.member_count} subscriber${c.member_count === 1 ? '' : 's'}`;
  }

  // ----- history -----

  /**
   * A page of `messages.history` merged into the loaded run.
   * @param {number} chatId
   * @param {Message[]} page oldest first
   * @param {'latest' | 'older' | 'newer' | 'around'} how what was asked: the newest page,
   *   one below the run, one above it, or a fresh run around a message (jump)
   * @param {number} limit the page size asked for (a shorter page reached an end)
   * @returns {Effect[]}
   */
  addHistory(chatId, page, how, limit) {
    const cs = this.chats.get(chatId);
    if (!cs) return [];
    if (how === 'latest' || how === 'around') {
      cs.messages.clear();
      cs.atStart = false;
      cs.atEnd = how === 'latest';
    }
    for (const m of page) cs.messages.set(m.id, m);
    const pinned = cs.chat.pinned_message_id;
    if (pinned !== undefined && !cs.pinned) cs.pinned = cs.messages.get(pinned) ?? null;
    cs.sorted = null;
    cs.loaded = true;
    if (how === 'latest' || how === 'older') cs.atStart ||= page.length < limit;
    if (how === 'newer') cs.atEnd = page.length < limit;
    const newest = page.at(-1);
    if (newest && newest.id >= cs.top) cs.atEnd = true;
    if (cs.atEnd && newest) {
      cs.top = Math.max(cs.top, newest.id);
      if (!cs.last || newest.id >= cs.last.id) cs.last = newest;
    }
    this.changed();
    const missing = [...new Set(page.map((m) => m.from))].filter((id) => !this.users.has(id));
    return missing.length ? [{ type: 'fetch_users', ids: missing }] : [];
  }

  /**
   * A fresh run around one message (a jump): `older` ends at it, `newer` follows it; a page
   * shorter than `limit` reached that end of the history.
   * @param {number} chatId
   * @param {Message[]} older oldest first, the message itself last
   * @param {Message[]} newer oldest first
   * @param {number} limit
   * @returns {Effect[]}
   */
  addAround(chatId, older, newer, limit) {
    const effects = this.addHistory(chatId, [...older, ...newer], 'around', limit);
    const cs = this.chats.get(chatId);
    if (cs) {
      cs.atStart ||= older.length < limit;
      cs.atEnd ||= newer.length < limit;
      this.changed();
    }
    return effects;
  }

  /**
   * A message from an update or from a send's answer; both may arrive, in either order.
   * @param {Message} msg
   * @returns {Effect[]}
   */
  addMessage(msg) {
    const cs = this.chats.get(msg.chat_id);
    if (!cs) return [{ type: 'fetch_chat', chatId: msg.chat_id, message: msg }];
    /** @type {Effect[]} */
    const effects = [];
    const known = cs.messages.has(msg.id);
    if (known || (cs.loaded && cs.atEnd)) {
      cs.messages.set(msg.id, { ...msg, reactions: msg.reactions ?? cs.messages.get(msg.id)?.reactions });
      cs.sorted = null;
    }
    if (this.isMe(msg.from) && cs.pending.length > 0) {
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
      if (wasAbove && !this.isMe(msg.from) && msg.id > cs.readIn) {
        cs.unread += 1;
        if (this.mentionsMe(msg)) cs.mentioned = true;
        effects.push({ type: 'announce', text: msg.chat_id === this.openId ? `${this.userName(msg.from)}: ${messageText(msg).slice(0, 200)}` : `New message in ${cs.chat.title}` });
      }
      if (this.isMe(msg.from)) {
        cs.readIn = Math.max(cs.readIn, msg.id);
        cs.unread = 0;
        // Sending clears the draft, here and (by the server) on every device.
        cs.draft = null;
      }
    }
    if (!this.users.has(msg.from)) effects.push({ type: 'fetch_users', ids: [msg.from] });
    this.changed();
    return effects;
  }

  /**
   * @param {number} chatId
   * @param {Pending} p
   */
  addPending(chatId, p) {
    this.chats.get(chatId)?.pending.push(p);
    this.changed();
  }

  /**
   * @param {number} chatId
   * @param {Pending} p
   */
  removePending(chatId, p) {
    const cs = this.chats.get(chatId);
    if (cs) cs.pending = cs.pending.filter((x) => x !== p);
    this.changed();
  }

  /**
   * The rows of a chat's history: day separators, loaders at the ends not reached yet, the
   * messages, then the sends not answered yet.
   * @param {ChatState} cs
   * @param {(unix: number) => string} dayLabel
   * @returns {HistoryItem[]}
   */
  historyItems(cs, dayLabel) {
    /** @type {HistoryItem[]} */
    const items = [];
    if (!cs.loaded) return [{ key: 'empty', kind: 'loader', label: 'Loading…', edge: 'older' }];
    let day = '';
    const addDay = (/** @type {number} */ date) => {
      const k = dayKey(date);
      if (k !== day) {
        day = k;
        items.push({ key: `d${k}`, kind: 'day', label: dayLabel(date) });
      }
    };
    if (!cs.atStart) items.push({ key: 'older', kind: 'loader', label: 'Loading…', edge: 'older' });
    for (const m of sortedMessages(cs)) {
      addDay(m.date);
      items.push({ key: `m${cs.chat.id}:${m.id}`, kind: 'msg', msg: m, pending: false });
    }
    if (!cs.atEnd) items.push({ key: 'newer', kind: 'loader', label: 'Loading…', edge: 'newer' });
    else {
      for (const p of cs.pending) {
        addDay(p.date);
        /** @type {Message} */
        const msg = { id: -1, chat_id: cs.chat.id, from: this.me?.id ?? 0, date: p.date, content: { type: 'text', text: p.text }, reply_to: p.replyTo };
        items.push({ key: `p${p.randomId}`, kind: 'msg', msg, pending: true });
      }
    }
    if (items.length === 0) items.push({ key: 'empty', kind: 'day', label: 'No messages here yet' });
    return items;
  }

  // ----- typing -----

  /**
   * @param {number} chatId
   * @param {number} userId
   * @param {number} now ms
   * @returns {Effect[]}
   */
  typing(chatId, userId, now) {
    const cs = this.chats.get(chatId);
    if (!cs) return [];
    cs.typing.set(userId, now + TYPING_SHOWN_MS);
    this.changed();
    return this.users.has(userId) ? [] : [{ type: 'fetch_users', ids: [userId] }];
  }

  /** @param {number} now ms */
  expireTyping(now) {
    let changed = false;
    for (const cs of this.chats.values()) {
      for (const [user, until] of cs.typing) {
        if (until < now) {
          cs.typing.delete(user);
          changed = true;
        }
      }
    }
    if (changed) this.changed();
  }

  /** @param {ChatState} cs */
  typingText(cs) {
    const who = [...cs.typing.keys()].map((id) => this.userName(id));
    if (who.length === 0) return '';
    if (cs.chat.kind === 'private') return 'typing…';
    return who.length === 1 ? `${who[0]} is typing…` : `${who.length} people are typing…`;
  }

  // ----- reading -----

  /**
   * The person saw the end of the chat: returns the id to mark read up to, or null.
   * @param {number} chatId
   */
  markRead(chatId) {
    const cs = this.chats.get(chatId);
    if (!cs || (cs.readIn >= cs.top && cs.unread === 0)) return null;
    cs.readIn = Math.max(cs.readIn, cs.top);
    cs.unread = 0;
    cs.mentioned = false;
    this.changed();
    return cs.top;
  }

  // ----- mentions -----

  /**
   * Whether a message names you: `@yourname` (the server marks mentions) or a mention by id.
   * @param {Message} msg
   */
  mentionsMe(msg) {
    const me = this.me;
    if (!me) return false;
    const text = msg.content.type === 'text' ? (msg.content.text ?? '') : messageText(msg);
    const mine = me.username ? `@${me.username.toLowerCase()}` : null;
    return (msg.entities ?? []).some((e) => (e.type === 'mention' && mine !== null && text.slice(e.offset, e.offset + e.length).toLowerCase() === mine)
      || (e.type === 'text_mention' && e.user_id === me.id));
  }

  /**
   * @param {number} chatId
   * @param {User[]} members
   */
  setMembers(chatId, members) {
    const cs = this.chats.get(chatId);
    if (!cs) return;
    cs.members = members;
    for (const u of members) this.users.set(u.id, u);
    this.changed();
  }

  /**
   * The members an `@prefix` may complete to: those with a username (a mention is by
   * username), not you, whose username or name starts with it; at most 8.
   * @param {ChatState} cs
   * @param {string} prefix without the `@`
   */
  mentionSuggestions(cs, prefix) {
    const p = prefix.toLowerCase();
    return (cs.members ?? [])
      .filter((u) => u.username && !this.isMe(u.id))
      .filter((u) => (u.username ?? '').toLowerCase().startsWith(p) || u.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(p)))
      .slice(0, 8);
  }

  // ----- drafts and the composer -----

  /**
   * The composer's text in a chat changed here.
   * @param {number} chatId
   * @param {string} text
   * @param {number} now unix seconds
   */
  editDraft(chatId, text, now) {
    const cs = this.chats.get(chatId);
    if (!cs) return;
    if (cs.compose?.kind === 'edit') {
      cs.compose = { ...cs.compose, text };
      this.changed();
      return;
    }
    const replyTo = cs.compose?.kind === 'reply' ? cs.compose.id : undefined;
    cs.draft = text.trim() ? { text, reply_to: replyTo, date: now } : null;
    this.changed();
  }

  /**
   * The draft was sent (or became a file's caption).
   * @param {number} chatId
   */
  clearDraft(chatId) {
    const cs = this.chats.get(chatId);
    if (!cs) return;
    cs.draft = null;
    this.changed();
  }

  /**
   * What the composer shows in a chat: the text being edited, or the draft.
   * @param {ChatState} cs
   */
  composerText(cs) {
    return cs.compose?.kind === 'edit' ? cs.compose.text : (cs.draft?.text ?? '');
  }

  /**
   * @param {number} chatId
   * @param {Compose | null} compose
   */
  setCompose(chatId, compose) {
    const cs = this.chats.get(chatId);
    if (!cs) return;
    cs.compose = compose;
    if (cs.draft && compose?.kind !== 'edit') cs.draft = { ...cs.draft, reply_to: compose?.id };
    this.changed();
  }

  // ----- updates -----

  /**
   * One update of the user log or of a chat's log, in order.
   * @param {Update} u
   * @returns {Effect[]}
   */
  apply(u) {
    switch (u.type) {
      case 'new_message':
        return this.addMessage(u.message);
      case 'edit_message': {
        const cs = this.chats.get(u.message.chat_id);
        if (!cs) return [];
        const old = cs.messages.get(u.message.id);
        if (old) {
          cs.messages.set(u.message.id, { ...u.message, reactions: u.message.reactions ?? old.reactions });
          cs.sorted = null;
        }
        if (cs.last?.id === u.message.id) cs.last = u.message;
        if (cs.pinned?.id === u.message.id) cs.pinned = u.message;
        this.changed();
        return [];
      }
      case 'delete_messages': {
        const cs = this.chats.get(u.chat_id);
        if (!cs) return [];
        for (const id of u.ids) cs.messages.delete(id);
        cs.sorted = null;
        if (cs.last && u.ids.includes(cs.last.id)) cs.last = cs.atEnd ? sortedMessages(cs).at(-1) : undefined;
        if (cs.pinned && u.ids.includes(cs.pinned.id)) cs.pinned = null;
        if (this.selection?.chatId === u.chat_id) {
          const left = this.selection.ids.filter((id) => !u.ids.includes(id));
          this.selection = left.length ? { chatId: u.chat_id, ids: left } : null;
        }
        this.changed();
        return [];
      }
      case 'read_inbox': {
        const cs = this.chats.get(u.chat_id);
        if (!cs || u.max_id <= cs.readIn) return [];
        cs.readIn = u.max_id;
        if (u.max_id >= cs.top) {
          cs.unread = 0;
          cs.mentioned = false;
        }
        else if (cs.loaded && cs.atEnd) cs.unread = sortedMessages(cs).filter((m) => m.id > u.max_id && !this.isMe(m.from)).length;
        this.changed();
        return [];
      }
      case 'read_outbox': {
        const cs = this.chats.get(u.chat_id);
        if (!cs || u.max_id <= cs.readOut) return [];
        cs.readOut = u.max_id;
        this.changed();
        return [];
      }
      case 'pinned_message': {
        const cs = this.chats.get(u.chat_id);
        if (!cs) return [];
        const effects = this.pin(cs, u.id);
        this.changed();
        return effects;
      }
      case 'participant': {
        if (this.isMe(u.user_id) && !u.role) {
          this.dropChat(u.chat_id);
          return [{ type: 'unfollow', chatId: u.chat_id }];
        }
        if (!this.chats.has(u.chat_id)) return [];
        /** @type {Effect[]} */
        const effects = [{ type: 'refresh_chat', chatId: u.chat_id }];
        if (!this.users.has(u.user_id)) effects.push({ type: 'fetch_users', ids: [u.user_id] });
        return effects;
      }
      case 'chat':
        return this.upsertChat(u.chat);
      case 'message_reactions':
        this.setReactions(u.chat_id, u.id, u.reactions, u.log === undefined);
        return [];
      case 'draft': {
        const cs = this.chats.get(u.chat_id);
        if (!cs) return [];
        cs.draft = u.draft ?? null;
        if (u.draft?.date) cs.activity = Math.max(cs.activity, u.draft.date * 1000);
        this.changed();
        return [];
      }
      default:
        return [];
    }
  }

  // ----- reactions -----

  /**
   * The reactions on a message as they stand now. `withChosen` is false for a chat log's
   * copy, which cannot know which are yours: those are kept from what was known.
   * @param {number} chatId
   * @param {number} id
   * @param {MessageReactions} reactions
   * @param {boolean} withChosen
   */
  setReactions(chatId, id, reactions, withChosen) {
    const cs = this.chats.get(chatId);
    const m = cs?.messages.get(id);
    if (!cs || !m) return;
    let next = reactions;
    if (!withChosen) {
      const mine = new Set((m.reactions?.results ?? []).filter((r) => r.chosen).map((r) => reactionKey(r.reaction)));
      next = { ...reactions, results: reactions.results.map((r) => ({ ...r, chosen: mine.has(reactionKey(r.reaction)) })) };
    }
    cs.messages.set(id, { ...m, reactions: next.results.length ? next : undefined });
    cs.sorted = null;
    this.changed();
  }

  /**
   * Your reactions on a message after toggling `emoji` (at most MAX_REACTIONS: the oldest
   * goes).
   * @param {Message} m
   * @param {string} emoji
   * @returns {ReactionType[]}
   */
  toggledReactions(m, emoji) {
    const mine = (m.reactions?.results ?? []).filter((r) => r.chosen).map((r) => r.reaction);
    const has = mine.some((r) => reactionKey(r) === emoji);
    const next = has ? mine.filter((r) => reactionKey(r) !== emoji) : [...mine, /** @type {ReactionType} */ ({ type: 'emoji', emoji })];
    return next.slice(-MAX_REACTIONS);
  }

  /** @param {{chatId: number, id: number} | null} target */
  setReacting(target) {
    this.reacting = target;
    this.menu = null;
    this.changed();
  }

  /**
   * Chooses a message into the selection, or takes it out (the last one out ends it).
   * @param {number} chatId
   * @param {number} id
   */
  toggleSelect(chatId, id) {
    const sel = this.selection?.chatId === chatId ? this.selection : { chatId, ids: [] };
    const ids = sel.ids.includes(id) ? sel.ids.filter((x) => x !== id) : [...sel.ids, id];
    this.selection = ids.length ? { chatId, ids } : null;
    this.menu = null;
    this.reacting = null;
    this.changed();
  }

  clearSelection() {
    if (!this.selection) return;
    this.selection = null;
    this.changed();
  }

  /** @param {{chatId: number, id: number} | null} target */
  setMenu(target) {
    this.menu = target;
    this.reacting = null;
    this.changed();
  }

  // ----- search -----

  /** @param {string} text */
  setFilter(text) {
    this.filter = text;
    this.changed();
  }

  /**
   * A search starts (or is cleared, with an empty query).
   * @param {string} query
   * @param {number | null} chatId
   */
  startSearch(query, chatId) {
    this.search = query.trim() ? { query, chatId, loading: true, messages: [], people: [], chats: [], next: undefined, error: '', chatsById: new Map() } : null;
    this.changed();
  }

  /**
   * Results for the search under way (older answers for another query are ignored).
   * @param {string} query
   * @param {SearchResults | null} found
   * @param {Directory | null} directory
   * @param {string} error
   * @param {boolean} more a further page of the same search
   */
  searchResults(query, found, directory, error, more = false) {
    const s = this.search;
    if (!s || s.query !== query) return;
    s.loading = false;
    s.error = error;
    if (found) {
      for (const u of found.users) this.users.set(u.id, u);
      for (const c of found.chats) s.chatsById.set(c.id, c);
      s.messages = more ? [...s.messages, ...found.results] : found.results;
      s.next = found.next_offset;
    }
    if (directory) {
      s.people = directory.users.filter((u) => !this.isMe(u.id));
      s.chats = directory.chats;
    }
    this.changed();
  }

  clearJump() {
    this.jump = null;
    this.changed();
  }

  /**
   * Shows a message highlighted when its chat opens.
   * @param {number} chatId
   * @param {number} id
   * @param {string[]} words the matched words
   */
  setJump(chatId, id, words) {
    this.jump = { chatId, id, words };
    this.changed();
  }
}
