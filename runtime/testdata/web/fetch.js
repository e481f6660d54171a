// fetch(). Argument errors are checked everywhere. The network part needs a sandbox whose
// outbound transport answers https://example.test/ as an echo server (the JSON of the
// request it got, Set-Cookie a=1 and b=2, X-Echo: yes; /status/N answers N; /fail fails;
// /never never answers); without network access fetch must reject with a TypeError.
(async (assert) => {
  // errors are rejections, never synchronous throws
  const p = fetch("/relative");
  assert.ok(p instanceof Promise, "fetch returns a promise even for bad input");
  await assert.rejects(p, TypeError, "relative URL");
  await assert.rejects(fetch(), TypeError, "no input");
  await assert.rejects(fetch("not a url"), TypeError);
  await assert.rejects(fetch("https://example.test/", { body: "x" }), TypeError, "GET with a body");
  await assert.rejects(fetch("https://example.test/", { method: "CONNECT" }), TypeError, "forbidden method");
  await assert.rejects(fetch("https://example.test/", { headers: { "bad name": "x" } }), TypeError, "invalid header");
  await assert.rejects(fetch("https://example.test/", { signal: AbortSignal.abort() }), "AbortError", "already aborted");
  const reason = new Error("my reason");
  const got = await fetch("https://example.test/", { signal: AbortSignal.abort(reason) }).catch((e) => e);
  assert.equal(got, reason, "an abort rejects with the signal's reason");
  const usedReq = new Request("https://example.test/", { method: "POST", body: "x" });
  await usedReq.text();
  await assert.rejects(fetch(usedReq), TypeError, "a request whose body was used");

  const probe = await fetch("https://example.test/echo").catch((e) => e);
  if (!(probe instanceof Response)) {
    assert.ok(probe instanceof TypeError, `without network access fetch rejects with a TypeError (${probe && probe.message})`);
    return;
  }

  // a round trip through the echo server
  const res = await fetch("https://example.test/echo?x=1", {
    method: "POST",
    headers: { "X-Custom": "yes", "Content-Type": "application/json" },
    body: JSON.stringify({ hello: "world" }),
  });
  assert.ok(res instanceof Response);
  assert.equal(res.status, 200);
  assert.equal(res.ok, true);
  assert.equal(res.statusText, "OK");
  assert.equal(res.url, "https://example.test/echo?x=1");
  assert.equal(res.redirected, false);
  assert.equal(res.type, "basic");
  assert.equal(res.headers.get("x-echo"), "yes");
  assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"], "Set-Cookie values stay separate");
  assert.throws(() => res.headers.set("x", "y"), TypeError, "fetched headers are immutable");
  const echo = await res.json();
  assert.equal(echo.method, "POST");
  assert.equal(echo.url, "https://example.test/echo?x=1");
  assert.equal(echo.body, '{"hello":"world"}', "the body arrives");
  const sent = Object.fromEntries(echo.headers);
  assert.equal(sent["x-custom"], "yes", "headers arrive");
  assert.equal(sent["content-type"], "application/json");
  await assert.rejects(res.text(), TypeError, "the body can be read once");

  // bodies of every kind
  const binary = await (await fetch("https://example.test/echo", { method: "PUT", body: new Uint8Array([104, 105]) })).json();
  assert.equal(binary.body, "hi", "binary body");
  const streamed = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode("str"));
      c.enqueue(new TextEncoder().encode("eam"));
      c.close();
    },
  });
  const viaStream = await (await fetch("https://example.test/echo", { method: "POST", body: streamed, duplex: "half" })).json();
  assert.equal(viaStream.body, "stream", "stream body");
  const form = await (await fetch("https://example.test/echo", { method: "POST", body: new URLSearchParams({ a: "b c" }) })).json();
  assert.equal(form.body, "a=b+c");
  assert.equal(Object.fromEntries(form.headers)["content-type"], "application/x-www-form-urlencoded;charset=UTF-8");
  const unicode = await (await fetch("https://example.test/echo", { method: "POST", body: "é😀" })).json();
  assert.equal(unicode.body, "é😀", "UTF-8 body");

  // Request objects as input
  const req = new Request("https://example.test/echo/req", { method: "DELETE", headers: { "x-from": "request" } });
  const fromReq = await (await fetch(req)).json();
  assert.equal(fromReq.method, "DELETE");
  assert.equal(Object.fromEntries(fromReq.headers)["x-from"], "request");
  const overridden = await (await fetch(req, { method: "PATCH" })).json();
  assert.equal(overridden.method, "PATCH", "init overrides the request");

  // statuses
  const notFound = await fetch("https://example.test/status/404");
  assert.equal(notFound.status, 404, "HTTP errors are responses, not rejections");
  assert.equal(notFound.ok, false);
  const noContent = await fetch("https://example.test/status/204");
  assert.equal(noContent.status, 204);
  assert.equal(noContent.body, null, "204 has a null body");
  assert.equal(await noContent.text(), "");
  const head = await fetch("https://example.test/echo", { method: "HEAD" });
  assert.equal(head.body, null, "HEAD responses have a null body");

  // network failures and aborts
  await assert.rejects(fetch("https://example.test/fail"), TypeError, "network failure");
  const ac = new AbortController();
  const inFlight = fetch("https://example.test/never", { signal: ac.signal });
  setTimeout(() => ac.abort(), 5);
  const aborted = await inFlight.catch((e) => e);
  assert.ok(aborted instanceof DOMException && aborted.name === "AbortError", "abort in flight rejects with AbortError");
  const timedOut = await fetch("https://example.test/never", { signal: AbortSignal.timeout(5) }).catch((e) => e);
  assert.equal(timedOut.name, "TimeoutError", "AbortSignal.timeout rejects with TimeoutError");
  const late = new AbortController();
  const done = await fetch("https://example.test/echo", { signal: late.signal });
  late.abort();
  assert.equal(done.status, 200, "aborting after the response arrived changes nothing");

  // concurrency
  const many = await Promise.all([1, 2, 3, 4, 5].map((i) => fetch(`https://example.test/echo/${i}`).then((r) => r.json())));
  assert.deepEqual(
    many.map((m) => m.url),
    [1, 2, 3, 4, 5].map((i) => `https://example.test/echo/${i}`),
    "parallel fetches",
  );
})
