/// /password_reset: ask for a link by email (the answer is the same for every address);
/// /password_reset#LINK: choose a new password, which signs in and ends every other session.
import { api } from '../lib/api.js';
import { onSubmit } from '../lib/dom.js';

export function init() {
  const ask = document.getElementById('reset-request-form');
  const sent = document.getElementById('reset-sent');
  const choose = document.getElementById('reset-form');
  const token = location.hash.slice(1);
  // A link opened while this page is already open (the same path) only changes the fragment.
  window.addEventListener('hashchange', () => location.reload());
  if (token) {
    // Out of the address bar (and of anything that reads it) once read.
    history.replaceState(null, '', location.pathname);
    ask.hidden = true;
    choose.hidden = false;
    choose.elements.password.focus();
    onSubmit(choose, async () => {
      if (!choose.elements.password.value) throw { field: 'password', message: 'Enter a new password.' };
      await api('POST', '/auth/password_reset/confirm', { token, password: choose.elements.password.value });
      location.assign('/boards');
    });
    return;
  }
  onSubmit(ask, async () => {
    if (!ask.elements.email.value.trim()) throw { field: 'email', message: 'Enter your email address.' };
    const reply = await api('POST', '/auth/password_reset', { email: ask.elements.email.value.trim() });
    ask.hidden = true;
    sent.textContent = reply.message;
    sent.hidden = false;
  });
}
