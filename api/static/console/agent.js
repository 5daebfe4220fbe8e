// The agent's console: live queue, my conversations, the conversation view (transcript incl. the bot part,
// handoff, what the bot collected, customer card), reply with canned replies, notes, transfer, compensation, close.
// Everything comes from the agent API; the live feed (/api/agent/ws) only says when to read again.
import {
  api, coalesce, CHURN_LABELS, ORDER_STATUS_LABELS, duration, el, LiveFeed, localTime, logout, OUTCOME_LABELS, requireLogin, slaState,
  tierBadge, TIER_LABELS,
} from "/static/console/common.js";

const $ = (id) => document.getElementById(id);
const SENDERS = { customer: "客户", bot: "机器人小悦", system: "系统" };
// Staff-facing names of the bot's slots (domain.yml); unknown ones show their own name.
const SLOT_LABELS = {
  customer_id: "客户编号", customer_name: "客户姓名", customer_title: "称呼", customer_tier: "等级",
  order_id: "订单号", ticket_id: "投诉单号", booking_id: "预约号", last_order: "最近查看的订单",
  last_booking: "最近的预约", phone: "手机号", party_size: "人数", business: "业务", booking_store: "门店",
  booking_service: "服务", booking_area: "区域", booking_date: "日期", booking_time: "时间", booking_nights: "入住晚数",
  booking_plate: "车牌", booking_name: "预约人", booking_new_customer: "新客户", booking_change: "改约内容",
  booking_confirm: "预约确认", complaint_description: "投诉内容", complaint_category: "投诉类别",
  complaint_reference: "投诉关联单号",
};

const state = {
  me: null,
  queue: [],
  mine: [],
  fetchedAt: 0,
  selected: null, // conversation id
  view: null, // GET /api/agent/conversations/{id}
  canned: new Map(), // business code -> replies
  targets: null,
};

function notice(text) {
  $("notice").textContent = text || "";
}

// Runs what the agent asked for: clears the last notice, shows an error as one.
async function guarded(fn) {
  notice("");
  await quietly(fn);
}

// Background reads (live feed, timers): an error is shown, an earlier notice stays.
async function quietly(fn) {
  try {
    await fn();
  } catch (error) {
    notice(error.message || "操作失败");
  }
}

// --- lists -------------------------------------------------------------------------------------------------

async function refreshLists() {
  const [queue, mine] = await Promise.all([api("/api/agent/queue"), api("/api/agent/mine")]);
  state.queue = queue.items;
  state.mine = mine.items;
  state.fetchedAt = Date.now();
  renderList($("queue"), state.queue, "当前没有排队的会话");
  renderList($("mine"), state.mine, "您还没有接入会话");
  $("queue-count").textContent = "(" + state.queue.length + ")";
  $("mine-count").textContent = "(" + state.mine.length + ")";
  tick();
}

function renderList(list, items, emptyText) {
  list.replaceChildren();
  if (!items.length) {
    list.appendChild(el("li", { class: "empty", text: emptyText }));
    return;
  }
  for (const item of items) {
    const li = el("li", {
      class: "item" + (item.conversation_id === state.selected ? " selected" : ""),
      dataset: { conversationId: item.conversation_id },
      tabindex: 0,
      onclick: () => openConversation(item.conversation_id),
      onkeydown: (event) => { if (event.key === "Enter") openConversation(item.conversation_id); },
    },
    el("div", { class: "row" }, tierBadge(item.tier), el("span", { class: "small", text: "会话 #" + item.conversation_id }),
      el("span", { class: "small", text: "优先级 " + item.priority })),
    el("div", { class: "reason", text: item.reason }),
    el("div", { class: "row" }, el("span", { class: "wait", dataset: { base: item.waiting_seconds } }),
      el("span", { class: "sla" })));
    li._item = item;
    list.appendChild(li);
  }
}

// Wait timers and SLA states tick every second without a read.
function tick() {
  const now = Date.now();
  const elapsed = (now - state.fetchedAt) / 1000;
  for (const li of document.querySelectorAll("#queue li.item, #mine li.item")) {
    const item = li._item;
    const label = li.closest("#mine") ? "转人工后 " : "已等待 ";
    li.querySelector(".wait").textContent = label + duration(item.waiting_seconds + elapsed);
    const sla = slaState(item, now);
    const slaNode = li.querySelector(".sla");
    slaNode.textContent = "SLA " + sla.text;
    slaNode.className = "sla " + (sla.breached ? "breach" : "ok");
    li.classList.toggle("breached", sla.breached);
  }
}

