package wire

import (
	"encoding/binary"
	"fmt"
)

// reader decodes little-endian fields from a payload; the first failure
// sticks, naming the field.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = fmt.Errorf("%s: %w", field, ErrShort)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8(field string) uint8 {
	if p := r.take(1, field); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16(field string) uint16 {
	if p := r.take(2, field); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if p := r.take(4, field); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if p := r.take(8, field); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// str reads a u32 length and that many bytes, refusing more than max.
func (r *reader) str(field string, max int) string {
	n := r.u32(field + " length")
	if r.err != nil {
		return ""
	}
	if uint64(n) > uint64(max) {
		r.fail(fmt.Errorf("%s: %d bytes (limit %d): %w", field, n, max, ErrTooMany))
		return ""
	}
	return string(r.take(int(n), field))
}

// done reports the sticky error or trailing bytes.
func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d bytes after the last field: %w", len(r.b), ErrTrailing)
	}
	return nil
}

func appendU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

func appendStr(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}
