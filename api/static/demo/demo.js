// The demo host page: fills in the company's facts from the CRM (GET /api/demo/company) and plays the part of
// the company's own site logging a member in: it gets a signed, expiring identity token (in development the
// hub signs demo members the way the company's server would) and hands it to the widget.
(() => {
  "use strict";
  const byId = (id) => document.getElementById(id);

  function text(id, value) {
    const node = byId(id);
    if (node) node.textContent = value || "";
  }

  async function showCompany() {
    const response = await fetch("/api/demo/company");
    if (!response.ok) return;
    const company = await response.json();
    document.title = company.name + " · 演示官网";
    text("company-name", company.name);
    text("hotline", company.hotline);
    text("hotline-hours", company.hotline_hours);
    text("complaint-hotline", company.complaint_hotline);
    text("email", company.email);
    text("wechat", company.wechat_account);
    const holder = byId("businesses");
    for (const business of company.businesses) {
      const card = document.createElement("article");
      card.className = "business";
      const title = document.createElement("h3");
      title.textContent = business.name;
      const about = document.createElement("p");
      about.textContent = business.description || "";
      const stores = document.createElement("ul");
      for (const store of business.stores) {
        const item = document.createElement("li");
        item.textContent = store.name + "：" + store.address + "（" + store.hours + "）";
        stores.appendChild(item);
      }
      card.append(title, about, stores);
      holder.appendChild(card);
    }
  }

  function widget() {
    // The widget's script loads async: wait for it.
    return new Promise((resolve) => {
      const check = () => (window.CSWidget ? resolve(window.CSWidget) : setTimeout(check, 50));
      check();
    });
  }

  async function logIn(member) {
    let token = null;
    if (member) {
      const response = await fetch("/api/widget/dev-identity?web_user_id=" + encodeURIComponent(member));
      if (response.ok) token = (await response.json()).identity_token;
    }
    await (await widget()).identify(token);
  }

  const login = byId("login");
  login.addEventListener("change", () => logIn(login.value));
  const member = new URLSearchParams(location.search).get("as");
  if (member) {
    login.value = member;
    logIn(member);
  }
  showCompany();
})();
