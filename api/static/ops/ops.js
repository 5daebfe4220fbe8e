// Shared by every ops console page: the staff token, API calls with clear errors, the navigation bar,
// and a tiny element builder (text always via textContent, never HTML).

export const TOKEN_KEY = "cs_staff_token";
export const ROLE_KEY = "cs_staff_role";

export const NAV = [
  ["/ops", "首页"],
  ["/ops/intents", "意图与例句"],
  ["/ops/faq", "FAQ"],
  ["/ops/wording", "话术"],
  ["/ops/tables", "同义词/词表"],
  ["/ops/documents", "故事与规则"],
  ["/ops/review", "对话审阅"],
  ["/ops/training", "训练"],
  ["/ops/analytics", "数据分析"],
];

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function toLogin() {
  const next = window.location.pathname + window.location.search;
  window.location.assign("/console/login?next=" + encodeURIComponent(next));
}

/** Redirects to the login page when there is no staff token; returns whether the page may go on. */
export function requireLogin() {
  if (!token()) {
    toLogin();
    return false;
  }
  return true;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super((detail && detail.message) || `HTTP ${status}`);
    this.status = status;
    this.detail = detail || {};
  }
}

/** Calls the API with the staff token; throws ApiError with the server's {code, message}. */
export async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + token() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    toLogin();
    throw new ApiError(401, { code: "not_authenticated", message: "请先登录" });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data && data.detail);
  return data;
}

/** el("li", {className: "x", onclick: fn}, "text", child) — strings become text nodes. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node) node[name] = value;
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function renderNav() {
  const header = document.getElementById("nav");
  if (!header) return;
  header.className = "ops-header";
  header.replaceChildren(el("h1", {}, "运营后台"));
  for (const [href, label] of NAV) {
    const link = el("a", { href }, label);
    if (window.location.pathname === href) link.setAttribute("aria-current", "page");
    header.append(link);
  }
  header.append(
    el("span", { className: "who" }, "角色：" + (sessionStorage.getItem(ROLE_KEY) || "?")),
    el("button", { type: "button", id: "logout", onclick: () => { sessionStorage.removeItem(TOKEN_KEY); toLogin(); } }, "退出"),
  );
}

/** Shows a result line: ok (green) or the server's refusal message (red), with what changed on a 409. */
export function notify(message, kind = "ok") {
  const notice = document.getElementById("notice");
  if (!notice) return;
  notice.className = "notice " + kind;
  notice.textContent = message;
}

export function notifyError(error) {
  if (error instanceof ApiError) {
    let message = error.message;
    if (error.status === 409 && error.detail.changes) message += "\n" + error.detail.changes;
    notify(message, "error");
  } else {
    notify(String(error), "error");
  }
}

/** Runs `work` and reports its refusal in the notice line; returns its result or undefined. */
export async function attempt(work, okMessage) {
  try {
    const result = await work();
    if (okMessage) notify(okMessage, "ok");
    return result;
  } catch (error) {
    notifyError(error);
    return undefined;
  }
}

export function start(main) {
  if (!requireLogin()) return;
  renderNav();
  main().catch(notifyError);
}