// --- the conversation --------------------------------------------------------------------------------------

async function openConversation(id) {
  state.selected = id;
  for (const li of document.querySelectorAll("li.item")) {
    li.classList.toggle("selected", Number(li.dataset.conversationId) === id);
  }
  live.watch(id);
  await guarded(refreshConversation);
  loadCollected(id);
}

async function refreshConversation() {
  const id = state.selected;
  if (id === null) return;
  const view = await api("/api/agent/conversations/" + id);
  if (state.selected !== id) return;
  state.view = view;
  renderConversation(view);
}

function isMine(escalation) {
  return escalation && escalation.status === "assigned" && state.me && escalation.agent_id === state.me.agent_id;
}

function renderConversation(view) {
  const { conversation, escalation, customer } = view;
  $("conversation-empty").hidden = true;
  $("conversation-body").hidden = false;
  $("conversation-title").replaceChildren(
    tierBadge(customer ? customer.tier : escalation && escalation.tier), " ",
    (customer ? customer.name : "未识别客户") + " · 会话 #" + conversation.id + " · " + conversation.channel);
  $("claim").hidden = !(escalation && escalation.status === "queued" && state.me && state.me.agent_id);
  renderEscalation(escalation);
  renderTranscript(view.transcript);
  renderCard(customer);
  const mine = isMine(escalation);
  const open = Boolean(escalation && escalation.status !== "closed");
  // A supervisor may transfer, compensate and close any open handoff; replying is the serving agent's.
  const canAct = mine || (open && state.me && state.me.role === "supervisor");
  $("reply").hidden = !mine;
  $("actions").hidden = !open;
  for (const form of ["transfer-form", "compensation-form", "close-form"]) $(form).hidden = !canAct;
  renderNotes(view.notes);
  if (mine) loadCanned(escalation.business_code);
  if (canAct) loadTargets();
}

function renderEscalation(escalation) {
  const dl = $("escalation");
  dl.replaceChildren();
  if (!escalation) {
    dl.appendChild(el("dd", { class: "empty", text: "该会话没有转人工记录" }));
    return;
  }
  const status = { queued: "排队中", assigned: "服务中", closed: "已结束" }[escalation.status] || escalation.status;
  const rows = [
    ["转人工原因", escalation.reason],
    ["状态", status + (escalation.outcome ? "（" + (OUTCOME_LABELS[escalation.outcome] || escalation.outcome) + "）" : "")],
    ["优先级", String(escalation.priority)],
    ["业务", escalation.business_code || "未指定"],
    ["坐席组", escalation.agent_group || "任意"],
    ["排队时间", localTime(escalation.queued_at)],
    ["首次响应时限", escalation.sla_due_at ? localTime(escalation.sla_due_at) : "无"],
    ["SLA", escalation.sla_breached_at ? "已超时" : escalation.first_response_at ? "已按时响应" : "计时中"],
  ];
  if (escalation.summary) rows.push(["小结", escalation.summary]);
  for (const [key, value] of rows) {
    const dd = el("dd", { text: value });
    if (key === "SLA" && escalation.sla_breached_at) dd.className = "flag";
    dl.append(el("dt", { text: key }), dd);
  }
}

function renderTranscript(messages) {
  const list = $("transcript");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren();
  for (const message of messages) {
    const sender = message.sender === "agent" ? "客服" + (message.agent_name ? " " + message.agent_name : "") : SENDERS[message.sender] || message.sender;
    list.appendChild(el("li", { class: "msg from-" + message.sender, dataset: { id: message.id, sender: message.sender } },
      el("span", { class: "sender", text: sender + " · " + localTime(message.created_at) }),
      el("span", { class: "text", text: message.text })));
  }
  if (atBottom || messages.length < 12) list.scrollTop = list.scrollHeight;
}

async function loadCollected(id) {
  const dl = $("collected");
  dl.replaceChildren(el("dd", { class: "empty", text: "读取中…" }));
  try {
    const data = await api("/api/agent/conversations/" + id + "/collected");
    if (state.selected !== id) return;
    dl.replaceChildren();
    const entries = Object.entries(data.slots);
    if (!entries.length) dl.appendChild(el("dd", { class: "empty", text: "无" }));
    for (const [name, value] of entries) {
      dl.append(el("dt", { text: SLOT_LABELS[name] || name }), el("dd", { text: typeof value === "string" ? value : JSON.stringify(value) }));
    }
  } catch (error) {
    dl.replaceChildren(el("dd", { class: "empty", text: error.message }));
  }
}

