/// Every page's entry point: `<script type="module" src="/assets/<version>/js/main.js">`.
///
/// The asset version sits in the path, so the relative imports below (and the modules they
/// import) carry it too and can be cached for long. `<body data-page>` says which page module to
/// load; each exports `init(root)`.
import { api } from './lib/api.js';
import { initBell } from './lib/bell.js';
import { render, escapeHTML } from './lib/markdown.js';

const pages = {
  login: () => import('./pages/login.js'),
  signup: () => import('./pages/signup.js'),
  boards: () => import('./pages/boards.js'),
  board: () => import('./pages/board/main.js'),
  members: () => import('./pages/members.js'),
  tokens: () => import('./pages/tokens.js'),
  notifications: () => import('./pages/notifications.js'),
  settings: () => import('./pages/settings.js'),
  webhooks: () => import('./pages/webhooks.js'),
  search: () => import('./pages/search.js'),
  invitation: () => import('./pages/invitation.js'),
  password_reset: () => import('./pages/password-reset.js'),
};

// For the tests (and the console): the Markdown renderer the pages use.
window.TackMarkdown = { render, escapeHTML };

function initLogout() {
  document.querySelectorAll('[data-action="logout"]').forEach((button) => {
    button.addEventListener('click', async () => {
      button.disabled = true;
      try { await api('POST', '/auth/logout'); } catch { /* the session is gone either way */ }
      location.assign('/login');
    });
  });
}

initLogout();
if (document.getElementById('bell')) initBell();
const load = pages[document.body.dataset.page];
if (load) load().then((page) => page.init(document.querySelector('main')));
