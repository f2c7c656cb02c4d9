/// @mention autocomplete in a textarea: typing `@` and the start of a member's name or handle (the
/// part of their email before the @, which is what a mention matches) lists the board's members;
/// arrows choose, Enter or Tab inserts `@handle `, Esc closes the list (not the dialog).
import { el } from '../../lib/dom.js';

const handleOf = (member) => member.email.split('@')[0].toLowerCase();

export function attachMentions(textarea, store) {
  const list = el('ul', { class: 'mention-list', role: 'listbox', id: textarea.id + '-mentions', hidden: true });
  textarea.after(list);
  textarea.setAttribute('aria-autocomplete', 'list');
  textarea.setAttribute('aria-controls', list.id);
  let matches = [];
  let chosen = 0;
  let start = -1;

  function close() {
    list.hidden = true;
    matches = [];
    textarea.removeAttribute('aria-activedescendant');
  }

  function show() {
    list.replaceChildren(...matches.map((m, i) => {
      const option = el('li', { role: 'option', id: `${list.id}-${i}`, class: 'mention-option' + (i === chosen ? ' is-chosen' : ''),
        'aria-selected': String(i === chosen) }, el('strong', { text: m.name }), el('span', { class: 'muted', text: ` @${handleOf(m)}` }));
      option.addEventListener('mousedown', (event) => { event.preventDefault(); chosen = i; insert(); });
      return option;
    }));
    list.hidden = matches.length === 0;
    if (matches.length) textarea.setAttribute('aria-activedescendant', `${list.id}-${chosen}`);
  }

  function update() {
    const upto = textarea.value.slice(0, textarea.selectionStart);
    const match = /(^|\s)@([\w.+-]*)$/.exec(upto);
    if (!match) return close();
    start = upto.length - match[2].length - 1;
    const typed = match[2].toLowerCase();
    matches = [...store.members.values()].filter((m) => m.user_id !== store.me
      && (handleOf(m).startsWith(typed) || m.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(typed)))).slice(0, 8);
    chosen = 0;
    show();
  }

  function insert() {
    const member = matches[chosen];
    if (!member) return;
    const text = `@${handleOf(member)} `;
    const end = textarea.selectionStart;
    textarea.value = textarea.value.slice(0, start) + text + textarea.value.slice(end);
    const caret = start + text.length;
    textarea.setSelectionRange(caret, caret);
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
    close();
  }

  textarea.addEventListener('input', update);
  textarea.addEventListener('blur', () => setTimeout(close, 100));
  textarea.addEventListener('keydown', (event) => {
    if (list.hidden) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      chosen = (chosen + (event.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length;
      show();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      event.preventDefault();
      event.stopImmediatePropagation();
      insert();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });
}
