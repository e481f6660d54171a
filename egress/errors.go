package egress

import "github.com/isobox/isobox/isoerr"

// The error codes the gateway adds to isoerr's. Every error RoundTrip returns is an
// *isoerr.Error with one of these codes, isoerr.Canceled (the caller's context ended) or
// isoerr.InvalidRequest (a request the gateway cannot send at all).
const (
	// CodeDenied: no rule allows the request (the default is deny), a deny rule matched, or
	// a redirect led to such a URL. The message says which rule would allow it.
	CodeDenied isoerr.Code = "egress_denied"
	// CodePrivateAddress: the host resolved to a loopback, private, link-local or other
	// non-public address and its rule does not set allowPrivate (the SSRF guard).
	CodePrivateAddress isoerr.Code = "egress_private_address"
	// CodeResponseTooLarge: the response body is larger than the rule's maxResponseBytes.
	CodeResponseTooLarge isoerr.Code = "egress_response_too_large"
	// CodeTimeout: the request, including reading its body, took longer than the rule's
	// timeoutMs.
	CodeTimeout isoerr.Code = "egress_timeout"
	// CodeTooManyRedirects: more redirects than the gateway follows (10 by default).
	CodeTooManyRedirects isoerr.Code = "egress_too_many_redirects"
	// CodeSecretUnavailable: a secret that a rule injects is not set or cannot be read.
	CodeSecretUnavailable isoerr.Code = "egress_secret_unavailable"
	// CodeUnsafeResponse: a response could expose an injected secret in a form the gateway
	// cannot redact (the secret in a redirect's Location, or a compressed body).
	CodeUnsafeResponse isoerr.Code = "egress_unsafe_response"
	// CodeFailed: the request was allowed but failed on the network (DNS, connection,
	// TLS, a broken response).
	CodeFailed isoerr.Code = "egress_failed"
)
