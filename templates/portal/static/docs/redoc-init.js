// Starts ReDoc on /redoc (offerdesk/portal/apidocs.py): a file of its own, as the portal's CSP allows no inline
// script. Without its search, which runs in a worker made from a blob: URL, a script the CSP refuses.
"use strict";
(function () {
  var root = document.getElementById("redoc");
  Redoc.init(root.dataset.specUrl, { disableSearch: true }, root);
})();
