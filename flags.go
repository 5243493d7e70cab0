package main

import (
	"fmt"
	"strconv"
	"strings"
)

// onOff is a boolean flag that works bare (-udp) and with a value in QEMU's
// spelling (-udp=on, -udp=off) or Go's (true, false, 1, 0).
type onOff struct {
	val bool
	set bool
}

func (b *onOff) IsBoolFlag() bool { return true }

func (b *onOff) String() string {
	if b != nil && b.val {
		return "on"
	}
	return "off"
}

func (b *onOff) Set(s string) error {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		b.val = true
	case "off", "false", "no", "0":
		b.val = false
	default:
		return fmt.Errorf("want on or off")
	}
	b.set = true
	return nil
}

// number is an unsigned flag that accepts decimal and 0x-hex, like QEMU.
type number struct {
	val uint64
	set bool
	max uint64
}

func (n *number) String() string {
	if n == nil || !n.set {
		return ""
	}
	return strconv.FormatUint(n.val, 10)
}

// Set reads decimal, or hex after 0x: a leading zero is a decimal digit
// (-offset 0400 is 400), not octal as in Go or C.
func (n *number) Set(s string) error {
	v, err := parseNumber(s)
	if err != nil {
		return fmt.Errorf("want a number, decimal or 0x-hex")
	}
	if n.max != 0 && v > n.max {
		return fmt.Errorf("want at most %d (%#x)", n.max, n.max)
	}
	n.val, n.set = v, true
	return nil
}

// parseNumber parses an unsigned decimal or 0x-prefixed hex number.
func parseNumber(s string) (uint64, error) {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return strconv.ParseUint(s[2:], 16, 64)
	}
	return strconv.ParseUint(s, 10, 64)
}

// text is a string flag that remembers whether it was given.
type text struct {
	val string
	set bool
}

func (t *text) String() string {
	if t == nil {
		return ""
	}
	return t.val
}

func (t *text) Set(s string) error {
	t.val, t.set = s, true
	return nil
}
