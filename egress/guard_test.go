package egress

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

func TestAddrClass(t *testing.T) {
	blocked := []string{
		"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.254", "0.0.0.0", "0.1.2.3",
		"224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.8", "192.0.2.1",
		"198.18.0.1", "198.51.100.7", "203.0.113.9",
		"::", "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "fec0::1",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", // IPv4-mapped
		"::127.0.0.1",                           // IPv4-compatible
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", // NAT64 of 127.0.0.1, 169.254.169.254
		"2002:7f00:1::1", "2002:a00:1::", // 6to4 of 127.0.0.1, 10.0.0.1
		"2001::1", "2001:db8::1", "100::1", "64:ff9b:1::1",
	}
	public := []string{
		"1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.32.0.1", "192.169.0.1",
		"2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range blocked {
		if c := addrClass(netip.MustParseAddr(s)); c == "" {
			t.Errorf("%s: not blocked", s)
		}
	}
	for _, s := range public {
		if c := addrClass(netip.MustParseAddr(s)); c != "" {
			t.Errorf("%s: blocked as %s", s, c)
		}
	}
}

// The Control hook refuses a non-public address even when something dials it by IP.
func TestControlRefusesAtConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := newDialer(net.DefaultResolver, false, nil)
	nd := &net.Dialer{Control: d.control}
	_, err = nd.DialContext(context.Background(), "tcp", ln.Addr().String())
	if isoerr.CodeOf(err) != CodePrivateAddress {
		t.Fatalf("got %v, want %s", err, CodePrivateAddress)
	}
	dp := newDialer(net.DefaultResolver, true, nil)
	c, err := (&net.Dialer{Control: dp.control}).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// A name that answers a public and a private address is dialled only at the public one.
func TestDialerSkipsPrivateAnswers(t *testing.T) {
	var dialled []string
	d := newDialer(fixedResolver{"93.184.216.34", "127.0.0.1", "::1"}, false, func(_ context.Context, _, addr string) (net.Conn, error) {
		dialled = append(dialled, addr)
		return nil, &net.OpError{Op: "dial", Err: errUnreachable}
	})
	_, err := d.DialContext(context.Background(), "tcp", "mixed.test:80")
	if err == nil || len(dialled) != 1 || dialled[0] != "93.184.216.34:80" {
		t.Fatalf("dialled %v, err %v", dialled, err)
	}
	d.resolver = fixedResolver{"127.0.0.1", "::1"}
	dialled = nil
	_, err = d.DialContext(context.Background(), "tcp", "private.test:80")
	if isoerr.CodeOf(err) != CodePrivateAddress || len(dialled) != 0 {
		t.Fatalf("dialled %v, err %v", dialled, err)
	}
}

type fixedResolver []string

func (r fixedResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	for _, s := range r {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}
