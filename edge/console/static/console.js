// KinderGate guard console: live updates over Server-Sent Events, an optional alarm sound,
// and the badge print button. Everything still works as plain forms without it.
"use strict";

(function () {
  const MAX_ROWS = 80;
  let audio = null;

  function soundOn() {
    return window.localStorage.getItem("kg-sound") === "on";
  }

  function beep(times) {
    if (!soundOn()) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      for (let i = 0; i < times; i++) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = "square";
        osc.frequency.value = i % 2 ? 660 : 990;
        gain.gain.value = 0.2;
        osc.connect(gain).connect(audio.destination);
        const start = audio.currentTime + i * 0.35;
        osc.start(start);
        osc.stop(start + 0.25);
      }
    } catch (err) {
      console.warn("no sound", err);
    }
  }

  function setupSound() {
    const button = document.getElementById("sound");
    if (!button) return;
    const show = () => { button.textContent = soundOn() ? button.dataset.off : button.dataset.on; };
    button.addEventListener("click", () => {
      window.localStorage.setItem("kg-sound", soundOn() ? "off" : "on");
      show();
      beep(1); // a tap is what lets the browser play sound later
    });
    show();
  }

  async function refresh(url, id) {
    const target = document.getElementById(id);
    if (!target) return;
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) { window.location.href = "/login"; return; }
    if (response.ok) target.innerHTML = await response.text();
  }

  function addRow(html) {
    const list = document.getElementById("events");
    if (!list) return;
    const empty = document.getElementById("no-events");
    if (empty) empty.remove();
    list.insertAdjacentHTML("afterbegin", html);
    const row = list.firstElementChild;
    if (row) row.classList.add("new");
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  }

  function showPending(count) {
    const banner = document.getElementById("pending-banner");
    if (!banner || document.body.dataset.page === "live") return;
    banner.textContent = banner.dataset.text.replace("{n}", count);
    banner.hidden = count === 0;
  }

  function showMode(mode, words) {
    if (document.body.dataset.page === "live") { window.location.reload(); return; }
    // Elsewhere a reload could lose what the guard is typing: update the badge only.
    const pill = document.getElementById("mode");
    if (!pill) return;
    pill.textContent = pill.dataset.label + ": " + words;
    pill.className = "pill mode-" + mode;
  }

  function setupLive() {
    // Every signed-in page listens, so an alarm is seen whatever page the guard is on.
    if (document.body.dataset.live !== "1" || !window.EventSource) return;
    const onLivePage = document.body.dataset.page === "live";
    const dot = document.getElementById("live-state");
    const source = new EventSource("/live/stream");
    let broken = false;
    source.onopen = () => {
      document.body.dataset.stream = "open";
      if (dot) dot.classList.add("live");
      if (broken && onLivePage) window.location.reload(); // events were missed while away
    };
    source.onerror = () => {
      document.body.dataset.stream = "closed";
      broken = true;
      if (dot) dot.classList.remove("live");
    };
    source.addEventListener("gate", (message) => {
      const data = JSON.parse(message.data);
      if (data.alarm) { refresh("/live/alarms", "alarms"); beep(6); }
      else if (data.decision === "needs_approval") beep(2);
      if (data.mode) showMode(data.mode, data.mode_words);
      showPending(data.pending_count);
      if (!onLivePage) return;
      if (data.html) addRow(data.html);
      if (data.pending) refresh("/live/pending", "pending");
    });
    source.addEventListener("signin", () => { window.location.href = "/login"; });
    source.addEventListener("reload", () => { if (onLivePage) window.location.reload(); });
  }

  function setupPrint() {
    const button = document.getElementById("print");
    if (button) button.addEventListener("click", () => window.print());
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupSound();
    setupLive();
    setupPrint();
  });
})();
