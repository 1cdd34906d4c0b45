/* GreenMatch — the need form's green helpers: 建议的绿色分类 (category suggestions as the
 * enterprise types). Loaded as a file under the strict Content-Security-Policy; the form works
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

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-gm-category-suggest]").forEach(function (box) {
      new CategorySuggest(box).start();
    });
  });
}());
