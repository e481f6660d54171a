// url_wpt.js: runs the WPT URL data through the sandbox's URL class. A plain script: the
// caller defines a global WPT = {urltestdata, setters} (the parsed urltestdata.json and
// setters_tests.json; optionally toascii and percentEncoding, the parsed toascii.json and
// percent-encoding.json) and takes the script's completion value, a JSON string:
//
//	{"parse":    {"pass":n,"fail":n,"failures":[the first 20 failing inputs]},
//	 "setters":  {...}, and "toascii", "percentEncoding" when those are given}
//
// The checks are those of WPT's url-constructor.any.js and url-origin.any.js (every getter,
// origin, searchParams, URL.canParse and URL.parse agreeing with the constructor),
// url-setters.any.js, toascii.window.js (constructor, host and hostname setters) and
// percent-encoding.window.js for UTF-8.
(() => {
  const getters = ["href", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"];

  const newTally = () => ({ pass: 0, fail: 0, failures: [] });
  const record = (tally, label, check) => {
    let problem;
    try {
      problem = check();
    } catch (e) {
      problem = "threw " + (e && e.name) + ": " + (e && e.message);
    }
    if (problem) {
      tally.fail++;
      if (tally.failures.length < 20) tally.failures.push(label + ": " + problem);
    } else tally.pass++;
  };
  const compare = (url, expected, names) => {
    for (const name of names) {
      if (!(name in expected)) continue;
      const got = name === "searchParams" ? url.searchParams.toString() : url[name];
      if (got !== expected[name]) return `${name} = ${JSON.stringify(got)}, want ${JSON.stringify(expected[name])}`;
    }
    return "";
  };

  const result = {};

  const parse = newTally();
  for (const c of WPT.urltestdata) {
    if (typeof c === "string") continue;
    const args = c.base === null ? [c.input] : [c.input, c.base];
    const label = JSON.stringify(c.input) + (c.base === null ? "" : " base " + JSON.stringify(c.base));
    record(parse, label, () => {
      if (c.failure) {
        let threw = null;
        try {
          new URL(...args);
        } catch (e) {
          threw = e;
        }
        if (!(threw instanceof TypeError)) return threw ? "threw a non-TypeError" : "parsed, want failure";
        if (URL.canParse(...args) !== false) return "URL.canParse is true";
        if (URL.parse(...args) !== null) return "URL.parse is not null";
        return "";
      }
      const url = new URL(...args);
      if (URL.canParse(...args) !== true) return "URL.canParse is false";
      const parsed = URL.parse(...args);
      if (!(parsed instanceof URL) || parsed.href !== url.href) return "URL.parse disagrees";
      return compare(url, c, ["origin", ...getters, "searchParams"]);
    });
  }
  result.parse = parse;

  const setters = newTally();
  for (const [prop, cases] of Object.entries(WPT.setters)) {
    if (prop === "comment") continue;
    for (const c of cases) {
      const label = `<${c.href}>.${prop} = ${JSON.stringify(c.new_value)}`;
      record(setters, label, () => {
        const url = new URL(c.href);
        url[prop] = c.new_value;
        return compare(url, c.expected, ["origin", ...getters]);
      });
    }
  }
  result.setters = setters;

  if (WPT.toascii) {
    const toascii = newTally();
    for (const c of WPT.toascii) {
      if (typeof c === "string") continue;
      record(toascii, JSON.stringify(c.input) + " (URL)", () => {
        if (c.output === null) {
          try {
            new URL(`https://${c.input}/x`);
          } catch (e) {
            return e instanceof TypeError ? "" : "threw a non-TypeError";
          }
          return "parsed, want failure";
        }
        const url = new URL(`https://${c.input}/x`);
        return compare(url, { host: c.output, hostname: c.output, pathname: "/x", href: `https://${c.output}/x` }, getters);
      });
      for (const prop of ["host", "hostname"]) {
        record(toascii, `${JSON.stringify(c.input)} (URL.${prop})`, () => {
          const url = new URL("https://x/x");
          url[prop] = c.input;
          return compare(url, { [prop]: c.output === null ? "x" : c.output }, getters);
        });
      }
    }
    result.toascii = toascii;
  }

  if (WPT.percentEncoding) {
    const pe = newTally();
    for (const c of WPT.percentEncoding) {
      if (typeof c === "string") continue;
      const out = c.output["utf-8"];
      record(pe, JSON.stringify(c.input), () => {
        const url = new URL(`https://doesnotmatter.invalid/?${c.input}#${c.input}`);
        return compare(url, { search: "?" + out, hash: "#" + out }, getters);
      });
    }
    result.percentEncoding = pe;
  }

  return JSON.stringify(result);
})();
