/* Tack pages: small vanilla JavaScript on top of server-rendered HTML.
 *
 * Every change goes through /api/v1 with the session cookie and the CSRF token from
 * <meta name="csrf-token">. The body's data-page says which page this is. No inline script or
 * style anywhere (the CSP forbids both); colours that come from data are set through the CSSOM.
 */
(function () {
  'use strict';

  // ---------------------------------------------------------------------------------------------
  // Shared helpers

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  /** Calls the API; resolves with the JSON reply, rejects with an Error carrying status/code/field. */
  async function api(method, path, body) {
    var headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
    var response;
    try {
      response = await fetch('/api/v1' + path, {
        method: method, headers: headers, credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body)
      });
    } catch (e) {
      throw new Error('Tack cannot be reached. Check your connection and try again.');
    }
    var text = await response.text();
    var data = null;
    if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
    if (!response.ok) {
      var info = (data && data.error) || {};
      var error = new Error(info.message || 'The request failed (' + response.status + ').');
      error.status = response.status;
      error.code = info.code;
      error.field = info.field;
      if (response.status === 401 && document.body.dataset.page !== 'login' && document.body.dataset.page !== 'signup') {
        location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
      }
      throw error;
    }
    return data;
  }

  var toastTimer = null;
  function toast(message, kind) {
    var box = document.getElementById('toast');
    if (!box) return;
    box.textContent = message;
    box.className = 'toast' + (kind ? ' toast-' + kind : '');
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, kind === 'error' ? 6000 : 2500);
  }

  /** Creates an element: el('span', {class: 'x', title: 't'}, 'text', child…). Text is never parsed as HTML. */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === 'class') node.className = value;
        else if (key === 'text') node.textContent = value;
        else if (key === 'dataset') Object.assign(node.dataset, value);
        else node.setAttribute(key, value === true ? '' : value);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.append(child);
    }
    return node;
  }

  function showFormError(form, error) {
    var box = form.querySelector('.form-error');
    form.querySelectorAll('[aria-invalid]').forEach(function (input) { input.removeAttribute('aria-invalid'); });
    if (error && error.field && form.elements[error.field]) {
      form.elements[error.field].setAttribute('aria-invalid', 'true');
      form.elements[error.field].focus();
    }
    if (!box) { if (error) toast(error.message, 'error'); return; }
    box.textContent = error ? error.message : '';
    box.hidden = !error;
  }

  /** Runs an async form handler with the submit button disabled, showing errors in the form. */
  function onSubmit(form, handler) {
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      var button = form.querySelector('[type="submit"]');
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

  function initials(name) {
    var words = String(name || '').trim().split(/\s+/).slice(0, 2);
    var letters = words.map(function (w) { return w.charAt(0).toUpperCase(); }).join('');
    return letters || '?';
  }

  function avatar(id, name, small) {
    return el('span', { class: 'avatar ' + (small ? 'avatar-sm ' : '') + 'avatar-' + (Math.abs(Number(id)) % 8), title: name, text: initials(name) });
  }

  /** Black or white text, whichever reads better on the colour. */
  function paintLabel(node, color) {
    if (!/^#[0-9a-f]{6}$/i.test(color || '')) return;
    var r = parseInt(color.slice(1, 3), 16), g = parseInt(color.slice(3, 5), 16), b = parseInt(color.slice(5, 7), 16);
    var luminance = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    node.style.backgroundColor = color;
    node.style.color = luminance > 0.62 ? '#172b4d' : '#ffffff';
  }

  function paintLabels(root) {
    root.querySelectorAll('[data-color]').forEach(function (node) { paintLabel(node, node.dataset.color); });
  }

  // Due dates are stored at noon UTC of the chosen day and shown as that day.
  function dueDay(iso) { return iso ? String(iso).slice(0, 10) : ''; }
  function formatDue(iso) {
    var date = new Date(iso);
    var sameYear = date.getUTCFullYear() === new Date().getFullYear();
    return date.toLocaleDateString(undefined, sameYear
      ? { timeZone: 'UTC', month: 'short', day: 'numeric' }
      : { timeZone: 'UTC', month: 'short', day: 'numeric', year: 'numeric' });
  }
  function todayDay() {
    var now = new Date();
    return now.getFullYear() + '-' + String(now.getMonth() + 1).padStart(2, '0') + '-' + String(now.getDate()).padStart(2, '0');
  }
  function formatTime(iso) {
    var date = new Date(iso);
    return date.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  function safeNext(next) {
    return (typeof next === 'string' && /^\/(?![\/\\])/.test(next)) ? next : '/boards';
  }

  // ---------------------------------------------------------------------------------------------
  // Every logged-in page: log out

  function initLogout() {
    document.querySelectorAll('[data-action="logout"]').forEach(function (button) {
      button.addEventListener('click', async function () {
        button.disabled = true;
        try { await api('POST', '/auth/logout'); } catch (e) { /* the session is gone either way */ }
        location.assign('/login');
      });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Login and sign-up

  function initLogin() {
    var form = document.getElementById('login-form');
    onSubmit(form, async function () {
      await api('POST', '/auth/login', { email: form.elements.email.value.trim(), password: form.elements.password.value });
      location.assign(safeNext(form.dataset.next));
    });
  }

  function initSignup() {
    var form = document.getElementById('signup-form');
    if (!form) return;
    onSubmit(form, async function () {
      await api('POST', '/auth/signup', {
        name: form.elements.name.value.trim(),
        email: form.elements.email.value.trim(),
        password: form.elements.password.value
      });
      location.assign(safeNext(form.dataset.next));
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Boards list

  function initBoards() {
    var form = document.getElementById('new-board');
    onSubmit(form, async function () {
      var reply = await api('POST', '/boards', {
        name: form.elements.name.value.trim(),
        description: form.elements.description.value.trim()
      });
      location.assign('/boards/' + reply.board.id);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Members

  function initMembers() {
    var root = document.getElementById('members');
    var boardId = root.dataset.boardId;
    var form = document.getElementById('add-member');
    if (form) {
      onSubmit(form, async function () {
        await api('PUT', '/boards/' + boardId + '/members', { email: form.elements.email.value.trim(), role: form.elements.role.value });
        location.reload();
      });
    }
    root.addEventListener('change', async function (event) {
      var select = event.target.closest('.member-role');
      if (!select) return;
      var row = select.closest('.member');
      try {
        await api('PUT', '/boards/' + boardId + '/members', { email: row.dataset.email, role: select.value });
        select.dataset.role = select.value;
        toast('Role changed to ' + select.value + '.');
      } catch (error) {
        select.value = select.dataset.role;
        toast(error.message, 'error');
      }
    });
    root.addEventListener('click', async function (event) {
      var button = event.target.closest('[data-action="remove-member"]');
      if (!button) return;
      var row = button.closest('.member');
      if (!confirm('Remove ' + row.dataset.email + ' from this board?')) return;
      try {
        await api('DELETE', '/boards/' + boardId + '/members/' + row.dataset.userId);
        row.remove();
        toast('Removed.');
      } catch (error) {
        toast(error.message, 'error');
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // API tokens

  function initTokens() {
    var form = document.getElementById('new-token');
    var table = document.getElementById('token-table');
    var secretBox = document.getElementById('new-token-secret');
    onSubmit(form, async function () {
      var reply = await api('POST', '/me/tokens', { name: form.elements.name.value.trim(), scope: form.elements.scope.value });
      document.getElementById('new-token-value').textContent = reply.token;
      secretBox.hidden = false;
      var readWrite = reply.scope === 'read_write';
      table.tBodies[0].prepend(el('tr', { dataset: { tokenId: reply.id } },
        el('td', { class: 'token-name', text: reply.name }),
        el('td', null, el('span', { class: 'scope-badge' + (readWrite ? ' is-write' : ''), text: readWrite ? 'read & write' : 'read only' })),
        el('td', { text: 'just now' }),
        el('td', { text: 'never' }),
        el('td', { class: 'actions' }, el('button', { type: 'button', class: 'button button-danger-quiet button-small', dataset: { action: 'revoke-token' }, text: 'Revoke' }))));
      document.getElementById('no-tokens').hidden = true;
      table.hidden = false;
      form.reset();
    });
    document.querySelector('[data-action="copy-token"]').addEventListener('click', async function () {
      var value = document.getElementById('new-token-value').textContent;
      try {
        await navigator.clipboard.writeText(value);
        toast('Token copied.');
      } catch (e) {
        var range = document.createRange();
        range.selectNodeContents(document.getElementById('new-token-value'));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        toast('Press Ctrl+C (⌘C) to copy.');
      }
    });
    table.addEventListener('click', async function (event) {
      var button = event.target.closest('[data-action="revoke-token"]');
      if (!button) return;
      var row = button.closest('tr');
      var name = row.querySelector('.token-name').textContent;
      if (!confirm('Revoke the token "' + name + '"? Scripts using it stop working at once.')) return;
      try {
        await api('DELETE', '/me/tokens/' + row.dataset.tokenId);
        row.remove();
        if (!table.tBodies[0].rows.length) {
          document.getElementById('no-tokens').hidden = false;
          table.hidden = true;
        }
        toast('Token revoked.');
      } catch (error) {
        toast(error.message, 'error');
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Board

  function initBoard() {
    var root = document.getElementById('board');
    var columnsEl = document.getElementById('columns');
    var boardId = Number(root.dataset.boardId);
    var canWrite = root.dataset.canWrite === 'true';
    var snapshot = JSON.parse(document.getElementById('board-snapshot').textContent);
    var state = {
      cards: new Map(snapshot.cards.map(function (c) { return [c.id, c]; })),
      columns: new Map(snapshot.columns.map(function (c) { return [c.id, c]; })),
      labels: new Map(snapshot.labels.map(function (l) { return [l.id, l]; })),
      members: new Map(snapshot.members.map(function (m) { return [m.user_id, m]; }))
    };
    var base = '/boards/' + boardId;

    /** The board's version: the highest any reply has shown (ready for live updates to build on). */
    function noteVersion(version) {
      if (typeof version === 'number' && version > Number(root.dataset.version)) root.dataset.version = String(version);
    }

    /** Every write: the API call, then the version from its reply. */
    async function write(method, path, body) {
      var reply = await api(method, base + path, body);
      if (reply) noteVersion(reply.version);
      return reply;
    }

    // --- rendering (the markup comes from the same partials the server renders) ---

    function columnEl(id) { return columnsEl.querySelector('.column[data-column-id="' + id + '"]'); }
    function cardEl(id) { return columnsEl.querySelector('.card[data-card-id="' + id + '"]'); }
    function cardsOf(column) { return Array.prototype.slice.call(column.querySelectorAll('.cards > .card')); }

    function fillCard(node, card) {
      node.dataset.cardId = card.id;
      node.classList.toggle('is-done', !!card.done);
      node.setAttribute('aria-label', card.title);
      node.querySelector('.card-title').textContent = card.title;
      var labels = node.querySelector('.card-labels');
      labels.replaceChildren.apply(labels, card.labels.map(function (id) { return state.labels.get(id); }).filter(Boolean).map(function (label) {
        var chip = el('span', { class: 'label-chip', title: label.name, text: label.name });
        paintLabel(chip, label.color);
        return chip;
      }));
      node.querySelector('.badge-done').hidden = !card.done;
      var due = node.querySelector('.badge-due');
      due.hidden = !card.due_at;
      if (card.due_at) {
        due.dateTime = card.due_at;
        due.textContent = formatDue(card.due_at);
      }
      due.classList.toggle('is-overdue', !!card.due_at && !card.done && dueDay(card.due_at) < todayDay());
      node.querySelector('.badge-desc').hidden = !(card.description || '').trim();
      var people = node.querySelector('.card-assignees');
      people.replaceChildren.apply(people, card.assignees.map(function (id) { return state.members.get(id); }).filter(Boolean).map(function (m) {
        return avatar(m.user_id, m.name, true);
      }));
      return node;
    }

    function renderCard(card) {
      var node = document.getElementById('card-template').content.firstElementChild.cloneNode(true);
      return fillCard(node, card);
    }

    function renderColumn(column) {
      var node = document.getElementById('column-template').content.firstElementChild.cloneNode(true);
      node.dataset.columnId = column.id;
      fillColumnHead(node, column);
      return node;
    }

    function fillColumnHead(node, column) {
      node.setAttribute('aria-label', column.name);
      var nameNode = node.querySelector('.column-name-button') || node.querySelector('.column-name');
      nameNode.textContent = column.name;
      updateCount(node);
    }

    function updateCount(node) {
      if (!node) return;
      var column = state.columns.get(Number(node.dataset.columnId));
      var count = cardsOf(node).length;
      var limit = column && column.wip_limit;
      node.querySelector('.column-count').textContent = limit ? count + ' / ' + limit : String(count);
      node.classList.toggle('is-over-limit', !!limit && count > limit);
    }

    function refreshCard(card) {
      state.cards.set(card.id, card);
      var node = cardEl(card.id);
      if (node) fillCard(node, card);
    }

    // The server renders due dates in UTC words; put them in the reader's language and today.
    state.cards.forEach(function (card) { var node = cardEl(card.id); if (node) fillCard(node, card); });
    paintLabels(root);

    // --- quick add: cards and columns ---

    function openQuickAdd(form) {
      form.querySelector('textarea').hidden = false;
      form.querySelector('.quick-add-actions').hidden = false;
      form.querySelector('.quick-add-open').hidden = true;
      form.querySelector('textarea').focus();
    }
    function closeQuickAdd(form) {
      form.querySelector('textarea').value = '';
      form.querySelector('textarea').hidden = true;
      form.querySelector('.quick-add-actions').hidden = true;
      form.querySelector('.quick-add-open').hidden = false;
    }

    columnsEl.addEventListener('click', function (event) {
      var open = event.target.closest('[data-action="open-add-card"]');
      if (open) { openQuickAdd(open.closest('form')); return; }
      var cancel = event.target.closest('[data-action="cancel-card"]');
      if (cancel) { closeQuickAdd(cancel.closest('form')); return; }
      var edit = event.target.closest('[data-action="edit-column"]');
      if (edit) { openColumnDialog(Number(edit.closest('.column').dataset.columnId)); return; }
      var card = event.target.closest('.card');
      if (card && !suppressClick) openCardDialog(Number(card.dataset.cardId));
    });

    columnsEl.addEventListener('keydown', function (event) {
      if (event.target.matches('.quick-add-card textarea')) {
        if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); event.target.form.requestSubmit(); }
        if (event.key === 'Escape') closeQuickAdd(event.target.form);
        return;
      }
      if (event.key === 'Enter' && event.target.matches('.card')) openCardDialog(Number(event.target.dataset.cardId));
    });

    columnsEl.addEventListener('submit', async function (event) {
      var form = event.target.closest('.quick-add-card');
      if (!form) return;
      event.preventDefault();
      var input = form.querySelector('textarea');
      var title = input.value.trim();
      if (!title) { input.focus(); return; }
      var column = form.closest('.column');
      input.disabled = true;
      try {
        var reply = await write('POST', '/cards', { column_id: Number(column.dataset.columnId), title: title });
        state.cards.set(reply.card.id, reply.card);
        column.querySelector('.cards').append(renderCard(reply.card));
        updateCount(column);
        input.value = '';
      } catch (error) {
        toast(error.message, 'error');
      } finally {
        input.disabled = false;
        input.focus();
      }
    });

    var newColumn = document.getElementById('new-column');
    if (newColumn) {
      onSubmit(newColumn, async function (form) {
        var name = form.elements.name.value.trim();
        if (!name) { form.elements.name.focus(); return; }
        var reply = await write('POST', '/columns', { name: name });
        state.columns.set(reply.column.id, reply.column);
        columnsEl.insertBefore(renderColumn(reply.column), form.closest('.column'));
        form.reset();
        form.elements.name.focus();
        columnsEl.scrollLeft = columnsEl.scrollWidth;
      });
    }

    // --- drag and drop with pointer events: mouse, pen and touch (touch drags by the handle, so
    //     swiping elsewhere still scrolls the board on a phone) ---

    var drag = null;
    var suppressClick = false;

    columnsEl.addEventListener('pointerdown', function (event) {
      if (!canWrite || event.button !== 0 || drag) return;
      var card = event.target.closest('.cards > .card');
      if (!card) return;
      if (event.pointerType !== 'mouse' && !event.target.closest('.drag-handle')) return;
      var column = card.closest('.column');
      drag = {
        card: card, pointerId: event.pointerId, startX: event.clientX, startY: event.clientY, started: false,
        fromColumn: column, fromIndex: cardsOf(column).indexOf(card), ghost: null, offsetX: 0, offsetY: 0
      };
      if (event.pointerType !== 'mouse') event.preventDefault();
    });

    function startDrag(event) {
      var rect = drag.card.getBoundingClientRect();
      drag.started = true;
      drag.offsetX = drag.startX - rect.left;
      drag.offsetY = drag.startY - rect.top;
      var ghost = drag.card.cloneNode(true);
      ghost.removeAttribute('data-card-id');
      ghost.classList.add('drag-ghost');
      ghost.setAttribute('aria-hidden', 'true');
      ghost.style.width = rect.width + 'px';
      document.body.append(ghost);
      drag.ghost = ghost;
      drag.card.classList.add('is-drag-source');
      document.body.classList.add('is-dragging');
      moveGhost(event);
    }

    function moveGhost(event) {
      drag.ghost.style.transform = 'translate(' + (event.clientX - drag.offsetX) + 'px,' + (event.clientY - drag.offsetY) + 'px) rotate(2deg)';
    }

    function placeCard(x, y) {
      var under = document.elementFromPoint(x, y);
      var column = under && under.closest('#columns .column[data-column-id]');
      if (!column) return;
      var list = column.querySelector('.cards');
      var before = null;
      var others = cardsOf(column).filter(function (c) { return c !== drag.card; });
      for (var i = 0; i < others.length; i++) {
        var r = others[i].getBoundingClientRect();
        if (y < r.top + r.height / 2) { before = others[i]; break; }
      }
      if (before) {
        if (drag.card.nextElementSibling !== before) list.insertBefore(drag.card, before);
      } else if (list.lastElementChild !== drag.card) {
        list.append(drag.card);
      }
      columnsEl.querySelectorAll('.column.is-drop-target').forEach(function (c) { if (c !== column) c.classList.remove('is-drop-target'); });
      column.classList.add('is-drop-target');
    }

    function autoScroll(x, y) {
      var box = columnsEl.getBoundingClientRect();
      var edge = Math.min(60, box.width / 6);
      if (x < box.left + edge) columnsEl.scrollLeft -= 18;
      else if (x > box.right - edge) columnsEl.scrollLeft += 18;
      var list = drag.card.parentElement;
      var r = list.getBoundingClientRect();
      if (y < r.top + 30) list.scrollTop -= 12;
      else if (y > r.bottom - 30) list.scrollTop += 12;
    }

    document.addEventListener('pointermove', function (event) {
      if (!drag || event.pointerId !== drag.pointerId) return;
      if (!drag.started) {
        if (Math.abs(event.clientX - drag.startX) + Math.abs(event.clientY - drag.startY) < 6) return;
        startDrag(event);
      }
      event.preventDefault();
      moveGhost(event);
      placeCard(event.clientX, event.clientY);
      autoScroll(event.clientX, event.clientY);
    });

    function endDrag(d) {
      if (d.ghost) d.ghost.remove();
      d.card.classList.remove('is-drag-source');
      document.body.classList.remove('is-dragging');
      columnsEl.querySelectorAll('.column.is-drop-target').forEach(function (c) { c.classList.remove('is-drop-target'); });
    }

    function putBack(d) {
      var list = d.fromColumn.querySelector('.cards');
      var siblings = cardsOf(d.fromColumn).filter(function (c) { return c !== d.card; });
      list.insertBefore(d.card, siblings[d.fromIndex] || null);
    }

    document.addEventListener('pointerup', async function (event) {
      if (!drag || event.pointerId !== drag.pointerId) return;
      var d = drag;
      drag = null;
      if (!d.started) return;
      endDrag(d);
      // The click that follows the release is not an "open the card".
      suppressClick = true;
      setTimeout(function () { suppressClick = false; }, 0);
      var column = d.card.closest('.column');
      var index = cardsOf(column).indexOf(d.card);
      var columnId = Number(column.dataset.columnId);
      if (column === d.fromColumn && index === d.fromIndex) return;
      updateCount(column);
      updateCount(d.fromColumn);
      var id = Number(d.card.dataset.cardId);
      try {
        var reply = await write('POST', '/cards/' + id + '/move', { column_id: columnId, index: index });
        state.cards.set(id, reply.card);
      } catch (error) {
        putBack(d);
        updateCount(column);
        updateCount(d.fromColumn);
        toast(error.message, 'error');
      }
    });

    document.addEventListener('pointercancel', function (event) {
      if (!drag || event.pointerId !== drag.pointerId) return;
      var d = drag;
      if (d.started) { endDrag(d); putBack(d); }
      drag = null;
    });

    // --- column dialog ---

    var columnDialog = document.getElementById('column-dialog');
    var columnForm = document.getElementById('column-form');
    var editingColumn = null;

    function openColumnDialog(id) {
      var column = state.columns.get(id);
      if (!column) return;
      editingColumn = id;
      columnForm.elements.name.value = column.name;
      columnForm.elements.wip_limit.value = column.wip_limit || '';
      columnDialog.showModal();
      columnForm.elements.name.focus();
    }

    onSubmit(columnForm, async function () {
      var name = columnForm.elements.name.value.trim();
      var limit = columnForm.elements.wip_limit.value.trim();
      var reply = await write('PATCH', '/columns/' + editingColumn, { name: name, wip_limit: limit ? Number(limit) : null });
      state.columns.set(reply.column.id, reply.column);
      fillColumnHead(columnEl(reply.column.id), reply.column);
      columnDialog.close();
    });

    columnDialog.querySelector('[data-action="delete-column"]').addEventListener('click', async function () {
      var node = columnEl(editingColumn);
      var count = cardsOf(node).length;
      if (count) {
        toast('Move or archive the ' + count + ' card' + (count === 1 ? '' : 's') + ' in this column first.', 'error');
        return;
      }
      if (!confirm('Delete this column?')) return;
      try {
        await write('DELETE', '/columns/' + editingColumn);
        state.columns.delete(editingColumn);
        node.remove();
        columnDialog.close();
      } catch (error) {
        toast(error.message, 'error');
      }
    });

    // --- card dialog ---

    var dialog = document.getElementById('card-dialog');
    var current = null; // id of the open card
    var titleInput = document.getElementById('cd-title');
    var columnSelect = document.getElementById('cd-column');
    var doneBox = document.getElementById('cd-done');
    var dueInput = document.getElementById('cd-due');
    var descView = document.getElementById('cd-description');
    var descEditor = document.getElementById('cd-description-editor');
    var descInput = document.getElementById('cd-description-input');
    var descEdit = document.getElementById('cd-description-edit-button');
    var commentsList = document.getElementById('cd-comments');
    var commentForm = document.getElementById('cd-comment-form');

    document.querySelectorAll('[data-action="close-dialog"]').forEach(function (button) {
      button.addEventListener('click', function () { button.closest('dialog').close(); });
    });
    // A click on the backdrop (outside the dialog box) closes it.
    [dialog, columnDialog].forEach(function (d) {
      d.addEventListener('click', function (event) { if (event.target === d) d.close(); });
    });

    function fitTitle() {
      titleInput.style.height = 'auto';
      titleInput.style.height = titleInput.scrollHeight + 'px';
    }

    function showDescription(card) {
      var text = (card.description || '').trim();
      descView.innerHTML = text ? TackMarkdown.render(text) : '';
      if (!text) descView.append(el('p', { class: 'muted', text: canWrite ? 'No description yet. Add details, links or a checklist.' : 'No description.' }));
      descEditor.hidden = true;
      descView.hidden = false;
      if (descEdit) descEdit.hidden = false;
    }

    function renderToggles(card) {
      var labels = document.getElementById('cd-labels');
      labels.replaceChildren.apply(labels, Array.from(state.labels.values()).map(function (label) {
        var on = card.labels.indexOf(label.id) !== -1;
        var chip = el('button', { type: 'button', class: 'toggle label-toggle' + (on ? ' is-on' : ''), 'aria-pressed': String(on), disabled: !canWrite, dataset: { labelId: label.id } },
          el('span', { class: 'swatch' }), label.name);
        paintLabel(chip.querySelector('.swatch'), label.color);
        return chip;
      }));
      if (!state.labels.size) labels.append(el('p', { class: 'muted small', text: 'No labels on this board yet.' }));
      var people = document.getElementById('cd-assignees');
      people.replaceChildren.apply(people, Array.from(state.members.values()).map(function (m) {
        var on = card.assignees.indexOf(m.user_id) !== -1;
        return el('button', { type: 'button', class: 'toggle member-toggle' + (on ? ' is-on' : ''), 'aria-pressed': String(on), disabled: !canWrite, dataset: { userId: m.user_id } },
          avatar(m.user_id, m.name, true), m.name);
      }));
    }

    function fillDialog(card) {
      titleInput.value = card.title;
      columnSelect.replaceChildren.apply(columnSelect, Array.from(columnsEl.querySelectorAll('.column[data-column-id]')).map(function (node) {
        var column = state.columns.get(Number(node.dataset.columnId));
        return el('option', { value: column.id, selected: column.id === card.column_id, text: column.name });
      }));
      doneBox.checked = !!card.done;
      dueInput.value = dueDay(card.due_at);
      renderToggles(card);
    }

    function commentItem(comment) {
      var author = state.members.get(comment.author_id);
      var name = author ? author.name : 'Former member';
      var body = el('div', { class: 'comment-body markdown' });
      body.innerHTML = TackMarkdown.render(comment.body);
      return el('li', { class: 'comment', dataset: { commentId: comment.id } },
        avatar(comment.author_id || 0, name, true),
        el('div', { class: 'comment-main' },
          el('div', { class: 'comment-head' }, el('span', { class: 'comment-author', text: name }),
            el('time', { class: 'comment-time', datetime: comment.created_at, text: formatTime(comment.created_at) })),
          body));
    }

    async function loadComments(id) {
      commentsList.replaceChildren(el('li', { class: 'muted small', text: 'Loading comments…' }));
      try {
        var all = [];
        var after = null;
        for (var page = 0; page < 20; page++) {
          var reply = await api('GET', base + '/cards/' + id + '/comments?limit=200' + (after ? '&after=' + after : ''));
          all = all.concat(reply.items);
          if (!reply.next_cursor) break;
          after = reply.next_cursor;
        }
        if (current !== id) return;
        commentsList.replaceChildren.apply(commentsList, all.map(commentItem));
        if (!all.length) commentsList.append(el('li', { class: 'muted small no-comments', text: 'No comments yet.' }));
      } catch (error) {
        commentsList.replaceChildren(el('li', { class: 'form-error', text: error.message }));
      }
    }

    function openCardDialog(id) {
      var card = state.cards.get(id);
      if (!card) return;
      current = id;
      fillDialog(card);
      showDescription(card);
      if (commentForm) commentForm.reset();
      dialog.showModal();
      fitTitle();
      dialog.focus();
      loadComments(id);
    }

    /** A change made in the dialog: PATCH the card, then show the reply everywhere. */
    async function patchCard(changes) {
      var id = current;
      try {
        var reply = await write('PATCH', '/cards/' + id, changes);
        refreshCard(reply.card);
        if (current === id) fillDialog(reply.card);
        return reply.card;
      } catch (error) {
        toast(error.message, 'error');
        if (current === id) fillDialog(state.cards.get(id));
        return null;
      }
    }

    titleInput.addEventListener('input', fitTitle);
    titleInput.addEventListener('keydown', function (event) {
      if (event.key === 'Enter') { event.preventDefault(); titleInput.blur(); }
    });
    titleInput.addEventListener('change', function () {
      var title = titleInput.value.trim();
      if (!title) { titleInput.value = state.cards.get(current).title; return; }
      if (title !== state.cards.get(current).title) patchCard({ title: title });
    });

    columnSelect.addEventListener('change', async function () {
      var id = current;
      var target = columnEl(columnSelect.value);
      var node = cardEl(id);
      var from = node.closest('.column');
      var index = cardsOf(target).filter(function (c) { return c !== node; }).length;
      try {
        var reply = await write('POST', '/cards/' + id + '/move', { column_id: Number(columnSelect.value), index: index });
        target.querySelector('.cards').append(node);
        updateCount(from);
        updateCount(target);
        refreshCard(reply.card);
      } catch (error) {
        toast(error.message, 'error');
        fillDialog(state.cards.get(id));
      }
    });

    doneBox.addEventListener('change', function () { patchCard({ done: doneBox.checked }); });
    dueInput.addEventListener('change', function () {
      patchCard({ due_at: dueInput.value ? dueInput.value + 'T12:00:00Z' : null });
    });
    var dueClear = document.getElementById('cd-due-clear');
    if (dueClear) dueClear.addEventListener('click', function () { dueInput.value = ''; patchCard({ due_at: null }); });

    document.getElementById('cd-labels').addEventListener('click', function (event) {
      var toggle = event.target.closest('[data-label-id]');
      if (!toggle || !canWrite) return;
      var card = state.cards.get(current);
      var id = Number(toggle.dataset.labelId);
      patchCard(card.labels.indexOf(id) === -1 ? { add_labels: [id] } : { remove_labels: [id] });
    });
    document.getElementById('cd-assignees').addEventListener('click', function (event) {
      var toggle = event.target.closest('[data-user-id]');
      if (!toggle || !canWrite) return;
      var card = state.cards.get(current);
      var id = Number(toggle.dataset.userId);
      patchCard(card.assignees.indexOf(id) === -1 ? { add_assignees: [id] } : { remove_assignees: [id] });
    });

    var newLabel = document.getElementById('cd-new-label');
    if (newLabel) {
      onSubmit(newLabel, async function (form) {
        var name = form.elements.name.value.trim();
        if (!name) { form.elements.name.focus(); return; }
        var reply = await write('POST', '/labels', { name: name, color: form.elements.color.value });
        state.labels.set(reply.label.id, reply.label);
        form.elements.name.value = '';
        await patchCard({ add_labels: [reply.label.id] });
      });
    }

    if (descEdit) {
      descEdit.addEventListener('click', function () {
        descInput.value = state.cards.get(current).description || '';
        descView.hidden = true;
        descEdit.hidden = true;
        descEditor.hidden = false;
        descInput.focus();
      });
      document.getElementById('cd-description-cancel').addEventListener('click', function () { showDescription(state.cards.get(current)); });
      document.getElementById('cd-description-save').addEventListener('click', async function (event) {
        event.target.disabled = true;
        var card = await patchCard({ description: descInput.value });
        event.target.disabled = false;
        if (card) showDescription(card);
      });
    }

    if (commentForm) {
      onSubmit(commentForm, async function (form) {
        var body = form.elements.body.value.trim();
        if (!body) { form.elements.body.focus(); return; }
        var id = current;
        var reply = await write('POST', '/cards/' + id + '/comments', { body: body });
        if (current !== id) return;
        var empty = commentsList.querySelector('.no-comments');
        if (empty) empty.remove();
        commentsList.append(commentItem(reply.comment));
        form.reset();
      });
      commentForm.elements.body.addEventListener('keydown', function (event) {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); commentForm.requestSubmit(); }
      });
    }

    function removeCard(button, question, method, body) {
      if (!button) return;
      button.addEventListener('click', async function () {
        var id = current;
        if (!confirm(question)) return;
        try {
          await write(method, '/cards/' + id, body);
          var node = cardEl(id);
          var column = node && node.closest('.column');
          if (node) node.remove();
          updateCount(column);
          state.cards.delete(id);
          dialog.close();
        } catch (error) {
          toast(error.message, 'error');
        }
      });
    }
    removeCard(document.getElementById('cd-archive'), 'Archive this card? It leaves the board; its history stays.', 'PATCH', { archived: true });
    removeCard(document.getElementById('cd-delete'), 'Delete this card and its comments for good?', 'DELETE');

    dialog.addEventListener('close', function () {
      var id = current;
      current = null;
      var node = id && cardEl(id);
      if (node) node.focus({ preventScroll: true });
    });

    // For tests and the live updates to come: the board's state, read-only.
    window.TackBoard = {
      version: function () { return Number(root.dataset.version); },
      card: function (id) { return state.cards.get(id); }
    };
  }


  // ---------------------------------------------------------------------------------------------
  // Notifications (the bell on every page, and /notifications), settings, webhooks, exports

  function notificationText(n) {
    var card = n.card_title ? '“' + n.card_title + '”' : 'a card';
    if (n.board_name) card += ' on ' + n.board_name;
    switch (n.kind) {
      case 'mentioned': return 'You were mentioned on ' + card;
      case 'assigned': return 'You were assigned to ' + card;
      case 'due_soon': return card.charAt(0).toUpperCase() + card.slice(1) + ' is due soon';
      case 'webhook_disabled': return 'A webhook (' + (n.payload.url || '') + ') was disabled after failed deliveries';
      default: return 'News about ' + card;
    }
  }

  function notificationLink(n) {
    if (!n.board_id) return '/boards';
    if (n.kind === 'webhook_disabled') return '/boards/' + n.board_id + '/webhooks';
    return '/boards/' + n.board_id + (n.card_id ? '#card-' + n.card_id : '');
  }

  async function refreshBell() {
    var badge = document.getElementById('bell-count');
    if (!badge) return;
    try {
      var page = await api('GET', '/notifications?unread=true&limit=1');
      badge.textContent = page.unread_count > 99 ? '99+' : String(page.unread_count);
      badge.hidden = page.unread_count === 0;
    } catch (e) { /* the bell is a convenience; the page works without it */ }
  }

  function initNotifications() {
    var list = document.getElementById('notification-list');
    var empty = document.getElementById('no-notifications');
    async function load() {
      var page = await api('GET', '/notifications?limit=100');
      list.replaceChildren();
      page.items.forEach(function (n) {
        list.append(el('li', { class: 'notification' + (n.read_at ? '' : ' is-unread'), dataset: { id: n.id } },
          el('a', { href: notificationLink(n), text: notificationText(n) }),
          el('time', { class: 'muted', datetime: n.created_at, text: new Date(n.created_at).toLocaleString() })));
      });
      empty.hidden = page.items.length > 0;
      refreshBell();
    }
    document.querySelector('[data-action="read-all"]').addEventListener('click', async function () {
      try {
        await api('POST', '/notifications/read', { all: true });
        await load();
        toast('All read.');
      } catch (error) { toast(error.message, 'error'); }
    });
    list.addEventListener('click', function (event) {
      var item = event.target.closest('.notification.is-unread');
      if (item) api('POST', '/notifications/read', { ids: [Number(item.dataset.id)] }).catch(function () {});
    });
    load().catch(function (error) { toast(error.message, 'error'); });
  }

  function initSettings() {
    var form = document.getElementById('settings-form');
    var select = form.elements.email_notifications;
    api('GET', '/me/settings').then(function (s) { select.value = s.email_notifications; })
      .catch(function (error) { toast(error.message, 'error'); });
    onSubmit(form, async function () {
      await api('PATCH', '/me/settings', { email_notifications: select.value });
      toast('Saved.');
    });
    var password = document.getElementById('password-form');
    onSubmit(password, async function () {
      await api('PUT', '/me/password', { current_password: password.elements.current_password.value,
                                         new_password: password.elements.new_password.value });
      password.reset();
      toast('Password changed; your other sessions have ended.');
    });
  }

  function initWebhooks() {
    var root = document.getElementById('webhooks');
    var base = '/boards/' + root.dataset.boardId + '/webhooks';
    var list = document.getElementById('webhook-list');
    var form = document.getElementById('new-webhook');

    function deliveryRow(d) {
      var last = d.attempts[d.attempts.length - 1];
      var detail = last ? (last.status_code ? 'HTTP ' + last.status_code : (last.error || '')) + ' · ' + last.latency_ms + ' ms' : 'waiting';
      return el('li', { class: 'delivery delivery-' + d.status },
        el('span', { class: 'delivery-status', text: d.status }),
        el('span', { text: d.event_kind + ' (v' + d.event_version + ')' }),
        el('span', { class: 'muted', text: d.attempts.length + ' attempt' + (d.attempts.length === 1 ? '' : 's') + ' · ' + detail }));
    }

    function render(hook) {
      var deliveries = el('ul', { class: 'delivery-list' });
      var state = hook.active ? 'active' : (hook.disabled_reason ? 'disabled: ' + hook.disabled_reason : 'off');
      var item = el('li', { class: 'panel webhook', dataset: { id: hook.id } },
        el('div', { class: 'webhook-head' },
          el('code', { class: 'webhook-url', text: hook.url }),
          el('span', { class: 'role-badge', text: state })),
        el('p', { class: 'muted', text: hook.events.length ? 'Events: ' + hook.events.join(', ') : 'Every event' }),
        el('div', { class: 'row' },
          el('button', { type: 'button', class: 'button button-small', dataset: { action: 'toggle' }, text: hook.active ? 'Turn off' : 'Turn on' }),
          el('button', { type: 'button', class: 'button button-small', dataset: { action: 'deliveries' }, text: 'Recent deliveries' }),
          el('button', { type: 'button', class: 'button button-danger-quiet button-small', dataset: { action: 'delete' }, text: 'Delete' })),
        deliveries);
      item.hook = hook;
      return item;
    }

    async function load() {
      var page = await api('GET', base);
      list.replaceChildren.apply(list, page.items.map(render));
      document.getElementById('no-webhooks').hidden = page.items.length > 0;
    }

    onSubmit(form, async function () {
      var events = form.elements.events.value.split(',').map(function (e) { return e.trim(); }).filter(Boolean);
      var reply = await api('POST', base, { url: form.elements.url.value.trim(), events: events });
      document.getElementById('new-webhook-secret-value').textContent = reply.secret;
      document.getElementById('new-webhook-secret').hidden = false;
      form.reset();
      await load();
    });

    list.addEventListener('click', async function (event) {
      var button = event.target.closest('[data-action]');
      if (!button) return;
      var item = button.closest('.webhook');
      var hook = item.hook;
      try {
        if (button.dataset.action === 'toggle') {
          await api('PATCH', base + '/' + hook.id, { active: !hook.active });
          await load();
        } else if (button.dataset.action === 'delete') {
          if (!confirm('Delete the webhook to ' + hook.url + ' and its delivery log?')) return;
          await api('DELETE', base + '/' + hook.id);
          await load();
        } else if (button.dataset.action === 'deliveries') {
          var page = await api('GET', base + '/' + hook.id + '/deliveries?limit=20');
          var ul = item.querySelector('.delivery-list');
          ul.replaceChildren.apply(ul, page.items.map(deliveryRow));
          if (!page.items.length) ul.append(el('li', { class: 'muted', text: 'No deliveries yet.' }));
        }
      } catch (error) { toast(error.message, 'error'); }
    });
    load().catch(function (error) { toast(error.message, 'error'); });
  }

  /** Board page: "Export JSON/CSV" asks a worker for the file, waits for it, then downloads it. */
  function initExports() {
    var board = document.getElementById('board');
    if (!board) return;
    board.addEventListener('click', async function (event) {
      var button = event.target.closest('[data-action="export"]');
      if (!button) return;
      var base = '/boards/' + board.dataset.boardId + '/exports';
      button.disabled = true;
      try {
        var reply = await api('POST', base, { format: button.dataset.format });
        toast('Preparing the export…');
        for (var i = 0; i < 120; i++) {
          await new Promise(function (resolve) { setTimeout(resolve, 500); });
          var current = await api('GET', base + '/' + reply.export.id);
          if (current.export.status === 'ready') {
            location.assign('/api/v1' + base + '/' + reply.export.id + '/download');
            return;
          }
          if (current.export.status === 'failed') throw new Error('The export failed: ' + (current.export.error || 'unknown error'));
        }
        throw new Error('The export is taking long; find it again in a minute.');
      } catch (error) {
        toast(error.message, 'error');
      } finally {
        button.disabled = false;
      }
    });
  }

  // ---------------------------------------------------------------------------------------------

  var pages = { login: initLogin, signup: initSignup, boards: initBoards, board: function () { initBoard(); initExports(); },
                members: initMembers, tokens: initTokens, notifications: initNotifications, settings: initSettings, webhooks: initWebhooks };
  initLogout();
  refreshBell();
  var init = pages[document.body.dataset.page];
  if (init) init();
})();
