/* A stand-in for Stripe.js, served by our localstripe wrapper (--stripe-js) in tests and in
   `make run`. localstripe's own fake has no Payment Element, Express Checkout Element,
   createPaymentMethod or handleNextAction; this implements what the drive page uses, against
   localstripe's API, and refuses what Stripe.js refuses, so a page that drifts from Stripe's
   documented use fails here too:
   - elements({mode: "payment", amount, currency, paymentMethodCreation: "manual",
     paymentMethodTypes}) and elements.update({amount}); elements.submit();
   - elements.create("payment").mount(): card fields (and a SEPA Debit IBAN field when
     paymentMethodTypes offers sepa_debit and the currency is EUR);
   - elements.create("expressCheckout").mount(): wallet buttons, only for the wallets a test
     says this "device" has (below); events ready (availablePaymentMethods), click (resolve
     within a second, or no sheet opens) and confirm (billingDetails, paymentFailed);
   - createPaymentMethod({elements, params}): a real PaymentMethod at localstripe's
     /v1/payment_methods, from the Payment Element's fields or, during a wallet's confirm
     event, a card with the wallet's billing details (what Apple Pay and Google Pay give);
   - handleNextAction({clientSecret}): 3-D Secure, completed with localstripe.
   Test hooks, set before the page loads (Playwright's add_init_script):
     window.stripeShim = { wallets: ["google_pay", "apple_pay", "link"],
                           walletCard: "4242424242424242", walletBillingDetails: {...} }
   A wallet button click is the donor approving the payment in the wallet's sheet; with no
   wallets the Express Checkout Element renders nothing, as on a device without one. The shim
   counts, for tests to read, window.stripeShimSheetsNotShown (clicks the page did not
   resolve within the second), window.stripeShimWalletFailures (paymentFailed calls) and
   sessionStorage's stripeShimWalletAmount (the minor units the last wallet sheet showed). */
