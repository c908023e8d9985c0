package proto1100

import (
	"fmt"
	"io"
)

// Source delivers one direction of a protocol-1100 stream to a Decoder.
type Source interface {
	// ReadBytes returns exactly n bytes, none of which carried a descriptor.
	// It returns io.EOF if the stream ended before the first byte and
	// io.ErrUnexpectedEOF if it ended inside them; descriptors that arrived
	// with the bytes are released and reported as ErrUnexpectedFD. The
	// returned slice may alias the Source's memory until the next call.
	ReadBytes(n int) ([]byte, error)
	// ReadMarker returns the next byte and the descriptor that arrived with
	// it, or NoFD. It does not judge the byte; the Decoder does.
	ReadMarker() (b byte, fd int, err error)
	// Release gives back a descriptor obtained from ReadMarker that the
	// Decoder will not return to its caller because the message failed.
	Release(fd int)
}

// Sink receives one direction of a protocol-1100 stream from an Encoder.
type Sink interface {
	// WriteBytes sends b, which carries no descriptor.
	WriteBytes(b []byte) error
	// WriteFD sends the marker byte 'F' with fd attached, alone.
	// Precondition: fd >= 0.
	WriteFD(fd int) error
}

// Rights records a descriptor attached to the byte at Offset of a Buffer.
type Rights struct {
	Offset int
	FD     int
}

// Buffer is an in-memory Source and Sink: the bytes of one direction of a
// connection and the descriptors attached to them. Descriptor values are
// opaque numbers here; Release does nothing.
//
// Writing appends to Data and FDs; reading consumes from the start. FDs must
// be in ascending Offset order for reading.
type Buffer struct {
	Data []byte
	FDs  []Rights

	off  int // read position in Data
	next int // index of the first FDs entry at or after off
}

// Remaining returns the number of unread bytes.
func (b *Buffer) Remaining() int { return len(b.Data) - b.off }

// Offset returns the read position.
func (b *Buffer) Offset() int { return b.off }

// WriteBytes implements Sink.
func (b *Buffer) WriteBytes(p []byte) error {
	b.Data = append(b.Data, p...)
	return nil
}

// WriteFD implements Sink.
func (b *Buffer) WriteFD(fd int) error {
	if fd < 0 {
		return fmt.Errorf("write descriptor %d: %w", fd, ErrBadValue)
	}
	b.FDs = append(b.FDs, Rights{Offset: len(b.Data), FD: fd})
	b.Data = append(b.Data, MarkerFD)
	return nil
}

// fdIn returns the next unread descriptor if it lies before end. An entry
// before start can only exist if FDs is out of order; it is reported too.
func (b *Buffer) fdIn(start, end int) (Rights, bool) {
	if b.next < len(b.FDs) && b.FDs[b.next].Offset < start {
		return b.FDs[b.next], true
	}
	if b.next < len(b.FDs) && b.FDs[b.next].Offset < end && b.FDs[b.next].Offset >= start {
		return b.FDs[b.next], true
	}
	return Rights{}, false
}

// ReadBytes implements Source.
func (b *Buffer) ReadBytes(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("read %d bytes: %w", n, ErrBadValue)
	}
	if n == 0 {
		return nil, nil
	}
	if b.Remaining() == 0 {
		return nil, io.EOF
	}
	if b.Remaining() < n {
		return nil, io.ErrUnexpectedEOF
	}
	if r, ok := b.fdIn(b.off, b.off+n); ok {
		return nil, fmt.Errorf("descriptor %d at offset %d: %w", r.FD, r.Offset, ErrUnexpectedFD)
	}
	p := b.Data[b.off : b.off+n : b.off+n]
	b.off += n
	return p, nil
}

// ReadMarker implements Source.
func (b *Buffer) ReadMarker() (byte, int, error) {
	if b.Remaining() == 0 {
		return 0, NoFD, io.EOF
	}
	fd := NoFD
	if r, ok := b.fdIn(b.off, b.off+1); ok {
		if r.Offset != b.off {
			return 0, NoFD, fmt.Errorf("descriptor %d at offset %d: %w", r.FD, r.Offset, ErrUnexpectedFD)
		}
		fd = r.FD
		b.next++
		if b.next < len(b.FDs) && b.FDs[b.next].Offset == b.off {
			return 0, NoFD, fmt.Errorf("second descriptor at offset %d: %w", b.off, ErrUnexpectedFD)
		}
	}
	c := b.Data[b.off]
	b.off++
	return c, fd, nil
}

// Release implements Source; a Buffer owns no descriptors.
func (b *Buffer) Release(int) {}
