// ReDoc over the gateway's merged OpenAPI, from the gateway's own copy of its bundle (no CDN).
"use strict";
window.addEventListener("load", function () {
  var container = document.getElementById("redoc");
  Redoc.init(container.dataset.openapi, { hideDownloadButton: false }, container);
});
