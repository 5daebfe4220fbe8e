// Web chat page: talks to the hub's widget channel (/api/widget/*). No framework, no build step.
(() => {
  "use strict";
  const $messages = document.getElementById("messages");
  const $form = document.getElementById("composer");
  const $input = document.getElementById("input");
  const $send = document.getElementById("send");
  const $identity = document.getElementById("identity");

  const browserId = (() => {
    let id = localStorage.getItem("cs.browserId");
    if (!id) {
      id = "b-" + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
      localStorage.setItem("cs.browserId", id);
    }
    return id;
  })();
  let identityToken = null;

  function newMessageId() {
    return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function render(message) {
    const li = document.createElement("li");
    const kind = message.direction === "in" ? "in" : message.sender === "system" ? "system" : "out";
    li.className = "msg msg--" + kind;
    li.dataset.sender = message.sender;
    li.textContent = message.text;
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
    $messages.appendChild(li);
    $messages.scrollTop = $messages.scrollHeight;
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
    const mine = render({ direction: "in", sender: "customer", text });
    mine.classList.add("msg--pending");
    const typing = document.createElement("li");
    typing.className = "typing";
    typing.textContent = "小悦正在输入…";
    $messages.appendChild(typing);
    $send.disabled = true;
    try {
      const data = await postWithRetry({
        user_id: browserId,
        text,
        payload: payload || null,
        client_message_id: newMessageId(),
        identity_token: identityToken,
      });
      mine.classList.remove("msg--pending");
      for (const reply of data.replies) render(reply);
    } catch (error) {
      render({ direction: "out", sender: "system", text: error.message || "网络异常，请稍后再试" });
    } finally {
      typing.remove();
      $send.disabled = false;
      $input.focus();
    }
  }

  async function loadHistory() {
    $messages.innerHTML = "";
    const params = new URLSearchParams({ user_id: browserId });
    if (identityToken) params.set("identity_token", identityToken);
    const response = await fetch("/api/widget/history?" + params);
    if (!response.ok) return;
    const data = await response.json();
    for (const message of data.messages) render(message);
    if (!data.messages.length) render({ direction: "out", sender: "bot", text: "您好，我是智能助手小悦，请问有什么可以帮您？" });
  }

  async function chooseIdentity(webUserId) {
    identityToken = null;
    if (webUserId) {
      // Development only: the hub signs the demo identity the way the embedding site would.
      const response = await fetch("/api/widget/dev-identity?web_user_id=" + encodeURIComponent(webUserId));
      if (response.ok) identityToken = (await response.json()).identity_token;
    }
    await loadHistory();
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
