package origin

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrRefusedAddress means an origin resolved to an address the guard refuses
// (loopback, link-local, private, CGNAT, unspecified, multicast, broadcast).
// It is returned wrapped, with the address, from Client.Get.
var ErrRefusedAddress = errors.New("origin address not allowed")

// refusedPrefixes are the ranges netip.Addr's predicates do not cover.
var refusedPrefixes = []netip.Prefix{
	// "This network": no origin lives there, and 0.x.x.x reaches the local
	// host on Linux.
	netip.MustParsePrefix("0.0.0.0/8"),
	// Carrier-grade NAT space is internal to a provider's network: as
	// internal to us as 10/8 is.
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("255.255.255.255/32"),
}

// refused reports whether an origin at addr must not be dialed.
func refused(addr netip.Addr) bool {
	addr = addr.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsPrivate() ||
		addr.IsUnspecified() || addr.IsMulticast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range refusedPrefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// guard returns a net.Dialer Control function refusing the addresses refuse
// reports. It runs after name resolution, on the very address about to be
// connected, for every connection the transport opens (each redirect hop
// included), so a host name that resolves to 127.0.0.1, or DNS that changes
// its answer between a check and the dial, cannot reach an internal address.
func guard(refuse func(netip.Addr) bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("dial %s %s: %w", network, address, ErrRefusedAddress)
		}
		if refuse(ap.Addr()) {
			return fmt.Errorf("dial %s: %w", address, ErrRefusedAddress)
		}
		return nil
	}
}

// newDialer returns the dialer every origin connection goes through.
func newDialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guard(refused)
	}
	return d
}
