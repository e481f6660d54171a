package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// Resolver turns a host name into addresses; net.DefaultResolver is one. The gateway asks it
// once per connection and connects only to the addresses it returned that pass the SSRF
// guard, so a name that answers differently from one query to the next (DNS rebinding)
// cannot slip a private address past the check.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// nonPublic are the special-purpose ranges that are not globally reachable (IANA's IPv4 and
// IPv6 special-purpose registries), besides what netip's predicates cover. IPv4-mapped,
// NAT64 and 6to4 addresses are judged by the IPv4 address they carry.
var nonPublic = prefixes(
	"0.0.0.0/8",       // "this network"
	"100.64.0.0/10",   // carrier-grade NAT
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation
	"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation
	"203.0.113.0/24",  // documentation
	"240.0.0.0/4",     // reserved, and 255.255.255.255
	"::/96",           // IPv4-compatible (deprecated)
	"64:ff9b:1::/48",  // local-use NAT64
	"100::/64",        // discard-only
	"2001::/23",       // IETF protocol assignments, incl. Teredo
	"2001:db8::/32",   // documentation
	"3fff::/20",       // documentation
	"5f00::/16",       // segment routing
	"fec0::/10",       // site-local (deprecated)
)

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
	ula    = netip.MustParsePrefix("fc00::/7")
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// addrClass names why a is not a public unicast address, or returns "" when it is.
func addrClass(a netip.Addr) string {
	a = a.WithZone("")
	if a.Is4In6() {
		return addrClass(a.Unmap())
	}
	if a.Is6() && (nat64.Contains(a) || sixTo4.Contains(a)) {
		b := a.As16()
		var v4 [4]byte
		if nat64.Contains(a) {
			copy(v4[:], b[12:])
		} else {
			copy(v4[:], b[2:6])
		}
		if c := addrClass(netip.AddrFrom4(v4)); c != "" {
			return c + " (inside an IPv6 address)"
		}
		return ""
	}
	switch {
	case !a.IsValid():
		return "an invalid address"
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsLinkLocalUnicast():
		return "a link-local address (cloud metadata services live here)"
	case a.IsPrivate():
		if ula.Contains(a) {
			return "a unique local (private) address"
		}
		return "a private address"
	case a.IsMulticast():
		return "a multicast address"
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return fmt.Sprintf("a special-purpose address (%s)", p)
		}
	}
	return ""
}

// privateError is the SSRF guard's refusal; the gateway puts the request in front of it.
func privateError(host string, a netip.Addr, class string) *isoerr.Error {
	what := a.String()
	if host != "" && host != what {
		what = fmt.Sprintf("%s resolves to %s, which", host, a)
	}
	return isoerr.New(CodePrivateAddress, "%s is %s: the SSRF guard refuses non-public addresses; "+
		`an operator can allow this exact host with "allowPrivate": true on its rule`, what, class)
}

// dialer connects for one of the gateway's transports: it resolves the name once, checks
// each address, and dials only addresses that passed, as IP literals; the socket's Control
// hook checks the address again right before connect(2).
type dialer struct {
	resolver     Resolver
	allowPrivate bool
	connect      func(ctx context.Context, network, address string) (net.Conn, error)
}

func newDialer(r Resolver, allowPrivate bool, connect func(context.Context, string, string) (net.Conn, error)) *dialer {
	d := &dialer{resolver: r, allowPrivate: allowPrivate, connect: connect}
	if d.connect == nil {
		nd := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: d.control}
		d.connect = nd.DialContext
	}
	return d
}

// control runs on the socket just before it connects; address is what the kernel will be
// asked to connect to.
func (d *dialer) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return isoerr.New(CodePrivateAddress, "refusing to connect to %q: not an IP address", address)
	}
	if c := addrClass(ap.Addr()); c != "" && !d.allowPrivate {
		return privateError("", ap.Addr(), c)
	}
	return nil
}

func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ips, err := d.resolver.LookupIPAddr(ctx, host)
		if err != nil {
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				return nil, isoerr.New(CodeFailed, "host %s does not exist (DNS)", host)
			}
			return nil, isoerr.New(CodeFailed, "cannot resolve host %s: %v", host, err)
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip.IP); ok {
				addrs = append(addrs, a.Unmap().WithZone(ip.Zone))
			}
		}
		if len(addrs) == 0 {
			return nil, isoerr.New(CodeFailed, "host %s has no addresses", host)
		}
	}
	var refused, lastErr error
	for _, a := range addrs {
		if c := addrClass(a); c != "" && !d.allowPrivate {
			if refused == nil {
				refused = privateError(host, a, c)
			}
			continue
		}
		conn, err := d.connect(ctx, network, net.JoinHostPort(a.String(), portStr))
		if err == nil {
			return conn, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, refused
}
