// The client's model (app/model.js) without a browser: the event stream and the answers to
// the client's calls go in, the state the views render comes out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model, highlightPieces, sortedMessages } from '../app/model.js';

/** @typedef {import('../app/types.js').Message} Message */
/** @typedef {import('../app/types.js').Chat} Chat */

const ME = { id: 1, name: 'Alice', contact: false, blocked: false };
const BOB = { id: 2, name: 'Bob', username: 'bob_b', contact: false, blocked: false };

/**
 * @param {number} id
 * @param {Partial<Chat>} [extra]
 * @returns {Chat}
 */
const chat = (id, extra = {}) => ({ id, kind: 'private', title: 'Bob', peer: BOB, member_count: 2, role: 'member', top_message_id: 0, ...extra });

/**
 * @param {number} chatId
 * @param {number} id
 * @param {number} from
 * @param {string} text
 * @returns {Message}
 */
const msg = (chatId, id, from, text) => ({ id, chat_id: chatId, from, date: 1_700_000_000 + id, content: { type: 'text', text } });

const head = (/** @type {number} */ pts, /** @type {number} */ [log] = []) => ({ pts, pts_count: 1, date: 0, ...(log ? { log } : {}) });

function model() {
  const m = new Model();
  m.setMe(ME);
  m.addUsers([BOB]);
  return m;
}

/** @param {import('../app/model.js').ChatState} cs */
const ids = (cs) => sortedMessages(cs).map((x) => x.id);

test('every change bumps the version and tells the subscribers', () => {
  const m = model();
  let told = 0;
  m.subscribe(() => told++);
  const v = m.version;
  m.upsertChat(chat(10));
  m.apply({ ...head(1), type: 'new_message', message: msg(10, 1, 2, 'hi') });
  m.apply({ ...head(2), type: 'edit_message', message: { ...msg(10, 1, 2, 'hi!'), edit_date: 1 } });
  m.apply({ ...head(3), type: 'edit_message', message: { ...msg(10, 1, 2, 'hi!!'), edit_date: 1 } });
  assert.equal(told, 4, 'two edits within one second are two changes');
  assert.equal(m.version, v + 4);
});

test('new messages: unread counts, the last message, a chat it does not know is fetched', () => {
  const m = model();
  m.upsertChat(chat(10));
  m.addHistory(10, [], 'latest', 50);
  const effects = m.apply({ ...head(1), type: 'new_message', message: msg(10, 1, 2, 'hello') });
  const cs = /** @type {any} */ (m.chats.get(10));
  assert.equal(cs.unread, 1);
  assert.equal(cs.last.id, 1);
  assert.deepEqual(ids(cs), [1]);
  assert.equal(effects.find((e) => e.type === 'announce')?.type, 'announce');
  m.apply({ ...head(2), type: 'new_message', message: msg(10, 2, 1, 'mine') });
  assert.equal(cs.unread, 0, 'sending reads the chat');
  const elsewhere = msg(99, 1, 2, 'elsewhere');
  assert.deepEqual(m.apply({ ...head(3), type: 'new_message', message: elsewhere }), [{ type: 'fetch_chat', chatId: 99, message: elsewhere }]);
  // The fetched chat already counts the message: it is still new, and unread.
  m.chatArrived(chat(99, { top_message_id: 1 }), elsewhere);
  assert.equal(m.chats.get(99)?.unread, 1);
  assert.equal(m.chats.get(99)?.last?.id, 1);
});

test('a private chat is not counted in subscribers; a group or channel is', () => {
  const m = model();
  m.upsertChat(chat(10));
  m.upsertChat(chat(11, { kind: 'group', title: 'Crew', peer: undefined, member_count: 3 }));
  m.upsertChat(chat(12, { kind: 'channel', title: 'News', peer: undefined, member_count: 1, username: 'news_x' }));
  assert.equal(m.chatSubtitle(/** @type {any} */ (m.chats.get(10))), '@bob_b');
  assert.equal(m.chatSubtitle(/** @type {any} */ (m.chats.get(11))), '3 members');
  assert.equal(m.chatSubtitle(/** @type {any} */ (m.chats.get(12))), '@news_x · 1 subscriber');
  m.upsertChat(chat(12, { kind: 'channel', title: 'News', peer: undefined, member_count: 2, username: 'news_x', role: undefined }));
  assert.equal(m.chatSubtitle(/** @type {any} */ (m.chats.get(12))), '@news_x · 2 subscribers');
  assert.equal(m.chats.get(12)?.chat.role, 'member', 'a chat log\'s copy keeps our role');
});

