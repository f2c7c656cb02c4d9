/// BoardState: the board as the page knows it, changed only by applying board events.
///
/// Events come from the page's own write replies (`reply.event`), from push and from the event
/// log (a catch-up); each version is applied once and in order. An event that arrives ahead of a
/// missing one waits in `#pending` and the store asks for the gap to be filled (`gap`). Listeners
/// hear what changed as CustomEvents: `card` {id, card, previous, event}, `column` {id, column,
/// previous}, `label`, `member`, `board`, `comment` {event}, `attachment` {event}, `checklist` {event} (checklist and
/// checklist_item kinds), `badges` {id} (a card's comment count or checklist progress moved), `version`, `reset` (a new snapshot),
/// `applied` {event} (every event, any kind, after the one of its kind), `gap` {after, urgent} and
/// `hold` (drag and drop let go of the order).

/// Positions are compared byte-wise (PostgreSQL's COLLATE "C"), ties by id.
function byPosition(a, b) {
  if (a.position !== b.position) return a.position < b.position ? -1 : 1;
  return a.id - b.id;
}

/// An event from `GET /boards/{id}/events` in the shape push and write replies use.
export function fromLog(e) {
  return { type: 'event', board: e.board_id, version: e.version, kind: e.kind, actor: e.actor_id,
           card: e.card_id, at: e.created_at, data: e.payload };
}

export class BoardState extends EventTarget {
  /// The signed-in user's id (to tell own events from others').
  me;
  /// Card id currently held in place by drag and drop (its column is not reordered), or null.
  held = null;
  #pending = new Map();
  /// Card id → the user whose event changed it last (for "changed by <name>").
  #actors = new Map();

  /// @param {object} snapshot the board's snapshot (`GET /api/v1/boards/{id}`)
  /// @param {number} me the signed-in user's id
  constructor(snapshot, me) {
    super();
    this.me = me;
    this.#take(snapshot);
  }

  /// Replaces everything with a newer snapshot (after a `resync`); older events waiting are dropped.
  load(snapshot) {
    if (snapshot.board.version < this.version) return;
    this.#take(snapshot);
    this.#emit('reset', {});
    this.#emit('version', { version: this.version });
    this.#drain();
  }

  #take(snapshot) {
    this.board = snapshot.board;
    this.version = snapshot.board.version;
    this.columns = new Map(snapshot.columns.map((c) => [c.id, c]));
    this.cards = new Map(snapshot.cards.map((c) => [c.id, c]));
    this.labels = new Map(snapshot.labels.map((l) => [l.id, l]));
    this.members = new Map(snapshot.members.map((m) => [m.user_id, m]));
    for (const v of this.#pending.keys()) if (v <= this.version) this.#pending.delete(v);
  }

  /// Applies a board event (push's shape). Returns false for a version already applied.
  /// `urgent`: the caller knows the events before it exist (its own write): fill a gap at once.
  apply(event, urgent = false) {
    if (!event || typeof event.version !== 'number' || event.version <= this.version) return false;
    this.#pending.set(event.version, event);
    this.#drain(urgent);
    return true;
  }

  #drain(urgent = false) {
    let applied = false;
    while (this.#pending.has(this.version + 1)) {
      const event = this.#pending.get(this.version + 1);
      this.#pending.delete(this.version + 1);
      this.version = event.version;
      this.#applyOne(event);
      this.#emit('applied', { event });
      applied = true;
    }
    if (applied) this.#emit('version', { version: this.version });
    if (this.#pending.size) this.#emit('gap', { after: this.version, urgent });
  }

  /// The highest version waiting behind a gap (0 when none).
  get waitingFor() {
    return this.#pending.size ? Math.max(...this.#pending.keys()) : 0;
  }

  #applyOne(event) {
    const data = event.data || {};
    const [what, verb] = event.kind.split('.');
    switch (what) {
      case 'board':
        if (verb === 'updated') this.board = { ...this.board, ...data, role: this.board.role, version: this.version };
        return this.#emit('board', { event });
      case 'column': {
        const previous = this.columns.get(data.id) || null;
        if (verb === 'deleted' || data.archived) {
          // Archived with its cards: both leave the board.
          this.columns.delete(data.id);
          for (const card of [...this.cards.values()]) if (card.column_id === data.id) this.cards.delete(card.id);
        } else this.columns.set(data.id, data);
        // A restored column comes back without its cards, which the store has never seen: the
        // listener reads them (a new snapshot).
        const restored = verb === 'updated' && !previous && !data.archived;
        return this.#emit('column', { id: data.id, column: this.columns.get(data.id) || null, previous, event, restored });
      }
      case 'card': {
        const previous = this.cards.get(data.id) || null;
        this.#actors.set(data.id, event.actor);
        if (verb === 'deleted' || data.archived) this.cards.delete(data.id);
        else this.cards.set(data.id, data);
        return this.#emit('card', { id: data.id, card: this.cards.get(data.id) || null, previous, event });
      }
      case 'label':
        if (verb === 'deleted') {
          this.labels.delete(data.id);
          for (const card of this.cards.values()) card.labels = card.labels.filter((l) => l !== data.id);
        } else this.labels.set(data.id, data);
        return this.#emit('label', { id: data.id, event });
      case 'member':
        if (verb === 'removed') {
          this.members.delete(data.user_id);
          for (const card of this.cards.values()) card.assignees = card.assignees.filter((a) => a !== data.user_id);
        } else this.members.set(data.user_id, data);
        return this.#emit('member', { id: data.user_id, event });
      case 'comment': {
        // The card's front counts its comments; an edit does not change the count.
        const card = this.cards.get(event.card);
        if (card && verb !== 'updated') {
          card.comment_count = Math.max(0, (card.comment_count || 0) + (verb === 'created' ? 1 : -1));
          this.#emit('badges', { id: card.id });
        }
        return this.#emit('comment', { event });
      }
      case 'attachment':
        return this.#emit('attachment', { event });
      case 'checklist':
      case 'checklist_item': {
        // Every checklist event carries the card's progress after it.
        const card = this.cards.get(event.card);
        if (card && data.card_progress) {
          card.checklist_progress = data.card_progress;
          this.#emit('badges', { id: card.id });
        }
        return this.#emit('checklist', { event });
      }
    }
  }

  /// Columns in board order.
  orderedColumns() {
    return [...this.columns.values()].sort(byPosition);
  }

  /// The cards of a column, in order.
  cardsIn(columnId) {
    return [...this.cards.values()].filter((c) => c.column_id === columnId).sort(byPosition);
  }

  /// Where a card is, as a move names it (after the card above it, before the one below, or index 0
  /// of an empty column): what an Undo sends to put it back.
  placeOf(cardId) {
    const card = this.cards.get(cardId);
    if (!card) return null;
    const list = this.cardsIn(card.column_id);
    const i = list.findIndex((c) => c.id === cardId);
    const place = { column_id: card.column_id };
    if (i > 0) place.after = list[i - 1].id;
    else if (list.length > 1) place.before = list[1].id;
    else place.index = 0;
    return place;
  }

  /// The user whose event changed the card last, as far as this page saw (null: not seen).
  lastActor(cardId) {
    return this.#actors.get(cardId) ?? null;
  }

  /// A member's name, or a fallback for someone who left.
  nameOf(userId) {
    const m = this.members.get(userId);
    return m ? m.name : 'someone';
  }

  /// Drag and drop keeps `cardId`'s place on the page (null lets go; the renderer reorders).
  hold(cardId) {
    this.held = cardId;
    if (cardId === null) this.#emit('hold', {});
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
