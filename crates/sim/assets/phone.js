// The simulator's customer phone (/sim/phone). Hand-written, no build step, no dependencies.
// Everything shown comes from customers or the business, so the DOM is built with createElement and
// textContent only, never from HTML strings.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const el = {
    from: $("phone-from"),
    name: $("phone-name"),
    number: $("phone-number"),
    who: $("phone-who"),
    text: $("phone-text"),
    compose: $("phone-compose"),
    send: $("phone-send"),
    image: $("phone-send-image"),
    voice: $("phone-send-voice"),
    documentButton: $("phone-send-document"),
    react: $("phone-react"),
    thread: $("phone-thread"),
    empty: $("phone-empty"),
    status: $("phone-status"),
    bizName: $("phone-biz-name"),
    bizNumber: $("phone-biz-number"),
  };
  if (!el.thread || !el.compose) return;

  const POLL_MS = 1000;
  const TICKS = {
    accepted: ["🕓", "sending"],
    sent: ["✓", "sent"],
    delivered: ["✓✓", "delivered"],
    read: ["✓✓", "read"],
    played: ["✓✓", "played"],
  };
  const KIND_LABELS = {
    image: "Photo",
    sticker: "Sticker",
    audio: "Audio",
    video: "Video",
    document: "Document",
    location: "Location",
    contacts: "Contact card",
    interactive: "Interactive message",
    reaction: "Reaction",
  };

  let shownKey = ""; // the query the thread shows
  let nodes = new Map(); // wamid -> { node, sig }
  let reactTo = null; // the business's latest message
  let busy = false;
  let timer = null;
  let inFlight = false;
  let again = false;
  let pollError = "";
  let follow = true; // keep the newest message in view unless the reader scrolled up

  function query() {
    return new URLSearchParams({ wa_id: el.from.value.trim(), phone_number_id: el.number.value }).toString();
  }

  function setStatus(text, isError) {
    el.status.textContent = text;
    el.status.classList.toggle("error", Boolean(isError));
  }

  async function api(url, options) {
    const resp = await fetch(url, Object.assign({ cache: "no-store", credentials: "same-origin" }, options));
    let data = null;
    try {
      data = await resp.json();
    } catch (_) {
      data = null;
    }
    if (!resp.ok) {
      const message = data && data.error && data.error.message ? data.error.message : "HTTP " + resp.status;
      throw new Error(message);
    }
    return data;
  }

  function add(parent, tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    parent.appendChild(node);
    return node;
  }

  function mediaNode(parent, m) {
    const media = m.media;
    const label = KIND_LABELS[m.kind] || m.kind;
    if (!media.url) {
      if (media.link) add(parent, "p", "label", label + " sent as a link (not loaded here): " + media.link);
      else add(parent, "p", "label", label);
      return;
    }
    if (m.kind === "image" || m.kind === "sticker") {
      const img = add(parent, "img", "media");
      img.alt = m.text ? label + ": " + m.text : label;
      img.src = media.url;
      img.addEventListener("load", stick);
    } else if (m.kind === "audio" || m.kind === "video") {
      add(parent, "p", "label", media.voice ? "Voice note" : label);
      const player = add(parent, m.kind, "media");
      player.controls = true;
      player.preload = "none";
      player.addEventListener("loadedmetadata", stick);
      player.src = media.url;
    } else {
      const link = add(parent, "a", "file", "📄 " + (media.filename || label));
      link.href = media.url;
      link.download = media.filename || "";
    }
  }

  function bubble(m) {
    const node = document.createElement("div");
    node.className = "bubble";
    node.dataset.direction = m.direction;
    node.dataset.kind = m.kind;
    node.dataset.wamid = m.wamid;
    node.dataset.channel = m.channel || "whatsapp";
    if (m.status) node.dataset.status = m.status;
    if (m.channel === "sms") {
      // Not a WhatsApp message: the desk's SMS fallback, as the phone's SMS app would show it.
      add(node, "span", "vh", "The business sent an SMS:");
      add(node, "p", "label sms", "SMS" + (m.sms_from ? " from " + m.sms_from : ""));
    } else {
      add(node, "span", "vh", m.direction === "in" ? "You said:" : "The business said:");
    }
    if (m.template) {
      const t = add(node, "p", "label template", "Template: " + m.template.name);
      t.dataset.template = m.template.name;
    }
    if (m.media) mediaNode(node, m);
    const fileName = m.media && m.media.filename;
    if (m.kind === "reaction") {
      add(node, "p", "text", "Reacted " + (m.text || "(removed)") + " to an earlier message");
    } else if (m.text && !(m.kind === "document" && m.text === fileName)) {
      add(node, "p", "text", m.text);
    } else if (!m.media && !m.template && m.kind !== "text") {
      add(node, "p", "label", KIND_LABELS[m.kind] || m.kind);
    }
    if (m.reactions && m.reactions.length) {
      const list = add(node, "p", "reactions");
      for (const r of m.reactions) {
        const badge = add(list, "span", "reaction", r.emoji);
        badge.dataset.emoji = r.emoji;
        badge.dataset.direction = r.direction;
        add(list, "span", "vh", r.direction === "in" ? " (your reaction) " : " (the business's reaction) ");
      }
    }
    const meta = add(node, "p", "meta");
    const time = add(meta, "time", null, new Date(m.at_ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    time.dateTime = new Date(m.at_ms).toISOString();
    if (m.direction === "out" && m.status === "failed") {
      add(meta, "span", "failed", " Not delivered" + (m.error_code ? " (error " + m.error_code + ")" : ""));
    } else if (m.direction === "out" && TICKS[m.status]) {
      const ticks = add(meta, "span", "ticks", " " + TICKS[m.status][0]);
      ticks.dataset.status = m.status;
      ticks.setAttribute("aria-hidden", "true");
      add(meta, "span", "vh", " " + TICKS[m.status][1]);
    }
    return node;
  }

  function stick() {
    if (follow) el.thread.scrollTop = el.thread.scrollHeight;
  }

  function clearThread() {
    el.thread.replaceChildren();
    nodes = new Map();
    follow = true;
  }

  function updateReactButtons() {
    for (const b of el.react.querySelectorAll("button[data-emoji]")) b.disabled = busy || !reactTo;
  }

  function render(key, data) {
    const wamids = new Set(data.messages.map((m) => m.wamid));
    if (key !== shownKey || [...nodes.keys()].some((w) => !wamids.has(w))) {
      clearThread();
      shownKey = key;
    }
    const t = el.thread;
    let changed = false;
    for (const m of data.messages) {
      const sig = JSON.stringify(m);
      const old = nodes.get(m.wamid);
      if (old && old.sig === sig) continue;
      const node = bubble(m);
      if (old) old.node.replaceWith(node);
      else t.appendChild(node);
      nodes.set(m.wamid, { node: node, sig: sig });
      changed = true;
    }
    el.empty.hidden = data.messages.length > 0;
    reactTo = data.react_to || null;
    updateReactButtons();
    if (changed) stick();
  }

  async function poll() {
    clearTimeout(timer);
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      const key = query();
      const data = await api("/sim/phone/thread?" + key);
      if (key === query()) render(key, data);
      if (pollError && el.status.textContent === pollError) setStatus("", false);
      pollError = "";
    } catch (e) {
      const message = "Cannot show the conversation: " + e.message;
      if (message !== pollError) setStatus(message, true);
      pollError = message;
      clearThread();
      shownKey = "";
      reactTo = null;
      updateReactButtons();
    } finally {
      inFlight = false;
      timer = setTimeout(poll, again ? 0 : POLL_MS);
      again = false;
    }
  }

  function setBusy(value) {
    busy = value;
    for (const b of [el.send, el.image, el.voice, el.documentButton]) b.disabled = value;
    updateReactButtons();
  }

  function outcome(what, delivery) {
    if (!delivery || delivery.outcome === "delivered") return [what + " sent.", false];
    if (delivery.outcome === "skipped") return [what + " recorded, but the simulator has no webhook URL: the desk did not get it.", true];
    const why = delivery.last_error || (delivery.last_http_status ? "HTTP " + delivery.last_http_status : "no answer");
    return [what + " sent, but the desk did not accept the webhook (" + why + ").", true];
  }

  async function send(payload, what) {
    if (!el.from.value.trim()) {
      setStatus("Enter your number (wa_id) first.", true);
      el.from.focus();
      return false;
    }
    setBusy(true);
    try {
      const body = Object.assign(
        { wa_id: el.from.value.trim(), name: el.name.value.trim() || null, phone_number_id: el.number.value || null },
        payload
      );
      const data = await api("/sim/phone/say", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
      });
      const [text, isError] = outcome(what, data.delivery);
      setStatus(text, isError);
      return true;
    } catch (e) {
      setStatus(what + " not sent: " + e.message, true);
      return false;
    } finally {
      setBusy(false);
      poll();
    }
  }

  function remember() {
    const params = new URLSearchParams({ wa_id: el.from.value.trim(), name: el.name.value, phone_number_id: el.number.value });
    history.replaceState(null, "", "?" + params.toString());
  }

  function showBusiness() {
    const option = el.number.selectedOptions[0];
    if (!option) return;
    el.bizName.textContent = option.dataset.name || "";
    el.bizNumber.textContent = option.dataset.display || "";
  }

  el.thread.addEventListener("scroll", () => {
    const t = el.thread;
    follow = t.scrollHeight - t.scrollTop - t.clientHeight < 60;
  });
  el.compose.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = el.text.value;
    if (!body.trim()) {
      setStatus("Type a message first.", true);
      el.text.focus();
      return;
    }
    if (await send({ type: "text", body: body }, "Message")) el.text.value = "";
    el.text.focus();
  });
  el.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      el.compose.requestSubmit();
    }
  });
  el.image.addEventListener("click", () => send({ type: "image" }, "Photo"));
  el.voice.addEventListener("click", () => send({ type: "voice" }, "Voice note"));
  el.documentButton.addEventListener("click", () => send({ type: "document" }, "Document"));
  el.react.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-emoji]");
    if (!button || button.disabled || !reactTo) return;
    const emoji = button.dataset.emoji;
    send({ type: "reaction", emoji: emoji, message_id: reactTo }, "Reaction " + emoji);
  });
  el.who.addEventListener("submit", (event) => {
    event.preventDefault();
    remember();
    poll();
  });
  let typing = null;
  el.from.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      remember();
      poll();
    }, 400);
  });
  el.name.addEventListener("change", remember);
  el.number.addEventListener("change", () => {
    showBusiness();
    remember();
    poll();
  });

  showBusiness();
  poll();
})();