test('history pages join into one run, older and newer, and live messages join only at the end', () => {
  const m = model();
  m.upsertChat(chat(10, { top_message_id: 300 }));
  const page = (/** @type {number} */ from, /** @type {number} */ to) => Array.from({ length: to - from + 1 }, (_, i) => msg(10, from + i, 2, `m${from + i}`));
  // A jump into the middle: neither end is reached.
  m.addHistory(10, page(101, 150), 'around', 25);
  const cs = /** @type {any} */ (m.chats.get(10));
  assert.equal(cs.atStart, false);
  assert.equal(cs.atEnd, false);
  m.apply({ ...head(1), type: 'new_message', message: msg(10, 301, 2, 'live') });
  assert.deepEqual(ids(cs).slice(-1), [150], 'a live message does not join a run that is not at the end');
  assert.equal(cs.last.id, 301);
  const items = m.historyItems(cs, () => 'day');
  assert.equal(items[0].kind, 'loader');
  assert.equal(items.at(-1)?.kind, 'loader');
  m.addHistory(10, page(51, 100), 'older', 50);
  m.addHistory(10, page(1, 50), 'older', 100);
  assert.equal(cs.atStart, true);
  m.addHistory(10, page(151, 250), 'newer', 100);
  assert.equal(cs.atEnd, false);
  m.addHistory(10, page(251, 301), 'newer', 100);
  assert.equal(cs.atEnd, true);
  assert.deepEqual(ids(cs), Array.from({ length: 301 }, (_, i) => i + 1), 'every message once, in order');
  m.apply({ ...head(2), type: 'new_message', message: msg(10, 302, 2, 'live again') });
  assert.equal(ids(cs).at(-1), 302);
  const kinds = m.historyItems(cs, () => 'day').map((i) => i.kind);
  assert.ok(!kinds.includes('loader'), 'both ends reached: no loader');
});

test('edits and deletes change the loaded messages; a delete of the last moves the preview back', () => {
  const m = model();
  m.upsertChat(chat(10));
  m.addHistory(10, [msg(10, 1, 2, 'a'), msg(10, 2, 2, 'b')], 'latest', 50);
  const cs = /** @type {any} */ (m.chats.get(10));
  m.apply({ ...head(1), type: 'edit_message', message: { ...msg(10, 2, 2, 'b2'), edit_date: 5 } });
  assert.equal(cs.messages.get(2).content.text, 'b2');
  m.apply({ ...head(2), type: 'delete_messages', chat_id: 10, ids: [2] });
  assert.deepEqual(ids(cs), [1]);
  assert.equal(cs.last.id, 1);
});

test('drafts are kept per chat, follow other devices, and a send clears them', () => {
  const m = model();
  m.upsertChat(chat(10));
  m.upsertChat(chat(11, { title: 'Carol', peer: { ...BOB, id: 3, name: 'Carol' } }));
  m.addHistory(10, [], 'latest', 50);
  m.editDraft(10, 'for Bob', 100);
  m.open(11);
  assert.equal(m.composerText(/** @type {any} */ (m.chats.get(11))), '', 'another chat has its own composer');
  assert.equal(m.composerText(/** @type {any} */ (m.chats.get(10))), 'for Bob');
  // Another device typed in chat 11.
  m.apply({ ...head(1), type: 'draft', chat_id: 11, draft: { text: 'from the phone', date: 101 } });
  assert.equal(m.composerText(/** @type {any} */ (m.chats.get(11))), 'from the phone');
  m.apply({ ...head(2), type: 'draft', chat_id: 11 });
  assert.equal(m.chats.get(11)?.draft, null, 'absent means cleared');
  m.apply({ ...head(3), type: 'new_message', message: msg(10, 1, 1, 'for Bob') });
  assert.equal(m.chats.get(10)?.draft, null, 'sending clears the draft');
  // Editing a message does not touch the draft.
  m.editDraft(10, 'next', 102);
  m.setCompose(10, { kind: 'edit', id: 1, text: 'for Bob' });
  m.editDraft(10, 'for Bob!', 103);
  assert.equal(m.chats.get(10)?.draft?.text, 'next');
  assert.equal(m.composerText(/** @type {any} */ (m.chats.get(10))), 'for Bob!');
  // A reply is part of the draft.
  m.setCompose(10, { kind: 'reply', id: 1 });
  assert.equal(m.chats.get(10)?.draft?.reply_to, 1);
  const dialog = { chat: chat(12, { title: 'Dan' }), unread_count: 0, read_inbox_max_id: 0, read_outbox_max_id: 0, draft: { text: 'saved', date: 5 } };
  m.upsertDialog(dialog, 0);
  assert.equal(m.chats.get(12)?.draft?.text, 'saved', 'chats.dialogs carries drafts');
});

