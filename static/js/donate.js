/* The drive page: live progress, countdown, fee preview, and giving through Stripe.js.
   The card number goes from Stripe's form to Stripe; this script only sees a pm_... id. */
(function () {
  "use strict";

  var article = document.querySelector("article.drive");
  if (!article) { return; }
  var currency = article.dataset.currency;
  var exponent = parseInt(article.dataset.exponent, 10);
  var locale = document.documentElement.lang || undefined;
  var formatter = new Intl.NumberFormat(locale, { style: "currency", currency: currency.toUpperCase() });

  function money(minor) { return formatter.format(minor / Math.pow(10, exponent)); }
  function byId(id) { return document.getElementById(id); }

  /* --- Countdown and the end time in the donor's own time zone --- */
  var endsAt = new Date(article.dataset.endsAt);
  var endsEl = byId("ends-at");
  if (endsEl) {
    endsEl.textContent = endsAt.toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
  }
  var timeLeft = byId("time-left");
  function tick() {
    if (!timeLeft) { return; }
    var seconds = Math.max(0, Math.floor((endsAt - Date.now()) / 1000));
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var parts = [];
    if (days) { parts.push(days + (days === 1 ? " day" : " days")); }
    if (days || hours) { parts.push(hours + (hours === 1 ? " hour" : " hours")); }
    parts.push(minutes + (minutes === 1 ? " minute" : " minutes"));
    timeLeft.textContent = seconds > 0 ? parts.join(" ") + " left" : "ended";
  }
  tick();
  setInterval(tick, 15000);

  /* --- Live progress: poll only while the page is visible, with jitter --- */
  var progressUrl = article.dataset.progressUrl;
  var etag = null;
  function applyProgress(data) {
    byId("raised").textContent = money(data.raised_minor);
    byId("donors").textContent = String(data.donors);
    var pct = data.goal_minor ? Math.min(100, Math.floor(data.raised_minor * 100 / data.goal_minor)) : 0;
    byId("bar").setAttribute("aria-valuenow", String(pct));
    /* The width is a class (w-0 ... w-100), at least 1 % once anything is raised, as on the server. */
    byId("bar-fill").className = "bar-fill w-" + (data.raised_minor > 0 ? Math.max(1, pct) : 0);
    if (!data.open && byId("donate-form")) {
      byId("progress-status").textContent = "This drive has now closed.";
    }
  }
  function poll() {
    var delay = 5000 + Math.floor(Math.random() * 2000);
    if (document.visibilityState !== "visible") { setTimeout(poll, delay); return; }
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(progressUrl, { headers: headers, cache: "no-cache" }).then(function (response) {
      if (response.status === 200) {
        etag = response.headers.get("ETag");
        return response.json().then(applyProgress);
      }
      return null;
    }).catch(function () { /* offline for a moment: try again next time */ })
      .then(function () { setTimeout(poll, delay); });
  }
  setTimeout(poll, 3000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { etag = null; }
  });

  /* --- The form --- */
  var form = byId("donate-form");
  if (!form) { return; }
  var amountInput = byId("amount");
  var coverFees = byId("cover_fees");
  var total = byId("total");
  var button = byId("give-button");
  var basisPoints = parseInt(form.dataset.feeBasisPoints, 10);
  var fixed = parseInt(form.dataset.feeFixed, 10);

  function amountMinor() {
    var text = amountInput.value.trim();
    if (!/^\d+(\.\d+)?$/.test(text)) { return null; }
    var pieces = text.split(".");
    var fraction = (pieces[1] || "").padEnd(exponent, "0");
    if (fraction.length > exponent) { return null; }
    return parseInt(pieces[0], 10) * Math.pow(10, exponent) + (exponent ? parseInt(fraction, 10) : 0);
  }
  function feeFor(minor) {
    var totalMinor = Math.ceil((minor + fixed) * 10000 / (10000 - basisPoints));
    return totalMinor - minor;
  }
  function updateTotal() {
    var minor = amountMinor();
    if (minor === null || minor <= 0) { total.textContent = ""; return; }
    if (coverFees.checked) {
      var fee = feeFor(minor);
      total.textContent = "Covering the fee adds " + money(fee) + ": you give " + money(minor + fee) + ".";
    } else {
      total.textContent = "You give " + money(minor) + ".";
    }
  }
  Array.prototype.forEach.call(form.querySelectorAll(".preset"), function (preset) {
    preset.addEventListener("click", function () {
      amountInput.value = preset.dataset.amount;
      Array.prototype.forEach.call(form.querySelectorAll(".preset"), function (other) {
        other.setAttribute("aria-pressed", other === preset ? "true" : "false");
      });
      updateTotal();
    });
  });
  amountInput.addEventListener("input", updateTotal);
  coverFees.addEventListener("change", updateTotal);
  updateTotal();

  if (typeof window.Stripe !== "function" || !form.dataset.stripeKey) {
    byId("card-error").textContent = "The card form could not load. Check your connection and reload the page.";
    button.disabled = true;
    return;
  }
  var stripe = window.Stripe(form.dataset.stripeKey);
  var card = stripe.elements().create("card");
  byId("card-element").textContent = "";
  card.mount("#card-element");

  function showError(field, message) {
    byId("amount-error").textContent = field === "amount" ? message : "";
    byId("card-error").textContent = field === "card" ? message : "";
    byId("form-error").textContent = (field === "amount" || field === "card") ? "" : message;
    var target = field === "amount" ? amountInput : null;
    if (target) { target.setAttribute("aria-invalid", "true"); target.focus(); }
  }
  function busy(isBusy) {
    button.disabled = isBusy;
    button.textContent = isBusy ? "Processing…" : "Give now";
  }
  function toThanks(paymentIntentId) {
    window.location.assign(form.dataset.thanksUrl + "?payment_intent=" + encodeURIComponent(paymentIntentId));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    showError(null, "");
    amountInput.removeAttribute("aria-invalid");
    if (amountMinor() === null) { showError("amount", "Enter the amount as a number, e.g. 25 or 25.50."); return; }
    busy(true);
    var billing = {};
    if (byId("name").value.trim()) { billing.name = byId("name").value.trim(); }
    if (byId("email").value.trim()) { billing.email = byId("email").value.trim(); }
    stripe.createPaymentMethod({ type: "card", card: card, billing_details: billing }).then(function (result) {
      if (result.error) { throw { field: "card", message: result.error.message || "Check your card details." }; }
      var body = new FormData(form);
      body.set("payment_method", result.paymentMethod.id);
      return fetch(form.action, { method: "POST", body: body, headers: { "Accept": "application/json" } });
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw { field: data.field || "form", message: data.error || "Something went wrong. You have not been charged." };
        }
        return data;
      });
    }).then(function (data) {
      var intentId = data.client_secret ? data.client_secret.split("_secret_")[0] : "";
      if (data.status === "requires_action") {
        return stripe.handleNextAction({ clientSecret: data.client_secret }).then(function (result) {
          if (result.error) { throw { field: "card", message: result.error.message || "The card was not confirmed. You have not been charged." }; }
          toThanks(result.paymentIntent ? result.paymentIntent.id : intentId);
        });
      }
      toThanks(intentId);
      return null;
    }).catch(function (problem) {
      busy(false);
      if (problem && problem.message) { showError(problem.field, problem.message); }
      else { showError("form", "The connection failed. You have not been charged; please try again."); }
    });
  });
})();
