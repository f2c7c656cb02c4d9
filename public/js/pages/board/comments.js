/// The open card's comments: loaded when the dialog opens, then kept current by the store's
/// `comment` events (own and others' alike). The new-comment box keeps a draft per card.
import { api } from '../../lib/api.js';
import { clearDraft, loadDraft, saveDraft } from '../../lib/drafts.js';
import { avatar, el, formatTime, onSubmit, toast } from '../../lib/dom.js';
import { render } from '../../lib/markdown.js';
import { attachMentions } from './mentions.js';

/// Renders Markdown (safe HTML, see lib/markdown.js) into `node`.
export function markdownInto(node, text) {
  node.innerHTML = text ? render(text) : '';
  // A task's box is named by its item's text (set here: the renderer writes no attribute from text).
  node.querySelectorAll('input[data-task]').forEach((box) => box.setAttribute('aria-label', box.parentNode.textContent.trim() || 'Task'));
}

export class Comments {
  #store;
  #sync;
  #list = document.getElementById('cd-comments');
  #form = document.getElementById('cd-comment-form');
  #card = null;

  constructor(store, sync) {
    this.#store = store;
    this.#sync = sync;
    store.addEventListener('comment', (e) => this.#onEvent(e.detail.event));
    if (!this.#form) return;
    const box = this.#form.elements.body;
    if (!box.id) box.id = 'cd-comment-body';
    attachMentions(box, store);
    box.addEventListener('input', () => { if (this.#card) saveDraft(this.#key(), { value: box.value, base: '' }); });
    box.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); this.#form.requestSubmit(); }
    });
    onSubmit(this.#form, async (form) => {
      const body = box.value.trim();
      if (!body) { box.focus(); return; }
      const id = this.#card;
      await sync.write('POST', `/cards/${id}/comments`, { body });
      clearDraft(`${store.board.id}:comment:${id}`);
      if (this.#card === id) form.reset();
    });
  }

  #key() { return `${this.#store.board.id}:comment:${this.#card}`; }

  /// The dialog opened card `id`: its comments, and the draft comment if one was left.
  async open(id) {
    this.#card = id;
    if (this.#form) this.#form.elements.body.value = (loadDraft(this.#key()) || { value: '' }).value;
    this.#list.replaceChildren(el('li', { class: 'muted small', text: 'Loading comments…' }));
    try {
      let all = [];
      let after = null;
      for (let page = 0; page < 20; page++) {
        const reply = await api('GET', this.#sync.path(`/cards/${id}/comments?limit=200${after ? '&after=' + after : ''}`));
        all = all.concat(reply.items);
        if (!reply.next_cursor) break;
        after = reply.next_cursor;
      }
      if (this.#card !== id) return;
      this.#list.replaceChildren(...all.map((c) => this.#item(c)));
      this.#empty();
    } catch (error) {
      this.#list.replaceChildren(el('li', { class: 'form-error', text: error.message }));
    }
  }

  close() { this.#card = null; }

  #onEvent(event) {
    const comment = event.data || {};
    if (this.#card === null || (event.card ?? comment.card_id) !== this.#card) return;
    if (this.#list.querySelector('.muted.small:not(.no-comments)')) return; // still loading: the list will have it
    const node = this.#list.querySelector(`.comment[data-comment-id="${comment.id}"]`);
    if (event.kind === 'comment.deleted') { if (node) node.remove(); }
    else if (node) node.replaceWith(this.#item(comment));
    else this.#list.append(this.#item(comment));
    this.#empty();
  }

  #empty() {
    const none = this.#list.querySelector('.no-comments');
    const any = this.#list.querySelector('.comment');
    if (any && none) none.remove();
    if (!any && !none) this.#list.append(el('li', { class: 'muted small no-comments', text: 'No comments yet.' }));
  }

  #item(comment) {
    const author = this.#store.members.get(comment.author_id);
    const name = author ? author.name : 'Former member';
    const body = el('div', { class: 'comment-body markdown' });
    markdownInto(body, comment.body);
    const own = comment.author_id !== null && comment.author_id === this.#store.me;
    const role = this.#store.board.role;
    const mayDelete = own || role === 'admin' || role === 'owner';
    const actions = el('span', { class: 'comment-actions' });
    if (own && this.#form) {
      const edit = el('button', { type: 'button', class: 'link-button', dataset: { action: 'edit-comment' }, text: 'Edit' });
      edit.addEventListener('click', () => this.#edit(comment, body));
      actions.append(edit);
    }
    if (mayDelete && this.#form) {
      const remove = el('button', { type: 'button', class: 'link-button', dataset: { action: 'delete-comment' }, text: 'Delete' });
      remove.addEventListener('click', () => this.#delete(comment));
      actions.append(remove);
    }
    return el('li', { class: 'comment', dataset: { commentId: comment.id } },
      avatar(comment.author_id || 0, name, true),
      el('div', { class: 'comment-main' },
        el('div', { class: 'comment-head' }, el('span', { class: 'comment-author', text: name }),
          el('time', { class: 'comment-time', datetime: comment.created_at, text: formatTime(comment.created_at) }),
          comment.edited_at ? el('span', { class: 'comment-edited muted', text: '(edited)' }) : '',
          actions),
        body));
  }

  /// Replaces the comment's text with an editor; saves on the version it was based on.
  #edit(comment, body) {
    const box = el('textarea', { class: 'comment-editor', rows: '3', maxlength: '10000', 'aria-label': 'Edit the comment' });
    box.value = comment.body;
    const error = el('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = el('button', { type: 'button', class: 'button button-primary button-small', text: 'Save' });
    const cancel = el('button', { type: 'button', class: 'button button-quiet button-small', text: 'Cancel' });
    const editor = el('div', { class: 'comment-edit' }, box, el('div', { class: 'row' }, save, cancel), error);
    body.replaceWith(editor);
    box.focus();
    const back = () => editor.replaceWith(body);
    cancel.addEventListener('click', back);
    box.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') { event.preventDefault(); event.stopPropagation(); back(); }
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); save.click(); }
    });
    save.addEventListener('click', async () => {
      const text = box.value.trim();
      if (!text) { box.focus(); return; }
      save.disabled = true;
      try {
        await this.#sync.write('PATCH', `/comments/${comment.id}`, { body: text, expected_version: comment.version });
      } catch (failure) {
        save.disabled = false;
        error.hidden = false;
        error.textContent = failure.status === 412
          ? 'Someone changed this comment meanwhile; cancel to see their text.' : failure.message;
      }
    });
  }

  async #delete(comment) {
    if (!confirm('Delete this comment?')) return;
    try {
      await this.#sync.write('DELETE', `/comments/${comment.id}`);
    } catch (failure) {
      toast(failure.message, 'error');
    }
  }
}
