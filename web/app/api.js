// One WebSocket to the server's `/ws`: requests and answers, live frames, reconnection with
// backoff. It knows the framing of docs/protocol.md §1 and nothing about chats.

/** @typedef {import('./types.js').ServerFrame} ServerFrame */
/** @typedef {import('./types.js').Update} Update */

/** A failed request: `code` is the server's stable error code, or `DISCONNECTED`. */
export class RpcError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {number} [retryAfter]
   */
  constructor(code, message, retryAfter) {
    super(message);
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/**
 * @typedef {object} Handlers
 * @property {(ready: boolean) => void} status connected (and the `onOpen` work done) or not
 * @property {() => Promise<void>} onOpen runs on every new connection before `status(true)`;
 *   requests made inside it go out at once
 * @property {(u: Update) => void} update
 * @property {(chatId: number, userId: number) => void} typing
 * @property {() => void} resync
 * @property {(reason: string) => void} revoked the session ended (close code 4001)
 */

const MAX_BACKOFF_MS = 10_000;
const HEARTBEAT_MS = 25_000;
const PROBE_TIMEOUT_MS = 10_000;

export class Connection {
  /** @param {Handlers} handlers */
  constructor(handlers) {
    this.handlers = handlers;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.nextId = 1;
    /** @type {Map<number, {resolve: (v: any) => void, reject: (e: RpcError) => void}>} */
    this.pending = new Map();
    /** True once `onOpen` has finished on the current socket. */
    this.ready = false;
    /** @type {Array<() => void>} */
    this.readyWaiters = [];
    this.backoff = 500;
    this.stopped = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.probing = false;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.heartbeat = undefined;
    window.addEventListener('online', () => this.reconnectNow());
    // The browser knows the network is gone (or the laptop went to sleep): do not wait for
    // TCP to notice. Drop the socket now and reconnect when the network is back.
    window.addEventListener('offline', () => this.drop());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.probe();
    });
  }

  /** Forgets the current socket as if it had closed, and schedules a reconnect. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    ws.onclose = null;
    ws.onmessage = null;
    ws.onopen = null;
    try {
      ws.close(4000, 'network lost');
    } catch {
      // Already closed.
    }
    this.closed(ws, 1006);
  }

  /** An answer within a few seconds, or the socket is dropped. */
  probe() {
    if (!this.ready || this.probing) return;
    this.probing = true;
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new RpcError('DISCONNECTED', 'no answer')), PROBE_TIMEOUT_MS));
    Promise.race([this.call('updates.get_state'), timeout]).then(
      () => {},
      (e) => {
        if (e instanceof RpcError && e.code === 'DISCONNECTED') this.drop();
      },
    ).finally(() => (this.probing = false));
  }

  url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws`;
  }

  start() {
    this.stopped = false;
    // A socket can die silently (sleep, NAT timeout): probe it now and then.
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.probe(), HEARTBEAT_MS);
    this.open();
  }

  stop() {
    this.stopped = true;
    this.ready = false;
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    this.ws?.close(1000, 'bye');
    this.ws = null;
  }

  /** Skips the backoff wait (the browser says the network is back). */
  reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.timer);
    this.backoff = 500;
    this.open();
  }

  open() {
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = async () => {
      this.backoff = 500;
      try {
        await this.handlers.onOpen();
      } catch (e) {
        // A failed sign-in or catch-up: drop this socket and try again later (unless the
        // session was revoked, which `onOpen` reports itself).
        if (ws === this.ws && !(e instanceof RpcError && e.code === 'SESSION_REVOKED')) ws.close(4000, 'retry');
        return;
      }
      if (ws !== this.ws) return;
      this.ready = true;
      this.handlers.status(true);
      for (const w of this.readyWaiters.splice(0)) w();
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws || typeof ev.data !== 'string') return;
      /** @type {ServerFrame} */
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.frame(frame);
    };
    ws.onclose = (ev) => this.closed(ws, ev.code, ev.reason);
  }

  /**
   * @param {WebSocket} ws
   * @param {number} code
   * @param {string} [reason]
   */
  closed(ws, code, reason = '') {
    if (ws !== this.ws) return;
    this.ws = null;
    this.ready = false;
    for (const p of this.pending.values()) p.reject(new RpcError('DISCONNECTED', 'the connection was lost'));
    this.pending.clear();
    this.handlers.status(false);
    if (code === 4001) {
      this.stopped = true;
      this.handlers.revoked(reason);
      return;
    }
    if (this.stopped) return;
    const wait = this.backoff * (0.75 + Math.random() / 2);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), wait);
  }

  /** @param {ServerFrame} frame */
  frame(frame) {
    switch (frame.type) {
      case 'result': {
        const p = this.pending.get(frame.id);
        this.pending.delete(frame.id);
        p?.resolve(frame.result);
        break;
      }
      case 'error': {
        if (frame.id === undefined) break;
        const p = this.pending.get(frame.id);
        this.pending.delete(frame.id);
        p?.reject(new RpcError(frame.error.code, frame.error.message, frame.error.retry_after));
        break;
      }
      case 'update':
        this.handlers.update(frame.update);
        break;
      case 'typing':
        this.handlers.typing(frame.chat_id, frame.user_id);
        break;
      case 'resync':
        this.handlers.resync();
        break;
    }
  }

  /**
   * Sends one request on the current socket; fails with `DISCONNECTED` if there is none or it
   * drops before the answer.
   * @template T
   * @param {string} method
   * @param {object} [params]
   * @returns {Promise<T>}
   */
  call(method, params) {
    return new Promise((resolve, reject) => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject(new RpcError('DISCONNECTED', 'not connected'));
        return;
      }
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params: params ?? {} }));
    });
  }

  /** Resolves once connected and caught up. */
  whenReady() {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(() => resolve(undefined)));
  }

  /**
   * Like `call`, for idempotent requests (`messages.send` with its `random_id`): waits for
   * the connection and repeats the request across reconnects and `FLOOD_WAIT`s until the
   * server answers.
   * @template T
   * @param {string} method
   * @param {object} params
   * @returns {Promise<T>}
   */
  async callRetrying(method, params) {
    for (;;) {
      await this.whenReady();
      try {
        return await this.call(method, params);
      } catch (e) {
        if (!(e instanceof RpcError)) throw e;
        if (e.code === 'DISCONNECTED') continue;
        if (e.code === 'FLOOD_WAIT' || e.code === 'INTERNAL') {
          await new Promise((r) => setTimeout(r, 1000 * (e.retryAfter ?? 1)));
          continue;
        }
        throw e;
      }
    }
  }
}

/** A random id within ±(2^53 − 1), as docs/protocol.md asks of JavaScript clients. */
export function randomId() {
  const a = new Uint32Array(2);
  crypto.getRandomValues(a);
  return (a[0] & 0x1fffff) * 2 ** 32 + a[1] || 1;
}
