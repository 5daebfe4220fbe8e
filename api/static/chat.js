// Web chat page: posts customer messages to /api/widget/messages and receives everything said to the customer
// (bot, agent, system) on the /api/widget/ws websocket. No framework, no build step.
// Every message is shown once: by message id, and by client_message_id for the customer's own pending messages.
// Text is always set with textContent, never parsed as HTML.
(() => {
  "use strict";
  const $messages = document.getElementById("messages");
  const $form = document.getElementById("composer");
  const $input = document.getElementById("input");
  const $send = document.getElementById("send");
  const $identity = document.getElementById("identity");
  const $status = document.getElementById("status");

  const BOT_NAME = "小悦";
  const RECONNECT_MIN_MS = 1000;
  const RECONNECT_MAX_MS = 30000;
  const PING_MS = 25000;
  const FINAL_CLOSE_CODES = new Set([4400, 4401]); // bad hello, invalid identity: reconnecting cannot help

  const browserId = (() => {
    let id = localStorage.getItem("cs.browserId");
    if (!id) {
      id = "b-" + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
      localStorage.setItem("cs.browserId", id);
    }
    return id;
  })();
  let identityToken = null;
  let view = 0; // bumps when the identity changes: a POST answered after that is not shown
  let lastId = 0; // highest message id shown: the websocket's catch-up starts after it
  const shown = new Map(); // message id -> <li>
  const pending = new Map(); // client_message_id -> <li> of a message not yet acknowledged

  function newMessageId() {
    return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function senderLabel(message) {
    if (message.direction === "in") return null;
    if (message.sender === "agent") return "客服" + (message.agent_name ? " " + message.agent_name : "");
    if (message.sender === "system") return "系统消息";
    return BOT_NAME;
  }

  function build(message) {
    const li = document.createElement("li");
    const kind = message.direction === "in" ? "in" : message.sender === "system" ? "system" : "out";
    li.className = "msg msg--" + kind;
    li.dataset.sender = message.sender;
    const label = senderLabel(message);
    if (label && message.sender !== "system") {
      const name = document.createElement("div");
      name.className = "msg__sender";
      name.textContent = label;
      li.appendChild(name);
    }
    li.appendChild(document.createTextNode(message.text));
    if (message.image) {
      const img = document.createElement("img");
      img.src = message.image;
      img.alt = "";
      img.style.maxWidth = "100%";
      li.appendChild(img);
    }
    if (message.buttons && message.buttons.length) {
      const row = document.createElement("div");
      row.className = "msg__buttons";
      for (const button of message.buttons) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = button.title;
        b.addEventListener("click", () => {
          row.querySelectorAll("button").forEach((x) => (x.disabled = true));
          send(button.title, button.payload.startsWith("/") ? button.payload : null);
        });
        row.appendChild(b);
      }
      li.appendChild(row);
    }
    return li;
  }

  function scrollDown() {
    $messages.scrollTop = $messages.scrollHeight;
  }

  function markShown(li, id) {
    li.dataset.id = String(id);
    shown.set(id, li);
    if (id > lastId) lastId = id;
  }

  // Shows a stored message (it has an id) once, in id order.
  function show(message) {
    if (!message.id || shown.has(message.id)) return shown.get(message.id) || null;
    const mine = message.client_message_id && pending.get(message.client_message_id);
    if (mine) {
      pending.delete(message.client_message_id);
      mine.classList.remove("msg--pending");
      markShown(mine, message.id);
      return mine;
    }
    const li = build(message);
    markShown(li, message.id);
    const later = [...$messages.querySelectorAll("li[data-id]")].find((x) => Number(x.dataset.id) > message.id);
    $messages.insertBefore(li, later || $messages.querySelector("li.typing"));
    scrollDown();
    return li;
  }

  // Shows something that is not (yet) in the transcript: a pending message, a local notice.
  function showLocal(message) {
    const li = build(message);
    $messages.insertBefore(li, $messages.querySelector("li.typing"));
    scrollDown();
    return li;
  }

  async function postWithRetry(body) {
    // The same client_message_id on every attempt: the hub answers a retry from the transcript.
    let lastError;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const response = await fetch("/api/widget/messages", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        const data = await response.json().catch(() => ({}));
        if (response.ok) return data;
        const detail = data.detail || {};
        if (response.status < 500) throw Object.assign(new Error(detail.message || "请求失败"), { final: true });
        lastError = new Error(detail.message || "系统繁忙，请稍后再试");
      } catch (error) {
        if (error.final) throw error;
        lastError = error;
      }
      await new Promise((r) => setTimeout(r, 800 * (attempt + 1)));
    }
    throw lastError;
  }

  async function send(text, payload) {
    text = text.trim();
    if (!text && !payload) return;
    const clientMessageId = newMessageId();
    const asked = view;
    const mine = showLocal({ direction: "in", sender: "customer", text });
    mine.classList.add("msg--pending");
    pending.set(clientMessageId, mine);
    const typing = document.createElement("li");
    typing.className = "typing";
    typing.textContent = BOT_NAME + "正在输入…";
    $messages.appendChild(typing);
    $send.disabled = true;
    try {
      const data = await postWithRetry({
        user_id: browserId,
        text,
        payload: payload || null,
        client_message_id: clientMessageId,
        identity_token: identityToken,
      });
      if (asked !== view) return; // the identity changed meanwhile: this answer belongs to the old view
      if (data.message_id && pending.has(clientMessageId)) {
        show({ id: data.message_id, client_message_id: clientMessageId });
      }
      pending.delete(clientMessageId);
      mine.classList.remove("msg--pending");
      for (const reply of data.replies) {
        if (reply.id) show(reply);
        else showLocal(reply); // a prompt that is not stored (e.g. the empty-message hint)
      }
    } catch (error) {
      if (asked !== view) return;
      pending.delete(clientMessageId);
      // fetch() rejects with a TypeError ("Failed to fetch") when the hub is unreachable: say it in Chinese.
      const text = error instanceof TypeError || !error.message ? "网络异常，请稍后再试" : error.message;
      showLocal({ direction: "out", sender: "system", text });
    } finally {
      typing.remove();
      $send.disabled = false;
      $input.focus();
    }
  }

  // --- the live feed -------------------------------------------------------------------------------------
  let socket = null;
  let generation = 0; // bumps when the identity changes: callbacks of an old socket do nothing
  let reconnectDelay = RECONNECT_MIN_MS;
  let pingTimer = null;

  function setStatus(text) {
    if ($status) $status.textContent = text;
  }

  function connect() {
    const mine = ++generation;
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/widget/ws";
    const ws = new WebSocket(url);
    socket = ws;
    ws.addEventListener("open", () => {
      if (mine !== generation) return ws.close();
      // The identity goes in the first frame, not in the URL (URLs end up in logs).
      ws.send(JSON.stringify({ type: "hello", user_id: browserId, identity_token: identityToken, last_id: lastId }));
      // The ping carries the highest id shown: the server sends anything the live feed missed.
      const ping = () => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: "ping", last_id: lastId }));
      pingTimer = setInterval(ping, PING_MS);
    });
    ws.addEventListener("message", (event) => {
      if (mine !== generation) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "hello") {
        reconnectDelay = RECONNECT_MIN_MS;
        setStatus("");
        document.body.dataset.live = "1";
      } else if (frame.type === "message") {
        show(frame.message);
      } else if (frame.type === "error") {
        setStatus(frame.message || "");
      }
    });
    ws.addEventListener("close", (event) => {
      clearInterval(pingTimer);
      if (mine !== generation) return;
      delete document.body.dataset.live;
      if (FINAL_CLOSE_CODES.has(event.code)) return;
      setStatus("连接中断，正在重新连接…");
      const delay = reconnectDelay * (0.75 + Math.random() / 2);
      reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
      setTimeout(() => mine === generation && connect(), delay);
    });
  }

  function disconnect() {
    generation++;
    clearInterval(pingTimer);
    if (socket) socket.close();
    socket = null;
  }

  async function loadHistory() {
    $messages.innerHTML = "";
    shown.clear();
    pending.clear();
    lastId = 0;
    const params = new URLSearchParams({ user_id: browserId });
    // The identity goes in a header, not in the URL (URLs end up in logs).
    const headers = identityToken ? { "X-Identity-Token": identityToken } : {};
    const response = await fetch("/api/widget/history?" + params, { headers });
    if (response.ok) {
      const data = await response.json();
      for (const message of data.messages) show(message);
    }
    if (!shown.size) showLocal({ direction: "out", sender: "bot", text: "您好，我是智能助手小悦，请问有什么可以帮您？" });
  }

  async function chooseIdentity(webUserId) {
    view++;
    disconnect();
    identityToken = null;
    if (webUserId) {
      // Development only: the hub signs the demo identity the way the embedding site would.
      const response = await fetch("/api/widget/dev-identity?web_user_id=" + encodeURIComponent(webUserId));
      if (response.ok) identityToken = (await response.json()).identity_token;
    }
    await loadHistory();
    reconnectDelay = RECONNECT_MIN_MS;
    connect();
  }

  $form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $input.value;
    $input.value = "";
    send(text, null);
  });
  $input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $form.requestSubmit();
    }
  });
  $identity.addEventListener("change", () => chooseIdentity($identity.value));

  const requested = new URLSearchParams(location.search).get("as") || "";
  if (requested) $identity.value = requested;
  chooseIdentity($identity.value);
})();
