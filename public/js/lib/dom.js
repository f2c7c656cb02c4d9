/// Small DOM helpers shared by the pages: elements, the toast, forms, avatars, label colours, dates.
/// No inline script or style anywhere (the CSP forbids both): colours from data go through the CSSOM.

/// Creates an element: el('span', {class: 'x', title: 't'}, 'text', child…). Text is never parsed as HTML.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

let toastTimer = null;
/// A short message at the bottom of the page; `kind` 'error' stays longer. `action` ({label, run})
/// adds a button (e.g. Undo) and keeps the message up for 8 seconds; the button runs it once.
export function toast(message, kind, action) {
  const box = document.getElementById('toast');
  if (!box) return;
  box.textContent = message;
  box.className = 'toast' + (kind ? ' toast-' + kind : '');
  if (action) {
    const button = el('button', { type: 'button', class: 'toast-action', dataset: { action: 'toast-action' }, text: action.label });
    button.addEventListener('click', async () => {
      button.disabled = true;
      box.hidden = true;
      try { await action.run(); } catch (error) { toast(error.message, 'error'); }
    }, { once: true });
    box.append(' ', button);
  }
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, action ? 8000 : kind === 'error' ? 6000 : 2500);
}

/// What a person calls a form field: its label's text (without hints), else its placeholder.
function fieldName(input) {
  const label = input.labels && input.labels[0];
  if (label) {
    const own = [...label.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join(' ').trim();
    if (own) return own;
  }
  return input.getAttribute('aria-label') || input.placeholder || '';
}

/// An API message for people: the API names fields as the JSON does (`current_password is not…`,
/// `url: 127.0.0.1 is…`); a form says the field's label instead (`Current password is not…`).
export function humanMessage(form, error) {
  const input = error.field && form.elements[error.field];
  const name = input && input.nodeType === 1 ? fieldName(input) : '';
  if (!name) return error.message;
  const field = error.field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return error.message.replace(new RegExp('^' + field + '(:)?\\s*'), (_, colon) => name + (colon ? ': ' : ' '));
}

/// Shows an API error in the form's `.form-error` box (or as a toast), in people's words, marking
/// the field it names and putting the focus there (or on the form's first field).
export function showFormError(form, error) {
  const box = form.querySelector('.form-error');
  form.querySelectorAll('[aria-invalid]').forEach((input) => input.removeAttribute('aria-invalid'));
  const input = error && error.field && form.elements[error.field];
  if (input && input.nodeType === 1) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  } else if (error) {
    const first = form.querySelector('input:not([type=hidden]), textarea, select');
    if (first) first.focus();
  }
  const message = error ? humanMessage(form, error) : '';
  if (!box) { if (error) toast(message, 'error'); return; }
  box.textContent = message;
  box.hidden = !error;
}

/// Runs an async form handler with the submit button disabled, showing errors in the form.
export function onSubmit(form, handler) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('[type="submit"]');
    if (button) button.disabled = true;
    try {
      showFormError(form, null);
      await handler(form);
    } catch (error) {
      showFormError(form, error);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

/// Up to two capital letters of a name.
export function initials(name) {
  const words = String(name || '').trim().split(/\s+/).slice(0, 2);
  return words.map((w) => w.charAt(0).toUpperCase()).join('') || '?';
}

/// A round avatar with the user's initials, coloured per user id.
export function avatar(id, name, small) {
  return el('span', { class: `avatar ${small ? 'avatar-sm ' : ''}avatar-${Math.abs(Number(id)) % 8}`, title: name, text: initials(name) });
}

/// Paints a label's colour, with black or white text, whichever reads better on it.
export function paintLabel(node, color) {
  if (!/^#[0-9a-f]{6}$/i.test(color || '')) return;
  const r = parseInt(color.slice(1, 3), 16), g = parseInt(color.slice(3, 5), 16), b = parseInt(color.slice(5, 7), 16);
  const luminance = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
  node.style.backgroundColor = color;
  node.style.color = luminance > 0.62 ? '#172b4d' : '#ffffff';
}

// A due date is a day, stored at noon UTC of it and shown as that day everywhere, or (with
// `due_has_time`) an instant, shown in the reader's time zone.
const two = (n) => String(n).padStart(2, '0');
/// `YYYY-MM-DD` of a due date (the reader's day of a timed one), or ''.
export function dueDay(iso, hasTime = false) {
  if (!iso) return '';
  if (!hasTime) return String(iso).slice(0, 10);
  const d = new Date(iso);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}
/// `HH:MM` of a timed due date in the reader's time zone, or ''.
export function dueTime(iso, hasTime) {
  if (!iso || !hasTime) return '';
  const d = new Date(iso);
  return `${two(d.getHours())}:${two(d.getMinutes())}`;
}
/// The `due_at` / `due_has_time` pair for a day (`YYYY-MM-DD`, or '' for none) and an optional
/// time of day (`HH:MM` in the reader's time zone).
export function dueValue(day, time) {
  if (!day) return { due_at: null, due_has_time: false };
  if (!time) return { due_at: day + 'T12:00:00Z', due_has_time: false };
  return { due_at: new Date(`${day}T${time}`).toISOString(), due_has_time: true };
}
/// A due date in the reader's language ("Mar 4", "Mar 4, 2:30 PM").
export function formatDue(iso, hasTime = false) {
  const date = new Date(iso);
  const sameYear = date.getFullYear() === new Date().getFullYear();
  const options = { month: 'short', day: 'numeric' };
  if (!sameYear) options.year = 'numeric';
  if (!hasTime) return date.toLocaleDateString(undefined, { ...options, timeZone: 'UTC' });
  return date.toLocaleString(undefined, { ...options, hour: 'numeric', minute: '2-digit' });
}
/// Whether an open card is past its due date: a day from the next day, a time from that instant.
export function isOverdue(card) {
  if (!card.due_at || card.done) return false;
  return card.due_has_time ? Date.parse(card.due_at) < Date.now() : dueDay(card.due_at) < todayDay();
}
/// Today as `YYYY-MM-DD` in the reader's time zone.
export function todayDay() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
}
/// A date and time in the reader's language.
export function formatTime(iso) {
  return new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
