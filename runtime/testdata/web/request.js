// Request.
(async (assert) => {
  // defaults
  const r = new Request("https://Example.COM:443/a/../b?q=1#frag");
  assert.equal(r.url, "https://example.com/b?q=1#frag", "the URL is parsed and serialized");
  assert.equal(r.method, "GET");
  assert.ok(r.headers instanceof Headers);
  assert.deepEqual([...r.headers], []);
  assert.equal(r.body, null);
  assert.equal(r.bodyUsed, false);
  assert.equal(r.redirect, "follow");
  assert.equal(r.mode, "cors");
  assert.equal(r.credentials, "same-origin");
  assert.equal(r.cache, "default");
  assert.equal(r.destination, "");
  assert.equal(r.referrer, "about:client");
  assert.equal(r.referrerPolicy, "");
  assert.equal(r.integrity, "");
  assert.equal(r.keepalive, false);
  assert.equal(r.isReloadNavigation, false);
  assert.equal(r.isHistoryNavigation, false);
  assert.equal(r.duplex, "half");
  assert.ok(r.signal instanceof AbortSignal, "every request has a signal");
  assert.equal(r.signal.aborted, false);
  assert.equal(Object.prototype.toString.call(r), "[object Request]");

  // URL input
  assert.equal(new Request(new URL("https://example.com/x")).url, "https://example.com/x", "URL objects");
  assert.equal(new Request({ toString: () => "https://example.com/s" }).url, "https://example.com/s", "anything with toString");
  assert.throws(() => new Request("/relative"), TypeError, "relative URLs have no base here");
  assert.throws(() => new Request("not a url"), TypeError);
  assert.throws(() => new Request(""), TypeError);
  assert.throws(() => new Request("https://user:pass@example.com/"), TypeError, "credentials in the URL");
  assert.throws(() => new Request(), TypeError, "input is required");
  assert.throws(() => Request("https://example.com/"), TypeError, "must be called with new");

  // methods
  for (const [given, want] of [
    ["get", "GET"],
    ["post", "POST"],
    ["Put", "PUT"],
    ["delete", "DELETE"],
    ["options", "OPTIONS"],
    ["head", "HEAD"],
    ["patch", "patch"],
    ["PATCH", "PATCH"],
    ["custom", "custom"],
  ]) {
    assert.equal(new Request("https://example.com/", { method: given }).method, want, `method ${given}`);
  }
  for (const bad of ["CONNECT", "trace", "TRACK", "", "bad method", "é", "a/b"]) {
    assert.throws(() => new Request("https://example.com/", { method: bad }), TypeError, `method ${JSON.stringify(bad)}`);
  }

  // bodies and methods
  assert.throws(() => new Request("https://example.com/", { body: "x" }), TypeError, "GET with a body");
  assert.throws(() => new Request("https://example.com/", { method: "HEAD", body: "x" }), TypeError, "HEAD with a body");
  assert.equal(new Request("https://example.com/", { body: null }).body, null, "a null body is fine with GET");
  assert.equal(new Request("https://example.com/", { body: undefined }).body, null);
  const post = new Request("https://example.com/", { method: "POST", body: "hello" });
  assert.equal(post.headers.get("content-type"), "text/plain;charset=UTF-8");
  assert.ok(post.body instanceof ReadableStream);
  assert.equal(await post.text(), "hello");
  const json = new Request("https://example.com/", {
    method: "POST",
    body: JSON.stringify({ a: 1 }),
    headers: { "Content-Type": "application/json" },
  });
  assert.equal(json.headers.get("content-type"), "application/json", "an explicit Content-Type is kept");
  assert.deepEqual(await json.json(), { a: 1 });
  const bin = new Request("https://example.com/", { method: "PUT", body: new Uint8Array([1, 2, 3]) });
  assert.deepEqual(Array.from(await bin.bytes()), [1, 2, 3]);
  const form = new Request("https://example.com/", { method: "POST", body: new URLSearchParams("a=1&b=2") });
  assert.equal(form.headers.get("content-type"), "application/x-www-form-urlencoded;charset=UTF-8");
  assert.equal((await form.formData()).get("b"), "2");
  const streamReq = new Request("https://example.com/", {
    method: "POST",
    body: new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("streamed"));
        c.close();
      },
    }),
    duplex: "half",
  });
  assert.equal(await streamReq.text(), "streamed", "ReadableStream bodies");

  // options
  const opts = new Request("https://example.com/", {
    redirect: "manual",
    mode: "same-origin",
    credentials: "include",
    cache: "no-store",
    integrity: "sha256-abc",
    keepalive: true,
  });
  assert.equal(opts.redirect, "manual");
  assert.equal(opts.mode, "same-origin");
  assert.equal(opts.credentials, "include");
  assert.equal(opts.cache, "no-store");
  assert.equal(opts.integrity, "sha256-abc");
  assert.equal(opts.keepalive, true);
  assert.throws(() => new Request("https://example.com/", { redirect: "sometimes" }), TypeError, "invalid redirect");
  assert.throws(() => new Request("https://example.com/", { mode: "navigate" }), TypeError, "navigate mode");
  assert.throws(() => new Request("https://example.com/", { mode: "weird" }), TypeError);
  assert.throws(() => new Request("https://example.com/", { credentials: "all" }), TypeError);
  assert.throws(() => new Request("https://example.com/", { cache: "forever" }), TypeError);
  assert.throws(() => new Request("https://example.com/", 5), TypeError, "init must be an object");
  assert.throws(() => new Request("https://example.com/", { headers: 5 }), TypeError, "invalid headers init");
  assert.throws(() => new Request("https://example.com/", { headers: { "bad name": "v" } }), TypeError);

  // headers
  const withHeaders = new Request("https://example.com/", { headers: [["X-A", "1"], ["x-a", "2"]] });
  assert.equal(withHeaders.headers.get("x-a"), "1, 2");
  const shared = new Headers({ "x-shared": "1" });
  const fromHeaders = new Request("https://example.com/", { headers: shared });
  shared.set("x-shared", "changed");
  assert.equal(fromHeaders.headers.get("x-shared"), "1", "headers are copied, not shared");

  // signals
  const ac = new AbortController();
  const signalled = new Request("https://example.com/", { signal: ac.signal });
  assert.ok(signalled.signal !== ac.signal, "the request has its own signal");
  assert.equal(signalled.signal.aborted, false);
  ac.abort("stop");
  assert.equal(signalled.signal.aborted, true, "which follows the given one");
  assert.equal(signalled.signal.reason, "stop");
  assert.equal(new Request("https://example.com/", { signal: AbortSignal.abort("pre") }).signal.reason, "pre");
  assert.equal(new Request("https://example.com/", { signal: null }).signal.aborted, false, "null means no signal");
  assert.throws(() => new Request("https://example.com/", { signal: {} }), TypeError, "signal must be an AbortSignal");

  // a Request as input
  const base = new Request("https://example.com/base", {
    method: "POST",
    body: "base body",
    headers: { "x-base": "1" },
    redirect: "error",
  });
  const derived = new Request(base);
  assert.equal(derived.url, "https://example.com/base");
  assert.equal(derived.method, "POST");
  assert.equal(derived.redirect, "error");
  assert.equal(derived.headers.get("x-base"), "1");
  assert.equal(base.bodyUsed, true, "the body moves to the new request");
  assert.equal(await derived.text(), "base body");
  assert.throws(() => new Request(base), TypeError, "a used request cannot be the input");
  const overridden = new Request(new Request("https://example.com/", { method: "PUT", body: "old", headers: { "x-h": "old" } }), {
    method: "POST",
    body: "new",
    headers: { "x-h": "new" },
  });
  assert.equal(overridden.method, "POST");
  assert.equal(overridden.headers.get("x-h"), "new", "init headers replace the input's");
  assert.equal(await overridden.text(), "new", "init body replaces the input's");
  assert.throws(
    () => new Request(new Request("https://example.com/", { method: "POST", body: "b" }), { method: "GET" }),
    TypeError,
    "switching to GET while inheriting a body",
  );
  const getBase = new Request("https://example.com/", { headers: { a: "1" } });
  const getDerived = new Request(getBase, { method: "DELETE" });
  assert.equal(getDerived.method, "DELETE");
  assert.equal(getBase.bodyUsed, false, "no body, nothing used");
  const baseSignal = new AbortController();
  const withSignal = new Request(new Request("https://example.com/", { signal: baseSignal.signal }));
  baseSignal.abort();
  assert.equal(withSignal.signal.aborted, true, "the input's signal is followed");

  // clone
  const original = new Request("https://example.com/c", { method: "POST", body: "clone me", headers: { "x-c": "1" } });
  const copy = original.clone();
  assert.ok(copy instanceof Request && copy !== original);
  assert.equal(copy.url, original.url);
  assert.equal(copy.method, "POST");
  assert.equal(copy.headers.get("x-c"), "1");
  copy.headers.set("x-c", "2");
  assert.equal(original.headers.get("x-c"), "1", "clone headers are independent");
  assert.equal(await copy.text(), "clone me");
  assert.equal(await original.text(), "clone me");
  assert.throws(() => original.clone(), TypeError, "cannot clone a used request");
  assert.throws(() => Request.prototype.clone.call({}), TypeError, "brand check");

  // URLs parsed from the same input share what the host answered: a change to one (setters,
  // searchParams) must not show through the others or a later parse
  const href = "https://a.example/p?q=1#h";
  const u1 = new URL(href);
  const u2 = new URL(href);
  u1.pathname = "/changed";
  u1.searchParams.set("q", "2");
  u1.hash = "";
  assert.equal(u1.href, "https://a.example/changed?q=2");
  assert.equal(u2.href, href, "the other URL is unchanged");
  assert.equal(new URL(href).href, href, "a later parse is unchanged");
  assert.equal(new URL(new Request(href).url).search, "?q=1");
})
