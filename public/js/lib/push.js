/// Live board updates from the push role over one WebSocket (docs/push-protocol.md), shared by the
/// pages and the tests.
///
/// The client keeps the last version of every board it follows and resubscribes with it after each
/// reconnect, drops versions it already has and restarts a board's subscription when a version
/// skips ahead, so listeners see every event once and in order. It dispatches CustomEvents whose
/// `detail` is the server's message: `event`, `resync`, `presence`, `unsubscribed`, `error`, plus
/// `status` (`{connected}`) and `signedout` (close 4401, after which it stops reconnecting).

/// Upper bound of the first reconnect delay; it doubles with each failed attempt (full jitter).
const BASE_DELAY_MS = 500;
/// Largest upper bound of a reconnect delay.
const MAX_DELAY_MS = 15000;
/// Close code of an ended session or a revoked token: reconnecting cannot help.
const SIGNED_OUT = 4401;

/// The page's own push endpoint: `ws:` under http, `wss:` under https.
function defaultURL() {
  const scheme = globalThis.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${globalThis.location.host}/push/ws`;
}

/// One push connection for any number of boards, reconnecting until `close()` or a sign-out.
export class PushClient extends EventTarget {
  #url;
  #WebSocket;
  /// Board id → last version applied; null while subscribed "from now" and not yet confirmed.
  #boards = new Map();
  /// Board id → id of the event at the last version applied (sent back as `after_id`, so a history
  /// rewritten by a database failover is noticed); absent when the version came from elsewhere.
  #ids = new Map();
  /// Boards whose subscription is being restarted after a gap, until the new `subscribed`.
  #restarting = new Set();
  #socket = null;
  #open = false;
  #attempt = 0;
  #timer = null;
  #stopped = false;

  /// @param {string} [url] the WebSocket URL; default: `/push/ws` on the page's origin.
  /// @param {{WebSocket?: Function}} [options] another WebSocket implementation (tests, Node).
  constructor(url, options = {}) {
    super();
    this.#url = url || defaultURL();
    this.#WebSocket = options.WebSocket || globalThis.WebSocket;
  }

  /// True while the socket is open.
  get connected() {
    return this.#open;
  }

  /// Follows `board`, receiving its events after version `after` (omitted: only from now on).
  /// Calling it again for a followed board restarts that board from `after`, e.g. after the page
  /// reloaded the board's snapshot.
  /// @param {number} board
  /// @param {number} [after]
  subscribe(board, after) {
    const again = this.#boards.has(board);
    this.#boards.set(board, after ?? null);
    this.#ids.delete(board);
    if (again) this.#restart(board);
    else this.#send(this.#subscription(board));
    this.#connect();
  }

  /// Stops following `board`.
  /// @param {number} board
  unsubscribe(board) {
    if (!this.#boards.delete(board)) return;
    this.#ids.delete(board);
    this.#restarting.delete(board);
    this.#send({ type: 'unsubscribe', board });
  }

  /// The last version of `board` this client has (from `subscribe`'s `after` or from events), or
  /// null when it has none yet.
  /// @param {number} board
  /// @returns {number|null}
  lastVersion(board) {
    return this.#boards.get(board) ?? null;
  }

  /// Closes the connection for good.
  close() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const socket = this.#socket;
    this.#socket = null;
    if (socket) socket.close(1000);
    this.#setOpen(false);
  }

  #connect() {
    if (this.#stopped || this.#socket || this.#timer !== null) return;
    const socket = new this.#WebSocket(this.#url);
    this.#socket = socket;
    socket.onopen = () => {
      this.#setOpen(true);
      for (const board of this.#boards.keys()) this.#send(this.#subscription(board));
    };
    socket.onmessage = (message) => this.#receive(message.data);
    socket.onclose = (close) => this.#closed(socket, close.code);
  }

  /// Any close but a sign-out means "resume": reconnect after a random delay below a bound that
  /// doubles per failed attempt, so that a drained or killed process's clients spread out.
  #closed(socket, code) {
    if (socket !== this.#socket) return;
    this.#socket = null;
    this.#restarting.clear();
    this.#setOpen(false);
    if (code === SIGNED_OUT) {
      this.#stopped = true;
      return this.#emit('signedout', { code });
    }
    if (this.#stopped) return;
    const bound = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 16);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#connect();
    }, Math.random() * bound);
  }

  #receive(text) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (msg === null || typeof msg !== 'object') return;
    const board = msg.board;
    const followed = this.#boards.has(board);
    switch (msg.type) {
      case 'subscribed':
        this.#attempt = 0;
        this.#restarting.delete(board);
        if (followed && this.#boards.get(board) === null) this.#boards.set(board, msg.version);
        return;
      case 'event': {
        if (!followed) return;
        const last = this.#boards.get(board);
        if (last !== null && msg.version <= last) return;
        if (last !== null && msg.version > last + 1) return this.#restart(board);
        this.#boards.set(board, msg.version);
        if (typeof msg.id === 'string') this.#ids.set(board, msg.id);
        else this.#ids.delete(board);
        return this.#emit('event', msg);
      }
      case 'resync':
        if (!followed) return;
        this.#boards.set(board, msg.version);
        this.#ids.delete(board);
        return this.#emit('resync', msg);
      case 'presence':
        if (followed) this.#emit('presence', msg);
        return;
      case 'unsubscribed':
        if (msg.reason !== 'requested') {
          this.#boards.delete(board);
          this.#ids.delete(board);
        }
        return this.#emit('unsubscribed', msg);
      case 'error':
        if (msg.code === 'board_not_found') this.#boards.delete(board);
        if (msg.code === 'unavailable' && followed) setTimeout(() => this.#retry(board), 1000 + Math.random() * 2000);
        return this.#emit('error', msg);
    }
  }

  /// Subscribes again from the last version (the server restarts the subscription); until the
  /// new `subscribed`, events that do not follow on are dropped (the new subscription resends them).
  #restart(board) {
    if (this.#restarting.has(board) || !this.#open) return;
    this.#restarting.add(board);
    this.#send(this.#subscription(board));
  }

  /// Subscribes again after the server could not (error `unavailable`), if still wanted.
  #retry(board) {
    if (this.#boards.has(board)) this.#send(this.#subscription(board));
  }

  #subscription(board) {
    const after = this.#boards.get(board);
    if (after === null) return { type: 'subscribe', board };
    const id = this.#ids.get(board);
    return id === undefined ? { type: 'subscribe', board, after } : { type: 'subscribe', board, after, after_id: id };
  }

  #send(message) {
    if (this.#open) this.#socket.send(JSON.stringify(message));
  }

  #setOpen(open) {
    if (open === this.#open) return;
    this.#open = open;
    this.#emit('status', { connected: open });
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
