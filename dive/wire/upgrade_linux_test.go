package wire

import (
	"errors"
	"os"
	"testing"

	"github.com/covebox/cove/dive/proto1100"
)

// TestUpgradeHandshake runs the upgrade of docs/protocol.md over a real
// socket: a native client against a cove server switches to frames, and
// against a 1100-only server (answering like dived) continues in 1100 on the
// same connection.
func TestUpgradeHandshake(t *testing.T) {
	tests := []struct {
		name       string
		serverTalk bool // the server accepts the native protocol
		want       Kind
	}{
		{"cove server accepts the offer", true, KindNative},
		{"dived-like server reads the offer as wait requested", false, KindDive1100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl, sv := socketPair(t)
			l := proto1100.NativeLayout()
			terminal, err := os.Open("/dev/null")
			if err != nil {
				t.Fatal(err)
			}
			defer terminal.Close()

			serverErr := make(chan error, 1)
			go func() {
				serverErr <- func() error {
					s := proto1100.NewSocket(sv)
					enc, _ := proto1100.NewEncoder(s, l)
					dec, _ := proto1100.NewDecoder(s, l, proto1100.Limits{})
					if err := enc.WriteHello(proto1100.Hello{HelperPID: int32(os.Getpid())}); err != nil {
						return err
					}
					raw, term, err := dec.ReadIntroRaw()
					if err != nil {
						return err
					}
					s.Release(term)
					kind, err := Detect(raw[:])
					if err != nil || kind != KindNative {
						return errors.Join(err, errors.New("offer not detected"))
					}
					if !tc.serverTalk {
						// dived: any non-zero flag means "wait requested".
						if err := enc.WriteWaitReply(proto1100.WaitReply{Enabled: true}); err != nil {
							return err
						}
						_, err := dec.ReadRequest()
						return err
					}
					if err := s.WriteBytes([]byte(UpgradeAccept)); err != nil {
						return err
					}
					c := NewConn(sv, Limits{})
					_, m, err := c.ReadMessage()
					if err != nil {
						return err
					}
					reply, err := Negotiate(m.(Hello), Version, CapPidFD)
					if err != nil {
						return err
					}
					return c.WriteMessage(0, reply)
				}()
			}()

			s := proto1100.NewSocket(cl)
			enc, _ := proto1100.NewEncoder(s, l)
			dec, _ := proto1100.NewDecoder(s, l, proto1100.Limits{})
			if _, err := dec.ReadHello(); err != nil {
				t.Fatal(err)
			}
			if err := enc.WriteIntroRaw(int(terminal.Fd()), [4]byte([]byte(UpgradeOffer))); err != nil {
				t.Fatal(err)
			}
			reply, err := s.ReadBytes(4)
			if err != nil {
				t.Fatal(err)
			}
			kind, err := DetectReply(reply)
			if err != nil || kind != tc.want {
				t.Fatalf("DetectReply(%x) = %v, %v; want %v", reply, kind, err, tc.want)
			}
			switch kind {
			case KindNative:
				c := NewConn(cl, Limits{})
				if err := c.WriteMessage(0, Hello{Version: Version, Caps: CapPidFD | CapWinSize}); err != nil {
					t.Fatal(err)
				}
				_, m, err := c.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if h := m.(Hello); h != (Hello{Version: 1, Caps: CapPidFD}) {
					t.Errorf("negotiated %+v", h)
				}
			case KindDive1100:
				if w, err := l.ParseWaitReply(reply); err != nil || !w.Enabled {
					t.Fatalf("wait reply %+v, %v", w, err)
				}
				if err := enc.WriteRequest(proto1100.Request{Root: proto1100.NoFD, Cwd: proto1100.NoFD, Argv: []string{"true"}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := <-serverErr; err != nil {
				t.Fatalf("server: %v", err)
			}
		})
	}
}
