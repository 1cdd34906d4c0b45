/* GreenMatch — our scripts. Loaded as a file (never inline) so a strict Content-Security-Policy
 * can forbid inline scripts. Every page works without this file; it only adds comfort. */
(function () {
  "use strict";

  /* Submit buttons marked data-gm-once are disabled after the first submit (no double posts). */
  function guardDoubleSubmit() {
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("button[data-gm-once]").forEach(function (button) {
          // Disable after the browser has collected the form data.
          window.setTimeout(function () { button.disabled = true; }, 0);
        });
      });
    });
    // Coming back with the browser's back button must not leave buttons disabled.
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("button[data-gm-once]").forEach(function (button) {
        button.disabled = false;
      });
    });
  }

  /* ---- Region picker: province → city → county from /api/v1/regions?parent= ------------- */

  var LEVELS = [
    { label: "省 / 自治区 / 直辖市", placeholder: "请选择省份" },
    { label: "地市", placeholder: "全省 / 请选择地市" },
    { label: "区县", placeholder: "全市 / 请选择区县" }
  ];
  var regionCache = {};

  function fetchRegions(url, parent) {
    var key = parent || "";
    if (!regionCache[key]) {
      var address = parent ? url + "?parent=" + encodeURIComponent(parent) : url;
      regionCache[key] = fetch(address, {
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        if (!response.ok) { throw new Error("regions: HTTP " + response.status); }
        return response.json();
      }).then(function (body) {
        var items = Array.isArray(body) ? body : (body.items || body.regions || []);
        return items.map(function (item) {
          return { code: String(item.code), name: item.name || item.full_name || item.code };
        });
      });
      regionCache[key].catch(function () { delete regionCache[key]; });
    }
    return regionCache[key];
  }

  /* 330502 → ["330000", "330500", "330502"]; 330500 → ["330000", "330500"]. */
  function ancestors(code) {
    if (!/^\d{6}$/.test(code)) { return []; }
    var chain = [code.slice(0, 2) + "0000"];
    if (code.slice(2) !== "0000") { chain.push(code.slice(0, 4) + "00"); }
    if (code.slice(4) !== "00") { chain.push(code); }
    return chain;
  }

  function splitCodes(text) {
    return (text || "").split(/[\s,，、;；]+/).filter(function (part) { return part !== ""; });
  }

  function RegionPicker(container) {
    this.container = container;
    this.url = container.getAttribute("data-url");
    this.mode = container.getAttribute("data-mode") || "set";
    this.target = document.getElementById(container.getAttribute("data-target"));
    this.selects = [];
  }

  RegionPicker.prototype.build = function () {
    var self = this;
    LEVELS.forEach(function (level, index) {
      var column = document.createElement("div");
      column.className = self.mode === "append" ? "col-sm-6 col-lg-3" : "col-sm-4";
      var select = document.createElement("select");
      select.className = "form-select";
      select.setAttribute("aria-label", level.label);
      select.disabled = index > 0;
      select.appendChild(self.option("", level.placeholder));
      select.addEventListener("change", function () { self.changed(index); });
      column.appendChild(select);
      self.container.appendChild(column);
      self.selects.push(select);
    });
    if (this.mode === "append") {
      var column = document.createElement("div");
      column.className = "col-sm-6 col-lg-3 d-grid";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-outline-success";
      button.textContent = "添加所选地区";
      button.disabled = true;
      button.addEventListener("click", function () { self.append(); });
      column.appendChild(button);
      this.container.appendChild(column);
      this.addButton = button;
    } else {
      this.target.addEventListener("change", function () { self.showCode(self.target.value.trim()); });
    }
  };

  RegionPicker.prototype.option = function (value, text) {
    var option = document.createElement("option");
    option.value = value;
    option.textContent = text;
    return option;
  };

  RegionPicker.prototype.fill = function (index, parent) {
    var self = this;
    var select = this.selects[index];
    return fetchRegions(this.url, parent).then(function (regions) {
      while (select.options.length > 1) { select.remove(1); }
      regions.forEach(function (region) {
        select.appendChild(self.option(region.code, region.name));
      });
      select.disabled = regions.length === 0;
      return regions;
    });
  };

  RegionPicker.prototype.clearFrom = function (index) {
    for (var i = index; i < this.selects.length; i += 1) {
      var select = this.selects[i];
      while (select.options.length > 1) { select.remove(1); }
      select.value = "";
      select.disabled = true;
    }
  };

  RegionPicker.prototype.deepest = function () {
    for (var i = this.selects.length - 1; i >= 0; i -= 1) {
      if (this.selects[i].value) { return this.selects[i].value; }
    }
    return "";
  };

  RegionPicker.prototype.changed = function (index) {
    var self = this;
    var code = this.selects[index].value;
    this.clearFrom(index + 1);
    if (code && index + 1 < this.selects.length) {
      this.fill(index + 1, code).catch(function () { /* the text field still works */ });
    }
    if (this.mode === "set") {
      this.target.value = this.deepest();
      this.target.dispatchEvent(new Event("input", { bubbles: true }));
    } else {
      this.addButton.disabled = !self.deepest();
    }
  };

  RegionPicker.prototype.append = function () {
    var code = this.deepest();
    if (!code) { return; }
    var codes = splitCodes(this.target.value);
    if (codes.indexOf(code) === -1) { codes.push(code); }
    this.target.value = codes.join(" ");
    this.target.dispatchEvent(new Event("input", { bubbles: true }));
  };

  /* Select the chain of a code already in the field (e.g. after a failed submit). */
  RegionPicker.prototype.showCode = function (code) {
    var self = this;
    var chain = ancestors(code);
    if (!chain.length) { return Promise.resolve(); }
    var step = Promise.resolve();
    chain.forEach(function (value, index) {
      step = step.then(function () {
        var select = self.selects[index];
        if (!select) { return null; }
        var known = Array.prototype.some.call(select.options, function (o) { return o.value === value; });
        if (!known) { throw new Error("unknown region " + value); }
        select.value = value;
        self.clearFrom(index + 1);
        return index + 1 < self.selects.length ? self.fill(index + 1, value) : null;
      });
    });
    return step.catch(function () { /* leave what could be selected */ });
  };

  RegionPicker.prototype.start = function () {
    var self = this;
    if (!this.target || !this.url || !window.fetch) { return; }
    this.build();
    this.fill(0, null).then(function () {
      self.container.classList.remove("d-none");
      if (self.mode === "set") { return self.showCode(self.target.value.trim()); }
      return null;
    }).catch(function () {
      // No API (or offline): keep the plain code field, which always works.
      self.container.replaceChildren();
    });
  };

  function startRegionPickers() {
    document.querySelectorAll("[data-region-picker]").forEach(function (container) {
      new RegionPicker(container).start();
    });
  }

  /* ---- Tree picker: filter-as-you-type over a <select data-gm-picker> ---------------------
   * The select works on its own (option groups, indented levels). This adds a search box above
   * it (name or code; the ancestors of a match stay visible, via data-parent), a click that
   * toggles an option of a multiple select without Ctrl, and a summary of what is chosen. */

  function TreePicker(select) {
    this.select = select;
    this.multiple = select.multiple;
    this.options = Array.prototype.slice.call(select.options);
    this.matches = [];
    this.byValue = {};
    var self = this;
    this.options.forEach(function (option) { self.byValue[option.value] = option; });
  }

  TreePicker.prototype.label = function (option) {
    return option.textContent.replace(/^[\s\u3000]+/, "");
  };

  TreePicker.prototype.build = function () {
    var self = this;
    var select = this.select;
    var search = document.createElement("input");
    search.type = "search";
    search.className = "form-control form-control-sm mb-2 gm-picker-search";
    search.placeholder = select.getAttribute("data-gm-placeholder") || "输入名称或编号筛选";
    search.setAttribute("aria-label", search.placeholder);
    search.setAttribute("aria-controls", select.id);
    search.autocomplete = "off";
    select.parentNode.insertBefore(search, select);
    this.search = search;

    var status = document.createElement("div");
    status.className = "form-text gm-picker-status";
    status.setAttribute("aria-live", "polite");
    this.status = status;

    var summary = document.createElement("div");
    summary.className = "gm-picker-summary mt-2";
    this.summary = summary;
    select.parentNode.insertBefore(summary, select.nextSibling);
    select.parentNode.insertBefore(status, summary);

    search.addEventListener("input", function () { self.filter(search.value); });
    search.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();  // never submit the form from the search box
      var first = self.matches[0];  // the first match itself, not one of its ancestors
      if (first) {
        if (self.multiple) { first.selected = !first.selected; } else { first.selected = true; }
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    if (this.multiple) {
      select.addEventListener("mousedown", function (event) {
        var option = event.target;
        if (option.tagName !== "OPTION" || option.disabled) { return; }
        event.preventDefault();  // a click toggles one option instead of replacing the choice
        var top = select.scrollTop;
        option.selected = !option.selected;
        select.focus();
        select.scrollTop = top;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      });
    }
    select.addEventListener("change", function () { self.summarise(); });
    this.summarise();
  };

  TreePicker.prototype.filter = function (text) {
    var self = this;
    var query = text.trim().toLowerCase();
    var visible = {};
    var matches = [];
    this.options.forEach(function (option) {
      if (!query || !option.value) { return; }
      var haystack = (option.value + " " + option.textContent).toLowerCase();
      if (haystack.indexOf(query) === -1) { return; }
      matches.push(option);
      // The match and its ancestors (so a leaf is seen under its branch).
      for (var o = option; o && !visible[o.value]; o = self.byValue[o.getAttribute("data-parent")]) {
        visible[o.value] = true;
      }
    });
    this.options.forEach(function (option) {
      option.hidden = Boolean(query) && !visible[option.value];
    });
    Array.prototype.forEach.call(this.select.querySelectorAll("optgroup"), function (group) {
      group.hidden = !Array.prototype.some.call(group.children, function (o) { return !o.hidden; });
    });
    this.matches = matches;
    this.select.scrollTop = 0;
    this.status.textContent = query ? (matches.length ? "找到 " + matches.length + " 项，按回车选择第一项"
      : "没有匹配的项，请换个关键词") : "";
  };

  TreePicker.prototype.summarise = function () {
    var self = this;
    var chosen = this.options.filter(function (o) { return o.selected && o.value; });
    this.summary.replaceChildren();
    if (!chosen.length) { return; }
    var title = document.createElement("span");
    title.className = "small text-body-secondary me-1";
    title.textContent = this.multiple ? "已选 " + chosen.length + " 项：" : "已选：";
    this.summary.appendChild(title);
    chosen.forEach(function (option) {
      var badge = document.createElement("span");
      badge.className = "badge rounded-pill text-bg-light border me-1 mb-1 gm-picker-chip";
      badge.textContent = self.label(option);
      if (self.multiple) {
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "btn-close ms-1 gm-picker-remove";
        remove.setAttribute("aria-label", "移除 " + self.label(option));
        remove.addEventListener("click", function () {
          option.selected = false;
          self.select.dispatchEvent(new Event("change", { bubbles: true }));
        });
        badge.appendChild(remove);
      }
      self.summary.appendChild(badge);
    });
  };

  function startTreePickers() {
    document.querySelectorAll("select[data-gm-picker]").forEach(function (select) {
      new TreePicker(select).build();
    });
  }

  /* ---- The navbar bell: poll the unread count ---------------------------------------------
   * base.html renders the count and, on the bell, the URL of /notifications/unread-count and the
   * interval (data-gm-poll-seconds, from NOTIFICATION_POLL_SECONDS, default 30). Polling pauses
   * while the tab is hidden, catches up when it is shown again, and stops once the session has
   * ended (401). The badge is hidden at 0. */

  function startUnreadPolling() {
    var bell = document.querySelector("[data-gm-unread-url]");
    if (!bell || !window.fetch) { return; }
    var url = bell.getAttribute("data-gm-unread-url");
    var seconds = parseFloat(bell.getAttribute("data-gm-poll-seconds"));
    if (!(seconds > 0)) { seconds = 30; }
    var badge = bell.querySelector("[data-gm-unread-badge]");
    var number = bell.querySelector("[data-gm-unread-count]");
    var timer = null;
    var stopped = false;
    var busy = false;

    function show(count) {
      if (!badge || !number) { return; }
      number.textContent = count > 99 ? "99+" : String(count);
      badge.hidden = count <= 0;
      bell.title = count > 0 ? "通知中心（" + count + " 条未读）" : "通知中心";
    }

    function schedule() {
      window.clearTimeout(timer);
      if (!stopped) { timer = window.setTimeout(poll, seconds * 1000); }
    }

    function poll() {
      if (stopped || busy) { return; }
      if (document.hidden) { schedule(); return; }
      busy = true;
      fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store"
      }).then(function (response) {
        if (response.status === 401) { stopped = true; return null; }
        if (!response.ok) { throw new Error("unread count: HTTP " + response.status); }
        return response.json();
      }).then(function (body) {
        if (body && typeof body.unread === "number") { show(body.unread); }
      }).catch(function () {
        /* offline or a server hiccup: try again at the next tick */
      }).then(function () {
        busy = false;
        schedule();
      });
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && !stopped) { poll(); }
    });
    schedule();
  }

  document.addEventListener("DOMContentLoaded", function () {
    guardDoubleSubmit();
    startRegionPickers();
    startTreePickers();
    startUnreadPolling();
  });
}());
