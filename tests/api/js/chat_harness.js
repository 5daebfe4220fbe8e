// Runs api/static/chat.js in Node against a minimal fake DOM, fetch and WebSocket, and prints what the page shows.
// Used by tests/api/test_chat_js.py where no browser is installed; the Playwright tests cover a real browser.
"use strict";
const fs = require("fs");
const vm = require("vm");

class ClassList {
  constructor() { this.set = new Set(); }
  add(c) { this.set.add(c); }
  remove(c) { this.set.delete(c); }
  contains(c) { return this.set.has(c); }
}

class Node {
  constructor(tag) {
    this.tagName = tag; this.children = []; this.parent = null; this.dataset = {}; this.classList = new ClassList();
    this._text = ""; this.listeners = {}; this.style = {}; this.disabled = false;
  }
  set className(v) { this.classList = new ClassList(); for (const c of v.split(/\s+/).filter(Boolean)) this.classList.add(c); }
  get className() { return [...this.classList.set].join(" "); }
  set textContent(v) { this.children = []; this._text = String(v); }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  set innerHTML(v) {
    if (v !== "") throw new Error("innerHTML set with content: " + v);
    this.children = []; this._text = "";
  }
  appendChild(c) { return this.insertBefore(c, null); }
  insertBefore(c, ref) {
    if (c.parent) c.remove();
    const i = ref ? this.children.indexOf(ref) : -1;
    if (i < 0) this.children.push(c); else this.children.splice(i, 0, c);
    c.parent = this; return c;
  }
  remove() { if (this.parent) { this.parent.children.splice(this.parent.children.indexOf(this), 1); this.parent = null; } }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  matches(selector) {
    const m = /^(\w+)?(?:\.([\w-]+))?(?:\[data-(\w+)\])?$/.exec(selector);
    if (!m) throw new Error("unsupported selector " + selector);
    return (!m[1] || this.tagName === m[1]) && (!m[2] || this.classList.contains(m[2])) && (!m[3] || m[3] in this.dataset);
  }
  querySelectorAll(selector) {
    const found = [];
    const walk = (n) => { for (const c of n.children) { if (c.matches && c.matches(selector)) found.push(c); walk(c); } };
    walk(this); return found;
  }
  querySelector(selector) { return this.querySelectorAll(selector)[0] || null; }
  focus() {}
  get scrollHeight() { return 0; }
}
class TextNode { constructor(t) { this.textContent = t; this.children = []; } }

const elements = { messages: new Node("ol"), composer: new Node("form"), input: new Node("textarea"),
  send: new Node("button"), identity: new Node("select"), status: new Node("p") };
elements.identity.value = "";
const document = { body: new Node("body"), getElementById: (id) => elements[id],
  createElement: (t) => new Node(t), createTextNode: (t) => new TextNode(t) };

const script = JSON.parse(fs.readFileSync(0, "utf8"));  // {"history": [...], "posts": [...], "steps": [...]}
const log = [];
const sockets = [];
class FakeWebSocket {
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; this.listeners = {}; sockets.push(this); }
  addEventListener(t, fn) { (this.listeners[t] = this.listeners[t] || []).push(fn); }
  emit(t, e) { for (const fn of this.listeners[t] || []) fn(e); }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
}
FakeWebSocket.OPEN = 1;
const timers = [];
const posts = [...script.posts];
async function fakeFetch(url, options) {
  if (url.startsWith("/api/widget/history")) {
    return { ok: true, json: async () => ({ conversation_id: 1, messages: script.history }) };
  }
  if (url === "/api/widget/messages") {
    const body = JSON.parse(options.body);
    log.push({ posted: body.text, client_message_id: body.client_message_id });
    const answer = posts.shift();
    if (answer.before_response) for (const frame of answer.before_response) deliver(frame, body);
    return { ok: true, status: 200, json: async () => answer.response };
  }
  throw new Error("unexpected fetch " + url);
}
function deliver(frame, body) {
  const message = { ...frame };
  if (message.client_message_id === "$pending") message.client_message_id = body.client_message_id;
  socket().emit("message", { data: JSON.stringify({ type: "message", message }) });
}
const socket = () => sockets[sockets.length - 1];
const storage = {};
const context = {
  document, window: {}, console, crypto: { randomUUID: (() => { let n = 0; return () => "uuid-" + ++n; })() },
  localStorage: { getItem: (k) => storage[k] || null, setItem: (k, v) => (storage[k] = v) },
  location: { protocol: "http:", host: "test", search: "" }, URLSearchParams, JSON, Math, Number, String, Set, Map,
  Object, Error, Promise, encodeURIComponent, fetch: fakeFetch, WebSocket: FakeWebSocket,
  setTimeout: (fn, ms) => { timers.push({ fn, ms }); return timers.length; }, setInterval: () => 0, clearInterval: () => {},
};
const shown = () => elements.messages.children.filter((li) => li.tagName === "li" && !li.classList.contains("typing")).map((li) => ({
  id: li.dataset.id ? Number(li.dataset.id) : null, kind: li.className, pending: li.classList.contains("msg--pending"),
  sender: (li.children.find((c) => c.classList && c.classList.contains("msg__sender")) || { textContent: null }).textContent,
  text: li.children.filter((c) => c instanceof TextNode).map((c) => c.textContent).join(""),
}));
const tick = () => new Promise((r) => setImmediate(r));

(async () => {
  vm.runInNewContext(fs.readFileSync(process.argv[2], "utf8"), context);
  for (let i = 0; i < 10; i++) await tick();
  for (const step of script.steps) {
    if (step.open) { const s = socket(); s.readyState = 1; s.emit("open", {}); log.push({ hello: s.sent[s.sent.length - 1] }); }
    if (step.frame) socket().emit("message", { data: JSON.stringify(step.frame) });
    if (step.type) { elements.input.value = step.type; for (const fn of elements.composer.listeners.submit) fn({ preventDefault() {} }); }
    if (step.close) { socket().emit("close", { code: step.close }); log.push({ timers: timers.length, status: elements.status.textContent }); }
    if (step.fire_timers) { const due = timers.splice(0); for (const t of due) t.fn(); log.push({ sockets: sockets.length }); }
    for (let i = 0; i < 10; i++) await tick();
    if (step.snapshot) log.push({ shown: shown() });
  }
  process.stdout.write(JSON.stringify(log));
})().catch((e) => { process.stderr.write(String(e.stack)); process.exit(1); });
