// Response.
(async (assert) => {
  // defaults
  const r = new Response();
  assert.equal(r.status, 200);
  assert.equal(r.ok, true);
  assert.equal(r.statusText, "");
  assert.equal(r.type, "default");
  assert.equal(r.url, "");
  assert.equal(r.redirected, false);
  assert.equal(r.body, null);
  assert.equal(r.bodyUsed, false);
  assert.deepEqual([...r.headers], []);
  assert.equal(Object.prototype.toString.call(r), "[object Response]");
  assert.throws(() => Response(), TypeError, "must be called with new");

  // status and statusText
  const created = new Response("made", { status: 201, statusText: "Created", headers: { "X-Id": "7" } });
  assert.equal(created.status, 201);
  assert.equal(created.statusText, "Created");
  assert.equal(created.ok, true);
  assert.equal(created.headers.get("x-id"), "7");
  for (const [status, ok] of [
    [200, true],
    [299, true],
    [300, false],
    [404, false],
    [599, false],
  ]) {
    assert.equal(new Response(null, { status }).ok, ok, `ok for ${status}`);
  }
  for (const bad of [0, 100, 199, 600, 999, -1]) {
    assert.throws(() => new Response(null, { status: bad }), RangeError, `status ${bad}`);
  }
  assert.equal(new Response(null, { status: "404" }).status, 404, "status is converted to a number");
  assert.equal(new Response(null, { status: 200.9 }).status, 200, "and truncated");
  assert.throws(() => new Response(null, { status: NaN }), RangeError, "NaN becomes 0");
  assert.throws(() => new Response(null, { statusText: "bad\ntext" }), TypeError, "newlines in statusText");
  assert.throws(() => new Response(null, { statusText: "\u0100" }), TypeError, "non-Latin-1 statusText");
  assert.equal(new Response(null, { statusText: "Caf\u00e9 OK" }).statusText, "Caf\u00e9 OK");
  assert.throws(() => new Response(null, 5), TypeError, "init must be an object");
  assert.throws(() => new Response(null, { headers: "x" }), TypeError, "invalid headers");

  // null body statuses
  for (const status of [204, 205, 304]) {
    assert.equal(new Response(null, { status }).status, status, `${status} without a body`);
    assert.throws(() => new Response("body", { status }), TypeError, `${status} with a body`);
    assert.throws(() => new Response("", { status }), TypeError, `${status} with an empty body`);
  }
  assert.equal(new Response(undefined, { status: 204 }).body, null, "undefined is no body");

  // Response.json
  const j = Response.json({ ok: true, list: [1, 2] });
  assert.equal(j.status, 200);
  assert.equal(j.headers.get("content-type"), "application/json");
  assert.deepEqual(await j.json(), { ok: true, list: [1, 2] });
  // without init (a fast path of its own): the same response, its headers mutable
  const jn = Response.json([1], null);
  assert.deepEqual([jn.status, jn.statusText, jn.ok, jn.type, jn.url, jn.redirected, jn.bodyUsed], [200, "", true, "default", "", false, false]);
  jn.headers.set("x-k", "1");
  assert.deepEqual([...jn.headers], [["content-type", "application/json"], ["x-k", "1"]]);
  assert.equal(await jn.clone().text(), "[1]");
  assert.equal(await jn.text(), "[1]");
  const j2 = Response.json("str", { status: 418, statusText: "Teapot", headers: { "x-j": "1" } });
  assert.equal(j2.status, 418);
  assert.equal(j2.statusText, "Teapot");
  assert.equal(j2.headers.get("x-j"), "1");
  assert.equal(await j2.text(), '"str"');
  const j3 = Response.json({}, { headers: { "Content-Type": "application/vnd.api+json" } });
  assert.equal(j3.headers.get("content-type"), "application/vnd.api+json", "an explicit Content-Type is kept");
  assert.equal(await Response.json(null).text(), "null");
  assert.throws(() => Response.json(undefined), TypeError, "undefined is not JSON");
  assert.throws(() => Response.json(() => {}), TypeError, "functions are not JSON");
  assert.throws(() => Response.json(1n), TypeError, "BigInt is not JSON");
  const circular = {};
  circular.self = circular;
  assert.throws(() => Response.json(circular), TypeError, "circular structures");
  assert.throws(() => Response.json({}, { status: 204 }), TypeError, "null body status");
  assert.throws(() => Response.json({}, { status: 700 }), RangeError);
  assert.equal((await Response.json({ toJSON: () => "custom" }).json()), "custom", "toJSON is used");

  // Response.error
  const e = Response.error();
  assert.equal(e.type, "error");
  assert.equal(e.status, 0);
  assert.equal(e.ok, false);
  assert.equal(e.statusText, "");
  assert.equal(e.body, null);
  assert.throws(() => e.headers.set("a", "b"), TypeError, "error headers are immutable");

  // Response.redirect
  const rd = Response.redirect("https://example.com/next");
  assert.equal(rd.status, 302, "302 by default");
  assert.equal(rd.headers.get("location"), "https://example.com/next");
  assert.equal(rd.body, null);
  for (const status of [301, 302, 303, 307, 308]) {
    assert.equal(Response.redirect("https://example.com/", status).status, status);
  }
  assert.equal(Response.redirect(new URL("https://example.com/a b")).headers.get("location"), "https://example.com/a%20b", "URL is serialized");
  assert.throws(() => Response.redirect("https://example.com/", 200), RangeError, "not a redirect status");
  assert.throws(() => Response.redirect("https://example.com/", 304), RangeError);
  assert.throws(() => Response.redirect("/relative"), TypeError, "relative URLs have no base here");
  assert.throws(() => Response.redirect(), TypeError);
  assert.throws(() => rd.headers.set("location", "x"), TypeError, "redirect headers are immutable");

  // clone
  const original = new Response("clone", { status: 202, statusText: "Accepted", headers: { a: "1" } });
  const copy = original.clone();
  assert.equal(copy.status, 202);
  assert.equal(copy.statusText, "Accepted");
  assert.equal(copy.headers.get("a"), "1");
  copy.headers.set("a", "2");
  assert.equal(original.headers.get("a"), "1", "clone headers are independent");
  assert.equal(await copy.text(), "clone");
  assert.equal(await original.text(), "clone");
  assert.throws(() => original.clone(), TypeError, "cannot clone a used response");
  const errClone = Response.error().clone();
  assert.equal(errClone.type, "error", "clone keeps the type");
  assert.throws(() => errClone.headers.set("a", "b"), TypeError, "and the headers' immutability");
  assert.throws(() => Response.prototype.clone.call({}), TypeError, "brand check");
  assert.throws(() => Object.getOwnPropertyDescriptor(Response.prototype, "status").get.call({}), TypeError);
})
