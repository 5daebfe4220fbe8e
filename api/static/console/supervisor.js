// The supervisor's overview: every queue, each agent's load, today's SLA breaches, follow-ups from low ratings.
import { api, coalesce, duration, el, LiveFeed, localTime, logout, requireLogin, slaState, tierBadge } from "/static/console/common.js";

const $ = (id) => document.getElementById(id);
let data = null;
let fetchedAt = 0;

async function refresh() {
  try {
    data = await api("/api/agent/supervisor");
    fetchedAt = Date.now();
    $("notice").textContent = "";
    render();
  } catch (error) {
    $("notice").textContent = error.message;
  }
}

function render() {
  $("waiting-count").textContent = String(data.queue.length);
  $("breaches-today").textContent = String(data.sla_breaches_today);
  const rows = $("queues");
  rows.replaceChildren();
  const byGroup = [...data.queue].sort((a, b) => (a.agent_group || "").localeCompare(b.agent_group || ""));
  if (!byGroup.length) rows.appendChild(el("tr", {}, el("td", { class: "empty", colspan: 6, text: "当前没有排队的会话" })));
  for (const item of byGroup) {
    const tr = el("tr", { dataset: { conversationId: item.conversation_id } },
      el("td", { text: item.agent_group || "通用" }), el("td", {}, tierBadge(item.tier)), el("td", { text: item.reason }),
      el("td", { class: "wait" }), el("td", { class: "sla" }),
      el("td", {}, el("a", { href: "/console?conversation=" + item.conversation_id, text: "查看" })));
    tr._item = item;
    rows.appendChild(tr);
  }
  const agents = $("agents");
  agents.replaceChildren();
  for (const agent of data.agents) {
    const share = agent.max_concurrent ? Math.min(100, Math.round((100 * agent.load) / agent.max_concurrent)) : 0;
    const bar = el("div", { class: "load-bar" }, el("span"));
    bar.firstChild.dataset.share = share;
    agents.appendChild(el("tr", {}, el("td", { text: agent.name + "（" + agent.username + "）" }),
      el("td", { text: agent.active ? "在岗" : "停用" }), el("td", { text: agent.load + " / " + agent.max_concurrent }), el("td", {}, bar)));
  }
  // CSP forbids inline style attributes; the width is set through the CSSOM, which CSP allows.
  for (const span of agents.querySelectorAll(".load-bar span")) span.style.width = span.dataset.share + "%";
  const tasks = $("tasks");
  tasks.replaceChildren();
  if (!data.follow_up_tasks.length) tasks.appendChild(el("li", { class: "empty", text: "无" }));
  for (const task of data.follow_up_tasks) tasks.appendChild(el("li", { text: localTime(task.created_at) + " · " + task.description + (task.customer_id ? " · 客户 #" + task.customer_id : "") }));
  tick();
}

function tick() {
  const now = Date.now();
  for (const tr of document.querySelectorAll("#queues tr")) {
    if (!tr._item) continue;
    tr.querySelector(".wait").textContent = duration(tr._item.waiting_seconds + (now - fetchedAt) / 1000);
    const sla = slaState(tr._item, now);
    tr.querySelector(".sla").textContent = sla.text;
    tr.classList.toggle("breached", sla.breached);
  }
}

$("logout").addEventListener("click", logout);
const read = coalesce(refresh, 300);
if (requireLogin("supervisor")) {
  api("/api/agent/me").then((me) => { $("whoami").textContent = me.display_name; }).catch(() => {});
  new LiveFeed({
    onReady: read,
    onChange: read,
    onState: (upOrDown) => {
      $("live").dataset.state = upOrDown;
      $("live").textContent = upOrDown === "up" ? "实时" : "重连中…";
    },
  }).connect();
  setInterval(tick, 1000);
  setInterval(read, 30000);
}
