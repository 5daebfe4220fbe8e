import { api, attempt, el, start } from "/static/ops/ops.js";

function scope(entry) {
  if (entry.store_code) return "门店 " + entry.store_code;
  if (entry.business_code) return "业务 " + entry.business_code;
  return "通用";
}

async function load() {
  const entries = (await api("GET", "/api/ops/faq")).items;
  document.getElementById("faq-rows").replaceChildren(
    ...entries.map((entry) => {
      const answer = el("textarea", { "aria-label": "答案", value: entry.answer });
      const threshold = el("input", { type: "number", min: "0", max: "1", step: "0.05", value: String(entry.threshold), "aria-label": "阈值" });
      const save = el("button", { type: "button", className: "primary" }, "保存");
      save.addEventListener("click", async () => {
        await attempt(
          async () => {
            const saved = await api("PATCH", `/api/ops/faq/${entry.id}`, {
              answer: answer.value,
              threshold: Number(threshold.value),
              expected_answer: entry.answer,
              expected_threshold: entry.threshold,
            });
            entry.answer = saved.answer;
            entry.threshold = saved.threshold;
          },
          `「${entry.key}」已保存，下一条消息起生效`,
        );
      });
      const questions = el("a", { href: "/ops/intents?intent=" + encodeURIComponent("faq/" + entry.key) }, `${entry.examples.length} 条例句`);
      return el("tr", { dataset: { id: String(entry.id), key: entry.key } },
        el("td", {}, entry.key), el("td", {}, scope(entry)),
        el("td", {}, entry.question, el("br"), questions),
        el("td", {}, answer), el("td", {}, threshold), el("td", {}, save));
    }),
  );
}

start(async () => {
  document.getElementById("new-faq").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      key: document.getElementById("new-key").value.trim(),
      question: document.getElementById("new-question").value.trim(),
      answer: document.getElementById("new-answer").value.trim(),
    };
    const done = await attempt(() => api("POST", "/api/ops/faq", body), `已新增「${body.key}」，请到「意图与例句」给 faq/${body.key} 添加例句`);
    if (done) await load();
  });
  await load();
});
