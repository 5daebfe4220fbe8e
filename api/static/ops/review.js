import { api, attempt, el, notify, start } from "/static/ops/ops.js";

let intents = [];

function filters() {
  const params = new URLSearchParams();
  const value = (id) => document.getElementById(id).value.trim();
  if (value("f-channel")) params.set("channel", value("f-channel"));
  if (value("f-tier")) params.set("tier", value("f-tier"));
  if (value("f-intent")) params.set("intent", value("f-intent"));
  if (document.getElementById("f-fallback").checked) params.set("fallback", "true");
  if (document.getElementById("f-escalated").checked) params.set("escalated", "true");
  if (document.getElementById("f-csat").checked) params.set("csat_max", "2");
  if (value("f-from")) params.set("from", value("f-from"));
  if (value("f-to")) params.set("to", value("f-to"));
  return params.toString();
}

async function list() {
  const items = (await api("GET", "/api/ops/conversations?" + filters())).items;
  notify(`${items.length} 个对话`, "ok");
  document.getElementById("conversations").replaceChildren(
    ...items.map((c) =>
      el("li", { dataset: { id: String(c.id) }, onclick: () => show(c.id).catch((e) => notify(e.message, "error")) },
        el("span", {}, `#${c.id} ${c.first_message || ""}`.slice(0, 40)),
        el("span", { className: "count" },
          [c.channel, c.tier, c.fallback ? "兜底" : null, c.escalated ? "转人工" : null, c.csat ? `满意度${c.csat}` : null].filter(Boolean).join(" · ")))),
  );
}

function labelControl(conversationId, message) {
  const choice = el("select", { "aria-label": "正确意图" }, el("option", { value: "" }, "标注为…"),
    ...intents.map((name) => el("option", { value: name }, name === "out_of_scope" ? "out_of_scope（超出范围）" : name)));
  choice.addEventListener("change", async () => {
    if (!choice.value) return;
    const url = `/api/ops/conversations/${conversationId}/messages/${message.id}/label`;
    const done = await attempt(() => api("POST", url, { intent: choice.value }), `已标注为 ${choice.value}（训练数据新版本）`);
    if (done) await show(conversationId);
  });
  return choice;
}

async function show(id) {
  const detail = await api("GET", `/api/ops/conversations/${id}`);
  const panel = document.getElementById("conversation");
  const name = el("input", { placeholder: "测试故事名称", value: `conversation ${id}`, "aria-label": "测试故事名称" });
  const saveStory = el("button", { type: "button" }, "保存为测试故事");
  saveStory.addEventListener("click", () =>
    attempt(() => api("POST", `/api/ops/conversations/${id}/test-story`, { name: name.value }), "已保存到 tests/stories/test_reviewed.yml"));
  panel.replaceChildren(
    el("h2", {}, `对话 #${detail.id} · ${detail.channel}${detail.tier ? " · " + detail.tier : ""}`),
    el("div", { className: "row" }, name, saveStory),
    el("table", {}, el("tbody", {}, ...detail.messages.map((m) =>
      el("tr", { className: m.sender === "customer" ? "msg-customer" : "", dataset: { message: String(m.id) } },
        el("td", {}, m.sender === "customer" ? "客户" : m.sender === "bot" ? "机器人" : m.sender),
        el("td", {}, m.text),
        el("td", {}, m.intent ? el("span", { className: m.intent === "nlu_fallback" ? "tag warn" : "tag" },
          `${m.intent}${m.confidence != null ? " " + m.confidence.toFixed(2) : ""}`) : null,
          m.labelled ? el("span", { className: "tag" }, "已标注 " + m.labelled) : null),
        el("td", {}, m.sender === "customer" ? labelControl(id, m) : null))))),
  );
}

start(async () => {
  intents = (await api("GET", "/api/ops/intents")).items.map((i) => i.name);
  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    list().catch((e) => notify(e.message, "error"));
  });
  await list();
});
