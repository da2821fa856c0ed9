// Windowdesk's only script: the window countdown, live updates over server-sent events, "Load
// more", the template picker's filter and live preview, the macro picker with its shortcut, and the rule builder. No framework and no build step. Everything it inserts comes from this desk's own pages,
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
    // The attachment: sent while the window is open, held (where the number allows) while it is closed.
    [['send-file', open], ['hold-file', !open]].forEach(([id, shown]) => {
      const b = document.getElementById(id);
      if (b) { b.hidden = !shown; b.disabled = !shown; }
    });
    const attachClosed = document.getElementById('attach-closed');
    if (attachClosed) attachClosed.hidden = open;
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

  // What the event stream says changed is fetched at once: a customer's message shows within a
  // round trip of the desk committing it. A burst is not a fetch per event: while one fetch is out,
  // the events that arrive make one more when it is back.
  const running = {};
  function atOnce(key, fn) {
    const r = running[key] || (running[key] = { busy: false, again: false });
    if (r.busy) { r.again = true; return; }
    r.busy = true;
    Promise.resolve().then(fn).catch(() => {}).finally(() => {
      r.busy = false;
      if (r.again) { r.again = false; atOnce(key, fn); }
    });
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

  // Whether the agent is reading the newest messages (a new one then scrolls into view) or
  // further up (the thread stays where they are).
  const nearBottomOf = (el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48;

  async function refreshTicket() {
    const live = document.querySelector('[data-live="ticket"]');
    if (!live) return;
    const fresh = await fetchHtml(`/tickets/${live.dataset.ticketId}/live`);
    if (!fresh) return;
    const before = live.querySelectorAll('.bubble').length;
    const stick = nearBottomOf(live);
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
    if (stick) live.scrollTop = live.scrollHeight;
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
    restorePicks();
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
      if (live && Number(live.dataset.ticketId) === id) atOnce('ticket', refreshTicket);
      if (document.querySelector('[data-live="inbox"]')) atOnce('inbox', refreshInbox);
      atOnce('counts', refreshCounts);
    });
    events.addEventListener('presence', (e) => heardPresence(JSON.parse(e.data)));
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

  // ---- The rule builder (Admin → Rules) and the macro builder (Macros) ----
  // The draft lives as JSON in #rule-json or #macro-json (the form posts it, with or without script);
  // the builder draws rows from it and writes it back on every change. The server checks the draft as
  // the admin or agent types and names each problem's field path; the script shows it at that row.
  // The form's data-kind ("rule", the default, or "macro") prefixes its elements' ids and says what
  // the builder offers: a macro has a name, a "shared" box and actions, and no event, conditions or
  // dry run.
  // A workflow ("workflow") has a name, an event, conditions and nested steps: Window check (Open and
  // Closed branches), wait, condition (then and else) and any action.
  for (const id of ['rule-form', 'macro-form', 'workflow-form']) {
    const builderForm = document.getElementById(id);
    if (builderForm) ruleBuilder(builderForm);
  }

  function ruleBuilder(form) {
    const kind = form.dataset.kind || 'rule';
    const isMacro = kind === 'macro';
    const isWorkflow = kind === 'workflow';
    const part = (name) => document.getElementById(`${kind}-${name}`);
    const opts = JSON.parse(form.dataset.options || '{}');
    const csrf = form.querySelector('input[name="csrf"]').value;
    const jsonBox = part('json');
    const builder = document.getElementById('builder');
    const statusLine = part('status');
    const save = part('save');
    const dryRunButton = part('dry-run'); // rules only
    const result = document.getElementById('dry-run-result');
    let draft;
    try { draft = JSON.parse(jsonBox.value); } catch (e) { draft = null; }
    if (!draft || typeof draft !== 'object') return; // the JSON box stays the editor
    part('json-details').open = false;
    builder.hidden = false;
    // A new draft's problems are shown once the author starts; a refused save's at once.
    let touched = form.dataset.new !== 'true' || !!part('errors');
    let lastErrors = [];
    const setDryRun = (disabled) => { if (dryRunButton) dryRunButton.disabled = disabled; };

    const IS = [['is', 'is'], ['is_not', 'is not']];
    const COMPARE = [['less_than', 'less than'], ['more_than', 'more than']];
    const words = (s) => s.replace(/_/g, ' ');
    const CONDITIONS = {
      message_text: { label: 'Message text', ops: [['contains_any', 'contains any of'], ['contains_none', 'contains none of']], list: 'words',
        hint: 'Words or phrases, separated by commas (case does not matter)' },
      first_message: { label: 'First message of the ticket', bool: 'value' },
      within_business_hours: { label: 'Within business hours', bool: 'value' },
      window: { label: 'Customer window', choice: ['state', [['open', 'open'], ['closed', 'closed']]] },
      window_time_left: { label: 'Window time left', ops: COMPARE, minutes: true },
      business_time_left: { label: 'Business time left in the window', ops: COMPARE, minutes: true },
      window_closes_before_team_is_back: { label: 'Window closes before the team is back', bool: 'value' },
      awaiting_reply: { label: 'Customer is waiting for an answer', bool: 'value' },
      time_since_last_customer_message: { label: 'Time since the last customer message', ops: COMPARE, minutes: true, business: true },
      time_since_last_agent_reply: { label: 'Time since the last agent reply', ops: COMPARE, minutes: true, business: true },
      time_since_created: { label: 'Time since the ticket was created', ops: COMPARE, minutes: true, business: true },
      time_since_status_changed: { label: 'Time since the status changed', ops: COMPARE, minutes: true, business: true },
      time_since_solved: { label: 'Time since the ticket was solved', ops: COMPARE, minutes: true, business: true },
      status: { label: 'Status', ops: IS, checks: ['values', () => (opts.statuses || []).map((s) => [s, words(s)])] },
      priority: { label: 'Priority', ops: IS, checks: ['values', () => (opts.priorities || []).map((p) => [p, p])] },
      tags: { label: 'Tags', ops: [['include_any', 'include any of'], ['include_all', 'include all of'], ['include_none', 'include none of']],
        list: 'tags', hint: 'Tags, separated by commas' },
      assignee: { label: 'Assignee', ops: [['is', 'is'], ['is_not', 'is not'], ['unassigned', 'is nobody (unassigned)'], ['assigned', 'is anybody (assigned)']],
        agent: true },
      business_number: { label: 'Business number', ops: IS, checks: ['ids', () => (opts.numbers || []).map((n) => [n.id, n.name])] },
    };
    const ACTIONS = {
      reply: 'Reply to the customer', add_tags: 'Add tags', remove_tags: 'Remove tags', set_status: 'Set status',
      set_priority: 'Set priority', set_assignee: 'Assign to an agent', unassign: 'Unassign', internal_note: 'Add an internal note',
      notify_agent: 'Notify an agent', notify_assignee: 'Notify the assignee', call_http: 'Call an HTTP target (signed JSON)', send_template: 'Send a template', send_sms: 'Send an SMS', hold_reply: 'Hold a reply until the customer writes',
    };
    // What "Add an action" offers: every action, or those the page lists (a macro's).
    const actionChoices = Object.entries(ACTIONS).filter(([k]) => !opts.actions || opts.actions.includes(k));
    const CLOSED = [['skip', 'skip it (the ticket says "not sent: window closed")'], ['template', 'send a template instead'],
      ['hold', 'hold it until the customer writes again'], ['sms', 'send an SMS instead']];
    const firstAgent = () => ((opts.agents || [])[0] || {}).id || 0;

    function newCondition(field) {
      const c = CONDITIONS[field];
      const out = { field };
      if (c.ops) out.op = c.ops[0][0];
      if (c.list) out[c.list] = [];
      if (c.bool) out[c.bool] = true;
      if (c.choice) out[c.choice[0]] = c.choice[1][0][0];
      if (c.minutes) out.minutes = 60;
      if (c.checks) out[c.checks[0]] = [];
      if (c.agent) out.agent_id = firstAgent();
      return out;
    }
    function newAction(type) {
      switch (type) {
        case 'reply': return { type, text: '', when_closed: { kind: 'skip' } };
        case 'send_template': return { type, name: '', language: 'en', params: {} };
        case 'send_sms': case 'internal_note': case 'notify_assignee': return { type, text: '' };
        case 'hold_reply': return { type, text: '', hours: 72 };
        case 'set_status': return { type, status: 'pending' };
        case 'set_priority': return { type, priority: 'high' };
        case 'add_tags': case 'remove_tags': return { type, tags: [] };
        case 'set_assignee': return { type, agent_id: firstAgent() };
        case 'notify_agent': return { type, agent_id: firstAgent(), text: '' };
        case 'call_http': return { type, target_id: ((opts.http_targets || [])[0] || {}).id || 0 };
        default: return { type };
      }
    }

    // ---- Small DOM helpers ----
    function el(tag, attrs, ...children) {
      const node = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k === 'dataset') Object.assign(node.dataset, v);
        else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : v);
      }
      children.flat().forEach((c) => { if (c) node.append(c); });
      return node;
    }
    const idOf = (path) => `rb-${path.replace(/[^a-zA-Z0-9]+/g, '-').replace(/-$/, '')}`;
    // A labelled field; `path` is its field path in the draft (what the server's errors name).
    function field(label, path, control, hint) {
      control.id = idOf(path);
      control.dataset.path = path;
      const hintId = hint ? `${control.id}-hint` : null;
      if (hintId) control.setAttribute('aria-describedby', hintId);
      return el('div', { class: 'rb-field', dataset: { field: path } },
        el('label', { for: control.id, text: label }), control, hint ? el('p', { class: 'hint', id: hintId, text: hint }) : null);
    }
    function select(options, value, onchange) {
      const s = el('select', { onchange: (e) => onchange(e.target.value) });
      options.forEach(([v, label]) => s.append(el('option', { value: String(v), text: label, selected: String(v) === String(value) })));
      return s;
    }
    function text(value, oninput, attrs) {
      return el('input', Object.assign({ type: 'text', value: value || '', oninput: (e) => oninput(e.target.value) }, attrs || {}));
    }
    function area(value, oninput) {
      const t = el('textarea', { rows: '3', oninput: (e) => oninput(e.target.value) });
      t.value = value || '';
      return t;
    }
    function number(value, oninput, min, max) {
      return el('input', { type: 'number', min, max, step: '1', value: String(value ?? ''), class: 'rb-number',
        oninput: (e) => oninput(e.target.value === '' ? 0 : Number(e.target.value)) });
    }
    const splitList = (s) => s.split(',').map((w) => w.trim()).filter((w) => w !== '');
    function agentSelect(value, onchange) {
      const agents = (opts.agents || []).map((a) => [a.id, a.name]);
      return select(agents, value, (v) => onchange(Number(v)));
    }
    function checkGroup(legend, path, choices, chosen, onchange) {
      const set = new Set((chosen || []).map(String));
      const fs = el('fieldset', { class: 'rb-checks', dataset: { path, field: path } }, el('legend', { text: legend }));
      fs.id = idOf(path);
      choices.forEach(([v, label]) => {
        const id = `${idOf(path)}-${String(v).replace(/[^a-zA-Z0-9]+/g, '-')}`;
        fs.append(el('span', { class: 'rb-check' },
          el('input', { type: 'checkbox', id, value: String(v), checked: set.has(String(v)), onchange: () => {
            const picked = Array.from(fs.querySelectorAll('input:checked')).map((i) => i.value);
            onchange(picked);
          } }),
          el('label', { for: id, class: 'check', text: label })));
      });
      if (!choices.length) fs.append(el('p', { class: 'hint', text: 'None to choose from.' }));
      return fs;
    }
    // `row` is the rows' data-row key when it is not the noun (a workflow's step lists, one key per list).
    function rowTools(list, index, noun, n, row) {
      const move = (to) => { const [item] = list.splice(index, 1); list.splice(to, 0, item); render(); changed(); focusRow(row || noun, to); };
      return el('div', { class: 'rb-tools' },
        el('button', { type: 'button', class: 'quiet small', 'aria-label': `Move ${noun} ${n} up`, disabled: index === 0,
          onclick: () => move(index - 1), text: '↑' }),
        el('button', { type: 'button', class: 'quiet small', 'aria-label': `Move ${noun} ${n} down`, disabled: index === list.length - 1,
          onclick: () => move(index + 1), text: '↓' }),
        el('button', { type: 'button', class: 'quiet small', 'aria-label': `Remove ${noun} ${n}`,
          onclick: () => { list.splice(index, 1); render(); changed(); }, text: 'Remove' }));
    }
    function focusRow(noun, index) {
      const row = builder.querySelectorAll(`[data-row="${CSS.escape(noun)}"]`)[index];
      const target = row && row.querySelector('select, input, textarea');
      if (target) target.focus();
    }

    // ---- Rows ----
    function conditionRow(list, group, i, prefix) {
      const c = list[i];
      const path = `${prefix || 'conditions'}.${group}[${i}]`;
      const def = CONDITIONS[c.field];
      const row = el('li', { class: 'rb-row', dataset: { row: `condition-${group}`, path } });
      const set = (k) => (v) => { c[k] = v; changed(); };
      const head = el('div', { class: 'rb-row-head' },
        el('span', { class: 'rb-row-title', text: def ? def.label : c.field }), rowTools(list, i, group === 'all' ? 'condition' : 'alternative', i + 1));
      row.append(head);
      const body = el('div', { class: 'rb-row-body' });
      row.append(body);
      if (!def) { body.append(el('p', { class: 'hint', text: 'Edit this condition in the JSON below.' })); return row; }
      if (def.ops) {
        body.append(field('Operator', `${path}.op`, select(def.ops, c.op, (v) => {
          c.op = v;
          if (def.agent) { if (v === 'is' || v === 'is_not') c.agent_id = c.agent_id || firstAgent(); else delete c.agent_id; render(); }
          changed();
        })));
      }
      if (def.list) body.append(field(def.hint, `${path}.${def.list}`, text((c[def.list] || []).join(', '), (v) => { c[def.list] = splitList(v); changed(); })));
      if (def.bool) body.append(field('Holds when', `${path}.${def.bool}`, select([['true', 'it is'], ['false', 'it is not']], String(c[def.bool]), (v) => { c[def.bool] = v === 'true'; changed(); })));
      if (def.choice) body.append(field('Is', `${path}.${def.choice[0]}`, select(def.choice[1], c[def.choice[0]], set(def.choice[0]))));
      if (def.minutes) body.append(field('Minutes', `${path}.minutes`, number(c.minutes, set('minutes'), 1, 43200)));
      if (def.business) {
        body.append(field('Counting', `${path}.business_hours`, select([['false', 'all the time'], ['true', 'business hours only']],
          String(!!c.business_hours), (v) => { if (v === 'true') c.business_hours = true; else delete c.business_hours; changed(); })));
      }
      if (def.checks) body.append(checkGroup(def.label, `${path}.${def.checks[0]}`, def.checks[1](), c[def.checks[0]],
        (picked) => { c[def.checks[0]] = def.checks[0] === 'ids' ? picked.map(Number) : picked; changed(); }));
      if (def.agent && (c.op === 'is' || c.op === 'is_not')) body.append(field('Agent', `${path}.agent_id`, agentSelect(c.agent_id, set('agent_id'))));
      return row;
    }

    function paramsEditor(t, path) {
      t.params = t.params || {};
      const wrap = el('div', { class: 'rb-params', dataset: { path: `${path}params`, field: `${path}params` } });
      const entries = Object.entries(t.params);
      wrap.append(el('p', { class: 'rb-sub', text: entries.length ? 'Template parameters (placeholders allowed)' : 'No template parameters.' }));
      entries.forEach(([key, value]) => {
        const keyInput = text(key, () => {}, { class: 'rb-key', 'aria-label': `Name of parameter ${key}` });
        keyInput.addEventListener('change', (e) => {
          const fresh = {};
          for (const [k, v] of Object.entries(t.params)) fresh[k === key ? e.target.value : k] = v;
          t.params = fresh; render(); changed();
        });
        wrap.append(el('div', { class: 'rb-param' }, keyInput,
          field(`Parameter {{${key}}}`, `${path}params.${key}`, text(value, (v) => { t.params[key] = v; changed(); })),
          el('button', { type: 'button', class: 'quiet small', 'aria-label': `Remove parameter ${key}`, text: 'Remove',
            onclick: () => { delete t.params[key]; render(); changed(); } })));
      });
      wrap.append(el('button', { type: 'button', class: 'quiet small', id: `${idOf(`${path}params`)}-add`, text: 'Add a parameter', onclick: () => {
        let n = 1; while (Object.prototype.hasOwnProperty.call(t.params, String(n))) n += 1;
        t.params[String(n)] = ''; render(); changed();
      } }));
      return wrap;
    }
    // What the chosen template costs (from the rate card in force), said as the server worked it out.
    function templatePrice(t) {
      const found = (opts.templates || []).find((o) => o.name === t.name && o.language === t.language)
        || (opts.templates || []).find((o) => o.name === t.name);
      return found && found.price ? `Cost: ${found.price}.` : 'Cost: choose an approved template to see its price.';
    }
    function templateFields(t, path, body) {
      const list = `rb-templates`;
      const price = el('p', { class: 'hint rb-price', text: templatePrice(t), dataset: { price: path } });
      const reprice = () => { price.textContent = templatePrice(t); };
      body.append(field('Template name', `${path}name`, text(t.name, (v) => { t.name = v; reprice(); changed(); }, { list })));
      body.append(field('Language', `${path}language`, text(t.language, (v) => { t.language = v; reprice(); changed(); }, { class: 'rb-short' })));
      body.append(price);
      body.append(paramsEditor(t, path));
    }

    function actionRow(list, i) {
      const a = list[i];
      const path = `actions[${i}]`;
      const row = el('li', { class: 'rb-row', dataset: { row: 'action', path } });
      row.append(el('div', { class: 'rb-row-head' }, el('span', { class: 'rb-row-title', text: `${i + 1}. ${ACTIONS[a.type] || a.type}` }), rowTools(list, i, 'action', i + 1)));
      const body = el('div', { class: 'rb-row-body' });
      row.append(body);
      actionBody(a, path, body);
      return row;
    }
    // The fields of one action at `path` (`actions[0]`, or a workflow step's `steps[1].open[0].action`).
    function actionBody(a, path, body) {
      const set = (k) => (v) => { a[k] = v; changed(); };
      const textHint = 'Placeholders such as {{ticket.id}} or {{firstName || there}} are filled in when it runs.';
      switch (a.type) {
        case 'reply': {
          body.append(field('Reply text', `${path}.text`, area(a.text, set('text')), textHint));
          a.when_closed = a.when_closed || { kind: 'skip' };
          const wc = a.when_closed;
          body.append(field('When the window is closed', `${path}.when_closed`, select(CLOSED, wc.kind, (v) => {
            a.when_closed = v === 'template' ? { kind: v, name: '', language: 'en', params: {} } : v === 'sms' ? { kind: v, text: a.text || '' } : { kind: v };
            render(); changed();
          })));
          if (wc.kind === 'template') templateFields(wc, `${path}.when_closed.`, body);
          if (wc.kind === 'sms') body.append(field('SMS text', `${path}.when_closed.text`, area(wc.text, (v) => { wc.text = v; changed(); })));
          break;
        }
        case 'send_template': templateFields(a, `${path}.`, body); break;
        case 'send_sms':
          body.append(field('SMS text', `${path}.text`, area(a.text, set('text')), textHint));
          body.append(el('p', { class: 'hint rb-price', text: `Cost: ${opts.sms_price || 'unknown'}.` }));
          break;
        case 'hold_reply':
          body.append(field('Reply text', `${path}.text`, area(a.text, set('text')), textHint));
          body.append(field('Hours it waits for the customer', `${path}.hours`, number(a.hours, set('hours'), 1, 720)));
          break;
        case 'set_status': body.append(field('Status', `${path}.status`, select((opts.statuses || []).map((s) => [s, words(s)]), a.status, set('status')))); break;
        case 'set_priority': body.append(field('Priority', `${path}.priority`, select((opts.priorities || []).map((p) => [p, p]), a.priority, set('priority')))); break;
        case 'add_tags': case 'remove_tags':
          body.append(field('Tags, separated by commas', `${path}.tags`, text((a.tags || []).join(', '), (v) => { a.tags = splitList(v); changed(); })));
          break;
        case 'set_assignee': body.append(field('Agent', `${path}.agent_id`, agentSelect(a.agent_id, set('agent_id')))); break;
        case 'unassign': body.append(el('p', { class: 'hint', text: 'Removes the ticket\'s assignee.' })); break;
        case 'internal_note': body.append(field('Note', `${path}.text`, area(a.text, set('text')), textHint)); break;
        case 'notify_agent':
          body.append(field('Agent', `${path}.agent_id`, agentSelect(a.agent_id, set('agent_id'))));
          body.append(field('Message', `${path}.text`, area(a.text, set('text')), textHint));
          break;
        case 'call_http': {
          const targets = (opts.http_targets || []).map((t) => [t.id, t.name]);
          if (!targets.length) body.append(el('p', { class: 'hint', text: 'No HTTP targets yet: add one under Rules → HTTP targets.' }));
          else body.append(field('HTTP target', `${path}.target_id`, select(targets, a.target_id, (v) => { a.target_id = Number(v); changed(); }),
            'POSTs the ticket and the event as JSON, signed with the target\'s secret (Standard Webhooks).'));
          break;
        }
        case 'notify_assignee':
          body.append(field('Message to whoever the ticket is assigned to', `${path}.text`, area(a.text, set('text')), textHint));
          break;
        default: body.append(el('p', { class: 'hint', text: 'Edit this action in the JSON below.' }));
      }
    }

    // ---- Workflow steps ----
    const STEP_KINDS = [['window_check', 'Window check (branch: open / closed)'], ['wait', 'Wait'], ['condition', 'Condition (branch: then / else)']]
      .concat(Object.entries(ACTIONS).map(([k, label]) => [`do:${k}`, `Do: ${label}`]));
    function newStep(kind) {
      if (kind === 'window_check') return { type: kind, open: [], closed: [] };
      if (kind === 'wait') return { type: kind, minutes: 60 };
      if (kind === 'condition') return { type: kind, conditions: { all: [] }, then: [], else: [] };
      return { type: 'do', action: newAction(kind.slice(3)) };
    }
    const stepTitle = (st) => (st.type === 'window_check' ? 'Window check' : st.type === 'wait' ? 'Wait'
      : st.type === 'condition' ? 'Condition' : st.type === 'do' ? (ACTIONS[(st.action || {}).type] || (st.action || {}).type) : st.type);
    // The steps of `list` at `path` (`steps`, `steps[0].open`...), each a card; branches nest.
    function stepList(list, path, legend, empty) {
      const rows = list.map((_, i) => stepRow(list, path, i));
      const addId = `add-${idOf(path)}`;
      return el('fieldset', { class: 'rb-group rb-steps', dataset: { path } },
        el('legend', { text: legend }),
        rows.length ? el('ol', { class: 'rb-rows' }, rows) : el('p', { class: 'hint', text: empty }),
        adder(addId, 'Add a step', STEP_KINDS, (k) => { list.push(newStep(k)); render(); changed(); focusRow(`step:${path}`, list.length - 1); }));
    }
    function stepRow(list, listPath, i) {
      const st = list[i];
      const path = `${listPath}[${i}]`;
      const key = `step:${listPath}`;
      const row = el('li', { class: `rb-row rb-step rb-step-${st.type}`, dataset: { row: key, path } });
      row.append(el('div', { class: 'rb-row-head' }, el('span', { class: 'rb-row-title', text: `${i + 1}. ${stepTitle(st)}` }), rowTools(list, i, 'step', i + 1, key)));
      const body = el('div', { class: 'rb-row-body' });
      row.append(body);
      switch (st.type) {
        case 'window_check':
          st.open = st.open || []; st.closed = st.closed || [];
          body.append(el('p', { class: 'hint', text: 'Looks at the customer\'s 24-hour window when the step runs. Free-form replies only in Open, with no wait before them.' }),
            el('div', { class: 'rb-branches' },
              stepList(st.open, `${path}.open`, 'Open: free-form can go', 'Nothing when open.'),
              stepList(st.closed, `${path}.closed`, 'Closed: a template, an SMS or a held reply', 'Nothing when closed.')));
          break;
        case 'wait':
          body.append(field('Minutes (1 to 43200, 30 days)', `${path}.minutes`, number(st.minutes, (v) => { st.minutes = v; changed(); }, 1, 43200)));
          body.append(field('Counting', `${path}.business_hours`, select([['false', 'all the time'], ['true', 'business hours only']],
            String(!!st.business_hours), (v) => { if (v === 'true') st.business_hours = true; else delete st.business_hours; changed(); })));
          break;
        case 'condition': {
          st.conditions = st.conditions || {}; st.conditions.all = st.conditions.all || [];
          st.then = st.then || []; st.else = st.else || [];
          const all = st.conditions.all;
          const cpath = `${path}.conditions`;
          body.append(el('fieldset', { class: 'rb-group', dataset: { path: cpath } }, el('legend', { text: 'When all of these hold' }),
            all.length ? el('ol', { class: 'rb-rows' }, all.map((_, j) => conditionRow(all, 'all', j, cpath))) : el('p', { class: 'hint', text: 'No conditions: always then.' }),
            adder(`add-${idOf(cpath)}`, 'Add a condition', Object.entries(CONDITIONS).map(([k, c]) => [k, c.label]),
              (f) => { all.push(newCondition(f)); render(); changed(); })),
          el('div', { class: 'rb-branches' },
            stepList(st.then, `${path}.then`, 'Then', 'Nothing.'),
            stepList(st.else, `${path}.else`, 'Else', 'Nothing.')));
          break;
        }
        case 'do':
          st.action = st.action || newAction('internal_note');
          actionBody(st.action, `${path}.action`, body);
          break;
        default: body.append(el('p', { class: 'hint', text: 'Edit this step in the JSON below.' }));
      }
      return row;
    }

    function adder(id, label, choices, onadd) {
      const s = select(choices, choices[0][0], () => {});
      s.id = id;
      return el('div', { class: 'rb-add' }, el('label', { for: id, text: label }), s,
        el('button', { type: 'button', class: 'alt', id: `${id}-button`, text: 'Add', onclick: () => onadd(s.value) }));
    }

    // ---- The whole builder ----
    function actionGroup(legend, empty) {
      return el('fieldset', { class: 'rb-group', id: 'rb-actions', dataset: { path: 'actions' } },
        el('legend', { text: legend }),
        draft.actions.length ? el('ol', { class: 'rb-rows' }, draft.actions.map((_, i) => actionRow(draft.actions, i))) : el('p', { class: 'hint', text: empty }),
        adder('add-action-type', 'Add an action', actionChoices, (t) => { draft.actions.push(newAction(t)); render(); changed(); focusRow('action', draft.actions.length - 1); }));
    }
    function templateList() {
      return el('datalist', { id: 'rb-templates' }, (opts.templates || []).map((t) => el('option', { value: t.name, text: `${t.name} (${t.language})${t.price ? ` — ${t.price}` : ''}` })));
    }
    // A macro: its name, whether every agent gets it (admins only), and what it does.
    function renderMacro() {
      draft.actions = draft.actions || [];
      const canShare = !!opts.can_share;
      // A non-admin's draft that asks to be shared keeps the box on, so they can untick it.
      const lockedShared = !canShare && !draft.shared;
      const basics = el('fieldset', { class: 'rb-basics' }, el('legend', { text: 'Macro' }),
        field('Name', 'name', text(draft.name, (v) => { draft.name = v; changed(); }, { maxlength: '100' })),
        el('div', { class: 'rb-checkline' },
          el('input', { type: 'checkbox', id: 'rb-shared', checked: !!draft.shared, disabled: lockedShared, 'aria-describedby': 'rb-shared-hint',
            dataset: { path: 'shared' }, onchange: (e) => { draft.shared = e.target.checked; changed(); } }),
          el('label', { for: 'rb-shared', class: 'check', text: 'Shared with every agent' }),
          el('span', { class: 'hint', id: 'rb-shared-hint',
            text: canShare ? ' — unticked, it is your own personal macro' : ' — only admins share macros; yours is personal' })));
      builder.replaceChildren(basics,
        actionGroup('What it does, in order', 'No actions yet: a macro needs at least one.'),
        templateList());
      showErrors(lastErrors);
    }

    function render() {
      if (isMacro) { renderMacro(); return; }
      draft.conditions = draft.conditions || {};
      const conds = draft.conditions;
      conds.all = conds.all || [];
      conds.any = conds.any || [];
      if (!isWorkflow) draft.actions = draft.actions || [];
      const events = opts.events || [];
      const eventHint = () => ((events.find((e) => e.value === draft.event) || {}).hint || '');
      const fieldChoices = Object.entries(CONDITIONS).map(([k, c]) => [k, c.label]);
      const condGroup = (group, legend, empty) => el('fieldset', { class: 'rb-group', id: `rb-${group}`, dataset: { path: group === 'all' ? 'conditions' : `conditions.${group}` } },
        el('legend', { text: legend }),
        conds[group].length ? el('ol', { class: 'rb-rows' }, conds[group].map((_, i) => conditionRow(conds[group], group, i))) : el('p', { class: 'hint', text: empty }),
        adder(`add-${group}-field`, 'Add a condition', fieldChoices, (f) => { conds[group].push(newCondition(f)); render(); changed(); focusRow(`condition-${group}`, conds[group].length - 1); }));
      if (isWorkflow) {
        draft.steps = draft.steps || [];
        const wfBasics = el('fieldset', { class: 'rb-basics' }, el('legend', { text: 'Workflow' }),
          field('Name', 'name', text(draft.name, (v) => { draft.name = v; changed(); }, { maxlength: '200' })),
          field('Starts when', 'event', select(events.map((e) => [e.value, e.label]), draft.event, (v) => {
            draft.event = v; document.getElementById('rb-event-hint').textContent = eventHint(); changed();
          })),
          el('p', { class: 'hint', id: 'rb-event-hint', text: eventHint() }),
          el('p', { class: 'rb-checkline' },
            el('input', { type: 'checkbox', id: 'rb-enabled', checked: draft.enabled !== false, onchange: (e) => { draft.enabled = e.target.checked; changed(); } }),
            el('label', { for: 'rb-enabled', class: 'check', text: 'Switched on' })));
        builder.replaceChildren(wfBasics,
          condGroup('all', 'It starts when all of these hold', 'No conditions: every such event starts it.'),
          condGroup('any', 'And at least one of these (if any are listed)', 'None listed.'),
          stepList(draft.steps, 'steps', 'Steps, in order', 'No steps yet: a workflow needs at least one.'),
          templateList());
        showErrors(lastErrors);
        return;
      }
      const basics = el('fieldset', { class: 'rb-basics' }, el('legend', { text: 'Rule' }),
        field('Name', 'name', text(draft.name, (v) => { draft.name = v; changed(); }, { maxlength: '200' })),
        el('div', { class: 'rb-inline' },
          field('Runs when', 'event', select(events.map((e) => [e.value, e.label]), draft.event, (v) => {
            draft.event = v; document.getElementById('rb-event-hint').textContent = eventHint(); changed();
          })),
          field('Position', 'position', number(draft.position, (v) => { draft.position = v; changed(); }))),
        el('p', { class: 'hint', id: 'rb-event-hint', text: eventHint() }),
        el('p', { class: 'rb-checkline' },
          el('input', { type: 'checkbox', id: 'rb-enabled', checked: draft.enabled !== false, onchange: (e) => { draft.enabled = e.target.checked; changed(); } }),
          el('label', { for: 'rb-enabled', class: 'check', text: 'Switched on' })),
        el('p', { class: 'rb-checkline' },
          el('input', { type: 'checkbox', id: 'rb-once', checked: !!draft.once_per_episode, 'aria-describedby': 'rb-once-hint',
            onchange: (e) => { draft.once_per_episode = e.target.checked; changed(); } }),
          el('label', { for: 'rb-once', class: 'check', text: 'Once per window episode' }),
          el('span', { class: 'hint', id: 'rb-once-hint', text: ' — three messages sent together get one answer' })));
      const actions = actionGroup('Then do this, in order', 'No actions yet: a rule needs at least one.');
      const datalist = templateList();
      builder.replaceChildren(basics,
        condGroup('all', 'When all of these hold', 'No conditions: the rule runs on every such event.'),
        condGroup('any', 'And at least one of these (if any are listed)', 'None listed.'),
        actions, datalist);
      showErrors(lastErrors);
    }

    // ---- Validation as you type ----
    function writeJson() { jsonBox.value = JSON.stringify(draft, null, 2); }
    let checkSeq = 0;
    function changed() {
      touched = true;
      writeJson();
      save.disabled = true;
      setDryRun(true);
      statusLine.textContent = 'Checking…';
      soon(`${kind}-check`, check);
    }
    async function postJson(url) {
      return fetch(url, { method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf }, body: jsonBox.value });
    }
    async function check() {
      checkSeq += 1;
      const mine = checkSeq;
      let answer;
      try {
        const res = await postJson(form.dataset.check);
        if (!res.ok) throw new Error(`the desk answered ${res.status}`);
        answer = await res.json();
      } catch (e) {
        if (mine === checkSeq) statusLine.textContent = `Could not check the ${kind} (${e.message}); it is checked again when you save.`;
        save.disabled = false;
        return;
      }
      if (mine !== checkSeq) return;
      lastErrors = answer.errors || [];
      showErrors(lastErrors);
      save.disabled = !answer.ok;
      setDryRun(!answer.ok);
      form.dataset.checked = String(mine);
      form.dataset.valid = answer.ok ? 'true' : 'false';
    }
    // The element a path names, or the nearest one above it (`actions[0].tags[1]` → `actions[0].tags`).
    function targetOf(path) {
      let p = path;
      while (p) {
        const found = builder.querySelector(`[data-path="${CSS.escape(p)}"]`);
        if (found) return found;
        const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
        p = cut > 0 ? p.slice(0, cut) : '';
      }
      return null;
    }
    function showErrors(errors) {
      builder.querySelectorAll('.rb-error').forEach((n) => n.remove());
      builder.querySelectorAll('[aria-invalid]').forEach((n) => n.removeAttribute('aria-invalid'));
      builder.querySelectorAll('[data-error-for]').forEach((n) => {
        const ids = (n.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !x.startsWith('rb-err-'));
        if (ids.length) n.setAttribute('aria-describedby', ids.join(' ')); else n.removeAttribute('aria-describedby');
        delete n.dataset.errorFor;
      });
      const serverBox = part('errors');
      if (serverBox && touched) serverBox.remove();
      const shown = touched ? errors : [];
      shown.forEach((err, n) => {
        const target = targetOf(err.path) || builder.querySelector('.rb-basics');
        const id = `rb-err-${n}`;
        const note = el('p', { class: 'rb-error', id, dataset: { errorPath: err.path } },
          err.path ? el('strong', { text: `${err.path}: ` }) : null, err.message);
        if (target.matches('input, select, textarea')) {
          target.setAttribute('aria-invalid', 'true');
          target.setAttribute('aria-describedby', `${target.getAttribute('aria-describedby') || ''} ${id}`.trim());
          target.dataset.errorFor = '1';
          (target.closest('.rb-field') || target.parentNode).append(note);
        } else if (target.matches('fieldset')) {
          target.querySelector('legend').after(note);
        } else {
          target.append(note);
        }
      });
      if (!errors.length) statusLine.textContent = 'No problems: ready to save.';
      else if (!touched) {
        statusLine.textContent = isMacro ? 'Name the macro and add what it does; problems are shown as you go.'
          : isWorkflow ? 'Name the workflow, pick what starts it, and add its steps; problems are shown as you go.'
            : 'Name the rule, pick its event, and add what it does; problems are shown as you go.';
      }
      else statusLine.textContent = errors.length === 1 ? '1 problem to fix before saving.' : `${errors.length} problems to fix before saving.`;
    }

    // The JSON box: what a power user writes there becomes the builder's draft when they leave it.
    jsonBox.addEventListener('change', () => {
      let parsed;
      try { parsed = JSON.parse(jsonBox.value); } catch (e) {
        statusLine.textContent = `The JSON is not valid (${e.message}); the builder keeps the ${kind} as it was.`;
        save.disabled = true;
        return;
      }
      if (!parsed || typeof parsed !== 'object') return;
      draft = parsed;
      render();
      touched = true;
      soon(`${kind}-check`, check);
    });

    // The dry run (rules): in place, without leaving the page.
    if (dryRunButton) dryRunButton.addEventListener('click', async (e) => {
      e.preventDefault();
      dryRunButton.setAttribute('aria-busy', 'true');
      result.replaceChildren(el('p', { text: 'Checking the newest tickets…' }));
      let res;
      try { res = await postJson(form.dataset.dryRun); } catch (err) { res = null; }
      dryRunButton.removeAttribute('aria-busy');
      if (!res) { result.replaceChildren(el('p', { class: 'error', text: 'The dry run could not reach the desk.' })); return; }
      const answer = await res.json();
      if (!res.ok) {
        lastErrors = answer.errors || [];
        touched = true;
        showErrors(lastErrors);
        result.replaceChildren(el('p', { class: 'error', text: 'Fix the problems above first.' }));
        return;
      }
      const n = answer.matches.length;
      const summary = el('p', { id: 'dry-run-summary', text: `Checked the ${answer.checked} newest tickets as if the event happened now: ${n === 0 ? 'none would match.' : n === 1 ? '1 would match.' : `${n} would match.`}` });
      const items = answer.matches.map((m) => el('li', {},
        el('a', { href: `/tickets/${m.ticket_id}`, text: `#${m.ticket_id} ${m.subject}` }), ' ',
        el('span', { class: `status ${m.status}`, text: m.status })));
      result.replaceChildren(summary, n ? el('ul', { class: 'dry-run-matches', id: 'dry-run-matches' }, items) : '',
        el('p', { class: 'hint', text: 'Nothing was sent or changed.' }));
      announce(summary.textContent);
    });

    render();
    writeJson();
    save.disabled = true;
    setDryRun(true);
    check();
  }

  // Deleting asks first.
  document.addEventListener('submit', (e) => {
    const msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) { e.preventDefault(); e.stopImmediatePropagation(); }
  }, true);

  // ---- Narrow screens ----
  // A table wider than a phone scrolls sideways on its own; it can then take the focus, so the
  // keyboard can scroll it too.
  function scrollableTables() {
    document.querySelectorAll('main table').forEach((t) => {
      const scrolls = t.scrollWidth > t.clientWidth + 1;
      if (scrolls && !t.hasAttribute('tabindex')) { t.tabIndex = 0; t.dataset.scrollFocus = 'true'; }
      if (!scrolls && t.dataset.scrollFocus) { t.removeAttribute('tabindex'); delete t.dataset.scrollFocus; }
    });
  }
  scrollableTables();
  window.addEventListener('resize', () => soon('tables', scrollableTables));

  // ---- Forms: no double sends ----
  document.addEventListener('submit', (e) => {
    const form = e.target;
    if (form.dataset.submitting) { e.preventDefault(); return; }
    form.dataset.submitting = '1';
    setTimeout(() => { delete form.dataset.submitting; }, 5000);
  });

  // ---- The ticket page as a workspace ----
  // The thread scrolls above the docked composer and opens at the newest message; replies, notes,
  // held replies and ticket changes are sent in place (the forms post as without script, and the
  // answer's page brings the thread, the side panel and the notice up to date); what an agent types
  // is kept per ticket across reloads until it is sent; Ctrl/Cmd+Enter sends; single keys move
  // around (`?` lists them).
  const ticketEl = document.querySelector('.ticket[data-ticket-id]');
  const ticketId = ticketEl ? ticketEl.dataset.ticketId : null;
  const scroller = () => document.getElementById('ticket-live');
  function toNewest() { const el = scroller(); if (el) el.scrollTop = el.scrollHeight; }
  if (ticketEl && !location.hash) toNewest();

  // Drafts, per ticket and box, in this browser.
  const DRAFT_BOXES = ['reply-body', 'note-body', 'held-body'];
  const draftKey = (id) => `windowdesk:draft:${ticketId}:${id}`;
  function store(key, value) {
    try { if (value && value.trim()) localStorage.setItem(key, value); else localStorage.removeItem(key); } catch (err) { /* storage off: drafts are not kept */ }
  }
  function restoreDrafts() {
    if (!ticketId) return;
    DRAFT_BOXES.forEach((id) => {
      const box = document.getElementById(id);
      let kept = null;
      try { kept = localStorage.getItem(draftKey(id)); } catch (err) { kept = null; }
      if (box && kept && !box.value.trim()) box.value = kept;
    });
  }
  restoreDrafts();
  document.addEventListener('input', (e) => {
    if (ticketId && e.target.id && DRAFT_BOXES.includes(e.target.id)) store(draftKey(e.target.id), e.target.value);
  });
  // While the agent writes a reply, the customer may see them typing (the number's setting): the
  // desk is told at most every 20 seconds, which is about how long WhatsApp shows it.
  let typingSaid = 0;
  document.addEventListener('input', (e) => {
    if (!ticketId || e.target.id !== 'reply-body' || !e.target.value.trim() || Date.now() - typingSaid < 20000) return;
    typingSaid = Date.now();
    const csrf = document.querySelector('#reply-form input[name="csrf"]');
    fetch(`/tickets/${ticketId}/typing`, { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf ? csrf.value : '' } })
      .catch(() => { /* only a courtesy to the customer */ });
  });

  function forget(ids) {
    typingSaid = 0;
    ids.forEach((id) => {
      const box = document.getElementById(id);
      if (box) box.value = '';
      store(draftKey(id), '');
    });
  }

  function showNotice(ok, text) {
    const slot = document.getElementById('ticket-notice');
    if (!slot) return;
    const p = document.createElement('p');
    p.className = `notice ${ok ? 'ok' : 'bad'}`;
    p.id = 'notice';
    p.setAttribute('role', 'status');
    p.textContent = text;
    slot.replaceChildren(p);
  }

  // Brings the page up to date from the ticket page the server answered with.
  function adopt(doc, form) {
    const live = scroller();
    const stick = !live || nearBottomOf(live);
    const oldThread = document.getElementById('thread');
    const newThread = doc.getElementById('thread');
    if (oldThread && newThread) mergeThread(oldThread, newThread);
    for (const id of ['window-banner', 'events', 'ticket-status']) {
      const old = document.getElementById(id);
      const neu = doc.getElementById(id);
      if (old && neu) {
        if (id === 'events') neu.open = old.open;
        old.replaceWith(document.importNode(neu, true));
      }
    }
    // The side panel, unless the agent is in the middle of changing it elsewhere than the form sent.
    const side = document.querySelector('aside.side-panel');
    const freshSide = doc.querySelector('aside.side-panel');
    const sentHere = form && side && side.contains(form);
    if (side && freshSide && (sentHere || !side.contains(document.activeElement))) {
      const focused = sentHere && document.activeElement ? document.activeElement.id : null;
      side.replaceWith(document.importNode(freshSide, true));
      const again = (focused && document.getElementById(focused)) || (sentHere && document.getElementById('status'));
      if (again) again.focus();
    }
    const notice = doc.getElementById('ticket-notice');
    const slot = document.getElementById('ticket-notice');
    if (notice && slot) slot.replaceWith(document.importNode(notice, true));
    if (stick) toNewest();
    soon('counts', refreshCounts);
    tick();
  }

  // A refused text comes back in its box with the problem named there: the composer is the
  // answer's, with whatever else the agent had typed put back.
  function adoptComposer(doc) {
    const old = document.getElementById('composer');
    const neu = doc.getElementById('composer');
    if (!old || !neu) return;
    const typed = {};
    old.querySelectorAll('textarea[id]').forEach((t) => { typed[t.id] = t.value; });
    const fresh = document.importNode(neu, true);
    old.replaceWith(fresh);
    fresh.querySelectorAll('textarea[id]').forEach((t) => { if (!t.value.trim() && typed[t.id]) t.value = typed[t.id]; });
    const problem = fresh.querySelector('[aria-invalid="true"]');
    if (problem) problem.focus();
  }

  document.addEventListener('submit', async (e) => {
    const form = e.target;
    if (e.defaultPrevented || !ticketId || !form.dataset || !form.dataset.inplace) return;
    e.preventDefault();
    const submitter = e.submitter && e.submitter.form === form ? e.submitter : null;
    const url = submitter && submitter.hasAttribute('formaction') ? submitter.formAction : form.action;
    // A form with a file goes as multipart; the rest as the urlencoded form it would be without script.
    const fields = new FormData(form, submitter);
    const data = form.enctype === 'multipart/form-data' ? fields : new URLSearchParams(fields);
    const kind = form.dataset.inplace;
    form.setAttribute('aria-busy', 'true');
    let res;
    let doc;
    try {
      res = await fetch(url, { method: 'POST', credentials: 'same-origin', headers: { Accept: 'text/html' }, body: data });
      if (res.redirected && new URL(res.url).pathname === '/login') { location.reload(); return; }
      doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    } catch (err) {
      showNotice(false, 'Not sent: the desk could not be reached. Your text is kept; try again.');
      return;
    } finally {
      form.removeAttribute('aria-busy');
      delete form.dataset.submitting;
    }
    if (res.ok && doc.getElementById('composer')) {
      // Done: what was sent leaves its box and its kept draft.
      if (kind === 'reply' || kind === 'held') { forget(['reply-body', 'held-body']); quoteReply(null); }
      if (kind === 'note') forget(['note-body']);
      if (kind === 'attach') clearAttachment();
      adopt(doc, form);
      body.dataset.sent = String(Date.now());
      const n = document.getElementById('notice');
      announce(n ? n.textContent : 'Done.');
      toNewest();
    } else if (doc.getElementById('composer')) {
      adoptComposer(doc);
      adopt(doc, form);
    } else {
      const why = doc.querySelector('.error, main p');
      showNotice(false, `Not done: ${why ? why.textContent.trim() : `the desk answered ${res.status}`}`);
    }
  });

  // ---- Replying to one message: it is quoted above the reply, at WhatsApp and in the thread ----
  function quoteReply(button) {
    const field = document.getElementById('reply-to');
    const banner = document.getElementById('replying-to');
    if (!field || !banner) return;
    field.value = button ? button.dataset.replyTo : '';
    banner.hidden = !button;
    const text = document.getElementById('replying-to-text');
    if (text) text.textContent = button ? button.dataset.excerpt : '';
    if (button) {
      const box = document.getElementById('reply-body');
      if (box && !box.disabled) box.focus();
    }
  }
  document.addEventListener('click', (e) => {
    const button = e.target.closest && e.target.closest('button.quote-reply');
    if (button) { quoteReply(button); return; }
    if (e.target.id === 'replying-to-cancel') quoteReply(null);
  });

  // ---- @mentions in notes: suggestions as you type, picked with the arrows and Enter or Tab ----
  const mention = { start: -1, items: [], active: 0 };
  function mentionParts() {
    const form = document.getElementById('note-form');
    const box = document.getElementById('note-body');
    const list = document.getElementById('mention-list');
    return form && box && list ? { form, box, list } : null;
  }
  function closeMentions() {
    const p = mentionParts();
    mention.start = -1;
    mention.items = [];
    if (!p) return;
    p.list.hidden = true;
    p.list.replaceChildren();
    p.box.setAttribute('aria-expanded', 'false');
    p.box.removeAttribute('aria-activedescendant');
  }
  function showMentions() {
    const p = mentionParts();
    if (!p) return;
    const upto = p.box.value.slice(0, p.box.selectionStart);
    const m = /(^|[^\w.@])@([\w.-]*)$/.exec(upto);
    if (!m) { closeMentions(); return; }
    let agents = [];
    try { agents = JSON.parse(p.form.dataset.agents || '[]'); } catch (err) { agents = []; }
    const typed = m[2].toLowerCase();
    mention.items = agents.filter((a) => a.handle.toLowerCase().startsWith(typed)
      || a.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(typed))).slice(0, 8);
    if (!mention.items.length) { closeMentions(); return; }
    mention.start = upto.length - m[2].length - 1;
    mention.active = Math.min(mention.active, mention.items.length - 1);
    p.list.replaceChildren(...mention.items.map((a, i) => {
      const li = document.createElement('li');
      li.id = `mention-${i}`;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(i === mention.active));
      li.dataset.handle = a.handle;
      li.textContent = `${a.name} (@${a.handle})`;
      return li;
    }));
    p.list.hidden = false;
    p.box.setAttribute('aria-expanded', 'true');
    p.box.setAttribute('aria-activedescendant', `mention-${mention.active}`);
  }
  function pickMention(handle) {
    const p = mentionParts();
    if (!p || mention.start < 0) return;
    const before = p.box.value.slice(0, mention.start);
    const after = p.box.value.slice(p.box.selectionStart);
    const inserted = `@${handle} `;
    p.box.value = before + inserted + after;
    const caret = before.length + inserted.length;
    p.box.setSelectionRange(caret, caret);
    closeMentions();
    p.box.dispatchEvent(new Event('input', { bubbles: true }));
    p.box.focus();
  }
  document.addEventListener('input', (e) => { if (e.target.id === 'note-body') { mention.active = 0; showMentions(); } });
  document.addEventListener('keydown', (e) => {
    if (e.target.id !== 'note-body' || mention.start < 0 || !mention.items.length) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = mention.items.length;
      mention.active = (mention.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      showMentions();
    } else if ((e.key === 'Enter' && !(e.ctrlKey || e.metaKey)) || e.key === 'Tab') {
      e.preventDefault();
      e.stopImmediatePropagation();
      pickMention(mention.items[mention.active].handle);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      closeMentions();
    }
  }, true);
  document.addEventListener('mousedown', (e) => {
    const li = e.target.closest && e.target.closest('#mention-list li');
    if (li) { e.preventDefault(); pickMention(li.dataset.handle); }
  });
  document.addEventListener('focusout', (e) => { if (e.target.id === 'note-body') setTimeout(closeMentions, 100); });

  // ---- Presence: who else has this ticket open, and who is writing a reply ----
  const others = new Map(); // agent id → { until, typingUntil }
  function csrfToken() {
    const input = document.querySelector('input[name="csrf"]');
    return input ? input.value : '';
  }
  let presenceSaid = 0;
  function sayPresent(force) {
    if (!ticketId || document.visibilityState !== 'visible') return;
    if (!force && Date.now() - presenceSaid < 15000) return;
    presenceSaid = Date.now();
    fetch(`/tickets/${ticketId}/presence`, { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrfToken() } })
      .catch(() => { /* a courtesy to colleagues */ });
  }
  function renderPresence() {
    const slot = document.getElementById('presence');
    if (!slot) return;
    let names = {};
    try { names = JSON.parse(slot.dataset.agents || '{}'); } catch (err) { names = {}; }
    const now = Date.now();
    const typing = [];
    const viewing = [];
    for (const [id, seen] of others) {
      if (seen.until < now) { others.delete(id); continue; }
      const name = names[id] || 'Another agent';
      if (seen.typingUntil > now) typing.push(name); else viewing.push(name);
    }
    const parts = [];
    if (typing.length) parts.push(`${typing.join(', ')} ${typing.length > 1 ? 'are' : 'is'} writing a reply to this customer.`);
    if (viewing.length) parts.push(`${viewing.join(', ')} ${viewing.length > 1 ? 'are' : 'is'} also viewing this ticket.`);
    const text = parts.join(' ');
    if (slot.textContent !== text) slot.textContent = text;
    slot.hidden = !text;
    slot.classList.toggle('typing', typing.length > 0);
  }
  function heardPresence(data) {
    if (!ticketId || String(data.ticket_id) !== String(ticketId)) return;
    const id = String(data.agent_id);
    const known = others.has(id);
    const now = Date.now();
    const seen = others.get(id) || { until: 0, typingUntil: 0 };
    seen.until = now + 45000;
    if (data.typing) seen.typingUntil = now + 25000;
    others.set(id, seen);
    renderPresence();
    // Someone new: tell them at once that this page is open too.
    if (!known) sayPresent(true);
  }
  if (ticketId) {
    sayPresent(true);
    setInterval(() => { sayPresent(false); renderPresence(); }, 5000);
    document.addEventListener('visibilitychange', () => sayPresent(true));
  }

  // ---- Bulk actions: the ticked rows survive live refreshes of the lists ----
  const picked = new Set();
  function countPicks() {
    const label = document.getElementById('bulk-count');
    if (!label) return;
    label.textContent = picked.size ? `${picked.size} selected` : 'Select tickets to change several at once.';
  }
  function restorePicks() {
    document.querySelectorAll('input.pick').forEach((box) => { box.checked = picked.has(box.value); });
    countPicks();
  }
  document.addEventListener('change', (e) => {
    if (!e.target.classList || !e.target.classList.contains('pick')) return;
    if (e.target.checked) picked.add(e.target.value); else picked.delete(e.target.value);
    // The same ticket can be in two lists (assigned to you and unassigned never, but views may): keep them alike.
    document.querySelectorAll(`input.pick[value="${e.target.value}"]`).forEach((box) => { box.checked = e.target.checked; });
    countPicks();
  });
  document.querySelectorAll('input.pick:checked').forEach((box) => picked.add(box.value));
  countPicks();

  // ---- Attachments: picked, dropped on the composer or pasted; checked before upload ----
  function attachParts() {
    const form = document.getElementById('attach-form');
    return form ? { form, input: document.getElementById('attach-file'), chosen: document.getElementById('attach-chosen') } : null;
  }
  function sizeText(bytes) {
    if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1).replace(/\.0$/, '')} MB`;
    if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1).replace(/\.0$/, '')} kB`;
    return `${bytes} bytes`;
  }
  const EXTENSIONS = { amr: 'audio/amr', ogg: 'audio/ogg', opus: 'audio/ogg', '3gp': 'video/3gpp', m4a: 'audio/mp4', aac: 'audio/aac' };
  const ALIASES = { 'image/jpg': 'image/jpeg', 'video/3gp': 'video/3gpp', 'audio/mp3': 'audio/mpeg', 'audio/x-m4a': 'audio/mp4', 'audio/opus': 'audio/ogg' };
  // The same verdict the desk gives (core::attachment), before a byte is uploaded.
  function attachmentProblem(file, limits) {
    let type = (file.type || '').split(';')[0].trim().toLowerCase();
    type = ALIASES[type] || type;
    if (!type || type === 'application/octet-stream') {
      const ext = (file.name.split('.').pop() || '').toLowerCase();
      type = EXTENSIONS[ext] || '';
    }
    if (!limits[type]) return `WhatsApp does not accept ${type || 'this kind of'} files: send a JPEG or PNG image, an MP4 video, audio, or a PDF, text or Office document.`;
    if (file.size === 0) return 'the file is empty.';
    if (file.size > limits[type]) {
      const kind = type.split('/')[0] === 'application' || type === 'text/plain' ? 'document' : type.split('/')[0];
      return `the ${kind} is ${sizeText(file.size)}; WhatsApp accepts ${kind}s up to ${sizeText(limits[type])}.`;
    }
    return null;
  }
  function checkAttachment() {
    const parts = attachParts();
    if (!parts) return;
    const file = parts.input.files && parts.input.files[0];
    let problem = document.getElementById('attach-problem');
    const buttons = parts.form.querySelectorAll('button[type="submit"]');
    if (!file) { parts.chosen.hidden = true; if (problem) problem.remove(); return; }
    let limits = {};
    try { limits = JSON.parse(parts.form.dataset.limits || '{}'); } catch (err) { limits = {}; }
    const why = attachmentProblem(file, limits);
    parts.chosen.hidden = false;
    parts.chosen.textContent = `${file.name} (${sizeText(file.size)})`;
    if (why) {
      if (!problem) {
        problem = document.createElement('p');
        problem.className = 'problem';
        problem.id = 'attach-problem';
        problem.setAttribute('role', 'alert');
        parts.chosen.after(problem);
      }
      problem.textContent = `Not sent: ${why}`;
      parts.input.setAttribute('aria-invalid', 'true');
    } else {
      if (problem) problem.remove();
      parts.input.removeAttribute('aria-invalid');
    }
    buttons.forEach((b) => { b.dataset.badFile = why ? '1' : ''; b.toggleAttribute('aria-disabled', Boolean(why)); });
  }
  function clearAttachment() {
    const parts = attachParts();
    if (!parts) return;
    parts.form.reset();
    checkAttachment();
    const details = document.getElementById('attach');
    if (details) details.open = false;
  }
  function chooseFile(file) {
    const parts = attachParts();
    if (!parts || !file) return;
    const list = new DataTransfer();
    list.items.add(file);
    parts.input.files = list.files;
    const details = document.getElementById('attach');
    if (details) details.open = true;
    checkAttachment();
    const caption = document.getElementById('attach-caption');
    if (caption) caption.focus();
  }
  document.addEventListener('change', (e) => { if (e.target.id === 'attach-file') checkAttachment(); });
  document.addEventListener('submit', (e) => {
    // A file the desk would refuse is not uploaded at all.
    if (e.target.id !== 'attach-form') return;
    const parts = attachParts();
    const file = parts && parts.input.files && parts.input.files[0];
    let limits = {};
    try { limits = JSON.parse(parts.form.dataset.limits || '{}'); } catch (err) { limits = {}; }
    if (file && attachmentProblem(file, limits)) {
      e.preventDefault();
      e.stopImmediatePropagation();
      checkAttachment();
      parts.input.focus();
    }
  }, true);
  document.addEventListener('dragover', (e) => {
    const composer = document.getElementById('composer');
    if (composer && composer.contains(e.target) && e.dataTransfer && Array.from(e.dataTransfer.types).includes('Files')) {
      e.preventDefault();
      composer.classList.add('dropping');
    }
  });
  document.addEventListener('dragleave', (e) => {
    const composer = document.getElementById('composer');
    if (composer && !composer.contains(e.relatedTarget)) composer.classList.remove('dropping');
  });
  document.addEventListener('drop', (e) => {
    const composer = document.getElementById('composer');
    if (!composer || !composer.contains(e.target) || !e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();
    composer.classList.remove('dropping');
    chooseFile(e.dataTransfer.files[0]);
  });
  document.addEventListener('paste', (e) => {
    if (!e.target || e.target.id !== 'reply-body' || !e.clipboardData) return;
    const image = Array.from(e.clipboardData.files || []).find((f) => f.type.startsWith('image/'));
    if (!image) return;
    e.preventDefault();
    // A pasted screenshot has no useful name.
    const named = image.name && image.name !== 'image.png' ? image : new File([image], `pasted-${Date.now()}.${image.type === 'image/jpeg' ? 'jpg' : 'png'}`, { type: image.type });
    chooseFile(named);
  });

  // Ctrl+Enter (Cmd+Enter on a Mac) in a text box sends its form with its first button.
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || !(e.ctrlKey || e.metaKey) || e.isComposing) return;
    const box = e.target;
    if (!box || box.tagName !== 'TEXTAREA' || !box.form) return;
    const button = box.form.querySelector('button[type="submit"]:not([disabled])');
    if (!button) return;
    e.preventDefault();
    box.form.requestSubmit(button);
  });

  // The queue the agent came from, so j and k move through it from a ticket.
  const rows = Array.from(document.querySelectorAll('li.ticket-row a[href^="/tickets/"]'));
  if (rows.length) {
    const ids = rows.map((a) => a.getAttribute('href').split('/')[2].split(/[?#]/)[0]);
    try { sessionStorage.setItem('windowdesk:queue', JSON.stringify(ids)); } catch (err) { /* no queue to move through */ }
  }
  function neighbour(step) {
    let ids = [];
    try { ids = JSON.parse(sessionStorage.getItem('windowdesk:queue') || '[]'); } catch (err) { ids = []; }
    const at = ids.indexOf(String(ticketId));
    return at >= 0 ? ids[at + step] : undefined;
  }

  const SHORTCUTS = [
    ['r', 'Write a reply (or the held reply when the window is closed)'],
    ['n', 'Write an internal note'],
    ['a', 'Assign the ticket to me'],
    ['j', 'Next ticket in the list you came from'],
    ['k', 'Previous ticket in the list you came from'],
    ['m', 'Macros'],
    ['Ctrl+Enter', 'Send what you are typing (Cmd+Enter on a Mac)'],
    ['/', 'Search tickets, customers and messages'],
    ['g then i', 'Go to the inbox'],
    ['?', 'Show these shortcuts'],
  ];
  function helpDialog() {
    let dialog = document.getElementById('shortcuts');
    if (dialog) return dialog;
    dialog = document.createElement('dialog');
    dialog.id = 'shortcuts';
    dialog.setAttribute('aria-labelledby', 'shortcuts-title');
    const h = document.createElement('h2');
    h.id = 'shortcuts-title';
    h.textContent = 'Keyboard shortcuts';
    const dl = document.createElement('dl');
    SHORTCUTS.forEach(([key, what]) => {
      const dt = document.createElement('dt');
      const kbd = document.createElement('kbd');
      kbd.textContent = key;
      dt.append(kbd);
      const dd = document.createElement('dd');
      dd.textContent = what;
      dl.append(dt, dd);
    });
    const close = document.createElement('button');
    close.type = 'button';
    close.id = 'shortcuts-close';
    close.textContent = 'Close';
    close.addEventListener('click', () => dialog.close());
    const hint = document.createElement('p');
    hint.className = 'hint';
    hint.textContent = 'Single keys work when you are not typing in a box. Esc closes this.';
    dialog.append(h, dl, hint, close);
    document.body.append(dialog);
    return dialog;
  }
  let pendingG = 0;
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.isComposing || e.ctrlKey || e.altKey || e.metaKey || typingIn(e.target)) return;
    if (document.querySelector('dialog[open]')) return;
    const go = (href) => { e.preventDefault(); location.href = href; };
    if (e.key === '?') { e.preventDefault(); helpDialog().showModal(); return; }
    if (e.key === '/') {
      const box = document.getElementById('search-page-q') || document.getElementById('search-q');
      if (box) { e.preventDefault(); box.focus(); box.select(); }
      return;
    }
    if (e.key === 'g') { pendingG = Date.now(); return; }
    if (e.key === 'i' && Date.now() - pendingG < 1500) { go('/'); return; }
    if (!ticketId) return;
    const focus = (id) => { const box = document.getElementById(id); if (box && !box.disabled && box.offsetParent !== null) { e.preventDefault(); box.focus(); return true; } return false; };
    switch (e.key) {
      case 'r': if (!focus('reply-body')) focus('held-body'); break;
      case 'n': focus('note-body'); break;
      case 'a': { const b = document.getElementById('assign-me'); if (b) { e.preventDefault(); b.form.requestSubmit(b); } break; }
      case 'j': { const id = neighbour(1); if (id) go(`/tickets/${id}`); break; }
      case 'k': { const id = neighbour(-1); if (id) go(`/tickets/${id}`); break; }
      default: break;
    }
  });
})();
