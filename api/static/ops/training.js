// Ops console: training page. Starts a training job, polls its progress and log, shows the new model's
// evaluation next to the live model's, deploys behind the regression gate (a supervisor may override with a
// reason) and rolls back. No framework, no build step; every text is set with textContent.
(() => {
  "use strict";
  const TOKEN_KEY = "cs_staff_token";
  const ROLE_KEY = "cs_staff_role";
  const POLL_MS = 1000;

  const TEXT = {
    status: { queued: "排队中", running: "训练中", succeeded: "已完成", failed: "失败" },
    phase: {
      queued: "等待前一个训练完成",
      exporting: "导出训练数据",
      validating: "校验领域文件和训练数据",
      training: "训练模型",
      saving: "保存模型",
      evaluating: "在测试集上评估",
      done: "完成",
    },
    role: { ops: "运营", supervisor: "客服主管" },
    gate: {
      macro_f1_drop: (r) => `宏平均 F1 下降 ${r.drop_points} 个百分点（线上 ${pct(r.live)} → 新模型 ${pct(r.candidate)}），最多允许下降 ${r.max_drop_points} 个百分点`,
      new_story_failures: (r) => `有 ${r.stories.length} 个原本通过的测试对话未通过：${r.stories.join("、")}`,
      not_evaluated: () => "新模型没有评估结果",
    },
    started: (id, ahead) => (ahead > 0 ? `已提交训练任务 #${id}，前面还有 ${ahead} 个任务` : `已提交训练任务 #${id}`),
    deployed: (id) => `模型 #${id} 已上线`,
    rolledBack: (id) => `已回滚到模型 #${id}`,
    deployFailed: "上线失败：",
    live: "线上",
    deploy: "上线",
    rollbackTo: "回滚到此版本",
    none: "无",
    allPassed: "全部通过",
    macroF1: "宏平均 F1",
    accuracy: "准确率",
    failedStories: "未通过的测试对话",
    noLive: "（暂无线上模型的评估）",
    component: (name, done, total) => `正在训练 ${name}（第 ${done + 1}/${total} 个组件）`,
    epochs: (epoch, epochs) => `第 ${epoch}/${epochs} 轮`,
    overrideNeedsReason: "请填写强制上线的理由",
  };

  const token = sessionStorage.getItem(TOKEN_KEY);
  const role = sessionStorage.getItem(ROLE_KEY) || "";
  if (!token) {
    window.location.replace("/console/login?next=" + encodeURIComponent("/ops/training"));
    return;
  }

  const $ = (id) => document.getElementById(id);
  const pct = (value) => (value === null || value === undefined ? "–" : (100 * value).toFixed(1) + "%");
  let currentJobId = null;
  let pollTimer = null;
  let candidateId = null;
  let models = [];

  $("who").textContent = TEXT.role[role] || role;

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      window.location.replace("/console/login?next=" + encodeURIComponent("/ops/training"));
      throw new Error("unauthorised");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    return { status: response.status, data };
  }

  function notice(text, isError) {
    const $notice = $("notice");
    $notice.textContent = text;
    $notice.classList.toggle("notice--error", Boolean(isError));
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  // -- training job ---------------------------------------------------------------------------------

  function showJob(job) {
    $("job").hidden = false;
    $("job-id").textContent = String(job.id);
    const $status = $("job-status");
    $status.textContent = TEXT.status[job.status] || job.status;
    $status.className = "status status--" + job.status;
    const progress = job.progress || {};
    $("job-progress").value = Math.round(progress.percent || 0);
    const parts = [TEXT.phase[progress.phase] || progress.phase || ""];
    if (progress.component && progress.components_total) {
      parts.push(TEXT.component(progress.component, progress.components_done || 0, progress.components_total));
    }
    if (progress.epochs) parts.push(TEXT.epochs(progress.epoch || 0, progress.epochs));
    parts.push(Math.round(progress.percent || 0) + "%");
    $("job-phase").textContent = parts.filter(Boolean).join(" · ");
    const $log = $("job-log");
    $log.textContent = job.log_tail || "";
    $log.scrollTop = $log.scrollHeight; // the newest lines are the ones to read
    $("job-error").hidden = !job.error;
    $("job-error").textContent = job.error || "";
    $("start").disabled = job.status === "queued" || job.status === "running";
  }

  async function poll() {
    if (currentJobId === null) return;
    const { status, data } = await api("GET", `/api/ops/training-jobs/${currentJobId}`);
    if (status !== 200) return;
    showJob(data);
    if (data.status === "queued" || data.status === "running") {
      pollTimer = window.setTimeout(poll, POLL_MS);
      return;
    }
    pollTimer = null;
    await loadModels();
    if (data.status === "succeeded" && data.model_id) showEvaluation(data.model_id);
  }

  function watch(jobId) {
    currentJobId = jobId;
    if (pollTimer) window.clearTimeout(pollTimer);
    poll();
  }

  $("start").addEventListener("click", async () => {
    $("start").disabled = true;
    const { status, data } = await api("POST", "/api/ops/training-jobs");
    if (status >= 200 && status < 300) {
      notice(TEXT.started(data.id, data.queued_ahead || 0));
      watch(data.id);
    } else {
      $("start").disabled = false;
      notice((data && data.detail && data.detail.message) || String(status), true);
    }
  });

  // -- evaluation next to the live model ----------------------------------------------------------

  async function showMatrix(model) {
    const $img = $("eval-matrix");
    const url = model.evaluation && model.evaluation.confusion_matrix;
    $img.hidden = true;
    if (!url) return;
    const response = await fetch(url, { headers: { Authorization: "Bearer " + token } });
    if (!response.ok) return;
    const blob = await response.blob();
    const reader = new FileReader(); // a data: URL (the page's CSP allows data: images, not blob:)
    reader.onload = () => {
      $img.src = String(reader.result);
      $img.hidden = false;
    };
    reader.readAsDataURL(blob);
  }

  function showEvaluation(modelId) {
    const model = models.find((item) => item.id === modelId);
    if (!model) return;
    candidateId = modelId;
    const live = models.find((item) => item.live);
    const newEval = model.evaluation || {};
    const liveEval = (live && live.id !== model.id && live.evaluation) || null;
    $("eval-card").hidden = false;
    $("eval-new-id").textContent = String(model.id);
    $("eval-live-id").textContent = live ? "#" + live.id : TEXT.none;
    const newNlu = newEval.nlu || {};
    const liveNlu = (liveEval && liveEval.nlu) || {};
    const storiesText = (evaluation) => {
      const stories = evaluation && evaluation.stories;
      if (!stories) return "–";
      return stories.failed.length ? `${stories.failed.length}/${stories.total}` : TEXT.allPassed;
    };
    const summary = $("eval-summary").querySelector("tbody");
    summary.replaceChildren();
    for (const [label, newValue, liveValue] of [
      [TEXT.macroF1, pct(newNlu.macro_f1), liveEval ? pct(liveNlu.macro_f1) : TEXT.noLive],
      [TEXT.accuracy, pct(newNlu.accuracy), liveEval ? pct(liveNlu.accuracy) : "–"],
      [TEXT.failedStories, storiesText(newEval), liveEval ? storiesText(liveEval) : "–"],
    ]) {
      const row = document.createElement("tr");
      cell(row, label);
      cell(row, newValue);
      cell(row, liveValue);
      summary.appendChild(row);
    }
    const intents = $("eval-intents").querySelector("tbody");
    intents.replaceChildren();
    const liveIntents = liveNlu.intents || {};
    for (const [name, values] of Object.entries(newNlu.intents || {})) {
      const row = document.createElement("tr");
      row.dataset.intent = name;
      cell(row, name);
      cell(row, pct(values.precision));
      cell(row, pct(values.recall));
      const before = liveIntents[name];
      const className = before ? (values.f1 < before.f1 - 0.005 ? "worse" : values.f1 > before.f1 + 0.005 ? "better" : "") : "";
      cell(row, pct(values.f1), className);
      cell(row, before ? pct(before.f1) : "–");
      intents.appendChild(row);
    }
    const stories = $("eval-stories");
    stories.replaceChildren();
    const failed = (newEval.stories && newEval.stories.failed) || [];
    for (const name of failed.length ? failed : [TEXT.allPassed]) {
      const li = document.createElement("li");
      li.textContent = name;
      stories.appendChild(li);
    }
    $("deploy-new").disabled = model.live;
    showMatrix(model);
  }

  // -- deploy, gate, rollback -----------------------------------------------------------------------

  function showGate(detail, modelId) {
    $("gate-card").hidden = false;
    const list = $("gate-reasons");
    list.replaceChildren();
    for (const reason of detail.reasons || []) {
      const li = document.createElement("li");
      const word = TEXT.gate[reason.code];
      li.textContent = word ? word(reason) : reason.message;
      list.appendChild(li);
    }
    const supervisor = role === "supervisor";
    $("override").hidden = !supervisor;
    $("gate-ops-hint").hidden = supervisor;
    $("override-deploy").onclick = () => {
      const reason = $("override-reason").value.trim();
      if (!reason) {
        notice(TEXT.overrideNeedsReason, true);
        return;
      }
      deploy(modelId, reason);
    };
  }

  async function deploy(modelId, overrideReason) {
    notice("");
    const body = overrideReason ? { override_reason: overrideReason } : {};
    const { status, data } = await api("POST", `/api/ops/models/${modelId}/deploy`, body);
    if (status === 200) {
      $("gate-card").hidden = true;
      notice(data.kind === "rollback" ? TEXT.rolledBack(modelId) : TEXT.deployed(modelId));
    } else if (status === 409 && data.detail && data.detail.code === "gate_failed") {
      showGate(data.detail, modelId);
    } else {
      notice(TEXT.deployFailed + ((data && data.detail && data.detail.message) || status), true);
    }
    await loadModels();
    if (candidateId !== null) showEvaluation(candidateId);
  }

  $("deploy-new").addEventListener("click", () => {
    if (candidateId !== null) deploy(candidateId);
  });

  $("rollback").addEventListener("click", async () => {
    const { status, data } = await api("POST", "/api/ops/models/rollback");
    if (status === 200) notice(TEXT.rolledBack(data.model_id));
    else notice(TEXT.deployFailed + ((data && data.detail && data.detail.message) || status), true);
    await loadModels();
  });

  async function loadModels() {
    const { status, data } = await api("GET", "/api/ops/models");
    if (status !== 200) return;
    models = data.items;
    const body = $("models").querySelector("tbody");
    body.replaceChildren();
    for (const model of models) {
      const row = document.createElement("tr");
      row.dataset.modelId = String(model.id);
      cell(row, "#" + model.id);
      cell(row, new Date(model.created_at).toLocaleString("zh-CN"));
      const evaluation = model.evaluation || {};
      cell(row, evaluation.nlu ? pct(evaluation.nlu.macro_f1) : "–");
      cell(row, evaluation.stories ? String(evaluation.stories.failed.length) : "–");
      const state = cell(row, "");
      if (model.live) {
        const badge = document.createElement("span");
        badge.className = "live-badge";
        badge.textContent = TEXT.live;
        state.appendChild(badge);
      }
      const actions = cell(row, "");
      if (!model.live) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary";
        button.textContent = model.deployed_before ? TEXT.rollbackTo : TEXT.deploy;
        button.addEventListener("click", () => deploy(model.id));
        actions.appendChild(button);
      }
      row.addEventListener("dblclick", () => showEvaluation(model.id));
      body.appendChild(row);
    }
  }

  async function resume() {
    await loadModels();
    const { status, data } = await api("GET", "/api/ops/training-jobs");
    if (status !== 200 || !data.items.length) return;
    const latest = data.items[0];
    watch(latest.id);
  }

  resume();
})();
