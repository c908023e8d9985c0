//go:build !(linux && amd64)

package sigcatch

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// impl falls back to os/signal where there is no assembly handler.
type impl struct {
	ch chan os.Signal
}

func (c *Catcher) catch(sigs []syscall.Signal, ignored bool) error {
	c.ch = make(chan os.Signal, 64)
	for _, s := range sigs {
		if signal.Ignored(s) && !ignored {
			continue
		}
		signal.Notify(c.ch, s)
		c.sigs = append(c.sigs, s)
	}
	return nil
}

func (c *Catcher) next() (syscall.Signal, error) {
	s, ok := <-c.ch
	if !ok {
		return 0, errors.New("sigcatch: closed")
	}
	return s.(syscall.Signal), nil
}

func (c *Catcher) sendTo(int) error { return errors.ErrUnsupported }
