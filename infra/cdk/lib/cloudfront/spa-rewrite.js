// CloudFront Function (cloudfront-js-2.0), viewer request, static-site behaviour only.
// A path whose last segment has no file extension is a client-side route of the single-page
// app, so it is answered with /index.html; files (/assets/app.js, /favicon.ico) pass through.
// This replaces distribution-wide 403/404 error pages, which would also turn the API's own
// problem+json 403/404 answers into a 200 index.html.
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  var last = uri.substring(uri.lastIndexOf('/') + 1);
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
