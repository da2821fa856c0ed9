// Windowdesk's only script: the window countdown, live updates over server-sent events, "Load
// more", the template picker's filter and live preview, and the macro picker with its shortcut. No framework and no build step. Everything it inserts comes from this desk's own pages,
// where the server has escaped customer content; the script itself only sets text.
'use strict';

(() => {
  const body = document.body;
  // The server's clock, not the browser's: the window closes when the desk says it does.
  const skew = Number(body.dataset.now || Date.now()) - Date.now();
  const now = () => Date.now() + skew;

  // The same wording as the server (web/format.rs `span`).
  function span(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return `${d} d ${h} h`;
    if (h > 0) return `${h} h ${m} min`;
    if (m >= 10) return `${m} min`;
    if (m > 0) return `${m} min ${s % 60} s`;
    return `${s} s`;
  }

  // The same wording as the server (web/format.rs `wait`): to the minute.
  function wait(ms) {
    const minutes = Math.floor(ms / 60000);
    if (minutes < 1) return 'under 1 min';
    return minutes < 60 ? `${minutes} min` : span(ms - (ms % 60000));
  }

  function announce(text) {
    const el = document.getElementById('live-status');
    if (el) el.textContent = text;
  }

  // ---- The window banner and the composer ----
  function setComposer(open) {
    const composer = document.getElementById('composer');
    if (!composer) return;
    const want = open ? 'open' : 'closed';
    if (composer.dataset.state === want) return;
    composer.dataset.state = want;
    const form = document.getElementById('reply-form');
    const closed = document.getElementById('composer-closed');
    if (form) {
      form.hidden = !open;
      form.querySelectorAll('textarea, button').forEach((el) => { el.disabled = !open; });
    }
    if (closed) closed.hidden = open;
    // Text typed while the window closed is kept, never silently dropped: it moves to the box the
    // ways out (hold, SMS) send, or is shown when there is none.
    const draft = document.getElementById('reply-body');
    const held = document.getElementById('held-body');
    if (!open && closed && draft && draft.value.trim()) {
      if (held && !held.value.trim()) {
        held.value = draft.value;
      } else if (!held) {
        let kept = document.getElementById('kept-draft');
        if (!kept) {
          kept = document.createElement('p');
          kept.id = 'kept-draft';
          closed.appendChild(kept);
        }
        kept.textContent = `Your unsent text (still in the reply box for when the window reopens): ${draft.value.trim()}`;
      }
    }
    // And back: a reply written for holding goes to the reply box when the customer writes again.
    if (open && draft && held && held.value.trim() && !draft.value.trim()) draft.value = held.value;
    const summary = document.getElementById('picker-summary');
    if (summary) summary.textContent = open ? 'Use a template' : 'Choose an approved template';
    refreshMacroPanel();
    announce(open ? 'The customer wrote again: the window is open and you can reply.'
                  : 'The customer service window has closed: free-form replies are off.');
  }

  function tickBanner() {
    const banner = document.getElementById('window-banner');
    if (!banner || !banner.dataset.windowEnd) return;
    const left = Number(banner.dataset.windowEnd) - now();
    const status = document.getElementById('window-status');
    const countdown = document.getElementById('window-countdown');
    let state;
    if (left > 0) {
      state = left < 3600000 ? 'closing' : 'open';
      status.textContent = 'Window open';
      countdown.textContent = `closes in ${span(left)}`;
    } else {
      state = 'closed';
      status.textContent = 'Window closed';
      countdown.textContent = left > -60000 ? 'closed just now' : `closed ${span(-left)} ago`;
    }
    if (banner.dataset.state !== state) {
      banner.classList.remove('open', 'closing', 'closed', 'never');
      banner.classList.add(state);
      banner.dataset.state = state;
    }
    setComposer(left > 0);
  }

  // The same bounds as the server (web/components.rs `urgency`).
  function urgency(left) {
    if (left > 4 * 3600000) return 'calm';
    if (left >= 3600000) return 'warning';
    return left > 0 ? 'urgent' : 'closed';
  }

  function tickRows() {
    document.querySelectorAll('.window[data-window-end]').forEach((el) => {
      const left = Number(el.dataset.windowEnd) - now();
      const level = urgency(left);
      el.textContent = left > 0 ? `${span(left)} left` : 'window closed';
      if (el.dataset.urgency !== level) {
        el.classList.remove('calm', 'warning', 'urgent', 'closed');
        el.classList.add(level);
        el.dataset.urgency = level;
      }
      if (left <= 0) delete el.dataset.windowEnd;
    });
    document.querySelectorAll('.waiting[data-since]').forEach((el) => {
      el.textContent = `waiting ${wait(now() - Number(el.dataset.since))}`;
    });
  }

  function tick() { tickBanner(); tickRows(); }
  tick();
  setInterval(tick, 1000);

  // ---- Fetching fragments ----
  async function fetchHtml(url) {
    const res = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
    if (res.redirected && new URL(res.url).pathname === '/login') { location.reload(); return null; }
    if (!res.ok) return null;
    return new DOMParser().parseFromString(`<body>${await res.text()}</body>`, 'text/html').body;
  }

  const timers = {};
  function soon(key, fn) {
    clearTimeout(timers[key]);
    timers[key] = setTimeout(fn, 150);
  }

  // Replaces the thread bubble by bubble, so a voice note that is playing keeps playing.
  function mergeThread(current, fresh) {
    const wanted = Array.from(fresh.children);
    wanted.forEach((node, i) => {
      const at = current.children[i];
      if (at && at.id === node.id) {
        if (at.outerHTML !== node.outerHTML) current.replaceChild(node, at);
      } else {
        const existing = node.id ? document.getElementById(node.id) : null;
        if (existing && existing.parentNode === current && existing.outerHTML === node.outerHTML) {
          current.insertBefore(existing, at || null);
        } else {
          current.insertBefore(node, at || null);
        }
      }
    });
    while (current.children.length > wanted.length) current.lastElementChild.remove();
  }

  async function refreshTicket() {
    const live = document.querySelector('[data-live="ticket"]');
    if (!live) return;
    const fresh = await fetchHtml(`/tickets/${live.dataset.ticketId}/live`);
    if (!fresh) return;
    const before = live.querySelectorAll('.bubble').length;
    const statusHint = fresh.querySelector('[data-ticket-status]');
    const badge = document.getElementById('ticket-status');
    if (statusHint && badge) {
      badge.textContent = statusHint.dataset.ticketStatus;
      badge.className = `status ${statusHint.dataset.ticketStatus}`;
    }
    const oldThread = document.getElementById('thread');
    const newThread = fresh.querySelector('#thread');
    if (oldThread && newThread) mergeThread(oldThread, newThread);
    for (const id of ['window-banner', 'events']) {
      const old = document.getElementById(id);
      const neu = fresh.querySelector(`#${id}`);
      if (old && neu) {
        if (id === 'events') neu.open = old.open;
        old.replaceWith(neu);
      }
    }
    const after = live.querySelectorAll('.bubble').length;
    if (after > before) announce('New message in this ticket.');
    body.dataset.refreshed = String(Date.now());
    tick();
  }

  async function refreshInbox() {
    const lists = document.querySelector('[data-live="inbox"]');
    if (!lists) return;
    const fresh = await fetchHtml('/live/inbox');
    if (!fresh) return;
    lists.replaceChildren(...Array.from(fresh.childNodes));
    body.dataset.refreshed = String(Date.now());
    tickRows();
  }

  async function refreshCounts() {
    const res = await fetch('/live/counts', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!res.ok || res.redirected) return;
    const counts = await res.json();
    for (const [key, value] of Object.entries(counts)) {
      document.querySelectorAll(`[data-count="${key}"]`).forEach((el) => { el.textContent = String(value); });
    }
  }

  // ---- Server-sent events ----
  let events = null;
  function connect() {
    events = new EventSource('/live/events');
    // Whatever changed between rendering this page and the stream opening (or while it was down)
    // was not heard: catch up once on every (re)connection.
    events.addEventListener('hello', () => {
      body.dataset.live = 'connected';
      soon('ticket', refreshTicket);
      soon('inbox', refreshInbox);
      soon('counts', refreshCounts);
    });
    events.addEventListener('ticket', (e) => {
      const { ticket_id: id } = JSON.parse(e.data);
      const live = document.querySelector('[data-live="ticket"]');
      if (live && Number(live.dataset.ticketId) === id) soon('ticket', refreshTicket);
      if (document.querySelector('[data-live="inbox"]')) soon('inbox', refreshInbox);
      soon('counts', refreshCounts);
    });
    events.addEventListener('notification', () => {
      soon('counts', refreshCounts);
      announce('A colleague mentioned you in a note.');
    });
    events.addEventListener('resync', () => {
      soon('ticket', refreshTicket);
      soon('inbox', refreshInbox);
      soon('counts', refreshCounts);
    });
    events.onerror = () => { body.dataset.live = 'reconnecting'; };
  }
  if (window.EventSource) connect();
  // A page kept in the back/forward cache must not keep its stream: browsers allow only six
  // connections to one host, and six kept pages would stall the seventh.
  window.addEventListener('pagehide', () => { if (events) { events.close(); events = null; } });
  window.addEventListener('pageshow', (e) => {
    if (!e.persisted || !window.EventSource) return;
    connect();
    soon('ticket', refreshTicket);
    soon('inbox', refreshInbox);
    soon('counts', refreshCounts);
  });

  // ---- Load more ----
  document.addEventListener('click', async (e) => {
    const link = e.target.closest('a.load-more');
    if (!link) return;
    e.preventDefault();
    link.setAttribute('aria-busy', 'true');
    const fresh = await fetchHtml(link.href);
    if (!fresh) { link.removeAttribute('aria-busy'); return; }
    const list = link.previousElementSibling;
    fresh.querySelectorAll('li.ticket-row').forEach((li) => list.appendChild(li));
    const next = fresh.querySelector('a.load-more');
    if (next) link.replaceWith(next); else link.remove();
    tickRows();
  });

  // ---- The template picker ----
  // Search and filters narrow the list in place (without script the form asks the server).
  function filterTemplates() {
    const q = (document.getElementById('template-q') || {}).value || '';
    const lang = (document.getElementById('template-lang') || {}).value || '';
    const cat = (document.getElementById('template-cat') || {}).value || '';
    let shown = 0;
    document.querySelectorAll('#template-list li.template-option').forEach((li) => {
      const ok = li.dataset.name.includes(q.trim().toLowerCase())
        && (!lang || li.dataset.language === lang) && (!cat || li.dataset.category === cat);
      li.hidden = !ok;
      if (ok) shown += 1;
    });
    const none = document.getElementById('template-none');
    if (none) none.hidden = shown > 0;
  }
  const search = document.getElementById('template-search');
  if (search) {
    search.addEventListener('input', filterTemplates);
    search.addEventListener('change', filterTemplates);
    search.addEventListener('submit', (e) => { e.preventDefault(); filterTemplates(); });
  }

  // "Send an approved template" in the closed composer opens the picker where it is.
  document.addEventListener('click', (e) => {
    const link = e.target.closest('#choose-template');
    const picker = document.getElementById('picker');
    if (!link || !picker) return;
    e.preventDefault();
    picker.open = true;
    picker.scrollIntoView({ block: 'start' });
    const first = document.getElementById('template-q');
    if (first) first.focus();
  });

  // Choosing a template puts its form in place (without a reload, which would lose text typed in
  // the reply boxes); without script the link loads the page with it.
  document.addEventListener('click', async (e) => {
    const link = e.target.closest('#template-list a[data-fragment]');
    if (!link) return;
    e.preventDefault();
    const fresh = await fetchHtml(link.dataset.fragment);
    const chosen = fresh && fresh.querySelector('#template-chosen');
    if (!chosen) { location.href = link.href; return; }
    const old = document.getElementById('template-chosen');
    if (old) old.replaceWith(chosen); else document.getElementById('picker-body').appendChild(chosen);
    document.querySelectorAll('#template-list li[aria-current]').forEach((li) => li.removeAttribute('aria-current'));
    link.closest('li').setAttribute('aria-current', 'true');
    const first = chosen.querySelector('input:not([type="hidden"])') || chosen.querySelector('button');
    if (first) first.focus();
    announce(`Template ${link.querySelector('.tname').textContent} chosen: fill in its parameters.`);
  });

  // The preview is the server's (the same validation as sending), refreshed as the agent types.
  let previewSeq = 0;
  async function refreshPreview(form) {
    previewSeq += 1;
    const mine = previewSeq;
    const res = await fetch(form.dataset.preview, {
      method: 'POST', credentials: 'same-origin', headers: { Accept: 'text/html' },
      body: new URLSearchParams(new FormData(form)),
    });
    if (!res.ok || mine !== previewSeq) return;
    const fresh = new DOMParser().parseFromString(`<body>${await res.text()}</body>`, 'text/html').body;
    const target = document.getElementById('template-preview');
    if (!target) return;
    target.replaceChildren(...Array.from(fresh.childNodes));
    // The field the problem names is marked invalid; the others are not.
    const problem = document.getElementById('template-problem');
    const field = problem ? problem.dataset.field : undefined;
    form.querySelectorAll('[data-param]').forEach((input) => {
      if (field && input.dataset.param === field) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    });
    form.dataset.previewed = String(mine);
  }
  document.addEventListener('input', (e) => {
    const form = e.target.closest && e.target.closest('#template-form');
    if (form && form.dataset.preview) soon('preview', () => refreshPreview(form));
  });

  // ---- The macro picker ----
  // `M` outside a text field, or Ctrl+Alt+M anywhere, opens it; typing filters; the arrow keys move
  // through the list; Enter chooses; Esc closes. Choosing fetches the macro's panel, with its reply
  // rendered for this ticket by the server, and fills the composer for review. Without script the
  // search form and the links ask the server instead.
  const macros = document.getElementById('macros');
  let macroReturn = null; // where Esc puts the focus back
  let macroText = null; // the text the chosen macro put in the reply box
  function typingIn(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
    return el.tagName === 'INPUT' && !['button', 'submit', 'reset', 'checkbox', 'radio', 'hidden'].includes(el.type);
  }
  function macroLinks() {
    return Array.from(document.querySelectorAll('#macro-list li.macro-option:not([hidden]) a'));
  }
  function filterMacros() {
    const q = ((document.getElementById('macro-q') || {}).value || '').trim().toLowerCase();
    let shown = 0;
    document.querySelectorAll('#macro-list li.macro-option').forEach((li) => {
      const ok = li.dataset.search.includes(q);
      li.hidden = !ok;
      if (ok) shown += 1;
    });
    const none = document.getElementById('macro-none');
    if (none) none.hidden = shown > 0;
  }
  function openMacros() {
    macroReturn = document.activeElement;
    macros.open = true;
    const q = document.getElementById('macro-q');
    if (q) { q.focus(); q.select(); } else document.getElementById('macros-summary').focus();
  }
  function closeMacros(restore) {
    macros.open = false;
    const back = restore && macroReturn && document.contains(macroReturn) && macroReturn !== body ? macroReturn : null;
    (back || document.getElementById('macros-summary')).focus();
  }
  // Puts the macro's panel in place; with `fill`, its reply goes into the box the agent sends from.
  async function showMacro(url, fill) {
    const fresh = await fetchHtml(url);
    const panel = fresh && fresh.querySelector('#macro-chosen');
    if (!panel) return false;
    document.getElementById('macro-slot').replaceChildren(panel);
    document.querySelectorAll('#macro-list li[aria-current]').forEach((li) => li.removeAttribute('aria-current'));
    const item = document.querySelector(`#macro-list a[data-macro-id="${panel.dataset.macroId}"]`);
    if (item) item.closest('li').setAttribute('aria-current', 'true');
    if (!fill) return true;
    const reply = panel.dataset.reply;
    const name = panel.querySelector('q').textContent;
    const box = document.getElementById('reply-body');
    if (panel.dataset.window === 'open' && reply !== undefined && box) {
      // The macro's text replaces what the last macro put there, and is added after anything typed.
      const mine = !box.value.trim() || box.value === macroText;
      box.value = mine ? reply : `${box.value.trimEnd()}\n\n${reply}`;
      macroText = mine ? box.value : null;
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
      announce(`Macro ${name} chosen: its reply is in the box for you to review before sending.`);
    } else {
      // The window is closed: a reply the macro will not send is kept in the ways-out box.
      const held = document.getElementById('held-body');
      const closed = panel.querySelector('#macro-closed');
      if (held && reply && closed && closed.dataset.goes === 'false' && !held.value.trim()) held.value = reply;
      const next = panel.querySelector('#macro-body') || panel.querySelector('#macro-apply');
      if (next) next.focus();
      announce(`Macro ${name} chosen: see what it will do, then apply it.`);
    }
    return true;
  }
  async function chooseMacro(link) {
    closeMacros(false);
    if (!(await showMacro(link.dataset.preview, true))) location.href = link.href;
  }
  if (macros) {
    const q = document.getElementById('macro-q');
    const searchForm = document.getElementById('macro-search');
    if (q) q.addEventListener('input', filterMacros);
    if (searchForm) searchForm.addEventListener('submit', (e) => { e.preventDefault(); filterMacros(); });
    macros.addEventListener('toggle', () => {
      if (macros.open && document.activeElement === document.getElementById('macros-summary') && q) q.focus();
    });
    document.addEventListener('keydown', (e) => {
      if (e.defaultPrevented || e.isComposing) return;
      const inPicker = macros.open && macros.contains(e.target);
      const anywhere = e.ctrlKey && e.altKey && !e.shiftKey && !e.metaKey && e.code === 'KeyM';
      const plain = !inPicker && !e.ctrlKey && !e.altKey && !e.metaKey && (e.key === 'm' || e.key === 'M') && !typingIn(e.target);
      if (anywhere || plain) {
        e.preventDefault();
        openMacros();
        return;
      }
      if (!inPicker) return;
      const links = macroLinks();
      const at = links.indexOf(e.target);
      if (e.key === 'Escape') {
        e.preventDefault();
        closeMacros(true);
      } else if (e.key === 'ArrowDown' && links.length) {
        e.preventDefault();
        links[Math.min(at + 1, links.length - 1)].focus();
      } else if (e.key === 'ArrowUp' && at >= 0) {
        e.preventDefault();
        if (at === 0 && q) q.focus(); else links[at - 1].focus();
      } else if (e.key === 'Enter' && e.target === q) {
        // Enter in the search chooses the first match.
        e.preventDefault();
        if (links.length) chooseMacro(links[0]);
      } else if (at >= 0 && q && e.key.length === 1 && !e.ctrlKey && !e.altKey && !e.metaKey) {
        q.focus(); // typing on a macro goes on filtering
      }
    });
    document.addEventListener('click', (e) => {
      const link = e.target.closest('#macro-list a[data-preview]');
      if (link) {
        e.preventDefault();
        chooseMacro(link);
        return;
      }
      const cancel = e.target.closest('#macro-cancel');
      if (cancel) {
        e.preventDefault();
        document.getElementById('macro-slot').replaceChildren();
        document.querySelectorAll('#macro-list li[aria-current]').forEach((li) => li.removeAttribute('aria-current'));
        const box = document.getElementById('reply-body');
        if (box && macroText !== null && box.value === macroText) box.value = '';
        macroText = null;
        announce('Macro removed: sending will not apply it.');
        if (box && !box.disabled) box.focus();
      }
    });
  }
  // When the window opens or closes under a chosen macro, its panel says what sending now does.
  // (Declared here but called from the countdown, which can run first: it looks everything up itself.)
  function refreshMacroPanel() {
    const panel = document.getElementById('macro-chosen');
    const picker = document.getElementById('macros');
    if (panel && picker) showMacro(`/tickets/${picker.dataset.ticketId}/macros/${panel.dataset.macroId}/preview`, false);
  }

  // ---- Forms: no double sends ----
  document.addEventListener('submit', (e) => {
    const form = e.target;
    if (form.dataset.submitting) { e.preventDefault(); return; }
    form.dataset.submitting = '1';
    setTimeout(() => { delete form.dataset.submitting; }, 5000);
  });
})();
