// URLPattern: cases derived from the URL Pattern standard's examples and MDN's documented
// behaviour (the WPT urlpattern data is not available offline; see the README).
(async (assert) => {
  const P = (...args) => new URLPattern(...args);

  // [pattern constructor arguments, input (string, [string, base] or init dict), expected]
  // expected: false (no match), true (matches), or {component: groups} that must be equal.
  const matches = [
    // fixed text
    [[{ pathname: "/books" }], "https://example.com/books", true],
    [[{ pathname: "/books" }], "https://example.com/books/", false],
    [[{ pathname: "/books" }], "https://example.com/Books", false],
    // named groups
    [[{ pathname: "/books/:id" }], "https://example.com/books/123", { pathname: { id: "123" } }],
    [[{ pathname: "/books/:id" }], "https://example.com/books/1/2", false],
    [[{ pathname: "/books/:id" }], "https://example.com/books/", false],
    [[{ pathname: "/:a/:b" }], "https://x/1/2", { pathname: { a: "1", b: "2" } }],
    [[{ pathname: "/:id.:ext" }], "https://x/file.txt", { pathname: { id: "file", ext: "txt" } }],
    [[{ pathname: "/:café" }], "https://x/1", { pathname: { café: "1" } }],
    // modifiers
    [[{ pathname: "/books/:id?" }], "https://x/books", { pathname: { id: undefined } }],
    [[{ pathname: "/books/:id?" }], "https://x/books/7", { pathname: { id: "7" } }],
    [[{ pathname: "/books/:id*" }], "https://x/books", { pathname: { id: undefined } }],
    [[{ pathname: "/books/:id*" }], "https://x/books/a/b", { pathname: { id: "a/b" } }],
    [[{ pathname: "/books/:id+" }], "https://x/books", false],
    [[{ pathname: "/books/:id+" }], "https://x/books/a/b/c", { pathname: { id: "a/b/c" } }],
    // wildcards
    [[{ pathname: "/books/*" }], "https://x/books/a/b", { pathname: { 0: "a/b" } }],
    [[{ pathname: "/books/*" }], "https://x/books/", { pathname: { 0: "" } }],
    [[{ pathname: "/*/:id" }], "https://x/a/b/c", { pathname: { 0: "a/b", id: "c" } }],
    [[{ pathname: "/books/*" }], "https://x/booksx", false],
    // regexp groups
    [[{ pathname: "/books/:id(\\d+)" }], "https://x/books/12", { pathname: { id: "12" } }],
    [[{ pathname: "/books/:id(\\d+)" }], "https://x/books/ab", false],
    [[{ pathname: "/(\\d+)" }], "https://x/42", { pathname: { 0: "42" } }],
    [[{ pathname: "/(\\d+)/(\\w+)" }], "https://x/4/z", { pathname: { 0: "4", 1: "z" } }],
    [[{ pathname: "/(foo|bar)" }], "https://x/bar", { pathname: { 0: "bar" } }],
    [[{ pathname: "/(foo|bar)" }], "https://x/baz", false],
    [[{ pathname: "/:v((?:a|b)+)" }], "https://x/abba", { pathname: { v: "abba" } }],
    // {...} groups
    [[{ pathname: "/foo{/bar}?" }], "https://x/foo", true],
    [[{ pathname: "/foo{/bar}?" }], "https://x/foo/bar", true],
    [[{ pathname: "/foo{/bar}?" }], "https://x/foo/baz", false],
    [[{ pathname: "/product{s}?" }], "https://x/products", true],
    [[{ pathname: "/product{s}?" }], "https://x/product", true],
    [[{ pathname: "/blog/:year{-:month}?" }], "https://x/blog/2024-05", { pathname: { year: "2024", month: "05" } }],
    [[{ pathname: "/blog/:year{-:month}?" }], "https://x/blog/2024", { pathname: { year: "2024", month: undefined } }],
    [[{ pathname: "{/:seg}+" }], "https://x/a/b", { pathname: { seg: "a/b" } }],
    // hostname
    [[{ hostname: "*.example.com" }], "https://api.example.com/", { hostname: { 0: "api" } }],
    [[{ hostname: "*.example.com" }], "https://example.com/", false],
    [[{ hostname: "{*.}?example.com" }], "https://example.com/", true],
    [[{ hostname: "{*.}?example.com" }], "https://a.b.example.com/", true],
    [[{ hostname: ":sub.example.com" }], "https://a.b.example.com/", false],
    [[{ hostname: "EXAMPLE.com" }], "https://example.com/", true],
    // protocol, port, search, hash, username, password
    [[{ protocol: "http{s}?" }], "http://x/", true],
    [[{ protocol: "http{s}?" }], "https://x/", true],
    [[{ protocol: "http{s}?" }], "ftp://x/", false],
    [[{ port: "8080" }], "http://x:8080/", true],
    [[{ port: "8080" }], "http://x/", false],
    [[{ protocol: "https", port: "443" }], "https://x/", true],
    [[{ protocol: "http", port: "0080" }], "http://x/", false], // only a port pattern that is exactly the default port is dropped
    [[null], "https://x/a?b#c", true], // null is the empty dictionary: everything matches
    [[], "https://x/a", true],
    [[{ search: "q=:q" }], "https://x/?q=abc", { search: { q: "abc" } }],
    [[{ search: "q=:q" }], "https://x/?r=abc", false],
    [[{ hash: "sec-:n" }], "https://x/#sec-2", { hash: { n: "2" } }],
    [[{ username: ":user", password: ":pass" }], "https://u:p@x/", { username: { user: "u" }, password: { pass: "p" } }],
    // ignoreCase
    [[{ pathname: "/Books" }, { ignoreCase: true }], "https://x/books", true],
    [[{ pathname: "/Books" }, { ignoreCase: false }], "https://x/books", false],
    [["https://x/Ab", { ignoreCase: true }], "https://x/aB", true],
    // constructor strings and base URLs
    [["https://example.com/books/:id"], "https://example.com/books/5", { pathname: { id: "5" } }],
    [["https://example.com/books/:id"], "http://example.com/books/5", false],
    [["/books/:id", "https://example.com"], "https://example.com/books/5", true],
    [["/books/:id", "https://example.com"], "https://other.com/books/5", false],
    [["/books/:id", "https://example.com"], "https://example.com/books/5?q#h", true],
    [["https://*.example.com/*"], "https://a.example.com/x/y", { hostname: { 0: "a" }, pathname: { 0: "x/y" } }],
    [["https://example.com:8080/*"], "https://example.com:8080/", true],
    [["https://example.com:8080/*"], "https://example.com/", false],
    [["https://example.com/search\\?q=:q"], "https://example.com/search?q=x", { search: { q: "x" } }],
    [["https://example.com/a?q=:q"], "https://example.com/a?q=z", { search: { q: "z" } }],
    [["https://example.com/*?q=:q"], "https://example.com/a?q=z", false], // "?" after "*" is a modifier
    [["https://example.com/*#:frag"], "https://example.com/a#top", { hash: { frag: "top" } }],
    [["http://[\\:\\:1]:8080/"], "http://[::1]:8080/", true], // colons in a pattern are escaped
    [["https://user::pass@example.com/"], "https://user:x@example.com/", { password: { pass: "x" } }],
    [["data\\:text/plain,*"], "data:text/plain,hello", { pathname: { 0: "hello" } }],
    [[{ pathname: "/a", baseURL: "https://example.com/dir/" }], "https://example.com/a", true],
    [[{ pathname: "a", baseURL: "https://example.com/dir/" }], "https://example.com/dir/a", true],
    // inputs other than absolute URL strings
    [[{ pathname: "/books/:id" }], ["/books/9", "https://example.com"], { pathname: { id: "9" } }],
    [[{ pathname: "/books/:id" }], { pathname: "/books/9" }, { pathname: { id: "9" } }],
    [[{ pathname: "/books/:id" }], { pathname: "/books/9", baseURL: "https://x" }, true],
    [[{ pathname: "/café" }], "https://x/café", true],
    [[{ pathname: "/café" }], { pathname: "/café" }, true],
    [[{ pathname: "/a/b" }], "https://x/a/./c/../b", true],
    [[{ pathname: "/books/:id" }], "not a url", false],
    [[{ pathname: "/books/:id" }], ["/books/1", "not a base"], false],
  ];
  for (const [args, input, want] of matches) {
    const label = `${JSON.stringify(args)} vs ${JSON.stringify(input)}`;
    const p = P(...args);
    const inputArgs = Array.isArray(input) ? input : [input];
    const r = p.exec(...inputArgs);
    assert.equal(p.test(...inputArgs), r !== null, `${label}: test agrees with exec`);
    if (want === false) assert.equal(r, null, label);
    else {
      assert.ok(r !== null, `${label} should match`);
      if (want !== true) for (const [k, groups] of Object.entries(want)) assert.deepEqual(r[k].groups, groups, `${label}: ${k} groups`);
    }
  }

  // normalized component patterns (the getters)
  const getters = [
    [[{ pathname: "/books/:id" }], { pathname: "/books/:id", protocol: "*", hostname: "*", port: "*", search: "*", hash: "*" }],
    [[{ pathname: "/(.*)" }], { pathname: "/*" }],
    [[{ pathname: "/:name([^\\/]+?)" }], { pathname: "/:name" }], // the segment wildcard itself
    [[{ pathname: "/:name([^\\/]+)" }], { pathname: "/:name([^\\/]+)" }],
    [[{ pathname: "/:id(\\d+)" }], { pathname: "/:id(\\d+)" }],
    [[{ pathname: "/café" }], { pathname: "/caf%C3%A9" }],
    [[{ pathname: "/a/../b" }], { pathname: "/b" }],
    [[{ protocol: "HTTPS:" }], { protocol: "https" }],
    [[{ hostname: "EXAMPLE.com" }], { hostname: "example.com" }],
    [[{ protocol: "https", port: "443" }], { port: "" }],
    [[{ protocol: "http", port: "443" }], { port: "443" }],
    [[{ search: "?a=1" }], { search: "a=1" }],
    [[{ hash: "#top" }], { hash: "top" }],
    [["https://example.com:8080/a?x=1#h"], { protocol: "https", hostname: "example.com", port: "8080", pathname: "/a", search: "x=1", hash: "h" }],
    [["/books/:id", "https://example.com"], { protocol: "https", hostname: "example.com", port: "", pathname: "/books/:id", search: "*", hash: "*", username: "*" }],
    [["https://user\\:pass@example.com/"], { username: "user", password: "pass" }],
    [["https://user:pass@example.com/"], { username: "user:pass", password: "*" }], // ":pass" is a group name
    [["https://example.com"], { pathname: "*", search: "*" }],
    [["https://example.com?q"], { pathname: "/", search: "q" }],
    [[{ pathname: "/foo{/bar}?" }], { pathname: "/foo{/bar}?" }],
    [[{ pathname: "/:a{b}?" }], { pathname: "{/:a}{b}?" }], // grouped: "b" could continue the name
  ];
  for (const [args, want] of getters) {
    const p = P(...args);
    for (const [k, v] of Object.entries(want)) assert.equal(p[k], v, `${JSON.stringify(args)}.${k}`);
  }
  assert.equal(P({ pathname: "/:id" }).hasRegExpGroups, false, "no regexp groups");
  assert.equal(P({ pathname: "/:id(\\d+)" }).hasRegExpGroups, true, "a regexp group");
  assert.equal(Object.prototype.toString.call(P({})), "[object URLPattern]");

  // invalid patterns and arguments throw TypeError
  const invalid = [
    [{ pathname: "/:id(" }],
    [{ pathname: "/(?x)" }],
    [{ pathname: "/:" }],
    [{ pathname: "/\\" }],
    [{ pathname: "/{foo" }],
    [{ pathname: "/:a/:a" }],
    [{ pathname: "/(a(b))" }],
    [{ pathname: "/([)" }],
    [{ pathname: "/(é)" }],
    [{ pathname: "/()" }],
    [{ pathname: "/:name([^/]+?)" }], // v-mode classes need "/" escaped, as in Chrome and Node
    [{ pathname: "/([\\w-]+)" }], // and "-" when it is not a range
    [{ port: "abc" }],
    [{ port: "99999" }],
    [{ hostname: "a b" }],
    [{ protocol: "ht tp" }],
    ["/books/:id"], // relative without a base URL
    ["/books", "not a url"],
    [{ pathname: "/a" }, "https://example.com"], // a base URL beside a dictionary
    [{ pathname: "/a", baseURL: "::" }],
  ];
  for (const args of invalid) assert.throws(() => P(...args), TypeError, `new URLPattern(${JSON.stringify(args)})`);
  assert.throws(() => P({ pathname: "/a" }).test({ pathname: "/a" }, "https://x"), TypeError, "a base URL beside a dictionary input");

  // exec's result
  const r = P({ pathname: "/books/:id" }).exec("https://example.com/books/1?x#y");
  assert.deepEqual(r.inputs, ["https://example.com/books/1?x#y"], "inputs");
  assert.deepEqual(r.protocol, { input: "https", groups: { 0: "https" } }, "wildcard components report their input");
  assert.deepEqual(r.search, { input: "x", groups: { 0: "x" } });
  assert.deepEqual(P({ pathname: "/a" }).exec("/a", "https://x").inputs, ["/a", "https://x"], "inputs with a base");
  assert.ok(P({ pathname: "/a" }).test(new URL("https://x/a")), "a URL object as input");
  // Fixed port text is canonicalized without the scheme; IPv6 hostnames in a dictionary input
  const p80 = P({ protocol: "http", port: "80{20}?" });
  assert.equal(p80.port, "80{20}?", "a port pattern that only starts with the default port keeps it");
  assert.ok(p80.test({ protocol: "http", port: "8020" }));
  assert.ok(P({ hostname: "[\\:\\:AB\\::num]" }).test({ hostname: "[::ab:1]" }), "an IPv6 hostname input");
  assert.equal(P({ hostname: "*" }).exec({ hostname: "[::AB:1]" }).hostname.input, "[::ab:1]", "canonicalized by the URL parser");

  // hostname and port text are canonicalized as the URL setters do: the host ends at "/",
  // "?" or "#", the port is its leading digits
  assert.equal(P({ hostname: "example.com/ignored" }).hostname, "example.com");
  assert.equal(P({ port: "80x" }).port, "80");
  assert.throws(() => P({ port: "x80" }), TypeError, "no leading digit");

  // Regexp groups have the v flag's syntax (unicodeSets): set difference and intersection,
  // nested classes, \q{} strings, and v-mode's stricter classes
  const vflag = [
    ["/([[a-z]--a])", "/a", false], ["/([[a-z]--a])", "/z", true],
    ["/([\\d&&[0-1]])", "/0", true], ["/([\\d&&[0-1]])", "/3", false],
    ["/([[0-9][a-f]]+)", "/e9", true], ["/([[0-9][a-f]]+)", "/g", false],
    ["/([\\q{abc|d}]+)", "/abcd", true], ["/([\\q{abc|d}])", "/ab", false],
    ["/([^[a-z]--b])", "/b", true], ["/([^[a-z]--b])", "/c", false],
    ["/([\\w\\-]+)", "/a-b", true], ["/([\\p{ASCII}--\\p{Letter}]+)", "/1_2", true], ["/([\\p{ASCII}--\\p{Letter}]+)", "/1a", false],
    ["/([^\\:]+)", "/x", true], // "\:" is a reserved punctuator's escape: valid only with v
    ["/([\\q{ab|a}--a])", "/ab", true], ["/([\\q{ab|a}--a])", "/a", false], // set operations on strings
    ["/([\\q{ab|cd}&&\\q{cd|x}])", "/cd", true], ["/([\\q{ab|cd}&&\\q{cd|x}])", "/ab", false],
  ];
  for (const [pathname, input, want] of vflag) {
    assert.equal(P({ pathname }).test({ pathname: input }), want, `${pathname} on ${input}`);
  }
  assert.equal(P({ pathname: "/(a)([[a-z]--a])" }).exec({ pathname: "/ab" }).pathname.groups[1], "b", "translation adds no capturing group");
  for (const pathname of ["/([\\w-]+)", "/([a|b])", "/([a&&&b])", "/([ab--c])", "/([a--])", "/([(])", "/([a!!b])", "/([^\\q{ab}])", "/([^\\q{ab}&&\\q{ab}])"]) {
    assert.throws(() => P({ pathname }), TypeError, `${pathname} is not a v-mode class`);
  }

  // hostile classes: nesting deeper than the translator's stack is a TypeError, not a crash
  assert.throws(() => P({ pathname: "/(" + "[".repeat(20000) + "a" + "]".repeat(20000) + ")" }), TypeError, "20,000 nested classes");
  const negations = P({ pathname: "/(" + "[^".repeat(30) + "a" + "]".repeat(30) + ")" });
  assert.ok(negations.test({ pathname: "/a" }) && !negations.test({ pathname: "/b" }), "30 nested negations are [a], as in V8");
  assert.ok(P({ pathname: "/([\\q{" + Array.from({ length: 2000 }, (_, i) => "s" + i).join("|") + "}])" }).test({ pathname: "/s1999" }), "2,000 strings");

  // generate (tentative): fills plain named groups, canonicalized as the component's text
  const gen = [
    [{ pathname: "/books/:id" }, "pathname", { id: "42" }, "/books/42"],
    [{ pathname: "/:a/:b.json" }, "pathname", { a: "x", b: "y z" }, "/x/y%20z.json"],
    [{ pathname: "/:id" }, "pathname", { id: "café" }, "/caf%C3%A9"],
    [{ hostname: "{:sub}.example.com" }, "hostname", { sub: "API" }, "api.example.com"],
    [{ pathname: "/static" }, "pathname", {}, "/static"],
    ["x-scheme://h/:id", "pathname", { id: " a " }, "/ a "],
  ];
  for (const [pattern, component, groups, want] of gen) {
    assert.equal(P(pattern).generate(component, groups), want, `generate(${component}, ${JSON.stringify(groups)}) of ${JSON.stringify(pattern)}`);
  }
  const genBad = [
    [{ pathname: "/:id" }, "pathname", {}], // missing value
    [{ pathname: "/:id" }, "pathname", { id: "a/b" }], // does not fit the segment
    [{ pathname: "/:id" }, "pathname", { id: "" }],
    [{ pathname: "/:id?" }, "pathname", { id: "1" }], // a modifier
    [{ pathname: "/*" }, "pathname", {}],
    [{ pathname: "/:id(\\d+)" }, "pathname", { id: "1" }],
    [{ pathname: "/a" }, "path", {}], // not a component
    [{ pathname: "/a" }, "pathname", null],
    [{ hostname: ":h.example.com" }, "hostname", { h: "a.b" }],
  ];
  for (const [pattern, component, groups] of genBad) {
    assert.throws(() => P(pattern).generate(component, groups), TypeError, `generate(${component}, ${JSON.stringify(groups)}) of ${JSON.stringify(pattern)}`);
  }
  assert.throws(() => P({}).generate("pathname"), TypeError, "generate needs two arguments");

  // URLPattern.compareComponent: parts compare by type (full wildcard < segment wildcard <
  // regexp < fixed text), then modifier ("*" < "?" < "+" < none), then prefix, value and
  // suffix; a missing part compares as empty fixed text.
  const cmp = (k, l, r) => URLPattern.compareComponent(k, P(l), P(r));
  const order = [
    ["pathname", { pathname: "/foo/a" }, { pathname: "/foo/b" }, -1],
    ["pathname", { pathname: "/foo/a" }, { pathname: "/foo/a" }, 0],
    ["pathname", { pathname: "/foo/:a" }, { pathname: "/foo/:b" }, 0], // group names do not count
    ["pathname", { pathname: "/foo/:bar" }, { pathname: "/foo/*" }, 1], // segment wildcard > full wildcard
    ["pathname", { pathname: "/foo/(\\d+)" }, { pathname: "/foo/:bar" }, 1], // regexp > segment wildcard
    ["pathname", { pathname: "/foo/bar" }, { pathname: "/foo/:bar" }, 1], // fixed > any group
    ["pathname", { pathname: "/foo/" }, { pathname: "/foo/*" }, 1],
    ["pathname", { pathname: "/foo/:bar?" }, { pathname: "/foo/:bar" }, -1], // optional < required
    ["pathname", { pathname: "/foo/:bar*" }, { pathname: "/foo/:bar+" }, -1],
    ["pathname", { pathname: "/foo/:bar*" }, { pathname: "/foo/:bar?" }, -1],
    ["pathname", { pathname: "/foo/(123)" }, { pathname: "/foo/(12)" }, 1], // regexp text compares as a string
    ["pathname", { pathname: "/foo" }, { pathname: "/foo/:bar" }, 1], // the extra group against empty fixed text
    ["pathname", {}, { pathname: "/foo" }, -1], // an unset component is "*"
    ["pathname", {}, {}, 0],
    ["hostname", { hostname: "*.example.com" }, { hostname: "api.example.com" }, -1],
    ["protocol", { protocol: "http" }, { protocol: "https" }, -1],
    ["search", { search: "a=:x" }, { search: "a=1" }, -1],
  ];
  for (const [k, l, r, want] of order) {
    assert.equal(cmp(k, l, r), want, `compareComponent(${k}, ${JSON.stringify(l)}, ${JSON.stringify(r)})`);
    assert.equal(cmp(k, r, l), -want || 0, `compareComponent(${k}, ${JSON.stringify(r)}, ${JSON.stringify(l)}) is the opposite`);
  }
  const routes = ["/books/new", "/*", "/books/:id", "/books/:id/edit", "/books/(\\d+)"].map((pathname) => P({ pathname }));
  routes.sort((a, b) => URLPattern.compareComponent("pathname", a, b));
  assert.deepEqual(routes.map((p) => p.pathname), ["/*", "/books/:id", "/books/:id/edit", "/books/(\\d+)", "/books/new"], "routes sorted general first");
  assert.throws(() => URLPattern.compareComponent("path", P({}), P({})), TypeError, "an unknown component");
  assert.throws(() => URLPattern.compareComponent("pathname", P({}), { pathname: "*" }), TypeError, "a plain object is no URLPattern");
  assert.throws(() => URLPattern.compareComponent("pathname", P({})), TypeError, "too few arguments");
})
