// URLSearchParams: a query string's parsed list is shared by every URLSearchParams made
// from the same query (30_url.js parsedQuery), so changing one must not change another, and
// nothing a guest is handed may reach the shared list.
(async (assert) => {
  const q = "a=1&b=2&a=3";
  const u1 = new URL("http://x/?" + q);
  const u2 = new URL("http://x/?" + q);
  const p1 = u1.searchParams, p2 = u2.searchParams;
  assert.equal(p1.get("a"), "1");
  assert.deepEqual(p1.getAll("a"), ["1", "3"]);

  // each change on one leaves the other, and a later parse of the query, as parsed
  p1.append("c", "4");
  assert.equal(u1.search, "?a=1&b=2&a=3&c=4", "append updates its URL");
  assert.equal(p2.toString(), q, "append on one params left the other");
  p1.set("a", "9");
  assert.equal(p1.toString(), "a=9&b=2&c=4");
  assert.equal(p2.toString(), q, "set on one params left the other");
  p1.sort();
  assert.equal(p1.toString(), "a=9&b=2&c=4");
  const p3 = new URL("http://y/?" + q).searchParams;
  assert.deepEqual([...p3], [["a", "1"], ["b", "2"], ["a", "3"]], "a new parse of the query is as first parsed");

  // the constructor from a string shares the same way
  const s1 = new URLSearchParams("?z=2&y=1"), s2 = new URLSearchParams("z=2&y=1");
  s1.sort();
  assert.equal(s1.toString(), "y=1&z=2");
  assert.equal(s2.toString(), "z=2&y=1", "sort on one params left the other");
  s2.set("z", "5");
  assert.equal(new URLSearchParams("z=2&y=1").get("z"), "2", "set on one params left the parsed list");
  s2.delete("y");
  assert.equal(s2.toString(), "z=5");

  // what iteration hands out is a copy: changing it changes nothing
  const s3 = new URLSearchParams("k=v");
  for (const pair of s3) pair[1] = "changed";
  s3.forEach((v, k, params) => assert.equal(params, s3));
  assert.equal(new URLSearchParams("k=v").get("k"), "v", "an entry's array is the guest's own");
  assert.equal(s3.get("k"), "v");

  // iteration stays live over the list while it is changed (copied on first change)
  const s4 = new URLSearchParams("a=1&b=2");
  const seen = [];
  for (const [k] of s4) {
    seen.push(k);
    if (k === "a") s4.append("c", "3");
  }
  assert.deepEqual(seen, ["a", "b", "c"], "an iterator sees an append made while it runs");
  assert.equal(new URLSearchParams("a=1&b=2").toString(), "a=1&b=2");

  // setting a URL's search replaces its params' list, which is then its own
  const u5 = new URL("http://x/?m=1");
  const p5 = u5.searchParams;
  u5.search = "?m=2&n=3";
  p5.append("o", "4");
  assert.equal(u5.search, "?m=2&n=3&o=4");
  assert.equal(new URL("http://x/?m=2&n=3").searchParams.toString(), "m=2&n=3");
  assert.equal(new URLSearchParams("").size, 0);
  assert.equal(new URL("http://x/?").searchParams.size, 0);
})
