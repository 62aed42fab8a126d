// Tater's page-view beacon. It sends which page this is (its path template, never the
// address bar's ids or query), nothing else, and nothing at all when the browser says
// Do Not Track or Global Privacy Control, or the person switched it off on their account
// page (the tater_beacon_optout cookie). The server drops beacons carrying those signals too.
(function () {
  "use strict";
  var body = document.body;
  var optedOut =
    navigator.doNotTrack === "1" ||
    window.doNotTrack === "1" ||
    navigator.globalPrivacyControl === true ||
    document.cookie.split("; ").indexOf("tater_beacon_optout=1") !== -1;
  var page = body && body.getAttribute("data-page");
  var csrf = body && body.getAttribute("data-csrf");
  if (optedOut || !page || !csrf || !navigator.sendBeacon) {
    return;
  }
  navigator.sendBeacon("/app/beacon", JSON.stringify({ page: page, csrf: csrf }));
})();
