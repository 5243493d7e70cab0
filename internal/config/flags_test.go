package config

import "testing"

// TestNumberFlag checks that numbers are decimal or 0x-hex as the help
// says: a leading zero is not octal, and nothing else is taken.
func TestNumberFlag(t *testing.T) {
	cases := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"09", 9, true},
		{"0400", 400, true},
		{"1701", 1701, true},
		{"0x10", 16, true},
		{"0XfF", 255, true},
		{"0xffffffffffffffff", 1<<64 - 1, true},
		{"0x", 0, false},
		{"0o17", 0, false},
		{"0b101", 0, false},
		{"1_000", 0, false},
		{"+5", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"0x1g", 0, false},
		{"18446744073709551616", 0, false},
	}
	for _, tc := range cases {
		var n UintValue
		err := n.Set(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (n.Val != tc.want || !n.Given)) {
			t.Errorf("Set(%q) = %d, %v; want %d, ok %v", tc.in, n.Val, err, tc.want, tc.ok)
		}
	}
	n := UintValue{max: 255}
	if err := n.Set("0400"); err == nil {
		t.Errorf("0400 accepted under a maximum of 255 (read as octal 256?)")
	}
}
