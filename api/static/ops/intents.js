import { api, attempt, el, notify, start } from "/static/ops/ops.js";

let intents = [];
let selected = null;

function path(intent) {
  return "/api/ops/intents/" + intent.split("/").map(encodeURIComponent).join("/") + "/examples";
}

async function load() {
  intents = (await api("GET", "/api/ops/intents")).items;
  renderIntents();
  if (selected) renderExamples();
}

function renderIntents() {
  const list = document.getElementById("intents");
  list.replaceChildren(
    ...intents.map((intent) => {
      const item = el("li", { dataset: { intent: intent.name }, onclick: () => select(intent.name) },
        el("span", {}, intent.name), el("span", { className: "count" }, String(intent.examples.length)));
      if (intent.name === selected) item.classList.add("selected");
      return item;
    }),
  );
}

function select(name) {
  selected = name;
  renderIntents();
  renderExamples();
}

function moveControl(example) {
  const target = el("select", { "aria-label": "移动到" },
    el("option", { value: "" }, "移动到…"),
    ...intents.filter((i) => i.name !== selected).map((i) => el("option", { value: i.name }, i.name)));
  target.addEventListener("change", async () => {
    if (!target.value) return;
    const to = target.value;
    const done = await attempt(() => api("POST", path(selected) + "/move", { text: example, to }), `已移动到 ${to}`);
    if (done) await load();
  });
  return target;
}

function renderExamples() {
  const intent = intents.find((i) => i.name === selected);
  document.getElementById("intent-title").textContent = `${selected}（${intent ? intent.examples.length : 0} 条例句）`;
  document.getElementById("add-form").hidden = false;
  const list = document.getElementById("examples");
  list.replaceChildren(
    ...(intent ? intent.examples : []).map((example) =>
      el("li", { dataset: { example } },
        el("span", { className: "text" }, example),
        el("button", { type: "button", onclick: () => editExample(example) }, "修改"),
        moveControl(example),
        el("button", { type: "button", className: "danger", onclick: () => deleteExample(example) }, "删除"),
      ),
    ),
  );
}

async function editExample(example) {
  const text = window.prompt("修改例句", example);
  if (!text || text === example) return;
  const done = await attempt(() => api("PATCH", path(selected), { example, text }), "已修改");
  if (done) await load();
}

async function deleteExample(example) {
  if (!window.confirm(`删除例句「${example}」？`)) return;
  const url = path(selected) + "?text=" + encodeURIComponent(example);
  const done = await attempt(() => api("DELETE", url), "已删除");
  if (done) await load();
}

async function search() {
  const query = document.getElementById("search").value.trim();
  const results = document.getElementById("search-results");
  if (!query) {
    results.replaceChildren();
    return;
  }
  const hits = (await api("GET", "/api/ops/examples?q=" + encodeURIComponent(query))).items;
  notify(`找到 ${hits.length} 条`, "ok");
  results.replaceChildren(
    ...hits.slice(0, 100).map((hit) =>
      el("li", { onclick: () => select(hit.intent) }, el("span", { className: "text" }, hit.example),
        el("span", { className: "count" }, hit.intent)),
    ),
  );
}

start(async () => {
  document.getElementById("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("new-example");
    const text = input.value.trim();
    if (!text) return;
    const done = await attempt(() => api("POST", path(selected), { text }), `已添加到 ${selected}（新版本已保存）`);
    if (done) {
      input.value = "";
      await load();
    }
  });
  document.getElementById("search-button").addEventListener("click", () => search().catch((e) => notify(e.message, "error")));
  document.getElementById("search").addEventListener("keydown", (event) => {
    if (event.key === "Enter") search().catch((e) => notify(e.message, "error"));
  });
  await load();
  const wanted = new URLSearchParams(window.location.search).get("intent");
  if (wanted) select(wanted);
});
