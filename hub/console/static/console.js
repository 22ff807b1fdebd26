// Auto-refresh for pages that ask for it (<body data-refresh="seconds">): the page is fetched again
// with a header that tells the hub this is not the administrator's activity (the idle lock keeps
// counting), and its <main> swapped in. An ended session sends the browser to the sign-in page.
(function () {
  var seconds = Number(document.body.dataset.refresh || 0);
  if (!seconds) return;
  setInterval(function () {
    fetch(location.href, { headers: { "X-Console-Refresh": "1" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) { location.href = location.pathname.replace(/\/console.*/, "/console/login?ended=1"); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        if (fresh) document.querySelector("main").replaceWith(fresh);
      })
      .catch(function () {});
  }, seconds * 1000);
})();
