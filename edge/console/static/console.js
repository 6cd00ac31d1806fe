// KinderGate guard console: live updates over Server-Sent Events that resume where the page
// left off, the alarm sound, form drafts kept across a new sign-in, validation messages in
// the guard's language, and the badge print button. Every page still works as plain forms.
"use strict";

(function () {
  const MAX_ROWS = 80;
  const ALARM_REPEAT_MS = 20000;
  const PROMPT_AFTER_MS = 1000;
  const body = () => document.body;

  function goSignIn() {
    saveDrafts();
    const here = window.location.pathname + window.location.search;
    window.location.href = "/login?next=" + encodeURIComponent(here);
  }

  // --- sound: on unless a guard turned it off; the browser may hold it back -------------

  const sound = {
    ctx: null,
    waiting: 0, // tones asked for while the browser held sound back
    timer: null,
    prompt: null,

    enabled() { return window.localStorage.getItem("kg-sound") !== "off"; },

    context() {
      if (!this.ctx) {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (!Ctx) return null;
        this.ctx = new Ctx();
        // A new context starts "suspended" for a moment even where sound is allowed.
        this.ctx.addEventListener("statechange", () => this.ready());
      }
      return this.ctx;
    },

    ready() {
      if (!this.ctx || this.ctx.state !== "running") return;
      if (this.waiting) { const n = this.waiting; this.waiting = 0; this.play(n); }
      this.show();
    },

    // Browsers let a page sound only after it was tapped (or the site was, just before).
    unlock() {
      const ctx = this.context();
      if (!ctx) return;
      if (ctx.state === "running") { this.ready(); return; }
      try { ctx.resume().then(() => this.ready(), () => this.show()); } catch (err) { this.show(); }
    },

    play(times) {
      const ctx = this.context();
      if (!ctx || !this.enabled()) return;
      if (ctx.state !== "running") {
        this.waiting = Math.max(this.waiting, times);
        this.unlock();
        // Held back, not just starting: say so (a refusal says so at once, see unlock).
        clearTimeout(this.prompt);
        this.prompt = setTimeout(() => this.show(), PROMPT_AFTER_MS);
        return;
      }
      for (let i = 0; i < times; i++) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = "square";
        osc.frequency.value = i % 2 ? 660 : 990;
        gain.gain.value = 0.2;
        osc.connect(gain).connect(ctx.destination);
        const start = ctx.currentTime + i * 0.35;
        osc.start(start);
        osc.stop(start + 0.25);
      }
    },

    // While a blocked-person alarm is open, it sounds again every so often.
    alarm(open) {
      if (!open) { clearInterval(this.timer); this.timer = null; this.waiting = 0; this.show(); return; }
      if (this.timer) return;
      this.play(6);
      this.timer = setInterval(() => this.play(6), ALARM_REPEAT_MS);
    },

    show() {
      const held = this.enabled() && this.ctx !== null && this.ctx.state !== "running";
      body().dataset.sound = !this.enabled() ? "off" : held ? "blocked" : "on";
      const prompt = document.getElementById("sound-blocked");
      if (prompt) prompt.hidden = !(held && this.waiting > 0);
    },

    setup() {
      const unlock = () => this.unlock();
      for (const kind of ["pointerdown", "keydown", "touchend"]) {
        document.addEventListener(kind, unlock, { capture: true, passive: true });
      }
      const prompt = document.getElementById("sound-blocked");
      if (prompt) prompt.addEventListener("click", unlock);
      const button = document.getElementById("sound");
      if (button) {
        const label = () => {
          const on = this.enabled();
          button.setAttribute("aria-checked", on ? "true" : "false");
          button.querySelector(".state").textContent = on ? body().dataset.wSoundOn : body().dataset.wSoundOff;
        };
        button.addEventListener("click", () => {
          window.localStorage.setItem("kg-sound", this.enabled() ? "off" : "on");
          label();
          if (this.enabled()) this.play(1);
          else this.alarm(false);
          this.show();
        });
        label();
      }
      // Sign-in is where sound is asked for, once: the tap that signs in allows it.
      const atSignIn = document.getElementById("sound-at-sign-in");
      if (atSignIn) {
        atSignIn.checked = this.enabled();
        atSignIn.form.addEventListener("submit", () => {
          window.localStorage.setItem("kg-sound", atSignIn.checked ? "on" : "off");
          if (atSignIn.checked) this.play(1);
        });
      }
      if (this.enabled() && body().dataset.live === "1") this.context();
      this.show();
    },
  };

  // --- live updates -------------------------------------------------------------------

  async function refresh(url, id, retries = 2) {
    const target = document.getElementById(id);
    if (!target) return;
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    } catch (err) { // the network blinked: try again shortly, the stream will catch up too
      if (retries > 0) setTimeout(() => refresh(url, id, retries - 1), 1000);
      return;
    }
    if (response.status === 401) { goSignIn(); return; }
    if (!response.ok) return;
    const html = await response.text();
    // Unchanged: leave the page as it is, so a button being tapped is not swapped away.
    if (html.trim() !== target.innerHTML.trim()) target.innerHTML = html;
  }

  async function refreshAlarms() {
    const zone = document.getElementById("alarms");
    if (!zone) return;
    await refresh("/live/alarms?then=" + encodeURIComponent(zone.dataset.then || "/"), "alarms");
    sound.alarm(zone.querySelector(".alarm") !== null);
  }

  function addRow(id, html) {
    const list = document.getElementById("events");
    if (!list || list.querySelector(`li[data-id="${id}"]`)) return;
    const empty = document.getElementById("no-events");
    if (empty) empty.remove();
    list.insertAdjacentHTML("afterbegin", html);
    const row = list.firstElementChild;
    if (row) row.classList.add("new");
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  }

  function showPending(count) {
    const banner = document.getElementById("pending-banner");
    if (!banner || body().dataset.page === "live") return;
    banner.textContent = banner.dataset.text.replace("{n}", count);
    banner.hidden = count === 0;
  }

  function showMode(mode, words) {
    if (body().dataset.page === "live") { window.location.reload(); return; }
    // Elsewhere a reload could lose what the guard is typing: update the badge only.
    const pill = document.getElementById("mode");
    if (!pill) return;
    pill.querySelector(".value").textContent = words;
    pill.className = "pill mode-" + mode;
  }

  function showLockFault(fault) {
    // The lock did not engage after the gate relocked: shown on every page until it does.
    const banner = document.getElementById("lock-fault");
    if (banner) banner.hidden = !fault;
  }

  function setupLive() {
    // Every signed-in page listens, so an alarm is seen whatever page the guard is on.
    if (body().dataset.live !== "1" || !window.EventSource) return;
    const onLivePage = body().dataset.page === "live";
    const dot = document.getElementById("live-state");
    // The page was rendered up to this event; the stream starts right after it, and on a
    // reconnect the browser itself sends the id of the last event it received.
    const after = body().dataset.after || "";
    const source = new EventSource("/live/stream?after=" + encodeURIComponent(after));
    const seen = new Set();
    source.onopen = () => {
      body().dataset.stream = "open";
      if (dot) dot.classList.add("live");
    };
    source.onerror = () => {
      body().dataset.stream = "closed";
      if (dot) dot.classList.remove("live");
    };
    source.addEventListener("gate", (message) => {
      const data = JSON.parse(message.data);
      if (seen.has(data.id)) return;
      seen.add(data.id);
      if (data.alarms) refreshAlarms();
      if (data.reason === "lock_not_engaged") sound.play(4);
      else if (data.decision === "needs_approval") sound.play(2);
      showLockFault(data.lock_fault);
      if (data.mode) showMode(data.mode, data.mode_words);
      showPending(data.pending_count);
      if (!onLivePage) return;
      if (data.html) addRow(data.id, data.html);
      if (data.pending) refresh("/live/pending", "pending");
    });
    // The stream could not resume where the page was: start the page afresh.
    source.addEventListener("resync", () => {
      if (onLivePage) { window.location.reload(); return; }
      refreshAlarms();
    });
    source.addEventListener("signin", () => { source.close(); goSignIn(); });
  }

  // --- alarms: acknowledged where the guard is, without leaving the page ----------------

  function setupAlarms() {
    document.addEventListener("submit", async (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.classList.contains("ack")) return;
      event.preventDefault();
      let response;
      try {
        response = await fetch(form.action, {
          method: "POST",
          body: new URLSearchParams(new FormData(form)),
          credentials: "same-origin",
          redirect: "manual",
        });
      } catch (err) {
        form.submit(); // as a plain form, then: it comes back to this page
        return;
      }
      if (response.status === 403) { goSignIn(); return; }
      const alarm = form.closest(".alarm");
      if (alarm) alarm.remove(); // seen; the refresh below brings back any still open
      refreshAlarms();
    });
    const zone = document.getElementById("alarms");
    if (zone) sound.alarm(zone.querySelector(".alarm") !== null);
  }

  // --- drafts: what a guard typed survives a new sign-in ---------------------------------
  // Kept in this tab only (sessionStorage), never the ID number or a PIN, and forgotten
  // once the form went through.

  const DRAFT = "kg-draft:";
  const SENT = "kg-draft-sent";

  function fields(form) {
    return Array.from(form.elements).filter((el) =>
      el.name && !el.hasAttribute("data-no-draft") &&
      !["hidden", "password", "file", "submit", "button"].includes(el.type));
  }

  function saveDraft(form) {
    const values = {};
    for (const el of fields(form)) {
      if (el.type === "radio" || el.type === "checkbox") { if (el.checked) values[el.name] = el.value; }
      else if (el.value) values[el.name] = el.value;
    }
    const key = DRAFT + form.dataset.draft;
    if (Object.keys(values).length) window.sessionStorage.setItem(key, JSON.stringify(values));
    else window.sessionStorage.removeItem(key);
  }

  function saveDrafts() {
    document.querySelectorAll("form[data-draft]").forEach(saveDraft);
  }

  function forget(name) {
    window.sessionStorage.removeItem(DRAFT + name);
  }

  function restoreDraft(form) {
    const saved = window.sessionStorage.getItem(DRAFT + form.dataset.draft);
    if (!saved) return;
    let values;
    try { values = JSON.parse(saved); } catch (err) { return; }
    for (const el of fields(form)) {
      if (!(el.name in values)) continue;
      if (el.type === "radio" || el.type === "checkbox") {
        const group = form.querySelectorAll(`[name="${CSS.escape(el.name)}"]:checked`);
        if (group.length === 0 && el.value === values[el.name]) el.checked = true;
      } else if (!el.value || (el.type === "number" && el.value === el.defaultValue)) {
        el.value = values[el.name]; // what the server filled in itself wins
      }
    }
  }

  function setupDrafts() {
    const sent = window.sessionStorage.getItem(SENT);
    const forms = document.querySelectorAll("form[data-draft]");
    if (sent && body().dataset.page !== "login") {
      const here = document.querySelector(`form[data-draft="${CSS.escape(sent)}"]`);
      // Through when the page says it is done, or moved on to a page without the form.
      if (document.querySelector(".flash.ok") || !here) forget(sent);
      window.sessionStorage.removeItem(SENT);
    }
    forms.forEach((form) => {
      restoreDraft(form);
      form.addEventListener("input", () => saveDraft(form));
      form.addEventListener("change", () => saveDraft(form));
      form.addEventListener("submit", () => {
        saveDraft(form);
        window.sessionStorage.setItem(SENT, form.dataset.draft);
      });
    });
    document.querySelectorAll("[data-draft-cancel]").forEach((link) => {
      link.addEventListener("click", () => forget(link.dataset.draftCancel));
    });
  }

  // --- the browser's own validation, in the guard's language ----------------------------

  function setupValidation() {
    const words = body().dataset;
    document.addEventListener("invalid", (event) => {
      const el = event.target;
      if (!el.setCustomValidity) return;
      el.setCustomValidity("");
      const v = el.validity;
      let text = words.wFormat;
      if (v.valueMissing) text = words.wRequired;
      else if (v.rangeOverflow || v.rangeUnderflow || v.badInput || v.stepMismatch) {
        text = words.wRange.replace("{min}", el.min || "").replace("{max}", el.max || "");
      }
      el.setCustomValidity(text);
    }, true);
    document.addEventListener("input", (event) => {
      if (event.target.setCustomValidity) event.target.setCustomValidity("");
    }, true);
  }

  // The phone's menus fold away again when the guard taps anywhere else.
  function setupMenus() {
    document.addEventListener("click", (event) => {
      document.querySelectorAll("details.menu[open], details.more[open]").forEach((menu) => {
        if (!menu.contains(event.target)) menu.open = false;
      });
    });
  }

  function setupPrint() {
    const button = document.getElementById("print");
    if (button) button.addEventListener("click", () => window.print());
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupValidation();
    setupDrafts();
    sound.setup();
    setupAlarms();
    setupLive();
    setupMenus();
    setupPrint();
  });
})();
