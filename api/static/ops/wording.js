import { api, attempt, el, start } from "/static/ops/ops.js";

let catalog = { items: [], version: 0 };

function render() {
  const filter = document.getElementById("filter").value.trim();
  const rows = [];
  for (const item of catalog.items) {
    item.texts.forEach((text, index) => {
      if (filter && !item.name.includes(filter) && !text.includes(filter)) return;
      const editor = el("textarea", { value: text, "aria-label": `${item.name} 第 ${index + 1} 条` });
      const save = el("button", { type: "button", className: "primary" }, "保存");
      save.addEventListener("click", async () => {
        const url = `/api/ops/wording/${encodeURIComponent(item.name)}/${index}`;
        const done = await attempt(() => api("PUT", url, { text: editor.value, base_version: catalog.version }), `「${item.name}」已保存`);
        if (done) await load();
      });
      rows.push(el("tr", { dataset: { name: item.name, index: String(index) } },
        el("td", {}, item.name, item.texts.length > 1 ? el("span", { className: "muted" }, ` #${index + 1}`) : null),
        el("td", {}, editor, save),
        el("td", {}, ...item.variables.map((v) => el("span", { className: "tag" }, `{${v}}`)))));
    });
  }
  document.getElementById("wording-rows").replaceChildren(...rows);
}

async function load() {
  catalog = await api("GET", "/api/ops/wording");
  render();
}

start(async () => {
  document.getElementById("filter").addEventListener("input", render);
  await load();
});
