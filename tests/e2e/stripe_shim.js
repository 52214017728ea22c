/* A stand-in for Stripe.js, served by our localstripe wrapper (--stripe-js) in tests and in
   `make run`. localstripe's own fake lacks createPaymentMethod and handleNextAction; this
   implements just what the drive page uses, against localstripe's API:
   elements().create("card").mount(), createPaymentMethod({type, card, billing_details}),
   handleNextAction({clientSecret}) (3-D Secure: completes the challenge with localstripe). */
(function () {
  "use strict";
  var base = document.currentScript.src.replace(/\/js\.stripe\.com\/v3\/?$/, "");

  function CardElement() { this.inputs = {}; }
  CardElement.prototype.mount = function (selector) {
    var host = typeof selector === "string" ? document.querySelector(selector) : selector;
    var fields = [
      ["number", "Card number", "cc-number", "4242 4242 4242 4242"],
      ["expiry", "Expiry (MM/YY)", "cc-exp", "12/34"],
      ["cvc", "CVC", "cc-csc", "123"],
      ["postal", "Postcode", "postal-code", "12345"]
    ];
    var self = this;
    fields.forEach(function (spec) {
      var label = document.createElement("label");
      label.className = "shim-field";
      label.textContent = spec[1] + " ";
      var input = document.createElement("input");
      input.type = "text";
      input.name = "shim-" + spec[0];
      input.setAttribute("autocomplete", spec[2]);
      input.setAttribute("placeholder", spec[3]);
      input.setAttribute("data-shim", spec[0]);
      label.appendChild(input);
      host.appendChild(label);
      self.inputs[spec[0]] = input;
    });
  };
  CardElement.prototype.on = function () {};

  function form(data) {
    return Object.keys(data).map(function (key) {
      return encodeURIComponent(key) + "=" + encodeURIComponent(data[key]);
    }).join("&");
  }

  window.Stripe = function (publishableKey) {
    return {
      elements: function () { return { create: function () { return new CardElement(); } }; },
      createPaymentMethod: function (options) {
        var inputs = options.card.inputs;
        var expiry = (inputs.expiry.value || "").split("/");
        var data = {
          "key": publishableKey,
          "type": "card",
          "card[number]": (inputs.number.value || "").replace(/\s+/g, ""),
          "card[exp_month]": (expiry[0] || "").trim(),
          "card[exp_year]": "20" + (expiry[1] || "").trim(),
          "card[cvc]": inputs.cvc.value || ""
        };
        var billing = options.billing_details || {};
        if (billing.name) { data["billing_details[name]"] = billing.name; }
        if (billing.email) { data["billing_details[email]"] = billing.email; }
        return fetch(base + "/v1/payment_methods", {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: form(data)
        }).then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok || body.error) {
              return { error: { message: (body.error && body.error.message) || "Your card number is incomplete." } };
            }
            return { paymentMethod: body };
          });
        });
      },
      handleNextAction: function (options) {
        var intentId = options.clientSecret.split("_secret_")[0];
        return fetch(base + "/v1/payment_intents/" + intentId + "/_authenticate?success=true", {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: form({ key: publishableKey, client_secret: options.clientSecret })
        }).then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok || body.error) {
              return { error: { message: (body.error && body.error.message) || "Authentication failed." } };
            }
            if (body.status !== "succeeded" && body.status !== "processing") {
              var message = (body.last_payment_error && body.last_payment_error.message) || "Your card was declined.";
              return { error: { message: message }, paymentIntent: body };
            }
            return { paymentIntent: body };
          });
        });
      }
    };
  };
})();