(function () {
  "use strict";
  var base = document.currentScript.src.replace(/\/js\.stripe\.com\/v3\/?$/, "");
  var TYPES = ["card", "link", "sepa_debit"];
  var WALLETS = {
    apple_pay: { label: "Apple Pay", key: "applePay", needs: "card" },
    google_pay: { label: "Google Pay", key: "googlePay", needs: "card" },
    link: { label: "Link", key: "link", needs: "link" }
  };
  var DEFAULT_WALLET_DETAILS = {
    name: "Wallet Holder",
    email: "wallet.holder@example.org",
    address: { postal_code: "10115", country: "DE" }
  };

  function hooks() { return window.stripeShim || {}; }
  function IntegrationError(message) {
    var error = new Error(message);
    error.name = "IntegrationError";
    return error;
  }
  function flatten(data, prefix, into) {
    Object.keys(data).forEach(function (key) {
      var name = prefix ? prefix + "[" + key + "]" : key;
      var value = data[key];
      if (value !== null && typeof value === "object") { flatten(value, name, into); }
      else if (value !== undefined && value !== "") { into.push(encodeURIComponent(name) + "=" + encodeURIComponent(value)); }
    });
    return into;
  }
  function post(path, data) {
    return fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: flatten(data, "", []).join("&")
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok && !body.error, body: body }; });
    });
  }
  function field(host, name, text, autocomplete, placeholder) {
    var label = document.createElement("label");
    label.className = "shim-field";
    label.textContent = text + " ";
    var input = document.createElement("input");
    input.type = "text";
    input.name = "shim-" + name;
    input.setAttribute("autocomplete", autocomplete);
    input.setAttribute("placeholder", placeholder);
    input.setAttribute("data-shim", name);
    label.appendChild(input);
    host.appendChild(label);
    return input;
  }
  function hostOf(selector) {
    var host = typeof selector === "string" ? document.querySelector(selector) : selector;
    if (!host) { throw IntegrationError("mount(): no element matches " + selector); }
    return host;
  }
  function checkAmount(amount) {
    if (typeof amount !== "number" || !isFinite(amount) || amount <= 0 || Math.floor(amount) !== amount) {
      throw IntegrationError("elements: amount must be a positive whole number of minor units (got " + amount + ")");
    }
  }

  /* --- The Elements group (deferred intent: no clientSecret) --- */
  function Elements(options) {
    options = options || {};
    if (options.clientSecret) { throw IntegrationError("the shim stands in for deferred intents only (no clientSecret)"); }
    if (options.mode !== "payment") { throw IntegrationError("elements: mode must be \"payment\" (got " + options.mode + ")"); }
    checkAmount(options.amount);
    if (typeof options.currency !== "string" || options.currency !== options.currency.toLowerCase()) {
      throw IntegrationError("elements: currency must be an ISO code in lower case (got " + options.currency + ")");
    }
    var types = options.paymentMethodTypes || ["card"];
    types.forEach(function (type) {
      if (TYPES.indexOf(type) < 0) { throw IntegrationError("elements: unknown payment method type " + type); }
      if (type === "sepa_debit" && options.currency !== "eur") {
        throw IntegrationError("elements: sepa_debit is offered in EUR only (currency " + options.currency + ")");
      }
    });
    this.options = {
      mode: options.mode, amount: options.amount, currency: options.currency,
      paymentMethodCreation: options.paymentMethodCreation, paymentMethodTypes: types
    };
    this.payment = null;
    this.express = null;
    this.isSubmitted = false;
    this.wallet = null; /* the wallet payment whose confirm event is being handled */
  }
  Elements.prototype.create = function (type, options) {
    if (type === "payment") {
      if (this.payment) { throw IntegrationError("a Payment Element already exists in this group"); }
      this.payment = new PaymentElement(this, options || {});
      return this.payment;
    }
    if (type === "expressCheckout") {
      if (this.express) { throw IntegrationError("an Express Checkout Element already exists in this group"); }
      this.express = new ExpressCheckoutElement(this, options || {});
      return this.express;
    }
    throw IntegrationError("the shim stands in for the payment and expressCheckout elements only (asked for " + type + ")");
  };
  Elements.prototype.update = function (options) {
    if (options && "amount" in options) { checkAmount(options.amount); this.options.amount = options.amount; }
    this.isSubmitted = false;
  };
  Elements.prototype.submit = function () {
    var group = this;
    return Promise.resolve().then(function () {
      group.isSubmitted = false;
      if (!group.wallet) {
        if (!group.payment || !group.payment.host) { return { error: { type: "validation_error", message: "The payment form is not ready." } }; }
        var problem = group.payment.problem();
        if (problem) { return { error: { type: "validation_error", message: problem } }; }
      }
      group.isSubmitted = true;
      return {};
    });
  };

  /* --- The Payment Element: card fields, and SEPA Debit where offered --- */
  function PaymentElement(group, options) {
    this.group = group;
    this.options = options;
    this.host = null;
    this.inputs = {};
    this.type = "card";
    this.handlers = {};
  }
  PaymentElement.prototype.on = function (name, handler) { (this.handlers[name] = this.handlers[name] || []).push(handler); };
  PaymentElement.prototype.mount = function (selector) {
    var self = this;
    var host = hostOf(selector);
    this.host = host;
    var offered = this.group.options.paymentMethodTypes.filter(function (type) { return type !== "link"; });
    var panels = {};
    if (offered.length > 1) {
      var choice = document.createElement("fieldset");
      var legend = document.createElement("legend");
      legend.textContent = "Pay with";
      choice.appendChild(legend);
      offered.forEach(function (type) {
        var label = document.createElement("label");
        var radio = document.createElement("input");
        radio.type = "radio";
        radio.name = "shim-type";
        radio.value = type;
        radio.checked = type === "card";
        radio.addEventListener("change", function () {
          self.type = type;
          Object.keys(panels).forEach(function (name) { panels[name].hidden = name !== type; });
        });
        label.appendChild(radio);
        label.appendChild(document.createTextNode(" " + (type === "card" ? "Card" : "SEPA Direct Debit")));
        choice.appendChild(label);
      });
      host.appendChild(choice);
    }
    panels.card = document.createElement("div");
    host.appendChild(panels.card);
    this.inputs.number = field(panels.card, "number", "Card number", "cc-number", "4242 4242 4242 4242");
    this.inputs.expiry = field(panels.card, "expiry", "Expiry (MM/YY)", "cc-exp", "12/34");
    this.inputs.cvc = field(panels.card, "cvc", "CVC", "cc-csc", "123");
    this.inputs.postal = field(panels.card, "postal", "Postcode", "postal-code", "12345");
    if (offered.indexOf("sepa_debit") >= 0) {
      panels.sepa_debit = document.createElement("div");
      panels.sepa_debit.hidden = true;
      host.appendChild(panels.sepa_debit);
      this.inputs.holder = field(panels.sepa_debit, "holder", "Account holder's full name", "name", "Jenny Rosen");
      this.inputs.holderEmail = field(panels.sepa_debit, "holder-email", "Account holder's email", "email", "jenny@example.com");
      this.inputs.iban = field(panels.sepa_debit, "iban", "IBAN", "off", "DE89 3704 0044 0532 0130 00");
      var mandate = document.createElement("p");
      mandate.className = "hint";
      mandate.textContent = "By giving, you authorise this organisation and Stripe to debit your account once for this gift (SEPA Direct Debit).";
      panels.sepa_debit.appendChild(mandate);
    }
    setTimeout(function () { (self.handlers.ready || []).forEach(function (handler) { handler({ elementType: "payment" }); }); }, 0);
  };
  PaymentElement.prototype.problem = function () {
    var inputs = this.inputs;
    if (this.type === "sepa_debit") {
      if (!inputs.holder.value.trim()) { return "Your name is incomplete."; }
      if (!/^\S+@\S+\.\S+$/.test(inputs.holderEmail.value.trim())) { return "Your email address is incomplete."; }
      if (inputs.iban.value.replace(/\s+/g, "").length < 14) { return "Your IBAN is incomplete."; }
      return null;
    }
    if (inputs.number.value.replace(/\s+/g, "").length !== 16) { return "Your card number is incomplete."; }
    if (!/^\s*\d{1,2}\s*\/\s*\d{2}\s*$/.test(inputs.expiry.value)) { return "Your card's expiration date is incomplete."; }
    if (!/^\d{3}$/.test(inputs.cvc.value.trim())) { return "Your card's security code is incomplete."; }
    return null;
  };
  PaymentElement.prototype.paymentMethodData = function (billing) {
    var inputs = this.inputs;
    if (this.type === "sepa_debit") {
      return {
        type: "sepa_debit",
        sepa_debit: { iban: inputs.iban.value.replace(/\s+/g, "") },
        billing_details: {
          name: (billing && billing.name) || inputs.holder.value.trim(),
          email: (billing && billing.email) || inputs.holderEmail.value.trim()
        }
      };
    }
    var expiry = inputs.expiry.value.split("/");
    return {
      type: "card",
      card: {
        number: inputs.number.value.replace(/\s+/g, ""),
        exp_month: expiry[0].trim(),
        exp_year: "20" + expiry[1].trim(),
        cvc: inputs.cvc.value.trim()
      },
      billing_details: Object.assign({ address: { postal_code: inputs.postal.value.trim() } }, billing || {})
    };
  };

  /* --- The Express Checkout Element: the wallets this "device" has --- */
  function ExpressCheckoutElement(group, options) {
    this.group = group;
    this.options = options;
    this.handlers = {};
  }
  ExpressCheckoutElement.prototype.on = function (name, handler) { (this.handlers[name] = this.handlers[name] || []).push(handler); };
  ExpressCheckoutElement.prototype.emit = function (name, event) {
    (this.handlers[name] || []).forEach(function (handler) { handler(event); });
  };
  ExpressCheckoutElement.prototype.mount = function (selector) {
    var self = this;
    var host = hostOf(selector);
    var types = this.group.options.paymentMethodTypes;
    var available = (hooks().wallets || []).filter(function (wallet) {
      return WALLETS[wallet] && types.indexOf(WALLETS[wallet].needs) >= 0;
    });
    available.forEach(function (wallet) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button express-wallet";
      button.setAttribute("data-wallet", wallet);
      button.textContent = WALLETS[wallet].label;
      button.addEventListener("click", function () { self.pay(wallet); });
      host.appendChild(button);
    });
    var methods;
    if (available.length) {
      methods = {};
      Object.keys(WALLETS).forEach(function (wallet) { methods[WALLETS[wallet].key] = available.indexOf(wallet) >= 0; });
    }
    setTimeout(function () { self.emit("ready", { elementType: "expressCheckout", availablePaymentMethods: methods }); }, 0);
  };
  /* The donor taps a wallet: the page has a second to resolve the click (or no sheet opens),
     then the donor approves in the sheet and the confirm event fires. */
  ExpressCheckoutElement.prototype.pay = function (wallet) {
    var self = this;
    var group = this.group;
    new Promise(function (resolve) {
      if (!(self.handlers.click || []).length) { resolve(true); return; }
      var timer = setTimeout(function () { resolve(false); }, 1000);
      self.emit("click", {
        elementType: "expressCheckout",
        expressPaymentType: wallet,
        resolve: function () { clearTimeout(timer); resolve(true); }
      });
    }).then(function (isShown) {
      if (!isShown) {  /* the page did not resolve the click in time: no sheet, no payment */
        window.stripeShimSheetsNotShown = (window.stripeShimSheetsNotShown || 0) + 1;
        return;
      }
      var details = hooks().walletBillingDetails || DEFAULT_WALLET_DETAILS;
      group.wallet = { type: wallet, billingDetails: details, amount: group.options.amount };
      /* What the sheet asked for; kept across the page's move to the thank-you page. */
      window.sessionStorage.setItem("stripeShimWalletAmount", String(group.options.amount));
      self.emit("confirm", {
        elementType: "expressCheckout",
        expressPaymentType: wallet,
        billingDetails: details,
        paymentFailed: function (payload) {
          group.wallet = null;
          window.stripeShimWalletFailures = (window.stripeShimWalletFailures || 0) + 1;
          return payload;
        }
      });
    });
  };

  window.Stripe = function (publishableKey) {
    if (typeof publishableKey !== "string" || publishableKey.indexOf("pk_") !== 0) {
      throw IntegrationError("Stripe(): a publishable key (pk_...) is needed");
    }
    return {
      elements: function (options) { return new Elements(options); },
      createPaymentMethod: function (options) {
        var group = options && options.elements;
        if (!(group instanceof Elements)) {
          return Promise.reject(IntegrationError("the shim creates PaymentMethods from elements only: createPaymentMethod({elements})"));
        }
        if (group.options.paymentMethodCreation !== "manual") {
          return Promise.reject(IntegrationError("createPaymentMethod({elements}) needs elements({paymentMethodCreation: \"manual\"})"));
        }
        if (!group.isSubmitted) {
          return Promise.reject(IntegrationError("elements.submit() must be called before createPaymentMethod()"));
        }
        group.isSubmitted = false;
        var billing = (options.params && options.params.billing_details) || null;
        var data;
        if (group.wallet) {
          var wallet = group.wallet;
          group.wallet = null;
          data = {
            type: "card",
            card: { number: hooks().walletCard || "4242424242424242", exp_month: "12", exp_year: "2034", cvc: "123" },
            billing_details: wallet.billingDetails
          };
        } else {
          data = group.payment.paymentMethodData(billing);
        }
        if (group.options.paymentMethodTypes.indexOf(data.type) < 0) {
          return Promise.reject(IntegrationError("elements do not offer " + data.type));
        }
        data.key = publishableKey;
        return post("/v1/payment_methods", data).then(function (answer) {
          if (!answer.ok) {
            return { error: { type: "validation_error", message: (answer.body.error && answer.body.error.message) || "Your payment details are incomplete." } };
          }
          return { paymentMethod: answer.body };
        });
      },
      handleNextAction: function (options) {
        var intentId = options.clientSecret.split("_secret_")[0];
        return post("/v1/payment_intents/" + intentId + "/_authenticate?success=true", {
          key: publishableKey, client_secret: options.clientSecret
        }).then(function (answer) {
          var body = answer.body;
          if (!answer.ok) {
            return { error: { message: (body.error && body.error.message) || "Authentication failed." } };
          }
          if (body.status !== "succeeded" && body.status !== "processing") {
            var message = (body.last_payment_error && body.last_payment_error.message) || "Your card was declined.";
            return { error: { message: message }, paymentIntent: body };
          }
          return { paymentIntent: body };
        });
      }
    };
  };
})();