function section(title, items, line, emptyText = "无") {
  const wrap = el("div", {}, el("h3", { text: title }));
  const list = el("ul", { class: "list small" });
  if (!items.length) list.appendChild(el("li", { class: "empty", text: emptyText }));
  for (const item of items) list.appendChild(el("li", { text: line(item) }));
  wrap.appendChild(list);
  return wrap;
}

function renderCard(customer) {
  const card = $("card");
  card.replaceChildren();
  if (!customer) {
    card.appendChild(el("p", { class: "empty", text: "未识别客户（匿名访客）" }));
    return;
  }
  const churn = customer.churn;
  const churnText = (CHURN_LABELS[churn.status] || churn.status) +
    (churn.days_since_paid_activity !== null ? "（" + churn.days_since_paid_activity + "天未付费消费）" : "") +
    (churn.won_back_at ? " · 已挽回" : "");
  const rows = [
    ["姓名", customer.name],
    ["手机", customer.mobile],
    ["城市", customer.city || ""],
    ["等级", (TIER_LABELS[customer.tier] || customer.tier) + (customer.tier_override ? "（人工调整）" : "")],
    ["等级依据", customer.tier_override_reason || customer.tier_reason || ""],
    ["流失状态", churnText],
    ["近12月消费", "¥" + customer.trailing_spend],
    ["累计消费", "¥" + customer.lifetime_spend],
    ["积分", String(customer.points)],
  ];
  const dl = el("dl", { class: "kv" });
  for (const [key, value] of rows) {
    const dd = el("dd", { text: value });
    if (key === "流失状态" && (churn.at_risk || churn.churned)) dd.className = "flag";
    dl.append(el("dt", { text: key }), dd);
  }
  card.append(el("h2", {}, "客户信息 ", tierBadge(customer.tier)), dl);
  if (customer.abuse) {
    card.appendChild(el("p", { class: "flag", text: "疑似恶意：" + customer.abuse.note }));
  }
  card.appendChild(el("button", { type: "button", id: "abuse-button", text: customer.abuse ? "取消恶意标记" : "标记疑似恶意",
    onclick: () => guarded(() => flagAbuse(customer)) }));
  card.append(
    section("最近订单", customer.recent_orders, (o) => o.order_number + " · " + (ORDER_STATUS_LABELS[o.status] || o.status) + " · ¥" + o.amount + " · " + localTime(o.placed_at)),
    section("预约（共 " + customer.bookings_total + " 个）", customer.upcoming_bookings,
      (b) => b.booking_number + " · " + b.business_name_zh + " " + (b.service_name || "") + " · " + localTime(b.start_at) + " · " + b.store_name),
    section("未结投诉", customer.open_complaints,
      (c) => c.ticket_number + " · " + c.category_label_zh + " · " + c.status_label_zh + " · " + c.due_text_zh),
    section("历史会话与评价", customer.past_conversations,
      (p) => localTime(p.started_at) + " · " + p.channel + (p.escalation_reason ? " · 转人工：" + p.escalation_reason : "") +
        (p.escalation_outcome ? " · " + (OUTCOME_LABELS[p.escalation_outcome] || p.escalation_outcome) : "") +
        (p.csat_score !== null ? " · 评分 " + p.csat_score + (p.csat_comment ? "（" + p.csat_comment + "）" : "") : "")),
  );
}

async function flagAbuse(customer) {
  const note = customer.abuse ? "" : "客服标记：对话中存在辱骂或恶意行为";
  await api("/api/agent/customers/" + customer.id + "/abuse", { method: "POST", body: { note } });
  await refreshConversation();
}

function renderNotes(notes) {
  const list = $("notes");
  list.replaceChildren();
  for (const note of notes) list.appendChild(el("li", { text: localTime(note.created_at) + " " + note.author + "：" + note.text }));
}

async function loadCanned(business) {
  const key = business || "";
  if (!state.canned.has(key)) {
    const data = await api("/api/agent/canned-replies" + (business ? "?business=" + encodeURIComponent(business) : ""));
    state.canned.set(key, data.replies);
  }
  const box = $("canned");
  box.replaceChildren();
  for (const reply of state.canned.get(key)) {
    box.appendChild(el("button", { type: "button", text: reply.title, title: reply.text, onclick: () => {
      $("reply-input").value = reply.text;
      $("reply-input").focus();
    } }));
  }
}

