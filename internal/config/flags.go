package config

import (
	"fmt"
	"strconv"
	"strings"
)

// SwitchValue is a boolean flag that works bare (-udp) and with a value in
// QEMU's spelling (-udp=on, -udp=off) or Go's (true, false, 1, 0). Val is
// the value, Given whether the flag (or file key) was given at all.
type SwitchValue struct {
	Val   bool
	Given bool
}

func (b *SwitchValue) IsBoolFlag() bool { return true }

func (b *SwitchValue) String() string {
	if b != nil && b.Val {
		return "on"
	}
	return "off"
}

func (b *SwitchValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		b.Val = true
	case "off", "false", "no", "0":
		b.Val = false
	default:
		return fmt.Errorf("want on or off")
	}
	b.Given = true
	return nil
}

// UintValue is an unsigned integer flag that accepts decimal and 0x-hex,
// like QEMU, up to its max when max is not 0.
type UintValue struct {
	Val   uint64
	Given bool
	max   uint64
}

func (n *UintValue) String() string {
	if n == nil || !n.Given {
		return ""
	}
	return strconv.FormatUint(n.Val, 10)
}

// Set reads decimal, or hex after 0x: a leading zero is a decimal digit
// (-offset 0400 is 400), not octal as in Go or C.
func (n *UintValue) Set(s string) error {
	v, err := parseNumber(s)
	if err != nil {
		return fmt.Errorf("want a number, decimal or 0x-hex")
	}
	if n.max != 0 && v > n.max {
		return fmt.Errorf("want at most %d (%#x)", n.max, n.max)
	}
	n.Val, n.Given = v, true
	return nil
}

// parseNumber parses an unsigned decimal or 0x-prefixed hex number.
func parseNumber(s string) (uint64, error) {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return strconv.ParseUint(s[2:], 16, 64)
	}
	return strconv.ParseUint(s, 10, 64)
}

// StringValue is a string flag that remembers whether it was given.
type StringValue struct {
	Val   string
	Given bool
}

func (t *StringValue) String() string {
	if t == nil {
		return ""
	}
	return t.Val
}

func (t *StringValue) Set(s string) error {
	t.Val, t.Given = s, true
	return nil
}
