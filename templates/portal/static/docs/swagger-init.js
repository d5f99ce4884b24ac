// Starts Swagger UI on /docs (offerdesk/portal/apidocs.py): a file of its own, as the portal's CSP allows no inline
// script. The settings are FastAPI's defaults, and no validator badge (it would load an image from elsewhere).
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
