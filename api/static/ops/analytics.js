// The ops analytics dashboard: reads /api/ops/analytics with the staff token the console login stored and draws
// every figure with Apache ECharts (served from npm's package at /vendor/echarts.min.js). Text via textContent.
(function () {
  "use strict";

  var TOKEN_KEY = "cs_staff_token";
  var LOGIN_URL = "/console/login?next=/ops/analytics";
  var LABELS = JSON.parse(document.getElementById("labels").textContent);
  // Rating colours from 1 (red) to 5 (green).
  var SCORE_COLORS = { 1: "#d9534f", 2: "#f0883e", 3: "#f2c94c", 4: "#8cc474", 5: "#2e9d5b" };
  var TIER_ORDER = ["platinum", "gold", "iron", "lead", "anonymous"];
  var charts = {};

  var token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    window.location.replace(LOGIN_URL);
    return;
  }

  function $(id) { return document.getElementById(id); }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key] == null ? "" : String(values[key]); });
  }

  function isoDay(date) {
    var month = String(date.getMonth() + 1).padStart(2, "0");
    return date.getFullYear() + "-" + month + "-" + String(date.getDate()).padStart(2, "0");
  }

  function daysAgo(n) {
    var date = new Date();
    date.setDate(date.getDate() - n);
    return isoDay(date);
  }

  function percent(rate) { return rate == null ? "–" : (rate * 100).toFixed(1) + "%"; }

  function status(message, isError) {
    var element = $("status");
    element.textContent = message;
    element.classList.toggle("status--error", Boolean(isError));
  }

  function request(path) {
    return fetch(path, { headers: { Authorization: "Bearer " + token } }).then(function (response) {
      if (response.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        window.location.replace(LOGIN_URL);
        throw new Error("unauthorized");
      }
      if (response.status === 403) throw new Error(LABELS.forbidden);
      if (!response.ok) {
        return response.json().then(function (body) {
          throw new Error((body.detail && body.detail.message) || response.statusText);
        });
      }
      return response;
    });
  }

  function query(extra) {
    var params = new URLSearchParams({ from: $("from").value, to: $("to").value });
    Object.keys(extra || {}).forEach(function (key) { params.set(key, extra[key]); });
    return params.toString();
  }

  function download(path, fallbackName) {
    request(path).then(function (response) {
      var disposition = response.headers.get("content-disposition") || "";
      var match = /filename="([^"]+)"/.exec(disposition);
      return response.blob().then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = match ? match[1] : fallbackName;
        document.body.appendChild(link);
        link.click();
        setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
      });
    }).catch(function (error) { status(fill(LABELS.failed, { message: error.message }), true); });
  }

  function chart(id, option) {
    var instance = charts[id] || echarts.init($(id));
    charts[id] = instance;
    instance.setOption(Object.assign({ tooltip: { trigger: "axis" }, grid: { containLabel: true, left: 8, right: 16, bottom: 8, top: 40 } }, option), true);
    return instance;
  }

  // Every category label shown (ECharts hides some when they are crowded).
  function categories(data) {
    return { type: "category", data: data, axisLabel: { interval: 0, hideOverlap: false } };
  }

  function tierName(report, tier) {
    return tier === "anonymous" ? LABELS.anonymous : report.tiers[tier] || tier;
  }

  function businessName(report, code) {
    if (code === "general") return LABELS.general;
    if (code === "unknown") return LABELS.unknown;
    return report.businesses[code] || code;
  }

  function horizontalBar(id, items, name, labels) {
    var rows = items.slice().reverse();
    chart(id, {
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: rows.map(function (item) { return (labels && labels[item.key]) || item.key; }) },
      series: [{ type: "bar", name: name, data: rows.map(function (item) { return item.count; }) }],
    });
  }

  function scoreSeries(groups) {
    return ["1", "2", "3", "4", "5"].map(function (score) {
      return {
        type: "bar", stack: "csat", name: fill(LABELS.score, { score: score }), itemStyle: { color: SCORE_COLORS[score] },
        data: groups.map(function (group) { return group.distribution[score]; }),
      };
    });
  }

  function render(report) {
    $("kpi-conversations").textContent = String(report.conversations);
    $("kpi-containment").textContent = percent(report.containment_rate);
    $("kpi-escalation").textContent = percent(report.escalation_rate);
    $("kpi-fallback").textContent = percent(report.fallback_rate);
    $("kpi-csat").textContent = report.csat_average == null ? "–" : report.csat_average.toFixed(2);
    $("kpi-escalations").textContent = String(report.escalations);
    $("kpi-bot").textContent = [report.bot.bookings_made, report.bot.orders_looked_up, report.bot.complaints_opened].join(" / ");

    var channels = Object.keys(report.conversations_by_channel);
    chart("chart-daily", {
      legend: {},
      xAxis: { type: "category", data: report.conversations_by_day.map(function (day) { return day.day; }) },
      yAxis: { type: "value", minInterval: 1 },
      series: channels.map(function (channel) {
        return {
          type: "bar", stack: "channels", name: LABELS.channels[channel] || channel,
          data: report.conversations_by_day.map(function (day) { return day.by_channel[channel]; }),
        };
      }),
    });

    chart("chart-escalation-tiers", {
      xAxis: categories(TIER_ORDER.map(function (tier) { return tierName(report, tier); })),
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: LABELS.count, data: TIER_ORDER.map(function (tier) { return report.escalations_by_tier[tier] || 0; }) }],
    });
    horizontalBar("chart-escalation-reasons", report.escalations_by_reason, LABELS.count);

    chart("chart-first-response", {
      legend: {},
      xAxis: categories(TIER_ORDER.map(function (tier) { return tierName(report, tier); })),
      yAxis: [{ type: "value", name: "s" }, { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }],
      series: [
        { type: "bar", name: LABELS.p50, data: TIER_ORDER.map(function (tier) { return report.first_response[tier].p50_seconds; }) },
        { type: "bar", name: LABELS.p90, data: TIER_ORDER.map(function (tier) { return report.first_response[tier].p90_seconds; }) },
        {
          type: "line", name: LABELS.sla_rate, yAxisIndex: 1,
          data: TIER_ORDER.map(function (tier) {
            var rate = report.sla_compliance[tier];
            return rate == null ? null : Math.round(rate * 1000) / 10;
          }),
        },
      ],
    });

    horizontalBar("chart-intents", report.top_intents, LABELS.count);
    horizontalBar("chart-faq", report.top_faq_keys, LABELS.count, report.faq_questions);

    chart("chart-csat-agents", {
      legend: {},
      xAxis: categories(report.csat_by_agent.map(function (group) { return group.label || LABELS.no_agent; })),
      yAxis: { type: "value", minInterval: 1 },
      series: scoreSeries(report.csat_by_agent),
    });
    chart("chart-csat-business", {
      legend: {},
      xAxis: categories(report.csat_by_business.map(function (group) { return group.label || businessName(report, group.key); })),
      yAxis: { type: "value", minInterval: 1 },
      series: scoreSeries(report.csat_by_business),
    });

    var outcomes = ["bookings_made", "orders_looked_up", "complaints_opened"];
    chart("chart-bot", {
      xAxis: categories(outcomes.map(function (key) { return LABELS.bot[key]; })),
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: LABELS.count, data: outcomes.map(function (key) { return report.bot[key]; }) }],
    });

    var departments = report.complaints_by_business;
    chart("chart-complaints", {
      legend: { type: "scroll" },
      xAxis: categories(departments.map(function (group) { return businessName(report, group.business); })),
      yAxis: { type: "value", minInterval: 1 },
      series: Object.keys(report.complaint_categories).map(function (category) {
        return {
          type: "bar", stack: "categories", name: report.complaint_categories[category],
          data: departments.map(function (group) { return group.by_category[category]; }),
        };
      }),
    });

    renderFeedback(report);
  }

  function cell(row, value) {
    var td = document.createElement("td");
    td.textContent = String(value);
    row.appendChild(td);
    return td;
  }

  function renderFeedback(report) {
    var body = $("feedback-rows");
    body.replaceChildren();
    if (!report.complaints_by_business.length) {
      var empty = document.createElement("tr");
      cell(empty, LABELS.empty).colSpan = 5;
      body.appendChild(empty);
      return;
    }
    report.complaints_by_business.forEach(function (group) {
      var row = document.createElement("tr");
      row.dataset.business = group.business;
      cell(row, businessName(report, group.business));
      cell(row, group.total);
      cell(row, group.high_severity);
      cell(row, group.open);
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = LABELS.download;
      button.addEventListener("click", function () {
        download("/api/ops/analytics/feedback?" + query({ business: group.business, format: "csv" }), "feedback.csv");
      });
      cell(row, "").appendChild(button);
      body.appendChild(row);
    });
  }

  function load() {
    if ($("from").value > $("to").value) {
      status(LABELS.bad_range, true);
      return;
    }
    status(LABELS.loading);
    history.replaceState(null, "", "/ops/analytics?" + query());
    request("/api/ops/analytics?" + query())
      .then(function (response) { return response.json(); })
      .then(function (report) {
        render(report);
        status(fill(LABELS.loaded, { from: report.period_from, to: report.period_to, tz: report.timezone }));
        document.body.dataset.loaded = report.period_from + ".." + report.period_to;
      })
      .catch(function (error) {
        if (error.message !== "unauthorized") status(fill(LABELS.failed, { message: error.message }), true);
      });
  }

  var params = new URLSearchParams(window.location.search);
  $("from").value = params.get("from") || daysAgo(6);
  $("to").value = params.get("to") || daysAgo(0);
  $("range").addEventListener("submit", function (event) { event.preventDefault(); load(); });
  $("today").addEventListener("click", function () { $("from").value = daysAgo(0); $("to").value = daysAgo(0); load(); });
  $("week").addEventListener("click", function () { $("from").value = daysAgo(6); $("to").value = daysAgo(0); load(); });
  $("export").addEventListener("click", function () {
    download("/api/ops/analytics?" + query({ format: "csv" }), "analytics.csv");
  });
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (id) { charts[id].resize(); });
  });
  load();
})();
