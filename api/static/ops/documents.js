import { api, attempt, el, notify, start } from "/static/ops/ops.js";

let current = { path: "", version: 0 };

function q(path) {
  return "?path=" + encodeURIComponent(path);
}

async function open(path) {
  const document_ = await api("GET", "/api/ops/document" + q(path));
  current = { path: document_.path, version: document_.version };
  document.getElementById("editor").value = document_.text;
  document.getElementById("version").textContent = `当前第 ${document_.version} 版${document_.version === 0 ? "（仓库文件）" : ""}`;
  await loadVersions();
}

async function showDiff(from, to) {
  const result = await api("GET", `/api/ops/document/diff${q(current.path)}&from=${from}&to=${to}`);
  const pre = document.getElementById("diff");
  pre.hidden = false;
  pre.textContent = result.diff || "（没有差异）";
}

async function loadVersions() {
  const data = await api("GET", "/api/ops/document/versions" + q(current.path));
  const rows = data.items.map((version) =>
    el("tr", { dataset: { number: String(version.number) } },
      el("td", {}, String(version.number)), el("td", {}, version.author),
      el("td", {}, new Date(version.created_at).toLocaleString("zh-CN")), el("td", {}, version.summary),
      el("td", {},
        el("button", { type: "button", onclick: () => showDiff(version.base_number, version.number).catch((e) => notify(e.message, "error")) }, "差异"),
        version.number === data.current ? null : el("button", { type: "button", onclick: () => restore(version.number) }, "恢复此版本"))));
  rows.push(el("tr", { dataset: { number: "0" } }, el("td", {}, "0"), el("td", {}, "仓库"), el("td", {}, ""), el("td", {}, "仓库中的原始文件"),
    el("td", {}, data.current === 0 ? null : el("button", { type: "button", onclick: () => restore(0) }, "恢复此版本"))));
  document.getElementById("versions").replaceChildren(...rows);
}

async function restore(number) {
  if (!window.confirm(`把 ${current.path} 恢复到第 ${number} 版？（会保存为一个新版本）`)) return;
  const done = await attempt(
    () => api("POST", "/api/ops/document/restore", { path: current.path, version: number, base_version: current.version }),
    `已恢复到第 ${number} 版`,
  );
  if (done) await open(current.path);
}

async function save() {
  notify("正在校验（含 rasa data validate，约需十几秒）…", "ok");
  const body = {
    path: current.path,
    text: document.getElementById("editor").value,
    base_version: current.version,
    summary: document.getElementById("summary").value.trim() || "edit",
  };
  const done = await attempt(() => api("PUT", "/api/ops/document", body), "校验通过，已保存为新版本");
  if (done) await open(current.path);
}

start(async () => {
  const documents = (await api("GET", "/api/ops/documents")).items;
  const select = document.getElementById("document");
  const order = (p) => (p.startsWith("data/stories") ? 0 : p.startsWith("data/rules") ? 1 : p.startsWith("tests/") ? 2 : 3);
  documents.sort((a, b) => order(a.path) - order(b.path) || a.path.localeCompare(b.path));
  select.replaceChildren(...documents.map((d) => el("option", { value: d.path }, `${d.path}${d.version ? `（第 ${d.version} 版）` : ""}`)));
  select.addEventListener("change", () => open(select.value).catch((e) => notify(e.message, "error")));
  document.getElementById("save").addEventListener("click", save);
  const wanted = new URLSearchParams(window.location.search).get("path");
  if (wanted) select.value = wanted;
  await open(select.value);
});
