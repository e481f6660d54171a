// Package egress is isobox's outbound gateway: the only way a sandbox's fetch() reaches the
// network. A Policy of ordered rules decides every request (the first match wins, and no
// match means deny); the Gateway, an http.RoundTripper, sends what is allowed with the
// rule's headers injected (secrets from a Secrets store, never visible to the sandbox),
// refuses loopback, private and link-local addresses at connect time (the SSRF guard),
// re-checks every redirect, bounds time and response size, and audits every decision.
//
//	p, err := egress.ParsePolicy([]byte(`{"rules": [{"action": "allow", "host": "api.github.com",
//		"schemes": ["https"], "injectHeaders": {"Authorization": "Bearer {{secret:github_token}}"}}]}`))
//	g, err := egress.New(egress.Config{Policy: p, Secrets: egress.NewMemorySecrets(map[string]string{"github_token": tok})})
//	resp, err := g.RoundTrip(req.WithContext(egress.WithWorker(ctx, "worker-1"))) // or &http.Client{Transport: g}
//	entries := g.Audit().Entries("worker-1", 50)                                   // newest first; no secrets
//
// Errors are *isoerr.Error values with the codes of this package (CodeDenied, ...).
package egress
