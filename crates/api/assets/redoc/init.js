// Starts ReDoc on the server's own OpenAPI document (a file, not an inline script, so that the
// page's Content-Security-Policy allows no inline script).
Redoc.init("/openapi.json", {}, document.getElementById("redoc-container"));
