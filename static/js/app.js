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

  document.addEventListener("DOMContentLoaded", function () {
    guardDoubleSubmit();
    startRegionPickers();
  });
}());
