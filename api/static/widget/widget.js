// The embeddable customer-service widget: <script src="https://<api>/widget.js" async></script>
//
// A launcher button and a chat panel inside a shadow root (styles do not leak in or out), no framework.
// It talks to the API origin the script was loaded from, so it works on pages of other origins (CORS).
// - Customer messages: POST /api/widget/messages with a client message id; kept in an outbox (also in
//   localStorage) until the hub acknowledges them, so a message typed offline goes out when the network is back,
//   and a retry never duplicates (the hub answers a repeated client id from the transcript).
// - Everything said to the customer: the /api/widget/ws websocket (hello frame with the last-seen id → catch-up,
//   then pushes), reconnecting with back-off; each message id is shown once.
// - Identity: anonymous (a random visitor id kept in localStorage) unless the host page gives a signed token
//   (data-identity-token on the script tag, window.csWidgetSettings.identityToken, or CSWidget.identify(token)).
//   The token travels in the POST body, a header and the websocket's first frame, never in a URL.
// - Text is always set with textContent; links only to hosts of the allow-list (config.json).
// Contract hooks for outside tests: data-testid cs-launcher, cs-input, cs-send, cs-message (+ data-sender).
(() => {
  "use strict";
  if (window.CSWidget && window.CSWidget.loaded) return; // the tag pasted twice

  const script = document.currentScript;
  const API = new URL(script && script.src ? script.src : "/widget.js", location.href).origin;
  const dataset = (script && script.dataset) || {};
  const hostSettings = window.csWidgetSettings || {};
  const FULL_PAGE = dataset.mode === "page" || hostSettings.mode === "page";

  const RECONNECT_MIN_MS = 1000;
  const RECONNECT_MAX_MS = 30000;
  const PING_MS = 25000;
  const STATE_POLL_MS = 10000;
  const FINAL_CLOSE_CODES = new Set([4400, 4403]);
  const KEY_VISITOR = "cs.widget.visitor";
  const KEY_OUTBOX = "cs.widget.outbox";
  const KEY_OPEN = "cs.widget.open";

  let T = {}; // UI texts (config.json)
  let linkHosts = [];

  // --- storage (a page may forbid it: then memory only) --------------------------------------------------
  const memory = {};
  const store = {
    get(key) {
      try {
        return localStorage.getItem(key);
      } catch {
        return memory[key] ?? null;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem(key, value);
      } catch {
        memory[key] = value;
      }
    },
  };

  function randomId(prefix) {
    const raw = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
    return prefix + raw;
  }

  const visitorId = (() => {
    let id = store.get(KEY_VISITOR);
    if (!id || !/^[A-Za-z0-9_.:@-]{1,64}$/.test(id)) {
      id = randomId("v-");
      store.set(KEY_VISITOR, id);
    }
    return id;
  })();
  let identityToken = dataset.identityToken || hostSettings.identityToken || null;

  function format(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
  }

  // --- DOM ----------------------------------------------------------------------------------------------
  const host = document.createElement("div");
  host.id = "cs-widget";
  host.style.all = "initial";
  host.style.visibility = "hidden"; // until the stylesheet is in
  const root = host.attachShadow({ mode: "open" });
  const sheet = document.createElement("link");
  sheet.rel = "stylesheet";
  sheet.href = API + "/widget/widget.css";
  sheet.addEventListener("load", () => (host.style.visibility = ""));
  sheet.addEventListener("error", () => (host.style.visibility = ""));
  root.appendChild(sheet);

  function el(tag, className, attributes) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  const frame = el("div", "cs" + (FULL_PAGE ? " cs--page" : ""));
  const launcher = el("button", "cs-launcher", { type: "button", "data-testid": "cs-launcher", "aria-expanded": "false" });
  const launcherLabel = el("span", "cs-launcher__label");
  const badge = el("span", "cs-launcher__badge", { "aria-hidden": "true" });
  launcher.append(launcherLabel, badge);
  const panel = el("section", "cs-panel", { role: "dialog", "data-testid": "cs-panel" });
  panel.hidden = !FULL_PAGE;
  const header = el("header", "cs-header");
  const titles = el("div", "cs-header__titles");
  const title = el("h2", "cs-header__title");
  const subtitle = el("p", "cs-header__subtitle");
  titles.append(title, subtitle);
  const closeButton = el("button", "cs-header__close", { type: "button", "data-testid": "cs-close" });
  closeButton.textContent = "×";
  header.append(titles);
  if (!FULL_PAGE) header.append(closeButton);
  const handoffBar = el("p", "cs-handoff", { "data-testid": "cs-handoff", role: "status" });
  handoffBar.hidden = true;
  const statusBar = el("p", "cs-status", { "data-testid": "cs-status", role: "status" });
  statusBar.hidden = true;
  const list = el("ol", "cs-messages", { "aria-live": "polite", "data-testid": "cs-messages" });
  const typing = el("li", "cs-typing", { "data-testid": "cs-typing" });
  typing.hidden = true;
  list.append(typing);
  const composer = el("form", "cs-composer", { autocomplete: "off" });
  const input = el("textarea", "cs-input", { rows: "1", maxlength: "2000", "data-testid": "cs-input" });
  const sendButton = el("button", "cs-send", { type: "submit", "data-testid": "cs-send" });
  composer.append(input, sendButton);
  panel.append(header, handoffBar, statusBar, list, composer);
  frame.append(panel);
  if (!FULL_PAGE) frame.append(launcher);
  root.append(frame);

  function applyTexts() {
    launcherLabel.textContent = T.launcher || "";
    launcher.setAttribute("aria-label", T.launcher || "");
    panel.setAttribute("aria-label", T.title || "");
    title.textContent = T.title || "";
    subtitle.textContent = T.subtitle || "";
    closeButton.setAttribute("aria-label", T.close || "");
    input.placeholder = T.placeholder || "";
    input.setAttribute("aria-label", T.placeholder || "");
    sendButton.textContent = T.send || "";
    typing.textContent = T.typing || "";
  }

  function setStatus(text) {
    statusBar.textContent = text || "";
    statusBar.hidden = !text;
  }

  // --- rendering ----------------------------------------------------------------------------------------
  let lastId = 0; // highest message id shown: the websocket's catch-up starts after it
  const shown = new Map(); // message id -> <li>
  const pending = new Map(); // client_message_id -> <li> of a message not yet acknowledged
  let unread = 0;

  function linkAllowed(url) {
    if (url.protocol !== "https:") return false;
    const hostname = url.hostname.toLowerCase();
    return linkHosts.some((allowed) => hostname === allowed || hostname.endsWith("." + allowed));
  }

  // Text with the allow-listed links made clickable; everything else stays text.
  function appendText(parent, text) {
    const pattern = /https?:\/\/[^\s<>"'，。！？）)]+/g;
    let at = 0;
    for (const match of String(text).matchAll(pattern)) {
      let url = null;
      try {
        url = new URL(match[0]);
      } catch {
        url = null;
      }
      if (!url || !linkAllowed(url)) continue;
      parent.appendChild(document.createTextNode(text.slice(at, match.index)));
      const a = el("a", "cs-link", { href: url.href, target: "_blank", rel: "noopener noreferrer nofollow" });
      a.textContent = match[0];
      parent.appendChild(a);
      at = match.index + match[0].length;
    }
    parent.appendChild(document.createTextNode(String(text).slice(at)));
  }

  function senderLabel(message) {
    if (message.sender === "agent") return (T.agent_prefix || "") + (message.agent_name ? " " + message.agent_name : "");
    if (message.sender === "bot") return T.bot_name || "";
    return null;
  }

  function isRating(buttons) {
    return buttons.length > 0 && buttons.every((b) => /^\/csat_[1-5]$/.test(b.payload || ""));
  }

  function buttonRow(message) {
    const buttons = message.buttons || [];
    const rating = isRating(buttons);
    const row = el("div", rating ? "cs-stars" : "cs-buttons", rating ? { role: "group", "aria-label": T.rate || "" } : {});
    const ordered = rating ? [...buttons].sort((a, b) => a.payload.localeCompare(b.payload)) : buttons;
    for (const button of ordered) {
      const b = el("button", rating ? "cs-star" : "cs-quick", { type: "button" });
      if (rating) {
        b.textContent = "★";
        b.title = button.title;
        b.setAttribute("aria-label", button.title);
        b.dataset.score = button.payload.slice(-1);
      } else {
        b.textContent = button.title;
      }
      b.addEventListener("click", () => {
        row.querySelectorAll("button").forEach((x) => (x.disabled = true));
        b.classList.add("is-chosen");
        const payload = String(button.payload || "");
        send(button.title, payload.startsWith("/") ? payload : null);
      });
      row.appendChild(b);
    }
    return row;
  }

  function build(message) {
    const sender = message.direction === "in" ? "customer" : message.sender || "bot";
    const li = el("li", "cs-msg cs-msg--" + sender, { "data-testid": "cs-message", "data-sender": sender });
    const label = senderLabel(message);
    if (label) {
      const name = el("div", "cs-msg__sender");
      name.textContent = label;
      li.appendChild(name);
    }
    const body = el("div", "cs-msg__text");
    appendText(body, message.text || "");
    li.appendChild(body);
    if (message.image) {
      try {
        const url = new URL(message.image, API);
        if (url.protocol === "https:" || url.origin === API) {
          const img = el("img", "cs-msg__image", { alt: "" });
          img.src = url.href;
          li.appendChild(img);
        }
      } catch {
        /* not a URL: not shown */
      }
    }
    if (message.buttons && message.buttons.length) li.appendChild(buttonRow(message));
    return li;
  }

  function scrollDown() {
    list.scrollTop = list.scrollHeight;
  }

  function markShown(li, id) {
    li.dataset.id = String(id);
    shown.set(id, li);
    if (id > lastId) lastId = id;
  }

  function noteUnread(message) {
    if (message.direction === "in" || FULL_PAGE || !panel.hidden) return;
    unread += 1;
    badge.textContent = String(unread);
    launcher.classList.add("has-unread");
  }

  // Shows a stored message (it has an id) once, in id order.
  function show(message) {
    if (!message.id || shown.has(message.id)) return;
    const mine = message.client_message_id && pending.get(message.client_message_id);
    if (mine) {
      pending.delete(message.client_message_id);
      mine.classList.remove("is-pending");
      markShown(mine, message.id);
      return;
    }
    const li = build(message);
    markShown(li, message.id);
    const later = [...list.querySelectorAll("li[data-id]")].find((x) => Number(x.dataset.id) > message.id);
    list.insertBefore(li, later || list.querySelector("li.is-pending") || typing);
    noteUnread(message);
    scrollDown();
    if (message.direction !== "in" && message.sender !== "bot") refreshState();
  }

  function showLocal(message) {
    const li = build(message);
    li.classList.add("is-local");
    list.insertBefore(li, typing);
    scrollDown();
    return li;
  }

  // --- identity notices ---------------------------------------------------------------------------------
  let identityNotice = null;
  function noteIdentity(data) {
    if (!data || !identityToken) return;
    const key = data.identity_problem === "expired" ? "identity_expired" : data.identity_problem ? "identity_invalid" : null;
    if (identityNotice && (!key || identityNotice.dataset.key !== key)) {
      identityNotice.remove();
      identityNotice = null;
    }
    if (key && !identityNotice) {
      identityNotice = showLocal({ direction: "out", sender: "system", text: T[key] });
      identityNotice.dataset.key = key;
    }
  }

  function identityHeaders() {
    return identityToken ? { "X-Identity-Token": identityToken } : {};
  }

  // --- the outbox: every customer message until the hub acknowledged it ---------------------------------
  let outbox = [];
  try {
    outbox = JSON.parse(store.get(KEY_OUTBOX) || "[]").filter((item) => item && item.id && item.text !== undefined);
  } catch {
    outbox = [];
  }
  let flushing = false;
  let retryTimer = null;
  let retryDelay = RECONNECT_MIN_MS;

  function saveOutbox() {
    store.set(KEY_OUTBOX, JSON.stringify(outbox));
  }

  function showPending(item) {
    const li = build({ direction: "in", sender: "customer", text: item.text });
    li.classList.add("is-pending");
    li.dataset.clientId = item.id;
    pending.set(item.id, li);
    list.insertBefore(li, typing);
    scrollDown();
  }

  function send(text, payload) {
    text = String(text || "").trim();
    if (!text && !payload) return;
    const item = { id: randomId("c-"), text, payload: payload || null };
    outbox.push(item);
    saveOutbox();
    showPending(item);
    flush();
  }

  class FinalError extends Error {}

  async function post(item) {
    const response = await fetch(API + "/api/widget/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        user_id: visitorId,
        text: item.text,
        payload: item.payload,
        client_message_id: item.id,
        identity_token: identityToken,
      }),
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok) return data;
    const message = (data.detail && data.detail.message) || T.send_failed;
    if (response.status < 500 && response.status !== 408 && response.status !== 429) throw new FinalError(message);
    throw new Error(message);
  }

  // Sends the outbox in order, one message at a time; stops at a network failure and resumes on reconnect.
  async function flush() {
    if (flushing) return;
    flushing = true;
    clearTimeout(retryTimer);
    try {
      while (outbox.length) {
        const item = outbox[0];
        const botAnswers = !handoff || handoff.owner === "bot" || handoff.owner === null;
        typing.hidden = !botAnswers;
        list.appendChild(typing);
        scrollDown();
        let data;
        try {
          data = await post(item);
        } catch (error) {
          if (error instanceof FinalError) {
            outbox.shift();
            saveOutbox();
            const li = pending.get(item.id);
            pending.delete(item.id);
            if (li) li.classList.add("is-failed");
            showLocal({ direction: "out", sender: "system", text: error.message });
            continue;
          }
          setStatus(navigator.onLine === false ? T.offline_pending : T.reconnecting);
          retryTimer = setTimeout(flush, retryDelay);
          retryDelay = Math.min(retryDelay * 2, RECONNECT_MAX_MS);
          return;
        }
        retryDelay = RECONNECT_MIN_MS;
        outbox.shift();
        saveOutbox();
        noteIdentity(data);
        if (data.message_id) show({ id: data.message_id, client_message_id: item.id });
        else {
          const li = pending.get(item.id);
          pending.delete(item.id);
          if (li) li.remove();
        }
        for (const reply of data.replies || []) {
          if (reply.id) show(reply);
          else showLocal(reply); // a prompt that is not stored (the empty-message hint)
        }
        if (socketLive) setStatus("");
        refreshState();
      }
    } finally {
      typing.hidden = true;
      flushing = false;
    }
  }

  // --- handoff state --------------------------------------------------------------------------------------
  let handoff = null;
  let stateTimer = null;

  async function refreshState() {
    clearTimeout(stateTimer);
    let data;
    try {
      const response = await fetch(API + "/api/widget/state?user_id=" + encodeURIComponent(visitorId), {
        headers: identityHeaders(),
      });
      if (!response.ok) return;
      data = await response.json();
    } catch {
      return;
    }
    handoff = data;
    let text = "";
    if (data.owner === "queue") {
      text =
        data.ahead === null || data.ahead === undefined
          ? T.queued
          : format(T.queued_ahead, { ahead: data.ahead, minutes: Math.max(1, Math.ceil((data.estimated_wait_seconds || 0) / 60)) });
    } else if (data.owner === "agent") {
      text = data.agent_name ? format(T.with_agent, { name: data.agent_name }) : T.with_agent_anonymous;
    }
    handoffBar.textContent = text;
    handoffBar.hidden = !text;
    handoffBar.dataset.owner = data.owner || "";
    if (data.owner === "queue" || data.owner === "agent") stateTimer = setTimeout(refreshState, STATE_POLL_MS);
  }

  // --- the live feed --------------------------------------------------------------------------------------
  let socket = null;
  let socketLive = false;
  let generation = 0; // bumps on every (re)start: callbacks of an old socket do nothing
  let reconnectDelay = RECONNECT_MIN_MS;
  let pingTimer = null;

  function connect() {
    const mine = ++generation;
    const ws = new WebSocket(API.replace(/^http/, "ws") + "/api/widget/ws");
    socket = ws;
    ws.addEventListener("open", () => {
      if (mine !== generation) return ws.close();
      // The identity goes in the first frame, not in the URL (URLs end up in logs).
      ws.send(JSON.stringify({ type: "hello", user_id: visitorId, identity_token: identityToken, last_id: lastId }));
      const ping = () => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: "ping", last_id: lastId }));
      pingTimer = setInterval(ping, PING_MS);
    });
    ws.addEventListener("message", (event) => {
      if (mine !== generation) return;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (data.type === "hello") {
        reconnectDelay = RECONNECT_MIN_MS;
        socketLive = true;
        frame.dataset.live = "1";
        host.dataset.live = "1";
        setStatus("");
        noteIdentity(data);
        flush(); // what was typed while offline goes out now
        refreshState();
      } else if (data.type === "message") {
        show(data.message);
      } else if (data.type === "error") {
        setStatus(data.code === "forbidden_origin" ? T.forbidden : data.message || "");
      }
    });
    ws.addEventListener("close", (event) => {
      clearInterval(pingTimer);
      if (mine !== generation) return;
      socketLive = false;
      delete frame.dataset.live;
      delete host.dataset.live;
      if (FINAL_CLOSE_CODES.has(event.code)) return;
      if (!statusBar.textContent) setStatus(T.reconnecting);
      const delay = reconnectDelay * (0.75 + Math.random() / 2);
      reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
      setTimeout(() => mine === generation && connect(), delay);
    });
  }

  function disconnect() {
    generation++;
    clearInterval(pingTimer);
    socketLive = false;
    if (socket) socket.close();
    socket = null;
  }

  async function loadHistory() {
    for (const li of [...list.querySelectorAll("li.cs-msg")]) li.remove();
    shown.clear();
    pending.clear();
    identityNotice = null;
    lastId = 0;
    let data = null;
    try {
      const response = await fetch(API + "/api/widget/history?user_id=" + encodeURIComponent(visitorId), {
        headers: identityHeaders(),
      });
      if (response.ok) data = await response.json();
    } catch {
      data = null; // offline: the socket catches up when it connects
    }
    if (data) {
      for (const message of data.messages) show(message);
      noteIdentity(data);
      const stored = new Set(data.messages.map((m) => m.client_message_id).filter(Boolean));
      const before = outbox.length;
      // Stored already (the answer to its POST was lost): its replies come with the socket's catch-up.
      outbox = outbox.filter((item) => !stored.has(item.id));
      if (outbox.length !== before) saveOutbox();
    }
    if (!shown.size && !outbox.length) showLocal({ direction: "out", sender: "bot", text: T.greeting });
    for (const item of outbox) showPending(item);
  }

  async function start() {
    disconnect();
    await loadHistory();
    reconnectDelay = RECONNECT_MIN_MS;
    connect();
  }

  // --- opening, closing, host-page API ------------------------------------------------------------------
  function setOpen(open) {
    if (FULL_PAGE) return;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.classList.toggle("is-open", open);
    store.set(KEY_OPEN, open ? "1" : "0");
    if (open) {
      unread = 0;
      badge.textContent = "";
      launcher.classList.remove("has-unread");
      scrollDown();
      input.focus();
    }
  }

  launcher.addEventListener("click", () => setOpen(panel.hidden));
  closeButton.addEventListener("click", () => setOpen(false));
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    send(text, null);
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  window.addEventListener("online", () => {
    flush();
    if (!socketLive) {
      reconnectDelay = RECONNECT_MIN_MS;
      disconnect();
      connect();
    }
  });
  window.addEventListener("offline", () => setStatus(T.offline_pending));

  const ready = (async () => {
    try {
      const response = await fetch(API + "/widget/config.json");
      const config = await response.json();
      T = config.texts || {};
      linkHosts = (config.link_hosts || []).map((h) => String(h).toLowerCase());
    } catch {
      T = {};
    }
    applyTexts();
    (document.body || document.documentElement).appendChild(host);
    if (dataset.open === "1" || store.get(KEY_OPEN) === "1") setOpen(true);
    await start();
  })();

  window.CSWidget = {
    loaded: true,
    ready,
    open: () => setOpen(true),
    close: () => setOpen(false),
    // The host page's user logged in (a signed token) or out (null): the conversation continues.
    identify: async (token) => {
      await ready;
      identityToken = token || null;
      await start();
    },
    // For the host page and tests: drops the live connection (it reconnects with back-off).
    reconnect: () => socket && socket.close(),
  };
})();
