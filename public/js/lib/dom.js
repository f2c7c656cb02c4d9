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

// Due dates are stored at noon UTC of the chosen day and shown as that day.
/// `YYYY-MM-DD` of a due date, or ''.
export function dueDay(iso) { return iso ? String(iso).slice(0, 10) : ''; }
/// A due date in the reader's language ("Mar 4").
export function formatDue(iso) {
  const date = new Date(iso);
  const sameYear = date.getUTCFullYear() === new Date().getFullYear();
  return date.toLocaleDateString(undefined, sameYear
    ? { timeZone: 'UTC', month: 'short', day: 'numeric' }
    : { timeZone: 'UTC', month: 'short', day: 'numeric', year: 'numeric' });
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
