// A worker: `isobox run examples/hello.js` calls its fetch handler with GET http://localhost/.
let calls = 0;

export default {
  async fetch(request, env, ctx) {
    calls++;
    const url = new URL(request.url);
    const name = url.searchParams.get("name") ?? "world";
    console.log(`handling ${request.method} ${url.pathname}`);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(name));
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    return Response.json({ hello: name, calls, sha256: hex.slice(0, 16) });
  },

  // An RPC method: `isobox run examples/hello.js --call add --args '[2, 3]'`.
  add(a, b) {
    return a + b;
  },
};
