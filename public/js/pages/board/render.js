/// The board's columns and cards on the page, kept equal to the store.
///
/// The server renders the first page; from then on every store change updates the nodes it
/// concerns: a card is filled again and put at its place in its column, a column is added, renamed,
/// moved or removed, labels and members are redrawn on the cards that show them. While drag and
/// drop holds a card (`store.held`), columns are not reordered; they are when it lets go.
import { avatar, el, formatDue, isOverdue, paintLabel } from '../../lib/dom.js';

export class BoardRenderer {
  #store;
  #root;
  #columns;
  #dirty = new Set();

  constructor(store, root) {
    this.#store = store;
    this.#root = root;
    this.#columns = root.querySelector('#columns');
    store.addEventListener('card', (e) => this.#onCard(e.detail));
    store.addEventListener('column', (e) => this.#onColumn(e.detail));
    store.addEventListener('label', () => this.#refillAll());
    store.addEventListener('member', () => this.#refillAll());
    // A comment or checklist change moved a count on the card's front.
    store.addEventListener('badges', (e) => {
      const node = this.cardNode(e.detail.id);
      const card = this.#store.cards.get(e.detail.id);
      if (node && card) this.#fill(node, card);
    });
    store.addEventListener('board', () => this.#fillHead());
    store.addEventListener('reset', () => this.renderAll());
    // Drag and drop moved nodes itself: let go, every column takes the store's order again.
    store.addEventListener('hold', () => { for (const id of store.columns.keys()) this.#syncColumn(id); this.#dirty.clear(); });
    store.addEventListener('version', (e) => { root.dataset.version = String(e.detail.version); });
    // The server renders due dates in UTC words; put them in the reader's language and today.
    this.#refillAll();
  }

  columnNode(id) { return this.#columns.querySelector(`.column[data-column-id="${id}"]`); }
  cardNode(id) { return this.#columns.querySelector(`.card[data-card-id="${id}"]`); }

  /// Everything again from the store (after a new snapshot).
  renderAll() {
    this.#fillHead();
    const wanted = new Set(this.#store.columns.keys());
    this.#columns.querySelectorAll('.column[data-column-id]').forEach((node) => {
      if (!wanted.has(Number(node.dataset.columnId))) node.remove();
    });
    for (const column of this.#store.orderedColumns()) this.#upsertColumn(column);
    this.#orderColumns();
    this.#columns.querySelectorAll('.card[data-card-id]').forEach((node) => {
      if (!this.#store.cards.has(Number(node.dataset.cardId))) node.remove();
    });
    for (const column of this.#store.columns.values()) this.#syncColumn(column.id);
    this.#refillAll();
  }

  #fillHead() {
    const board = this.#store.board;
    this.#root.querySelector('.board-name').textContent = board.name;
    let desc = this.#root.querySelector('.board-desc');
    if (!desc && board.description) {
      desc = el('p', { class: 'board-desc' });
      this.#root.querySelector('.board-title').append(desc);
    }
    if (desc) { desc.textContent = board.description || ''; desc.hidden = !board.description; }
    document.title = `${board.name} · Tack`;
  }

  #onCard({ id, card, previous }) {
    if (card) {
      const node = this.cardNode(id) || this.#newCard(card);
      this.#fill(node, card);
      this.#syncOrHold(card.column_id);
    } else {
      const node = this.cardNode(id);
      if (node) node.remove();
    }
    if (previous && (!card || previous.column_id !== card.column_id)) this.#syncOrHold(previous.column_id);
  }

  #syncOrHold(columnId) {
    if (this.#store.held !== null) this.#dirty.add(columnId);
    else this.#syncColumn(columnId);
  }

  #onColumn({ id, column }) {
    if (!column) {
      const node = this.columnNode(id);
      if (node) node.remove();
      return;
    }
    this.#upsertColumn(column);
    this.#orderColumns();
  }

  #upsertColumn(column) {
    let node = this.columnNode(column.id);
    if (!node) {
      node = document.getElementById('column-template').content.firstElementChild.cloneNode(true);
      node.dataset.columnId = column.id;
      const adder = this.#columns.querySelector('.column-new');
      this.#columns.insertBefore(node, adder);
    }
    node.setAttribute('aria-label', column.name);
    (node.querySelector('.column-name-button') || node.querySelector('.column-name')).textContent = column.name;
    this.#count(node);
  }

  #orderColumns() {
    const adder = this.#columns.querySelector('.column-new');
    for (const column of this.#store.orderedColumns()) {
      const node = this.columnNode(column.id);
      if (node) this.#columns.insertBefore(node, adder);
    }
  }

  /// Puts a column's card nodes in the store's order (moving only those out of place).
  #syncColumn(columnId) {
    const node = this.columnNode(columnId);
    if (!node) return;
    const list = node.querySelector('.cards');
    let at = list.firstElementChild;
    for (const card of this.#store.cardsIn(columnId)) {
      const cardNode = this.cardNode(card.id) || this.#fill(this.#newCard(card), card);
      if (cardNode === at) at = at.nextElementSibling;
      else list.insertBefore(cardNode, at);
    }
    while (at) { const next = at.nextElementSibling; at.remove(); at = next; }
    this.#count(node);
  }

  #count(node) {
    const column = this.#store.columns.get(Number(node.dataset.columnId));
    const count = node.querySelectorAll('.cards > .card').length;
    const limit = column && column.wip_limit;
    node.querySelector('.column-count').textContent = limit ? `${count} / ${limit}` : String(count);
    node.classList.toggle('is-over-limit', !!limit && count > limit);
  }

  /// What a screen reader says for a card: title, labels, due date, assignees, done.
  spokenName(card) {
    const store = this.#store;
    const parts = [card.title];
    const labels = card.labels.map((id) => store.labels.get(id)).filter(Boolean).map((l) => l.name);
    if (labels.length) parts.push(`labels: ${labels.join(', ')}`);
    if (card.due_at) {
      parts.push(`due ${formatDue(card.due_at, card.due_has_time)}${isOverdue(card) ? ', overdue' : ''}`);
    }
    const people = card.assignees.map((id) => store.members.get(id)).filter(Boolean).map((m) => m.name);
    if (people.length) parts.push(`assigned to ${people.join(', ')}`);
    if (card.done) parts.push('done');
    return parts.join('. ');
  }

  #newCard(card) {
    const node = document.getElementById('card-template').content.firstElementChild.cloneNode(true);
    node.dataset.cardId = card.id;
    return node;
  }

  #refillAll() {
    for (const card of this.#store.cards.values()) {
      const node = this.cardNode(card.id);
      if (node) this.#fill(node, card);
    }
  }

