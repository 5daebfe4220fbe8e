// Login: POST /api/auth/login, keep the token in sessionStorage, go to the page for the role.
import { landingPage, saveLogin } from "/static/console/common.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const button = document.getElementById("login-button");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  button.disabled = true;
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        username: document.getElementById("username").value.trim(),
        password: document.getElementById("password").value,
      }),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      error.textContent = response.status === 401 ? "用户名或密码错误" : "登录失败，请稍后再试";
      return;
    }
    saveLogin(data.access_token, data.role);
    location.assign(landingPage(data.role));
  } catch {
    error.textContent = "网络异常，请稍后再试";
  } finally {
    button.disabled = false;
  }
});
