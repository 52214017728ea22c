/* The drive page: live progress, countdown, fee preview, and giving through Stripe.js.
   Card and bank details go from Stripe's elements to Stripe; this script only sees a pm_... id.
   Every word it shows comes from the page (#page-messages, translated on the server); numbers,
   amounts and durations are formatted with Intl in the page's language (<html lang>). */
(function () {
  "use strict";

  var article = document.querySelector("article.drive");
  if (!article) { return; }
  var currency = article.dataset.currency;
  var exponent = parseInt(article.dataset.exponent, 10);
  var locale = document.documentElement.lang || undefined;
  var formatter = new Intl.NumberFormat(locale, { style: "currency", currency: currency.toUpperCase() });
  var messagesEl = document.getElementById("page-messages");
  var messages = messagesEl ? JSON.parse(messagesEl.textContent) : {};

  function money(minor) { return formatter.format(minor / Math.pow(10, exponent)); }
  function byId(id) { return document.getElementById(id); }
  /* A message from the page with its {name} marks filled in. */
  function say(key, values) {
    return String(messages[key] || "").replace(/\{(\w+)\}/g, function (mark, name) {
      return values && name in values ? values[name] : mark;
    });
  }

  /* --- Countdown and the end time in the donor's own time zone --- */
  var endsAt = new Date(article.dataset.endsAt);
  var endsEl = byId("ends-at");
  if (endsEl) {
    endsEl.textContent = endsAt.toLocaleString(locale, { dateStyle: "full", timeStyle: "short" });
  }
  var timeLeft = byId("time-left");
  function duration(value, unit) {
    return new Intl.NumberFormat(locale, { style: "unit", unit: unit, unitDisplay: "long" }).format(value);
  }
  function tick() {
    if (!timeLeft) { return; }
    var seconds = Math.max(0, Math.floor((endsAt - Date.now()) / 1000));
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var parts = [];
    if (days) { parts.push(duration(days, "day")); }
    if (days || hours) { parts.push(duration(hours, "hour")); }
    parts.push(duration(minutes, "minute"));
    var time = new Intl.ListFormat(locale, { style: "narrow", type: "unit" }).format(parts);
    timeLeft.textContent = seconds > 0 ? say("time_left", { time: time }) : say("ended");
  }
  tick();
  setInterval(tick, 15000);

  /* --- Live progress: poll only while the page is visible, with jitter --- */
  var progressUrl = article.dataset.progressUrl;
  var etag = null;
  /* What the server rendered stands until a figure changes (its Babel formatting and Intl's
     can differ by a grouping mark). */
  var shown = { raised: parseInt(article.dataset.raisedMinor, 10), donors: parseInt(article.dataset.donors, 10) };
  var plurals = new Intl.PluralRules(locale);
  function showDonors(count) {
    /* The whole phrase in the plural form for this count ("1 donor", "2 donors"; Arabic has
       six), with the number kept in its own #donors element. */
    var forms = messages.donors || {};
    var form = forms[plurals.select(count)] || forms.other;
    var holder = byId("donor-count");
    if (!form || !holder || form.indexOf("{count}") < 0) { byId("donors").textContent = String(count); return; }
    var pieces = form.split("{count}");
    var number = document.createElement("span");
    number.id = "donors";
    number.textContent = new Intl.NumberFormat(locale).format(count);
    holder.textContent = "";
    holder.appendChild(document.createTextNode(pieces[0]));
    holder.appendChild(number);
    holder.appendChild(document.createTextNode(pieces.slice(1).join("{count}")));
  }
  function applyProgress(data) {
    if (data.raised_minor !== shown.raised) { byId("raised").textContent = money(data.raised_minor); }
    if (data.donors !== shown.donors) { showDonors(data.donors); }
    shown.raised = data.raised_minor;
    shown.donors = data.donors;
    var pct = data.goal_minor ? Math.min(100, Math.floor(data.raised_minor * 100 / data.goal_minor)) : 0;
    byId("bar").setAttribute("aria-valuenow", String(pct));
    /* The width is a class (w-0 ... w-100), at least 1 % once anything is raised, as on the server. */
    byId("bar-fill").className = "bar-fill w-" + (data.raised_minor > 0 ? Math.max(1, pct) : 0);
    if (!data.open && byId("donate-form")) {
      byId("progress-status").textContent = say("closed");
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

  /* The amount as the server takes it (digits, "." for decimals). Where the page's language
     writes decimals with a comma (a Spanish or French phone keypad offers only ","), "25,50"
     is read as 25.50; it is never read as a thousands separator. */
  var decimalMark = (new Intl.NumberFormat(locale).formatToParts(1.5).filter(function (part) {
    return part.type === "decimal";
  })[0] || { value: "." }).value;
  function amountText() {
    var text = amountInput.value.trim();
    if (decimalMark === "," && /^\d+,\d+$/.test(text)) { text = text.replace(",", "."); }
    return text;
  }
  function amountMinor() {
    var text = amountText();
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
      total.textContent = say("fee", { fee: money(fee), total: money(minor + fee) });
    } else {
      total.textContent = say("total", { total: money(minor) });
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
    byId("payment-error").textContent = say("no_stripe");
    button.disabled = true;
    return;
  }

  /* --- Stripe: the Payment Element and the Express Checkout Element, deferred intent ---
     Elements collect a payment method for the amount shown; the server creates and confirms
     the PaymentIntent (paymentMethodCreation "manual"), so this script posts a pm_... id. */
  var stripe = window.Stripe(form.dataset.stripeKey);
  var minimumMinor = parseInt(form.dataset.minimumMinor, 10) || 1;
  var methodTypes = (form.dataset.paymentMethodTypes || "card").split(",");

  function chargedMinor() {
    var minor = amountMinor();
    if (minor === null || minor <= 0) { return null; }
    return coverFees.checked ? minor + feeFor(minor) : minor;
  }
  /* Elements needs an amount from the start: the minimum until the donor types one. */
  var elementsAmount = chargedMinor() || minimumMinor;
  var elements = stripe.elements({
    mode: "payment",
    amount: elementsAmount,
    currency: currency,
    paymentMethodCreation: "manual",
    paymentMethodTypes: methodTypes,
    locale: locale || "auto"  /* Stripe's own words in the page's language */
  });
  function syncAmount() {
    var charged = chargedMinor();
    if (charged !== null && charged !== elementsAmount) {
      elementsAmount = charged;
      elements.update({ amount: charged });
    }
  }
  amountInput.addEventListener("input", syncAmount);
  coverFees.addEventListener("change", syncAmount);
  Array.prototype.forEach.call(form.querySelectorAll(".preset"), function (preset) {
    preset.addEventListener("click", syncAmount);
  });

  var paymentElement = elements.create("payment", { layout: "tabs" });
  byId("payment-element").textContent = "";
  paymentElement.mount("#payment-element");

  /* Apple Pay, Google Pay or Link: shown only where the device offers one of them. */
  var express = elements.create("expressCheckout", {
    buttonType: { applePay: "donate", googlePay: "donate" }
  });
  express.on("ready", function (event) {
    byId("field-express").hidden = !event.availablePaymentMethods;
  });
  express.on("click", function (event) {
    /* The wallet's sheet opens only for an amount the server will take. */
    showError(null, "");
    if (checkAmount()) { syncAmount(); event.resolve(); }
  });
  express.on("confirm", function (event) { give(event); });
  express.mount("#express-checkout-element");

  function showError(field, message) {
    var isPayment = field === "card" || field === "payment";
    byId("amount-error").textContent = field === "amount" ? message : "";
    byId("payment-error").textContent = isPayment ? message : "";
    byId("form-error").textContent = (field === "amount" || isPayment) ? "" : message;
    var target = field === "amount" ? amountInput : null;
    if (target) { target.setAttribute("aria-invalid", "true"); target.focus(); }
  }
  function checkAmount() {
    amountInput.removeAttribute("aria-invalid");
    var minor = amountMinor();
    if (minor === null) { showError("amount", say("amount_format")); return false; }
    if (minor < minimumMinor) { showError("amount", say("amount_minimum")); return false; }
    return true;
  }
  function busy(isBusy) {
    button.disabled = isBusy;
    button.textContent = isBusy ? say("processing") : say("give");
  }
  function toThanks(paymentIntentId) {
    window.location.assign(form.dataset.thanksUrl + "?payment_intent=" + encodeURIComponent(paymentIntentId));
  }
  function billingDetails() {
    var billing = {};
    if (byId("name").value.trim()) { billing.name = byId("name").value.trim(); }
    if (byId("email").value.trim()) { billing.email = byId("email").value.trim(); }
    return billing;
  }

  /* One path for both elements: validate, create the PaymentMethod, post the same form.
     `walletEvent` is the Express Checkout Element's confirm event (the wallet's own sheet
     and details), or null for the Payment Element under the Give button. */
  function give(walletEvent) {
    if (button.disabled) {  /* a gift is already on its way: never two at once */
      if (walletEvent) { walletEvent.paymentFailed({ reason: "fail" }); }
      return;
    }
    showError(null, "");
    if (!checkAmount()) {
      if (walletEvent) { walletEvent.paymentFailed({ reason: "fail" }); }
      return;
    }
    syncAmount();
    busy(true);
    elements.submit().then(function (submitted) {
      if (submitted.error) {
        throw { field: "payment", message: submitted.error.message || say("check_payment") };
      }
      var options = { elements: elements };
      var billing = billingDetails();
      /* A wallet brings its own billing details; the Payment Element gets what was typed here. */
      if (!walletEvent && Object.keys(billing).length) { options.params = { billing_details: billing }; }
      return stripe.createPaymentMethod(options);
    }).then(function (result) {
      if (result.error) { throw { field: "payment", message: result.error.message || say("check_payment") }; }
      var body = new FormData(form);
      body.set("payment_method", result.paymentMethod.id);
      body.set("amount", amountText());
      return fetch(form.action, { method: "POST", body: body, headers: { "Accept": "application/json" } });
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw { field: data.field || "form", message: data.error || say("failed") };
        }
        return data;
      });
    }).then(function (data) {
      var intentId = data.client_secret ? data.client_secret.split("_secret_")[0] : "";
      if (data.status === "requires_action") {
        return stripe.handleNextAction({ clientSecret: data.client_secret }).then(function (result) {
          if (result.error) { throw { field: "payment", message: result.error.message || say("not_confirmed") }; }
          toThanks(result.paymentIntent ? result.paymentIntent.id : intentId);
        });
      }
      /* succeeded, or processing (a bank debit clears in days): the thank-you page says which. */
      toThanks(intentId);
      return null;
    }).catch(function (problem) {
      if (walletEvent) { walletEvent.paymentFailed({ reason: "fail" }); }
      busy(false);
      if (problem && problem.message) { showError(problem.field, problem.message); }
      else { showError("form", say("connection")); }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    give(null);
  });
})();
