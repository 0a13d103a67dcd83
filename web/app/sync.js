// The pts rule of docs/protocol.md §3: one position per update log (the user log and each
// followed chat log), live updates applied in order, gaps filled by a difference, positions
// kept in localStorage. No DOM here.

import { RpcError } from './api.js';

/** @typedef {import('./types.js').Update} Update */
/** @typedef {import('./types.js').Difference} Difference */

/** The user log's key; chat logs use their chat id. */
const USER_LOG = 0;

/**
 * @typedef {object} SyncDeps
 * @property {string} storageKey where the positions are persisted
 * @property {(pts: number) => Promise<Difference>} userDifference
 * @property {(chatId: number, pts: number) => Promise<Difference>} chatDifference
 * @property {() => Promise<number>} userState `updates.get_state` for a fresh client
 * @property {(u: Update) => void} apply applies one update to the application's state
 * @property {(log: number) => void} tooLong the client is too far behind on this log
 *   (0: the user log): reload what it shows
 */

export class Sync {
  /** @param {SyncDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** @type {Map<number, number>} log -> local pts */
    this.local = new Map();
    /** @type {Map<number, Update[]>} live updates waiting for a difference or a follow */
    this.held = new Map();
    /** @type {Set<number>} logs with a difference in flight */
    this.fetching = new Set();
    /** While catching up after a (re)connect every live update is held. */
    this.paused = true;
    this.load();
  }

  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.deps.storageKey) ?? 'null');
      if (saved && typeof saved.user === 'number') {
        this.local.set(USER_LOG, saved.user);
        for (const [id, pts] of Object.entries(saved.chats ?? {})) {
          if (typeof pts === 'number') this.local.set(Number(id), pts);
        }
      }
    } catch {
      // A corrupt entry: start fresh.
    }
  }

  save() {
    const user = this.local.get(USER_LOG);
    if (user === undefined) return;
    /** @type {Record<string, number>} */
    const chats = {};
    for (const [log, pts] of this.local) if (log !== USER_LOG) chats[log] = pts;
    localStorage.setItem(this.deps.storageKey, JSON.stringify({ user, chats }));
  }

  /** True when there is no stored position for the user log (a fresh client). */
  get fresh() {
    return !this.local.has(USER_LOG);
  }

  /** Whether a chat's own log is followed. */
  /** @param {number} chatId */
  follows(chatId) {
    return this.local.has(chatId);
  }

  /**
   * Starts following a chat's own log from `pts` (a `Chat.chat_pts` seen with a `role`).
   * Keeps an existing position: a stored one may be behind, and the catch-up fills the rest.
   * @param {number} chatId
   * @param {number} pts
   */
  follow(chatId, pts) {
    if (this.local.has(chatId)) return;
    this.local.set(chatId, pts);
    this.save();
    this.drain(chatId);
  }

  /** @param {number} chatId */
  unfollow(chatId) {
    this.local.delete(chatId);
    this.held.delete(chatId);
    this.save();
  }

  /**
   * Catch-up after a (re)connect, with live updates held meanwhile (§3.8 steps 3–5).
   */
  async catchUp() {
    this.paused = true;
    try {
      if (this.fresh) {
        this.local.set(USER_LOG, await this.deps.userState());
        this.save();
      } else {
        await this.difference(USER_LOG);
      }
      for (const log of [...this.local.keys()]) {
        if (log !== USER_LOG) await this.difference(log);
      }
    } finally {
      this.paused = false;
    }
    for (const log of [...this.held.keys()]) this.drain(log);
  }

  /** A `resync` frame: fetch every log's difference, holding live updates. */
  resync() {
    return this.catchUp();
  }

  /**
   * One live update.
   * @param {Update} u
   */
  receive(u) {
    const log = u.log ?? USER_LOG;
    if (this.paused || this.fetching.has(log) || !this.local.has(log)) {
      this.hold(log, u);
      return;
    }
    this.process(log, u);
  }

  /**
   * @param {number} log
   * @param {Update} u
   */
  hold(log, u) {
    let list = this.held.get(log);
    if (!list) this.held.set(log, (list = []));
    // Bounded: a log so far behind is caught up by its difference anyway.
    if (list.length < 10_000) list.push(u);
  }

  /**
   * The rule of §3.2.
   * @param {number} log
   * @param {Update} u
   */
  process(log, u) {
    const local = this.local.get(log);
    if (local === undefined) return this.hold(log, u);
    if (u.pts <= local) return;
    if (u.pts === local + u.pts_count) {
      this.local.set(log, u.pts);
      this.deps.apply(u);
      this.save();
      return;
    }
    this.hold(log, u);
    this.difference(log).then(
      () => this.drain(log),
      () => {},
    );
  }

  /**
   * Replays the held updates of a log through the rule, unless it is still waiting.
   * @param {number} log
   */
  drain(log) {
    if (this.paused || this.fetching.has(log) || !this.local.has(log)) return;
    const list = this.held.get(log);
    if (!list) return;
    this.held.delete(log);
    list.sort((a, b) => a.pts - b.pts);
    for (let i = 0; i < list.length; i++) {
      if (this.fetching.has(log)) {
        // A new gap: keep the rest for after this difference.
        for (const u of list.slice(i)) this.hold(log, u);
        return;
      }
      this.process(log, list[i]);
    }
  }

  /**
   * Fetches and applies the difference of one log from its local position (§3.5, §3.6).
   * At most one per log is in flight.
   * @param {number} log
   */
  async difference(log) {
    if (this.fetching.has(log)) return;
    this.fetching.add(log);
    try {
      for (;;) {
        const local = this.local.get(log);
        if (local === undefined) return;
        /** @type {Difference} */
        let diff;
        try {
          diff = log === USER_LOG ? await this.deps.userDifference(local) : await this.deps.chatDifference(log, local);
        } catch (e) {
          if (e instanceof RpcError && e.code === 'CHAT_NOT_FOUND' && log !== USER_LOG) {
            this.unfollow(log);
            return;
          }
          throw e;
        }
        if (diff.type === 'complete' || diff.type === 'slice') {
          for (const u of diff.updates) {
            const now = this.local.get(log) ?? 0;
            if (u.pts <= now) continue;
            this.local.set(log, u.pts);
            this.deps.apply(u);
          }
        }
        if (!this.local.has(log)) return;
        this.local.set(log, diff.pts);
        this.save();
        if (diff.type === 'too_long') this.deps.tooLong(log);
        if (diff.type !== 'slice') return;
      }
    } finally {
      this.fetching.delete(log);
    }
  }
}
