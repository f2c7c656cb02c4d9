/// /invitations/accept#LINK: what the invitation is for, then join (logged in) or create the
/// account it was sent to and join. The link stays in the fragment (never sent to a server but in a
/// request body); "Log in to accept" keeps it in sessionStorage across the login page.
import { api } from '../lib/api.js';
import { onSubmit } from '../lib/dom.js';

const KEY = 'tack-invitation';

function roleText(role) {
  return { admin: 'an admin', member: 'a member', viewer: 'a viewer' }[role] || role;
}

export async function init() {
  const summary = document.getElementById('invitation-summary');
  const failure = document.getElementById('invitation-error');
  const token = location.hash.slice(1) || sessionStorage.getItem(KEY) || '';
  // A link opened while this page is already open (the same path) only changes the fragment.
  window.addEventListener('hashchange', () => location.reload());
  if (location.hash) history.replaceState(null, '', location.pathname);
  if (token) sessionStorage.setItem(KEY, token);
  let invitation;
  try {
    if (!token) throw { message: 'This page needs the whole link from the invitation email.' };
    invitation = (await api('POST', '/invitations/preview', { token })).invitation;
  } catch (error) {
    summary.hidden = true;
    failure.textContent = error.message;
    failure.hidden = false;
    sessionStorage.removeItem(KEY);
    return;
  }
  summary.textContent = `${invitation.invited_by || 'Someone'} invited ${invitation.email} to the board “${invitation.board_name}” as ${roleText(invitation.role)}.`;
  const done = (boardId) => {
    sessionStorage.removeItem(KEY);
    location.assign('/boards/' + boardId);
  };
  const join = document.getElementById('join-form');
  if (join) {
    join.hidden = false;
    onSubmit(join, async () => done((await api('POST', '/invitations/accept', { token })).board_id));
    join.querySelector('button').focus();
    return;
  }
  const form = document.getElementById('accept-form');
  const loginInstead = document.getElementById('login-instead');
  loginInstead.hidden = false;
  if (invitation.account_exists) {
    // The invited address has an account: logging in is the way (the form would say the email is taken).
    summary.textContent += ' Log in to accept it.';
    loginInstead.querySelector('a').focus();
    return;
  }
  form.hidden = false;
  form.elements.email.value = invitation.email;
  form.elements.name.focus();
  onSubmit(form, async () => {
    if (!form.elements.name.value.trim()) throw { field: 'name', message: 'Enter your name.' };
    const reply = await api('POST', '/invitations/accept', {
      token, name: form.elements.name.value.trim(), password: form.elements.password.value,
    });
    done(reply.board_id);
  });
}
