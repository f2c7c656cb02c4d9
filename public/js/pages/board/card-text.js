/// A typed text of the open card (title or description) while the reader edits it.
///
/// Typing keeps a draft (sessionStorage) with the value it started from and the card's version
/// then; reopening the card restores it. The save sends that version as its precondition (a 412
/// whose card still holds the starting value is retried silently with the new version). When the
/// card's value changes under the reader (live, or per a 412), "changed by <name>" offers keep mine
/// (their value becomes the new base; mine is saved over it) or take theirs.
import { clearDraft, loadDraft, saveDraft } from '../../lib/drafts.js';
import { toast } from '../../lib/dom.js';
import { clear, offerChoice, same, saveTyped } from './conflict.js';

export class CardText {
  /// @param {object} o
  /// o.field 'title' | 'description'; o.what its name in messages; o.input the text control;
  /// o.choice the box for the choice; o.show(card) shows the saved value (editing over);
  /// o.begin() shows the editor (if the field has a separate one).
  constructor(store, sync, o) {
    Object.assign(this, o);
    this.store = store;
    this.sync = sync;
    this.card = null;
    this.editing = null; // {base, baseVersion} while the reader edits
    this.input.addEventListener('input', () => this.#remember());
  }

  #key() { return `${this.store.board.id}:card:${this.card.id}:${this.field}`; }

  #remember() {
    if (!this.card) return;
    if (!this.editing) this.editing = { base: this.card[this.field] ?? '', baseVersion: this.card.version };
    saveDraft(this.#key(), { value: this.input.value, base: this.editing.base, baseVersion: this.editing.baseVersion });
  }

  /// The dialog opened `card`: its value, or the draft left for it.
  open(card) {
    this.card = card;
    this.editing = null;
    clear(this.choice);
    const draft = loadDraft(this.#key());
    if (!draft || draft.value === (card[this.field] ?? '')) {
      if (draft) clearDraft(this.#key());
      return this.show(card);
    }
    this.editing = { base: draft.base, baseVersion: draft.baseVersion };
    this.begin();
    this.input.value = draft.value;
    this.restored = true;
    if (!same(card[this.field], draft.base)) this.#offer(card, null);
  }

  /// Starts editing from the saved value.
  start() {
    this.editing = { base: this.card[this.field] ?? '', baseVersion: this.card.version };
    this.input.value = this.editing.base;
    this.begin();
  }

  /// The card changed in the store while open.
  changed(card, event) {
    this.card = card;
    if (!this.editing) return this.show(card);
    if (same(card[this.field], this.editing.base)) { this.editing.baseVersion = card.version; return; }
    if (same(card[this.field], this.input.value)) return this.#settle(card);
    this.#offer(card, event ? event.actor : null);
  }

  /// Offers the choice; `fromSave`: keeping mine saves it at once.
  #offer(card, actor, fromSave = false) {
    offerChoice(this.choice, {
      who: actor ? this.store.nameOf(actor) : 'someone else', what: this.what, theirs: card[this.field] ?? '',
      onKeep: () => {
        this.editing = { base: card[this.field] ?? '', baseVersion: card.version };
        this.#remember();
        if (fromSave) this.save();
      },
      onTake: () => this.#settle(this.store.cards.get(card.id) || card),
    });
  }

  /// Editing ends with `card`'s value shown and no draft.
  #settle(card) {
    clearDraft(this.#key());
    this.editing = null;
    clear(this.choice);
    this.show(card);
  }

  /// Drops the draft on purpose (the Cancel button).
  discard() {
    if (this.card) this.#settle(this.store.cards.get(this.card.id) || this.card);
  }

  /// Saves the typed value (no-op when nothing changed). Resolves when saved or a choice is offered.
  async save() {
    if (!this.card || !this.editing) return;
    const id = this.card.id;
    const value = this.field === 'title' ? this.input.value.trim() : this.input.value;
    if (this.field === 'title' && !value) return this.#settle(this.card);
    if (value === (this.card[this.field] ?? '') && this.editing.base === value) return this.#settle(this.card);
    try {
      const result = await saveTyped({
        send: (version) => this.sync.write('PATCH', `/cards/${id}`, { [this.field]: value }, { ifMatch: version }),
        field: this.field, base: this.editing.base, version: this.editing.baseVersion, key: 'card', sync: this.sync,
      });
      if (!this.card || this.card.id !== id) return;
      if (result.conflict) return this.#offer(result.conflict, this.store.lastActor(id), true);
      this.#settle(this.store.cards.get(id) || result.reply.card);
    } catch (error) {
      toast(error.message, 'error');
    }
  }

  /// Saves `value` over the saved value without the editor (a task ticked in the shown text): the
  /// same precondition and the same choice as a typed edit. A failed save shows the saved value again.
  async saveValue(value) {
    if (!this.card || this.editing) return;
    this.editing = { base: this.card[this.field] ?? '', baseVersion: this.card.version };
    this.input.value = value;
    await this.save();
    if (this.editing && this.choice.hidden) this.discard();
  }

  /// The dialog closed: the draft (if any) stays for the next time.
  close() {
    this.card = null;
    this.editing = null;
    clear(this.choice);
  }
}