test('reactions: counts as they stand, yours kept across a chat log\'s copy, toggling within the limit', () => {
  const m = model();
  m.upsertChat(chat(10, { kind: 'channel', title: 'News', peer: undefined }));
  m.addHistory(10, [msg(10, 1, 2, 'post')], 'latest', 50);
  const like = /** @type {const} */ ({ type: 'emoji', emoji: '👍' });
  const fire = /** @type {const} */ ({ type: 'emoji', emoji: '🔥' });
  m.setReactions(10, 1, { results: [{ reaction: like, count: 1, chosen: true }] }, true);
  m.apply({ ...head(1, [10]), log: 10, type: 'message_reactions', chat_id: 10, id: 1, reactions: { results: [{ reaction: like, count: 2 }, { reaction: fire, count: 1 }] } });
  const r = m.chats.get(10)?.messages.get(1)?.reactions;
  assert.deepEqual(r?.results.map((x) => [x.reaction.type === 'emoji' ? x.reaction.emoji : '', x.count, x.chosen]), [['👍', 2, true], ['🔥', 1, false]]);
  const m1 = /** @type {Message} */ (m.chats.get(10)?.messages.get(1));
  assert.deepEqual(m.toggledReactions(m1, '👍'), [], 'toggling yours takes it away');
  assert.deepEqual(m.toggledReactions(m1, '🔥').map((x) => x.type === 'emoji' && x.emoji), ['👍', '🔥']);
  const three = { ...m1, reactions: { results: ['a', 'b', 'c'].map((e) => ({ reaction: /** @type {const} */ ({ type: 'emoji', emoji: e }), count: 1, chosen: true })) } };
  assert.deepEqual(m.toggledReactions(three, 'd').map((x) => x.type === 'emoji' && x.emoji), ['b', 'c', 'd'], 'at most three: the oldest goes');
  m.setReactions(10, 1, { results: [] }, true);
  assert.equal(m.chats.get(10)?.messages.get(1)?.reactions, undefined);
});

test('typing shows and expires; the dialog filter matches titles and usernames', () => {
  const m = model();
  m.upsertChat(chat(10));
  m.upsertChat(chat(11, { kind: 'group', title: 'Crew', peer: undefined }));
  m.typing(11, 2, 1000);
  assert.equal(m.typingText(/** @type {any} */ (m.chats.get(11))), 'Bob is typing…');
  m.expireTyping(10_000);
  assert.equal(m.typingText(/** @type {any} */ (m.chats.get(11))), '');
  m.setFilter('@bob');
  assert.deepEqual(m.visibleDialogs().map((c) => c.chat.id), [10]);
  m.setFilter('cre');
  assert.deepEqual(m.visibleDialogs().map((c) => c.chat.id), [11]);
});

test('search results replace only the search under way; snippets split by UTF-16 highlights', () => {
  const m = model();
  m.startSearch('lamp', null);
  m.startSearch('lamps', null);
  const found = { results: [{ message: msg(10, 1, 2, 'the lamps'), snippet: 'the lamps', highlights: /** @type {[number, number][]} */ ([[4, 5]]) }], chats: [chat(10)], users: [BOB] };
  m.searchResults('lamp', found, null, '');
  assert.equal(m.search?.messages.length, 0, 'an older query\'s answer is dropped');
  m.searchResults('lamps', found, { users: [ME, BOB], chats: [] }, '');
  assert.equal(m.search?.messages.length, 1);
  assert.deepEqual(m.search?.people.map((u) => u.id), [2], 'yourself is not offered');
  // "🔦 lamp": the emoji is two UTF-16 units, as the server counts.
  assert.deepEqual(highlightPieces('🔦 lamp here', [[3, 4]]), [{ text: '🔦 ', mark: false }, { text: 'lamp', mark: true }, { text: ' here', mark: false }]);
  assert.deepEqual(highlightPieces('abc', [[1, 99]]), [{ text: 'a', mark: false }, { text: 'bc', mark: true }]);
  m.startSearch('  ', null);
  assert.equal(m.search, null);
});

test('leaving (or being removed from) a chat drops it and stops following its log', () => {
  const m = model();
  m.upsertChat(chat(11, { kind: 'group', title: 'Crew', peer: undefined, chat_pts: 7 }));
  m.open(11);
  assert.deepEqual(m.apply({ ...head(1), type: 'participant', chat_id: 11, user_id: 2, role: 'member', by: 1 }).map((e) => e.type), ['refresh_chat']);
  assert.deepEqual(m.apply({ ...head(2), type: 'participant', chat_id: 11, user_id: 1, by: 1 }), [{ type: 'unfollow', chatId: 11 }]);
  assert.equal(m.chats.has(11), false);
  assert.equal(m.openId, null);
  assert.deepEqual(m.upsertChat(chat(12, { kind: 'channel', title: 'N', peer: undefined, chat_pts: 9 })), [{ type: 'follow', chatId: 12, pts: 9 }]);
});

