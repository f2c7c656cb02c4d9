/// The open card's attachments: name, size, who and when, a download link, Delete, thumbnails of
/// images and "Make cover". Files come from the picker, a drop on the open dialog or on a card of
/// the board, or a pasted image; each is sent as the raw body of POST …/attachments?name=. The list
/// changes only through the store's `attachment` events (own uploads and others' alike).
import { api } from '../../lib/api.js';
import { el, formatTime, toast } from '../../lib/dom.js';
import { initFileDrops } from './attachment-drop.js';

/// 1536 → "1.5 KB", in the units people read.
export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value >= 10 ? Math.round(value) : Math.round(value * 10) / 10} ${units[unit]}`;
}

function clipIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'attachment-icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5');
  svg.append(path);
  return svg;
}

export class Attachments {
  #store;
  #sync;
  #card = null;
  #loading = false;
  #queued = [];
  #dialog = document.getElementById('card-dialog');
  #list = document.getElementById('cd-attachments');
  #status = document.getElementById('cd-attach-status');
  #canWrite;

  constructor(store, sync, columnsEl) {
    this.#store = store;
    this.#sync = sync;
    this.#canWrite = store.board.role !== 'viewer';
    store.addEventListener('attachment', (e) => this.#onEvent(e.detail.event));
    store.addEventListener('card', (e) => { if (e.detail.card && e.detail.id === this.#card) this.#showCover(); });
    this.#dialog.addEventListener('card-open', (e) => this.open(e.detail.id));
    this.#dialog.addEventListener('close', () => { this.#card = null; });
    if (!this.#canWrite) return;
    const input = document.getElementById('cd-attach-input');
    document.getElementById('cd-attach-button').addEventListener('click', () => input.click());
    input.addEventListener('change', () => { this.upload(this.#card, [...input.files]); input.value = ''; });
    initFileDrops(this.#dialog, columnsEl, () => this.#card, (card, files) => this.upload(card, files));
  }

  /// The dialog opened card `id`: its attachments.
  async open(id) {
    this.#card = id;
    this.#loading = true;
    this.#queued = [];
    this.#status.textContent = '';
    this.#list.replaceChildren(el('li', { class: 'muted small', text: 'Loading attachments…' }));
    try {
      const reply = await api('GET', this.#sync.path(`/cards/${id}/attachments`));
      if (this.#card !== id) return;
      this.#list.replaceChildren(...reply.items.map((a) => this.#item(a)));
      this.#loading = false;
      for (const event of this.#queued.splice(0)) this.#onEvent(event);
      this.#showCover();
    } catch (error) {
      this.#list.replaceChildren(el('li', { class: 'form-error', text: error.message }));
    } finally {
      if (this.#card === id) this.#loading = false;
    }
  }

  /// Sends each file to card `cardId`, one after the other; the store's events show them.
  async upload(cardId, files) {
    if (!cardId) return;
    for (const file of files) {
      this.#status.textContent = `Uploading ${file.name} (${formatSize(file.size)})…`;
      try {
        await this.#sync.write('POST', `/cards/${cardId}/attachments?name=${encodeURIComponent(file.name)}`, undefined, { raw: file });
        this.#status.textContent = `${file.name} attached.`;
        if (cardId !== this.#card) toast(`${file.name} attached to “${(this.#store.cards.get(cardId) || {}).title || 'the card'}”.`);
      } catch (error) {
        this.#status.textContent = '';
        toast(`${file.name}: ${error.message}`, 'error');
      }
    }
  }

  #onEvent(event) {
    const data = event.data || {};
    if (this.#card === null || (event.card ?? data.card_id) !== this.#card) return;
    if (this.#loading) { this.#queued.push(event); return; }
    const node = this.#list.querySelector(`.attachment[data-attachment-id="${data.id}"]`);
    if (event.kind === 'attachment.deleted') { if (node) node.remove(); }
    else if (!node) this.#list.append(this.#item(data));
    this.#showCover();
  }

  /// Marks the card's cover among the images; an empty list says so.
  #showCover() {
    const card = this.#store.cards.get(this.#card);
    const cover = card ? card.cover_attachment_id : null;
    this.#list.querySelectorAll('.attachment').forEach((node) => {
      const isCover = Number(node.dataset.attachmentId) === cover;
      node.classList.toggle('is-cover', isCover);
      const button = node.querySelector('[data-action="make-cover"]');
      if (button) button.textContent = isCover ? 'Remove cover' : 'Make cover';
    });
    const none = this.#list.querySelector('.no-attachments');
    const any = this.#list.querySelector('.attachment');
    if (any && none) none.remove();
    if (!any && !none && !this.#loading) this.#list.append(el('li', { class: 'muted small no-attachments', text: 'No attachments.' }));
  }

  #item(a) {
    const uploader = this.#store.members.get(a.uploaded_by);
    const who = uploader ? uploader.name : 'Former member';
    const preview = a.image ? el('img', { class: 'attachment-thumb', src: a.url, alt: '', loading: 'lazy', draggable: 'false' }) : clipIcon();
    const actions = el('span', { class: 'attachment-actions' });
    if (this.#canWrite && a.image) {
      const cover = el('button', { type: 'button', class: 'link-button', dataset: { action: 'make-cover' }, text: 'Make cover' });
      cover.addEventListener('click', () => {
        const card = this.#store.cards.get(a.card_id);
        const value = card && card.cover_attachment_id === a.id ? null : a.id;
        this.#sync.write('PATCH', `/cards/${a.card_id}`, { cover_attachment_id: value }).catch((e) => toast(e.message, 'error'));
      });
      actions.append(cover);
    }
    if (this.#canWrite) {
      const remove = el('button', { type: 'button', class: 'link-button', dataset: { action: 'delete-attachment' }, text: 'Delete', 'aria-label': `Delete ${a.name}` });
      remove.addEventListener('click', () => {
        if (!confirm(`Delete ${a.name}?`)) return;
        this.#sync.write('DELETE', `/cards/${a.card_id}/attachments/${a.id}`).catch((e) => toast(e.message, 'error'));
      });
      actions.append(remove);
    }
    return el('li', { class: 'attachment', dataset: { attachmentId: a.id } },
      el('span', { class: 'attachment-preview' }, preview),
      el('div', { class: 'attachment-main' },
        el('a', { class: 'attachment-name', href: a.url, download: a.name, text: a.name }),
        el('span', { class: 'attachment-meta', text: `${formatSize(a.size)} · ${who} · ${formatTime(a.created_at)}` }),
        actions));
  }
}