  #fill(node, card) {
    const store = this.#store;
    node.classList.toggle('is-done', !!card.done);
    const cover = node.querySelector('.card-cover');
    if (cover) {
      const src = card.cover_attachment_id ? `/api/v1/boards/${card.board_id}/cards/${card.id}/attachments/${card.cover_attachment_id}` : '';
      if (cover.getAttribute('src') !== (src || null)) { if (src) cover.src = src; else cover.removeAttribute('src'); }
      cover.hidden = !src;
    }
    node.setAttribute('aria-label', this.spokenName(card));
    node.querySelector('.card-title').textContent = card.title;
    node.querySelector('.card-labels').replaceChildren(...card.labels.map((id) => store.labels.get(id)).filter(Boolean).map((label) => {
      const chip = el('span', { class: 'label-chip', title: label.name, text: label.name, dataset: { labelId: label.id } });
      paintLabel(chip, label.color);
      return chip;
    }));
    node.querySelector('.badge-done').hidden = !card.done;
    const due = node.querySelector('.badge-due');
    due.hidden = !card.due_at;
    if (card.due_at) {
      due.dateTime = card.due_at;
      due.textContent = formatDue(card.due_at, card.due_has_time);
    }
    due.classList.toggle('is-overdue', isOverdue(card));
    node.querySelector('.badge-desc').hidden = !(card.description || '').trim();
    const comments = node.querySelector('.badge-comments');
    comments.hidden = !card.comment_count;
    comments.textContent = String(card.comment_count || 0);
    comments.title = `Comments: ${card.comment_count || 0}`;
    const progress = card.checklist_progress || { total: 0, done: 0 };
    const checklist = node.querySelector('.badge-checklist');
    checklist.hidden = !progress.total;
    checklist.textContent = `${progress.done}/${progress.total}`;
    checklist.title = `Checklist items done: ${progress.done} of ${progress.total}`;
    checklist.classList.toggle('is-complete', progress.total > 0 && progress.done === progress.total);
    node.querySelector('.card-assignees').replaceChildren(...card.assignees.map((id) => store.members.get(id)).filter(Boolean)
      .map((m) => avatar(m.user_id, m.name, true)));
    return node;
  }
}
