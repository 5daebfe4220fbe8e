// Shared by the console pages: the staff token (sessionStorage), the agent API, the live feed, and DOM helpers.
// Customer and agent text is only ever set with textContent (el()), never parsed as HTML.

const TOKEN_KEY = "cs.console.token";
const ROLE_KEY = "cs.console.role";

export const TIER_LABELS = { platinum: "铂金", gold: "黄金", iron: "钢铁", lead: "重铅" };
export const OUTCOME_LABELS = { resolved: "已解决", ticket: "转工单", callback: "回电" };
export const ORDER_STATUS_LABELS = {
  pending_payment: "待付款", paid: "已付款", shipped: "已发货", in_transit: "运输中", out_for_delivery: "派送中",
  delivered: "已签收", cancelled: "已取消", refund_requested: "退款中", refunded: "已退款",
};
export const CHURN_LABELS = { active: "活跃", at_risk: "流失风险", churned: "已流失", no_paid_activity: "无付费记录" };

export function saveLogin(token, role) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(ROLE_KEY, role);
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function role() {
  return sessionStorage.getItem(ROLE_KEY);
}

export function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ROLE_KEY);
  location.assign("/console/login");
}

export function pageFor(staffRole) {
  if (staffRole === "ops") return "/ops";
  return staffRole === "supervisor" ? "/console/supervisor" : "/console";
}

/** Where to go after logging in: the `next` page a protected page sent us from (same site only), else the role's. */
export function landingPage(staffRole, search = location.search) {
  const next = new URLSearchParams(search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : pageFor(staffRole);
}

/** Requires a login with one of `roles`; otherwise goes to the login page (or the role's own page). */
export function requireLogin(...roles) {
  if (!token()) {
    location.assign("/console/login");
    return false;
  }
  if (roles.length && !roles.includes(role())) {
    location.assign(pageFor(role()));
    return false;
  }
  return true;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The agent API with the token; 401 (expired or invalid login) goes back to the login page. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: "Bearer " + token() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) {
    logout();
    throw new ApiError(401, "登录已过期，请重新登录");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && data.detail;
    const message = detail && typeof detail === "object" && !Array.isArray(detail) ? detail.message : "操作失败（" + response.status + "）";
    throw new ApiError(response.status, message);
  }
  return data;
}

/** el("li", {class: "item", text: "…", dataset: {id: 1}}, child, …): text goes in with textContent. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function tierBadge(tier) {
  return el("span", { class: "badge tier-" + (tier || "unknown"), text: TIER_LABELS[tier] || "未识别" });
}

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return m ? m + "分" + String(s % 60).padStart(2, "0") + "秒" : s + "秒";
}

export function localTime(iso) {
  if (!iso) return "";
  const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z");
  return d.toLocaleString("zh-CN", { hour12: false });
}

export function utcMillis(iso) {
  return iso ? Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z") : NaN;
}

/** SLA state of a queue item at `now`: {text, breached}. */
export function slaState(item, now) {
  if (item.sla_breached) return { text: "已超时", breached: true };
  if (item.first_response_at) return { text: "已按时响应", breached: false };
  const due = utcMillis(item.sla_due_at);
  if (Number.isNaN(due)) return { text: "无时限", breached: false };
  const left = (due - now) / 1000;
  if (left < 0) return { text: "已超时", breached: true };
  return { text: "剩余" + duration(left), breached: false };
}

/** The console's websocket: auth as the first frame (never in the URL), reconnects with back-off. */
export class LiveFeed {
  constructor({ onChange, onReady, onState }) {
    this.onChange = onChange;
    this.onReady = onReady;
    this.onState = onState || (() => {});
    this.watching = null;
    this.delay = 1000;
    this.socket = null;
  }

  connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/agent/ws";
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", token: token() })));
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame.type === "ready") {
        this.delay = 1000;
        this.onState("up");
        if (this.watching !== null) this.watch(this.watching);
        this.onReady();
      } else if (frame.type === "changed" || frame.type === "watching") {
        this.onChange(frame);
      } else if (frame.type === "error" && frame.code !== "forbidden") {
        logout();
      }
    });
    socket.addEventListener("close", (event) => {
      this.onState("down");
      if (event.code === 4401 || event.code === 4403) return;
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 30000);
    });
    clearInterval(this.pinger);
    this.pinger = setInterval(() => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
    }, 25000);
  }

  watch(conversationId) {
    this.watching = conversationId;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: "watch", conversation_id: conversationId }));
    }
  }
}

/** Calls fn at most once per `ms` (the last call wins), so a burst of events is one read. */
export function coalesce(fn, ms = 150) {
  let timer = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}

export function header(title, liveNode) {
  return el("header", { class: "topbar" },
    el("h1", { text: title }),
    el("div", { class: "who" }, liveNode, el("span", { id: "whoami" }), el("button", { type: "button", text: "退出", onclick: logout })));
}
