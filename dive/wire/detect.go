package wire

import (
	"bytes"
	"fmt"
)

// Kind is the protocol a peer speaks.
type Kind uint8

const (
	KindUnknown  Kind = iota
	KindDive1100      // vi/dive protocol 1100
	KindNative        // cove's native protocol (this package)
)

func (k Kind) String() string {
	switch k {
	case KindDive1100:
		return "dive-1100"
	case KindNative:
		return "cove-native"
	}
	return "unknown"
}

// The upgrade handshake (see the package doc). Both are four bytes read as a
// C int by a 1100 peer: the offer is non-zero in either byte order, so a
// real dived takes it as "wait requested"; the accept is neither 0 nor 1 in
// either byte order, so no dived can send it.
const (
	UpgradeOffer  = "cove" // client → server, in the Intro's wait-flag slot
	UpgradeAccept = "COVE" // server → client, in place of the wait reply
)

// DetectSize is how many bytes Detect needs: the Intro's marker and flag.
const DetectSize = 5

// 1100 wait flags as sent by dive: 0 or 1, little- or big-endian.
var diveFlags = [][]byte{{0, 0, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 1}}

// Detect classifies the first bytes a client sends after the server's
// protocol-1100 greeting: a marker byte ('F' with the terminal descriptor, or
// 'X'), then four flag bytes. The real dive sends 0 or 1 as a native int
// (golden transcripts: "46 01000000", "58 01000000", "46 00000000"); a
// native cove client sends UpgradeOffer. With fewer than DetectSize bytes it
// returns ErrShort; anything else is ErrUnknownProtocol.
func Detect(first []byte) (Kind, error) {
	if len(first) < DetectSize {
		return KindUnknown, fmt.Errorf("detect: %d of %d bytes: %w", len(first), DetectSize, ErrShort)
	}
	if first[0] != 'F' && first[0] != 'X' {
		return KindUnknown, fmt.Errorf("detect: first byte %#02x is no descriptor marker: %w", first[0], ErrUnknownProtocol)
	}
	flag := first[1:DetectSize]
	if string(flag) == UpgradeOffer {
		return KindNative, nil
	}
	for _, f := range diveFlags {
		if bytes.Equal(flag, f) {
			return KindDive1100, nil
		}
	}
	return KindUnknown, fmt.Errorf("detect: wait flag %x: %w", flag, ErrUnknownProtocol)
}

// DetectReply classifies the four bytes a server answers to an Intro that
// carried UpgradeOffer: UpgradeAccept from a cove server, or a 1100 wait
// reply (0 or 1 in either byte order) from a real dived, after which the
// client continues in protocol 1100.
func DetectReply(reply []byte) (Kind, error) {
	if len(reply) < 4 {
		return KindUnknown, fmt.Errorf("detect reply: %d of 4 bytes: %w", len(reply), ErrShort)
	}
	if string(reply[:4]) == UpgradeAccept {
		return KindNative, nil
	}
	for _, f := range diveFlags {
		if bytes.Equal(reply[:4], f) {
			return KindDive1100, nil
		}
	}
	return KindUnknown, fmt.Errorf("detect reply: %x: %w", reply[:4], ErrUnknownProtocol)
}
