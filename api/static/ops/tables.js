import { api, attempt, el, start } from "/static/ops/ops.js";

const URLS = { synonym: "/api/ops/synonyms", lookup: "/api/ops/lookups" };

function tableEditor(kind, table) {
  const editor = el("textarea", { value: table.entries.join("\n"), "aria-label": table.name });
  const save = el("button", { type: "button", className: "primary" }, "保存");
  save.addEventListener("click", async () => {
    const entries = editor.value.split("\n").map((line) => line.trim()).filter(Boolean);
    const done = await attempt(() => api("PUT", `${URLS[kind]}/${encodeURIComponent(table.name)}`, { entries }), `「${table.name}」已保存`);
    if (done) await load();
  });
  return el("div", { className: "panel", dataset: { table: table.name } },
    el("strong", {}, table.name), el("span", { className: "muted" }, ` ${table.entries.length} 个词 · ${table.path}`), editor, save);
}

async function addToLookup(lookup, names) {
  const tables = (await api("GET", URLS.lookup)).items;
  const existing = (tables.find((t) => t.name === lookup) || { entries: [] }).entries;
  const entries = [...existing, ...names];
  const done = await attempt(() => api("PUT", `${URLS.lookup}/${encodeURIComponent(lookup)}`, { entries }), `已加入词表「${lookup}」`);
  if (done) await load();
}

async function renderCrmNames() {
  const names = await api("GET", "/api/ops/lookups/crm");
  const rows = [];
  for (const [kind, label] of [["store", "门店"], ["service", "服务"]]) {
    if (!names[kind].length) continue;
    rows.push(el("div", { className: "row", dataset: { crm: kind } },
      el("strong", {}, label + "："), el("span", {}, names[kind].join("、")),
      el("button", { type: "button", onclick: () => addToLookup(kind, names[kind]) }, `全部加入词表「${kind}」`)));
  }
  document.getElementById("crm-names").replaceChildren(...(rows.length ? rows : [el("span", { className: "muted" }, "CRM 里的名称都已在词表中")]));
}

async function load() {
  for (const kind of ["synonym", "lookup"]) {
    const tables = (await api("GET", URLS[kind])).items;
    document.getElementById(kind + "s").replaceChildren(el("div", { className: "cards" }, ...tables.map((t) => tableEditor(kind, t))));
  }
  await renderCrmNames();
}

start(async () => {
  document.getElementById("new-table").addEventListener("submit", async (event) => {
    event.preventDefault();
    const kind = document.getElementById("new-kind").value;
    const name = document.getElementById("new-name").value.trim();
    const entries = document.getElementById("new-entries").value.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
    const done = await attempt(() => api("PUT", `${URLS[kind]}/${encodeURIComponent(name)}`, { entries }), `「${name}」已保存`);
    if (done) await load();
  });
  await load();
});
