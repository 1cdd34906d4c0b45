/* GreenMatch — the need form's green helpers: 建议的绿色分类 (category suggestions as the
 * enterprise types) and 环境效益测算 (the benefit estimator that fills the CO2 and standard-coal
 * fields). Loaded as a file under the strict Content-Security-Policy; the form works
 * without it. Talks to the session-authenticated JSON routes of matchmaker/green/views.py with
 * the page's CSRF token in the X-CSRFToken header. */
(function () {
  "use strict";

  function csrfToken(element) {
    var form = element.closest("form") || document;
    var input = form.querySelector("input[name='csrf_token']");
    return input ? input.value : "";
  }

  function postJson(url, body, token, signal) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": token },
      body: JSON.stringify(body),
      signal: signal
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  /* ---- 建议的绿色分类 ------------------------------------------------------------------------
   * <div data-gm-category-suggest data-url data-target="green_category"
   *      data-sources="title description"> with [data-gm-suggest-status] and
   * [data-gm-suggest-list] inside. As the sources change (debounced), the text is sent and the
   * suggestions are listed as buttons; a click selects the category in the target select. */

  var MIN_LENGTH = 4;
  var DELAY_MS = 350;

  function CategorySuggest(box) {
    this.box = box;
    this.url = box.getAttribute("data-url");
    this.select = document.getElementById(box.getAttribute("data-target"));
    this.sources = (box.getAttribute("data-sources") || "").split(/\s+/)
      .map(function (id) { return document.getElementById(id); })
      .filter(function (element) { return element; });
    this.status = box.querySelector("[data-gm-suggest-status]");
    this.list = box.querySelector("[data-gm-suggest-list]");
    this.timer = null;
    this.controller = null;
    this.sequence = 0;
    this.lastText = null;
  }

  CategorySuggest.prototype.text = function () {
    return this.sources.map(function (element) { return element.value.trim(); })
      .filter(function (value) { return value !== ""; }).join("\n");
  };

  CategorySuggest.prototype.start = function () {
    var self = this;
    if (!this.select || !this.url || !this.sources.length || !window.fetch) { return; }
    this.box.classList.remove("d-none");
    this.sources.forEach(function (element) {
      element.addEventListener("input", function () { self.schedule(); });
    });
    this.select.addEventListener("change", function () { self.markChosen(); });
    if (this.text().length >= MIN_LENGTH) { this.refresh(); }  // e.g. editing a need
  };

  CategorySuggest.prototype.schedule = function () {
    var self = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () { self.refresh(); }, DELAY_MS);
  };

  CategorySuggest.prototype.refresh = function () {
    var self = this;
    var text = this.text();
    if (text === this.lastText) { return; }
    this.lastText = text;
    if (this.controller) { this.controller.abort(); }
    if (text.length < MIN_LENGTH) {
      this.show([], "填写需求标题和描述后，这里会根据内容建议分类，点击即可选用。");
      return;
    }
    var number = ++this.sequence;
    this.controller = window.AbortController ? new AbortController() : null;
    this.status.textContent = "正在分析…";
    postJson(this.url, { text: text }, csrfToken(this.box),
             this.controller ? this.controller.signal : undefined)
      .then(function (answer) {
        if (number !== self.sequence) { return; }  // a newer request is on its way
        if (!answer.ok) {
          var messages = answer.data && answer.data.errors && answer.data.errors.text;
          self.show([], messages ? messages.join("；") : "暂时无法给出建议，请直接在下方选择分类。");
          return;
        }
        var suggestions = answer.data.suggestions || [];
        self.show(suggestions, suggestions.length ? "根据标题和描述，最可能的分类如下，点击即可选用："
          : "暂无建议：请在标题或描述中写明项目内容，例如 屋顶光伏、锅炉改造、林下种植。");
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") { return; }
        self.lastText = null;  // try again on the next change
        self.show([], "暂时无法给出建议，请直接在下方选择分类。");
      });
  };

  CategorySuggest.prototype.show = function (suggestions, message) {
    var self = this;
    this.status.textContent = message;
    this.list.replaceChildren();
    suggestions.forEach(function (suggestion) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-outline-success text-start gm-suggestion";
      button.setAttribute("data-code", suggestion.code);
      var title = document.createElement("span");
      title.className = "fw-semibold";
      title.textContent = suggestion.code + " " + suggestion.name;
      var confidence = document.createElement("span");
      confidence.className = "badge text-bg-light border ms-2";
      confidence.textContent = "可能性 " + Math.round(suggestion.confidence * 100) + "%";
      button.appendChild(title);
      button.appendChild(confidence);
      if (suggestion.reasons && suggestion.reasons.length) {
        var reasons = document.createElement("span");
        reasons.className = "d-block small text-body-secondary";
        reasons.textContent = "依据：" + suggestion.reasons.join("、");
        button.appendChild(reasons);
      }
      button.addEventListener("click", function () { self.apply(suggestion.code); });
      self.list.appendChild(button);
    });
    this.markChosen();
  };

  CategorySuggest.prototype.apply = function (code) {
    var option = Array.prototype.find.call(this.select.options, function (o) {
      return o.value === code;
    });
    if (!option) { return; }
    option.hidden = false;
    this.select.value = code;
    option.scrollIntoView({ block: "nearest" });
    this.select.dispatchEvent(new Event("change", { bubbles: true }));
  };

  CategorySuggest.prototype.markChosen = function () {
    var chosen = this.select.value;
    Array.prototype.forEach.call(this.list.querySelectorAll("button[data-code]"), function (b) {
      var on = b.getAttribute("data-code") === chosen;
      b.classList.toggle("btn-success", on);
      b.classList.toggle("btn-outline-success", !on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
  };

  /* ---- 环境效益测算 -------------------------------------------------------------------------
   * <details data-gm-benefit data-url data-co2 data-coal data-amount data-investment> with a
   * type select, one [data-gm-benefit-inputs=<type>] block of inputs (data-name, no name: the
   * need form never submits them) per type, a run button and a result area. */

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function BenefitHelper(box) {
    this.box = box;
    this.url = box.getAttribute("data-url");
    this.type = box.querySelector("[data-gm-benefit-type]");
    this.result = box.querySelector("[data-gm-benefit-result]");
    this.run = box.querySelector("[data-gm-benefit-run]");
    var byId = function (name) { return document.getElementById(box.getAttribute(name)); };
    this.co2 = byId("data-co2");
    this.coal = byId("data-coal");
    this.amount = byId("data-amount");
    this.investment = byId("data-investment");
  }

  BenefitHelper.prototype.start = function () {
    var self = this;
    if (!this.url || !this.type || !window.fetch) { return; }
    this.box.classList.remove("d-none");
    this.type.addEventListener("change", function () { self.showInputs(); });
    this.run.addEventListener("click", function () { self.estimate(); });
    this.box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.tagName === "INPUT") {
        event.preventDefault();  // never submit the need form from the helper
        self.estimate();
      }
    });
    this.showInputs();
  };

  BenefitHelper.prototype.inputs = function () {
    return this.box.querySelector("[data-gm-benefit-inputs='" + this.type.value + "']");
  };

  BenefitHelper.prototype.showInputs = function () {
    var type = this.type.value;
    this.box.querySelectorAll("[data-gm-benefit-inputs]").forEach(function (block) {
      block.classList.toggle("d-none", block.getAttribute("data-gm-benefit-inputs") !== type);
    });
    this.result.replaceChildren();
  };

  BenefitHelper.prototype.clearErrors = function () {
    this.box.querySelectorAll(".is-invalid").forEach(function (input) {
      input.classList.remove("is-invalid");
      input.removeAttribute("aria-invalid");
    });
    this.box.querySelectorAll(".gm-benefit-error").forEach(function (node) { node.remove(); });
  };

  BenefitHelper.prototype.estimate = function () {
    var self = this;
    var body = { project_type: this.type.value };
    this.inputs().querySelectorAll("[data-name]").forEach(function (input) {
      if (input.value.trim() !== "") { body[input.getAttribute("data-name")] = input.value.trim(); }
    });
    if (this.amount && this.amount.value.trim()) { body.amount_wan = this.amount.value.trim(); }
    if (this.investment && this.investment.value.trim()) {
      body.project_investment_wan = this.investment.value.trim();
    }
    this.clearErrors();
    this.result.replaceChildren(element("div", "small text-body-secondary", "正在测算…"));
    postJson(this.url, body, csrfToken(this.box)).then(function (answer) {
      if (answer.ok) { self.show(answer.data); return; }
      self.result.replaceChildren();
      var errors = (answer.data && answer.data.errors) || {};
      var shown = false;
      Object.keys(errors).forEach(function (name) {
        var input = self.inputs().querySelector("[data-name='" + name + "']");
        if (!input) { return; }
        input.classList.add("is-invalid");
        input.setAttribute("aria-invalid", "true");
        var message = element("div", "invalid-feedback gm-benefit-error", errors[name].join("；"));
        input.insertAdjacentElement("afterend", message);
        shown = true;
      });
      if (!shown) {
        self.result.replaceChildren(element("div", "alert alert-warning py-2 mb-0",
          (answer.data && answer.data.error) || "暂时无法测算，请稍后再试。"));
      }
    }).catch(function () {
      self.result.replaceChildren(element("div", "alert alert-warning py-2 mb-0",
                                          "暂时无法测算，请稍后再试。"));
    });
  };

  BenefitHelper.prototype.show = function (data) {
    var self = this;
    var card = element("div", "alert alert-success py-2 mb-0 gm-benefit-result");
    card.appendChild(element("div", "fw-semibold",
      "年节约标准煤 " + data.coal_saving_tce + " 吨，年减排二氧化碳 " + data.co2_reduction_t + " 吨"));
    if (data.bank_share !== null && data.bank_share !== undefined) {
      card.appendChild(element("div", "small",
        "按融资金额 ÷ 项目总投资（份额 " + (Number(data.bank_share) * 100).toFixed(2) +
        "%），贷款对应年节约标准煤 " + data.bank_coal_saving_tce + " 吨、减排二氧化碳 " +
        data.bank_co2_reduction_t + " 吨"));
    }
    var steps = element("ol", "small mb-1 mt-1 ps-3 gm-benefit-steps");
    (data.steps || []).forEach(function (step) { steps.appendChild(element("li", "", step)); });
    card.appendChild(steps);
    var sources = element("details", "small");
    sources.appendChild(element("summary", "", "所用系数及来源"));
    var list = element("ul", "mb-0 ps-3");
    (data.coefficients || []).forEach(function (c) {
      list.appendChild(element("li", "", c.name + "：" + c.value + " " + c.unit + "（" + c.source +
                                         "，" + c.year + " 年数据）"));
    });
    sources.appendChild(list);
    card.appendChild(sources);
    var apply = element("button", "btn btn-sm btn-success mt-2", "填入预计年减排量和节约标准煤");
    apply.type = "button";
    apply.setAttribute("data-gm-benefit-apply", "");
    apply.addEventListener("click", function () {
      [[self.co2, data.co2_reduction_t], [self.coal, data.coal_saving_tce]].forEach(function (pair) {
        if (!pair[0]) { return; }
        pair[0].value = pair[1];
        pair[0].dispatchEvent(new Event("input", { bubbles: true }));
      });
      apply.textContent = "已填入";
    });
    card.appendChild(apply);
    this.result.replaceChildren(card);
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-gm-category-suggest]").forEach(function (box) {
      new CategorySuggest(box).start();
    });
    document.querySelectorAll("[data-gm-benefit]").forEach(function (box) {
      new BenefitHelper(box).start();
    });
  });
}());
