import { NAV, el, start } from "/static/ops/ops.js";

const HINTS = {
  "/ops/intents": "客户的说法归到哪个意图：增删改例句、搜索、移动到其他意图",
  "/ops/faq": "常见问题的答案与置信度阈值，保存即生效",
  "/ops/wording": "机器人每一句话的措辞与可用变量",
  "/ops/tables": "同义词与词表（门店、服务等说法）",
  "/ops/documents": "故事、规则与 NLU 文件的 YAML 编辑器，带校验、版本与恢复",
  "/ops/review": "按渠道、等级、意图、兜底、转人工、满意度、日期筛选对话并标注",
  "/ops/training": "训练新模型、查看评估、部署与回滚",
  "/ops/analytics": "会话量、自助解决率、转人工、满意度等图表",
};

start(async () => {
  const cards = document.getElementById("cards");
  for (const [href, label] of NAV.slice(1)) {
    cards.append(el("a", { href }, el("strong", {}, label), el("span", { className: "muted" }, HINTS[href] || "")));
  }
});
