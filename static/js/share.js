/* The share control (templates/macros/share.html): the plain links work without this script.
   With it, a "Share" button opens the device's own share sheet (Web Share API, on phones
   mostly) and a "Copy link" button copies the address. Nothing is sent anywhere by this script. */
(function () {
  "use strict";

  var sheetButton = document.getElementById("share-button");
  if (sheetButton && typeof navigator.share === "function") {
    sheetButton.hidden = false;
    sheetButton.addEventListener("click", function () {
      navigator.share({ title: sheetButton.dataset.title, url: sheetButton.dataset.url })
        .catch(function () { /* the donor closed the sheet: nothing to do */ });
    });
  }

  var copyButton = document.getElementById("copy-link");
  var input = document.getElementById("share-url");
  var status = document.getElementById("copy-status");
  if (!copyButton || !input) { return; }
  copyButton.hidden = false;

  /* The messages come from the page (translated there). */
  function copied(ok) {
    status.textContent = ok ? copyButton.dataset.copied : copyButton.dataset.failed;
  }
  function copyBySelection() {
    input.focus();
    input.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
    copied(ok);
  }
  input.addEventListener("focus", function () { input.select(); });
  copyButton.addEventListener("click", function () {
    status.textContent = "";
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { copied(true); }, copyBySelection);
    } else {
      copyBySelection();
    }
  });
})();