async function loadTargets() {
  if (!state.targets) state.targets = await api("/api/agent/agents");
  const select = $("transfer-target");
  const chosen = select.value;
  select.replaceChildren();
  for (const agent of state.targets.agents) {
    if (state.me && agent.agent_id === state.me.agent_id) continue;
    select.appendChild(el("option", { value: "agent:" + agent.agent_id, text: "客服 " + agent.name + "（" + agent.load + "/" + agent.max_concurrent + "）" }));
  }
  for (const group of state.targets.groups) select.appendChild(el("option", { value: "group:" + group, text: "技能组 " + group + "（重新排队）" }));
  if (chosen) select.value = chosen;
}

// --- actions -----------------------------------------------------------------------------------------------

function conversationPath(suffix) {
  return "/api/agent/conversations/" + state.selected + "/" + suffix;
}

$("claim").addEventListener("click", () => guarded(async () => {
  await api(conversationPath("claim"), { method: "POST" });
  await Promise.all([refreshLists(), refreshConversation()]);
  $("reply-input").focus();
}));

async function sendReply() {
  const input = $("reply-input");
  const text = input.value.trim();
  if (!text) return;
  $("reply-send").disabled = true;
  try {
    await guarded(async () => {
      await api(conversationPath("messages"), { method: "POST", body: { text } });
      input.value = "";
      await refreshConversation();
    });
  } finally {
    $("reply-send").disabled = false;
  }
}

$("reply").addEventListener("submit", (event) => { event.preventDefault(); sendReply(); });
$("reply-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); sendReply(); }
});

$("note-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const text = $("note-input").value.trim();
    if (!text) return;
    await api(conversationPath("notes"), { method: "POST", body: { text } });
    $("note-input").value = "";
    await refreshConversation();
  });
});

$("transfer-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const [kind, value] = $("transfer-target").value.split(/:(.*)/s);
    const body = kind === "agent" ? { agent_id: Number(value) } : { group: value };
    await api(conversationPath("transfer"), { method: "POST", body });
    state.targets = null;
    await Promise.all([refreshLists(), refreshConversation()]);
    notice("已转接");
  });
});

$("compensation-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const value = $("compensation-value").value;
    if (!value || Number(value) <= 0) throw new Error("请填写补偿数额");
    const note = $("compensation-note").value.trim() || null;
    const body = $("compensation-kind").value === "coupon" ? { coupon_amount: value, note } : { points: Number(value), note };
    await api(conversationPath("compensation"), { method: "POST", body });
    $("compensation-value").value = "";
    $("compensation-note").value = "";
    await refreshConversation();
    notice("补偿已记录");
  });
});

$("close-outcome").addEventListener("change", () => { $("close-callback").hidden = $("close-outcome").value !== "callback"; });

$("close-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const summary = $("close-summary").value.trim();
    if (!summary) throw new Error("请填写处理小结");
    const outcome = $("close-outcome").value;
    const callback = $("close-callback").value;
    const body = { summary, outcome };
    if (outcome === "callback" && callback) body.callback_at = new Date(callback).toISOString();
    await api(conversationPath("close"), { method: "POST", body });
    $("close-summary").value = "";
    await Promise.all([refreshLists(), refreshConversation()]);
    notice("会话已结束，已交还机器人并邀请客户评价");
  });
});

$("logout").addEventListener("click", logout);

// --- start -------------------------------------------------------------------------------------------------

const readLists = coalesce(() => quietly(refreshLists));
const readConversation = coalesce(() => quietly(refreshConversation));

const live = new LiveFeed({
  onReady: () => { readLists(); readConversation(); },
  onChange: (frame) => {
    if (frame.topic === "console" || frame.event === "owner") readLists();
    if (frame.type === "watching" || (state.selected !== null && frame.conversation_id === state.selected)) readConversation();
  },
  onState: (upOrDown) => {
    $("live").dataset.state = upOrDown;
    $("live").textContent = upOrDown === "up" ? "实时" : "重连中…";
  },
});

if (requireLogin("agent", "supervisor")) {
  api("/api/agent/me").then((me) => {
    state.me = me;
    $("whoami").textContent = me.display_name + "（" + (me.role === "agent" ? "客服" : "主管") + "）";
    live.connect();
    const wanted = Number(new URLSearchParams(location.search).get("conversation"));
    if (wanted > 0) openConversation(wanted);
  }).catch((error) => notice(error.message));
  setInterval(tick, 1000);
  setInterval(readLists, 30000); // a safety net for an event lost while the feed reconnected
}