test('the pinned message: known from the history or fetched, kept fresh by edits, gone with unpin or delete', () => {
  const m = model();
  m.upsertChat(chat(10));
  m.addHistory(10, [msg(10, 1, 2, 'the address'), msg(10, 2, 2, 'small talk')], 'latest', 50);
  const cs = /** @type {any} */ (m.chats.get(10));
  assert.deepEqual(m.apply({ ...head(1), type: 'pinned_message', chat_id: 10, id: 1 }), [], 'loaded: nothing to fetch');
  assert.equal(cs.pinned.content.text, 'the address');
  m.apply({ ...head(2), type: 'edit_message', message: { ...msg(10, 1, 2, 'the new address'), edit_date: 3 } });
  assert.equal(cs.pinned.content.text, 'the new address');
  m.apply({ ...head(3), type: 'pinned_message', chat_id: 10 });
  assert.equal(cs.pinned, null);
  assert.equal(cs.chat.pinned_message_id, undefined);
  // A pin older than the loaded run is fetched, and a stale answer is ignored.
  m.upsertChat(chat(11, { title: 'Old', pinned_message_id: 5 }));
  assert.deepEqual(m.upsertChat(chat(12, { title: 'Older', pinned_message_id: 7 })), [{ type: 'fetch_pinned', chatId: 12, id: 7 }]);
  m.setPinned(12, msg(12, 6, 2, 'not the pin'));
  assert.equal(m.chats.get(12)?.pinned, null);
  m.setPinned(12, msg(12, 7, 2, 'the pin'));
  assert.equal(m.chats.get(12)?.pinned?.id, 7);
  m.apply({ ...head(4), type: 'delete_messages', chat_id: 12, ids: [7] });
  assert.equal(m.chats.get(12)?.pinned, null);
});

test('a jump loads a run around one message; its ends are known from the page sizes', () => {
  const m = model();
  m.upsertChat(chat(10, { top_message_id: 100 }));
  const older = Array.from({ length: 10 }, (_, i) => msg(10, i + 1, 2, `m${i + 1}`));
  const newer = Array.from({ length: 25 }, (_, i) => msg(10, i + 11, 2, `m${i + 11}`));
  m.addAround(10, older, newer, 25);
  const cs = /** @type {any} */ (m.chats.get(10));
  assert.equal(cs.atStart, true, 'fewer than asked below: the first message is loaded');
  assert.equal(cs.atEnd, false);
  assert.deepEqual(ids(cs), Array.from({ length: 35 }, (_, i) => i + 1));
  m.editDraft(10, 'typed', 1);
  m.clearDraft(10);
  assert.equal(cs.draft, null);
});

test('mentions: a new message naming you marks the chat until it is read; members complete an @prefix', () => {
  const m = model();
  m.setMe({ ...ME, username: 'alice_w' });
  m.upsertChat(chat(11, { kind: 'group', title: 'Crew', peer: undefined }));
  const mention = { ...msg(11, 1, 2, 'hey @Alice_W look'), entities: [{ type: 'mention', offset: 4, length: 8 }] };
  m.apply({ ...head(1), type: 'new_message', message: { ...msg(11, 1, 2, 'hey all'), entities: [] } });
  assert.equal(m.chats.get(11)?.mentioned, false);
  m.apply({ ...head(2), type: 'new_message', message: { ...mention, id: 2 } });
  assert.equal(m.chats.get(11)?.mentioned, true);
  m.apply({ ...head(3), type: 'read_inbox', chat_id: 11, max_id: 2 });
  assert.equal(m.chats.get(11)?.mentioned, false);
  m.setMembers(11, [{ ...ME, username: 'alice_w' }, BOB, { id: 3, name: 'Bobby Tables', contact: false, blocked: false }, { id: 4, name: 'Carol Bobson', username: 'carol_c', contact: false, blocked: false }]);
  const cs = /** @type {any} */ (m.chats.get(11));
  assert.deepEqual(m.mentionSuggestions(cs, 'bo').map((u) => u.id), [2, 4], 'by username or a word of the name, only with a username');
  assert.deepEqual(m.mentionSuggestions(cs, 'al').map((u) => u.id), [], 'not yourself');
  assert.deepEqual(m.mentionSuggestions(cs, '').map((u) => u.id), [2, 4]);
});
