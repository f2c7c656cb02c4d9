/// The open card's checklists: loaded when the dialog opens, then kept current by the store's
/// `checklist` events (own writes and others' alike; each carries the object at its version, so an
/// event older than what the list holds is ignored). Items are ticked, edited, given to a member,
/// dated, moved up and down and deleted; every change is one API write.
import { api } from '../../lib/api.js';
import { dueDay, el, formatDue, toast } from '../../lib/dom.js';

const byPosition = (a, b) => (a.position === b.position ? a.id - b.id : a.position < b.position ? -1 : 1);

export class Checklists {
  #store;
  #sync;
  #canWrite;
  #box = document.getElementById('cd-checklists');
  #form = document.getElementById('cd-checklist-form');
  #card = null;
  /// Checklist id → checklist (with `items`), for the open card; null while loading.
  #lists = null;
  /// Events that came while the list was loading, applied after it.
  #early = [];
  /// Ids deleted while loading (a slower read may still hold them).
  #gone = new Set();

  constructor(store, sync) {
    this.#store = store;
    this.#sync = sync;
    this.#canWrite = store.board.role !== 'viewer';
    store.addEventListener('checklist', (e) => this.#onEvent(e.detail.event));
    store.addEventListener('member', () => this.#render());
    const add = document.getElementById('cd-checklist-add');
    if (add && this.#form) {
      const title = this.#form.elements.title;
      add.addEventListener('click', () => { this.#form.hidden = false; title.value = title.value || 'Checklist'; title.select(); title.focus(); });
      this.#form.querySelector('[data-action="cancel-checklist"]').addEventListener('click', () => { this.#form.hidden = true; });
      this.#form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const text = title.value.trim();
        if (!text) { title.focus(); return; }
        const id = this.#card;
        try {
          const reply = await sync.write('POST', `/cards/${id}/checklists`, { title: text });
          this.#form.hidden = true;
          title.value = '';
          const input = this.#box.querySelector(`[data-checklist-id="${reply.checklist.id}"] .checklist-add input`);
          if (input) input.focus();
        } catch (error) { toast(error.message, 'error'); }
      });
    }
  }

  /// The dialog opened card `id`.
  async open(id) {
    this.#card = id;
    this.#lists = null;
    this.#early = [];
    this.#gone = new Set();
    if (this.#form) this.#form.hidden = true;
    this.#box.replaceChildren(el('p', { class: 'muted small', text: 'Loading checklists…' }));
    try {
      const reply = await api('GET', this.#sync.path(`/cards/${id}/checklists`));
      if (this.#card !== id) return;
      this.#lists = new Map(reply.items.filter((l) => !this.#gone.has(l.id)).map((l) => [l.id, l]));
      for (const event of this.#early) this.#take(event);
      this.#early = [];
      this.#render();
    } catch (error) {
      if (this.#card === id) this.#box.replaceChildren(el('p', { class: 'form-error', text: error.message }));
    }
  }

  close() { this.#card = null; this.#lists = null; }

  /// The open card's checklists as the bodies that make them again (in order, with their items),
  /// or null while they load: taken before the card is deleted, so its Undo can `restore` them.
  snapshot() {
    if (!this.#lists) return null;
    return [...this.#lists.values()].sort(byPosition).map((list) => ({
      title: list.title,
      items: [...list.items].sort(byPosition).map((item) => ({
        text: item.text,
        done: item.done,
        // Someone who has left the board since cannot be given the item again.
        assignee_id: this.#store.members.has(item.assignee_id) ? item.assignee_id : null,
        due_at: item.due_at || null,
      })),
    }));
  }

  /// Makes a `snapshot` again on card `cardID` (the card remade by an Undo), one write per checklist.
  async restore(cardID, saved) {
    for (const body of saved || []) await this.#sync.write('POST', `/cards/${cardID}/checklists`, body);
  }

  #onEvent(event) {
    if (this.#card === null || event.card !== this.#card) return;
    if (this.#lists === null) {
      this.#early.push(event);
      const data = event.data || {};
      if (event.kind === 'checklist.deleted') this.#gone.add(data.id);
      return;
    }
    this.#take(event);
    this.#render();
  }

  /// Applies one event to the open card's lists (never an older state over a newer one).
  #take(event) {
    const data = event.data || {};
    const lists = this.#lists;
    switch (event.kind) {
      case 'checklist.created':
      case 'checklist.updated': {
        const held = lists.get(data.id);
        if (held && held.version > data.version) return;
        // The event's items are as of its version: keep any newer one this page already holds.
        const items = new Map(data.items.map((i) => [i.id, i]));
        if (held) for (const i of held.items) if ((items.get(i.id)?.version ?? -1) < i.version && i.checklist_id === data.id) items.set(i.id, i);
        lists.set(data.id, { ...data, items: [...items.values()] });
        return;
      }
      case 'checklist.deleted':
        lists.delete(data.id);
        return;
      case 'checklist_item.created':
      case 'checklist_item.updated': {
        let held = null;
        for (const list of lists.values()) held = held || list.items.find((i) => i.id === data.id);
        if (held && held.version > data.version) return;
        for (const list of lists.values()) list.items = list.items.filter((i) => i.id !== data.id);
        const list = lists.get(data.checklist_id);
        if (list) list.items.push(data);
        return;
      }
      case 'checklist_item.deleted':
        for (const list of lists.values()) list.items = list.items.filter((i) => i.id !== data.id);
    }
  }

  /// Draws the lists again, keeping what the reader is typing and where the focus is.
  #render() {
    if (!this.#lists || this.#card === null) return;
    const active = document.activeElement;
    const keep = active && this.#box.contains(active) && active.dataset.key
      ? { key: active.dataset.key, value: active.value, start: active.selectionStart, end: active.selectionEnd } : null;
    const typed = new Map([...this.#box.querySelectorAll('input[data-key]')].map((i) => [i.dataset.key, i.value]));
    const lists = [...this.#lists.values()].sort(byPosition);
    this.#box.replaceChildren(...lists.map((list) => this.#list(list)));
    if (!lists.length) this.#box.append(el('p', { class: 'muted small', text: 'No checklist yet.' }));
    for (const input of this.#box.querySelectorAll('input[data-key]')) {
      if (typed.has(input.dataset.key) && input.type === 'text') input.value = typed.get(input.dataset.key);
    }
    if (keep) {
      const input = this.#box.querySelector(`[data-key="${keep.key}"]`);
      if (input) {
        input.focus({ preventScroll: true });
        if (input.type === 'text') { input.value = keep.value; input.setSelectionRange(keep.start, keep.end); }
      }
    }
  }

  #list(list) {
    const items = list.items.sort(byPosition);
    const done = items.filter((i) => i.done).length;
    const percent = items.length ? Math.round((done * 100) / items.length) : 0;
    const headingId = `checklist-${list.id}-title`;
    const head = el('div', { class: 'checklist-head' },
      el('h4', { id: headingId, class: 'checklist-title', text: list.title }),
      el('span', { class: 'checklist-count muted small', text: `${done}/${items.length}` }));
    if (this.#canWrite) {
      head.append(
        this.#button('Rename', `Rename the checklist ${list.title}`, () => this.#rename(list)),
        this.#button('Delete', `Delete the checklist ${list.title}`, () => this.#deleteList(list)));
    }
    const bar = el('div', { class: 'checklist-bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100',
                            'aria-valuenow': String(percent), 'aria-label': `${list.title}: ${done} of ${items.length} done` },
      el('span', { class: 'checklist-bar-fill', dataset: { percent: String(percent) } }));
    bar.firstChild.style.width = `${percent}%`;
    const ol = el('ol', { class: 'checklist-items', 'aria-labelledby': headingId },
      ...items.map((item, index) => this.#item(list, item, index, items.length)));
    const section = el('div', { class: 'checklist', dataset: { checklistId: list.id } }, head, bar, ol);
    if (this.#canWrite) section.append(this.#addForm(list));
    return section;
  }

  #item(list, item, index, count) {
    const box = el('input', { type: 'checkbox', 'aria-label': `Done: ${item.text}`, dataset: { key: `done-${item.id}` } });
    box.checked = item.done;
    box.disabled = !this.#canWrite;
    box.addEventListener('change', () => this.#write('PATCH', `/checklist_items/${item.id}`, { done: box.checked }));
    const meta = el('span', { class: 'checklist-meta' });
    if (item.assignee_id) meta.append(el('span', { class: 'badge', text: this.#store.nameOf(item.assignee_id) }));
    if (item.due_at) meta.append(el('time', { class: 'badge badge-due', datetime: item.due_at, text: formatDue(item.due_at) }));
    const li = el('li', { class: 'checklist-item' + (item.done ? ' is-done' : ''), dataset: { itemId: item.id } },
      box, el('span', { class: 'checklist-text', text: item.text }), meta);
    if (this.#canWrite) {
      const more = this.#button('Edit', `Edit the item ${item.text}`, () => {
        const open = li.querySelector('.checklist-edit');
        if (open) open.remove(); else li.append(this.#editor(list, item, index, count));
      });
      more.dataset.key = `edit-${item.id}`;
      li.append(more);
    }
    return li;
  }

  /// The item's editor: text, member, due day, move up or down, delete.
  #editor(list, item, index, count) {
    const text = el('input', { type: 'text', maxlength: '1000', 'aria-label': 'Item text', dataset: { key: `text-${item.id}` } });
    text.value = item.text;
    const who = el('select', { 'aria-label': 'Give the item to' }, el('option', { value: '', text: 'Nobody' }),
      ...[...this.#store.members.values()].filter((m) => m.role !== 'viewer' || m.user_id === item.assignee_id)
        .map((m) => el('option', { value: m.user_id, selected: m.user_id === item.assignee_id, text: m.name })));
    const due = el('input', { type: 'date', 'aria-label': 'Item due date' });
    due.value = dueDay(item.due_at);
    const save = el('button', { type: 'button', class: 'button button-primary button-small', text: 'Save' });
    save.addEventListener('click', async () => {
      const value = text.value.trim();
      if (!value) { text.focus(); return; }
      const changes = { expected_version: item.version };
      if (value !== item.text) changes.text = value;
      const assignee = who.value ? Number(who.value) : null;
      if (assignee !== (item.assignee_id ?? null)) changes.assignee_id = assignee;
      if (due.value !== dueDay(item.due_at)) changes.due_at = due.value ? `${due.value}T12:00:00Z` : null;
      if (Object.keys(changes).length === 1) return;
      try {
        await this.#sync.write('PATCH', `/checklist_items/${item.id}`, changes);
      } catch (error) {
        toast(error.status === 412 ? 'Someone changed this item meanwhile; their version is shown. Edit it again if needed.' : error.message, 'error');
        if (error.status === 412) this.#render();
      }
    });
    text.addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); save.click(); } });
    const row = el('div', { class: 'checklist-edit' }, text, who, due, save);
    if (index > 0) row.append(this.#button('Move up', 'Move the item up', () => this.#write('PATCH', `/checklist_items/${item.id}`, { index: index - 1 })));
    if (index < count - 1) row.append(this.#button('Move down', 'Move the item down', () => this.#write('PATCH', `/checklist_items/${item.id}`, { index: index + 1 })));
    row.append(this.#button('Delete', `Delete the item ${item.text}`, () => this.#write('DELETE', `/checklist_items/${item.id}`)));
    return row;
  }

  #addForm(list) {
    const input = el('input', { type: 'text', maxlength: '1000', placeholder: 'Add an item', 'aria-label': `Add an item to ${list.title}`,
                                dataset: { key: `add-${list.id}` } });
    const form = el('form', { class: 'checklist-add', novalidate: true }, input,
      el('button', { type: 'submit', class: 'button button-quiet button-small', text: 'Add' }));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) { input.focus(); return; }
      input.value = '';
      try {
        await this.#sync.write('POST', `/checklists/${list.id}/items`, { text });
      } catch (error) {
        input.value = text;
        toast(error.message, 'error');
      }
    });
    return form;
  }

  #button(text, label, run) {
    const button = el('button', { type: 'button', class: 'link-button', 'aria-label': label, text });
    button.addEventListener('click', run);
    return button;
  }

  async #rename(list) {
    const title = prompt('Checklist title', list.title);
    if (title === null || !title.trim() || title.trim() === list.title) return;
    try {
      await this.#sync.write('PATCH', `/checklists/${list.id}`, { title: title.trim(), expected_version: list.version });
    } catch (error) {
      toast(error.status === 412 ? 'Someone renamed this checklist meanwhile; try again.' : error.message, 'error');
    }
  }

  async #deleteList(list) {
    if (!confirm(`Delete the checklist "${list.title}" and its ${list.items.length} items?`)) return;
    await this.#write('DELETE', `/checklists/${list.id}`);
  }

  async #write(method, path, body) {
    try {
      await this.#sync.write(method, path, body);
    } catch (error) {
      toast(error.message, 'error');
      this.#render();
    }
  }
}
