// Blob, File, FormData.
(async (assert) => {
  const bytes = async (blob) => Array.from(new Uint8Array(await blob.arrayBuffer()));

  // construction from every kind of part
  const empty = new Blob();
  assert.equal(empty.size, 0);
  assert.equal(empty.type, "");
  assert.equal(await empty.text(), "");
  assert.equal(Object.prototype.toString.call(empty), "[object Blob]");
  const parts = new Blob(["ab", new Uint8Array([99, 100]), new Uint16Array([0x6665]).buffer, new DataView(new Uint8Array([103]).buffer), new Blob(["h"])]);
  assert.equal(parts.size, 8);
  assert.equal(await parts.text(), "abcdefgh", "strings, views, ArrayBuffers, DataViews and Blobs");
  assert.equal(new Blob(["é😀"]).size, 6, "strings are UTF-8 encoded");
  assert.equal(await new Blob(["\ud800"]).text(), "\ufffd", "lone surrogates become U+FFFD");
  assert.equal(await new Blob([1, null, { a: 1 }]).text(), "1null[object Object]", "other values are converted to strings");
  const source = new Uint8Array([1, 2, 3]);
  const snap = new Blob([source]);
  source[0] = 9;
  assert.deepEqual(await bytes(snap), [1, 2, 3], "parts are copied at construction");
  assert.equal(await new Blob(["a\r\nb\rc"], { endings: "native" }).text(), "a\nb\nc", "native endings");
  assert.equal(await new Blob(["a\r\nb"], { endings: "transparent" }).text(), "a\r\nb");
  assert.throws(() => new Blob("abc"), TypeError, "parts must be a sequence, not a string");
  assert.throws(() => new Blob(5), TypeError);
  assert.throws(() => new Blob(null), TypeError);
  assert.throws(() => new Blob({}), TypeError, "a plain object is not a sequence");
  assert.throws(() => new Blob([], { endings: "windows" }), TypeError, "invalid endings");
  assert.throws(() => new Blob([], 5), TypeError, "options must be an object");
  assert.throws(() => Blob(), TypeError, "must be called with new");

  // type
  assert.equal(new Blob([], { type: "Text/HTML; Charset=UTF-8" }).type, "text/html; charset=utf-8", "type is lowercased");
  assert.equal(new Blob([], { type: "caf\u00e9" }).type, "", "non-ASCII types become empty");
  assert.equal(new Blob([], { type: "a\nb" }).type, "", "control characters make the type empty");

  // reading
  const b = new Blob(["hello world"], { type: "text/plain" });
  assert.equal(await b.text(), "hello world");
  assert.equal(await b.text(), "hello world", "a Blob can be read any number of times");
  const ab = await b.arrayBuffer();
  assert.ok(ab instanceof ArrayBuffer && ab.byteLength === 11);
  new Uint8Array(ab)[0] = 0;
  assert.equal(await b.text(), "hello world", "the ArrayBuffer is a copy");
  const u8 = await b.bytes();
  assert.ok(u8 instanceof Uint8Array && u8.length === 11, "bytes()");
  assert.equal(await new Blob([new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xff])]).text(), "h\ufffd", "text() strips a BOM and replaces invalid UTF-8");
  await assert.rejects(() => Blob.prototype.text.call({}), TypeError, "brand check rejects");

  // slice
  assert.equal(await b.slice(0, 5).text(), "hello");
  assert.equal(await b.slice(6).text(), "world");
  assert.equal(await b.slice(-5).text(), "world", "negative start counts from the end");
  assert.equal(await b.slice(-5, -3).text(), "wo");
  assert.equal(await b.slice(3, 1).text(), "", "end before start is empty");
  assert.equal(await b.slice(100).text(), "");
  assert.equal(await b.slice(-100, 2).text(), "he");
  assert.equal(await b.slice(1.7, 3.2).text(), "el", "indices are truncated");
  assert.equal(b.slice(0, 5).type, "", "slice has no type by default");
  assert.equal(b.slice(0, 5, "Text/CSV").type, "text/csv");
  assert.equal(b.slice().size, 11);
  assert.equal(await b.slice(2, 8).slice(1, 3).text(), "lo", "slice of a slice");

  // stream()
  const reader = b.stream().getReader();
  const first = await reader.read();
  assert.ok(first.value instanceof Uint8Array);
  assert.equal(new TextDecoder().decode(first.value), "hello world");
  assert.equal((await reader.read()).done, true);
  assert.equal(await new Response(new Blob(["via stream"]).stream()).text(), "via stream");

  // File
  const f = new File(["data"], "name.txt", { type: "Text/Plain", lastModified: 1234 });
  assert.ok(f instanceof Blob && f instanceof File);
  assert.equal(f.name, "name.txt");
  assert.equal(f.type, "text/plain");
  assert.equal(f.lastModified, 1234);
  assert.equal(f.size, 4);
  assert.equal(await f.text(), "data");
  assert.equal(f.webkitRelativePath, "");
  assert.equal(Object.prototype.toString.call(f), "[object File]");
  const now = Date.now();
  const g = new File([], "g");
  assert.ok(Math.abs(g.lastModified - now) < 5000, "lastModified defaults to now");
  assert.ok(!(f.slice(0, 1) instanceof File), "slice() of a File is a Blob");
  assert.throws(() => new File(["x"]), TypeError, "a name is required");

  // FormData
  const fd = new FormData();
  fd.append("a", "1");
  fd.append("a", "2");
  fd.append("blob", new Blob(["bb"], { type: "text/x" }));
  fd.append("file", new File(["ff"], "orig.txt"), "renamed.txt");
  fd.set("single", 42);
  assert.equal(fd.get("a"), "1", "get returns the first value");
  assert.deepEqual(fd.getAll("a"), ["1", "2"]);
  assert.equal(fd.get("single"), "42", "values are converted to strings");
  assert.equal(fd.get("missing"), null);
  assert.deepEqual(fd.getAll("missing"), []);
  assert.ok(fd.has("a") && !fd.has("b"));
  const blobEntry = fd.get("blob");
  assert.ok(blobEntry instanceof File, "Blobs become Files");
  assert.equal(blobEntry.name, "blob", "named 'blob'");
  assert.equal(blobEntry.type, "text/x");
  assert.equal(fd.get("file").name, "renamed.txt", "the filename argument renames");
  fd.set("a", "only");
  assert.deepEqual(fd.getAll("a"), ["only"], "set replaces every value");
  assert.deepEqual([...fd.keys()], ["a", "blob", "file", "single"], "set keeps the first position");
  fd.delete("single");
  assert.equal(fd.has("single"), false);
  assert.deepEqual(
    [...fd].map(([k, v]) => [k, typeof v]),
    [["a", "string"], ["blob", "object"], ["file", "object"]],
  );
  assert.equal(Object.prototype.toString.call(fd.entries()), "[object FormData Iterator]");
  assert.throws(() => fd.append("x", "y", "name.txt"), TypeError, "a filename needs a Blob value");
  assert.throws(() => fd.append("x"), TypeError);
  assert.throws(() => new FormData({}), TypeError, "no HTML forms");
  let count = 0;
  fd.forEach((value, name, form) => {
    count++;
    assert.equal(form, fd);
  });
  assert.equal(count, 3);

  // FormData as a body, and back
  const res = new Response(fd);
  const type = res.headers.get("content-type");
  assert.ok(/^multipart\/form-data; boundary=/.test(type), `multipart content type: ${type}`);
  const raw = await res.clone().text();
  assert.ok(raw.includes('Content-Disposition: form-data; name="a"\r\n\r\nonly\r\n'), "string entry is encoded");
  assert.ok(raw.includes('name="file"; filename="renamed.txt"'), "file entry is encoded");
  const back = await res.formData();
  assert.equal(back.get("a"), "only");
  assert.ok(back.get("file") instanceof File);
  assert.equal(back.get("file").name, "renamed.txt");
  assert.equal(await back.get("file").text(), "ff");
  assert.equal(back.get("blob").type, "text/x");
  const tricky = new FormData();
  tricky.append('we"ird\nname', "line1\nline2");
  const trickyBack = await new Response(tricky).formData();
  assert.equal(trickyBack.get('we"ird\r\nname'), "line1\r\nline2", "names and values get CRLF line breaks and survive quoting");
  const urlencoded = await new Response("a=1&b=x+y&c=%C3%A9", {
    headers: { "content-type": "application/x-www-form-urlencoded" },
  }).formData();
  assert.equal(urlencoded.get("b"), "x y");
  assert.equal(urlencoded.get("c"), "é");
  await assert.rejects(new Response("x", { headers: { "content-type": "text/plain" } }).formData(), TypeError, "other content types");
  await assert.rejects(
    new Response("garbage", { headers: { "content-type": "multipart/form-data; boundary=zzz" } }).formData(),
    TypeError,
    "malformed multipart",
  );
})
